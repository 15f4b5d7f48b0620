// Runs the built `tagflow` command as users do (a separate process), without blocking this process's
// servers (the git server answers from here).
import { execFile } from 'node:child_process';
import * as path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function tagflow(args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(REPO_ROOT, 'bin', 'tagflow.js'), ...args],
      { cwd: opts.cwd ?? REPO_ROOT, env: { ...process.env, ...opts.env }, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** Like `tagflow`, but throws with both streams unless the exit code is the expected one. */
export async function tagflowOk(args: readonly string[], expectCode = 0, opts: Parameters<typeof tagflow>[1] = {}): Promise<CliResult> {
  const r = await tagflow(args, opts);
  if (r.code !== expectCode) throw new Error(`tagflow ${args.join(' ')} exited ${r.code} (expected ${expectCode})\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r;
}
