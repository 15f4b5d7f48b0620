import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { REPO_ROOT } from './tree';

const BIN = path.join(REPO_ROOT, 'bin/tagflow.js');

/**
 * Runs the CLI in a real pseudo-terminal (`script` from util-linux) and answers prompts as they appear:
 * each answer is typed only after its prompt shows, as a person would. Returns the terminal's output.
 */
export function inTerminal(args: string[], answers: readonly (readonly [RegExp, string])[], cwd: string): Promise<{ code: number | null; screen: string }> {
  const cmd = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve, reject) => {
    const p = spawn('script', ['-qfec', cmd, '/dev/null'], { cwd, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TERM: 'dumb', COLUMNS: '200' } });
    let screen = '';
    let pending = '';
    let i = 0;
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`no prompt matched ${answers[i]?.[0]} in:\n${screen}`));
    }, 60_000);
    p.stdout.on('data', (d: Buffer) => {
      screen += d.toString('utf8');
      pending += d.toString('utf8');
      while (i < answers.length && answers[i]![0].test(pending)) {
        pending = '';
        p.stdin.write(`${answers[i]![1]}\r`);
        i++;
      }
    });
    p.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, screen });
    });
  });
}

