import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { REPO_ROOT } from './tree';

/**
 * Runs the built `tagflow` CLI without blocking the event loop (test registries and token services
 * served from the test process must keep answering while it runs).
 */
export function cliAsync(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(REPO_ROOT, 'bin/tagflow.js'), ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out: stdout, err: stderr });
    });
  });
}

/** stderr without the check's warning lines (`file:line: warning: rule: ...`), which synth prints and never fails on. */
export function withoutWarnings(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => !/^[^\s:]+:\d+: warning: [a-z-]+: /.test(l))
    .join('\n');
}
