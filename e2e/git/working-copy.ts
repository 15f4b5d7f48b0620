// A clone of the GitOps repository the run works in, as a platform engineer would: every git call is
// asynchronous, because the git server answers from this same process.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface GitResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs git in `cwd`; rejects with git's own stderr. Bounded by `timeoutMs` (default 60 s). */
export function git(cwd: string, args: readonly string[], timeoutMs = 60_000): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      ['-c', 'user.name=tagflow-e2e', '-c', 'user.email=e2e@example.invalid', '-c', 'init.defaultBranch=main', ...args],
      { cwd, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } },
      (error, stdout, stderr) => (error ? reject(new Error(`git ${args.join(' ')} (in ${cwd}): ${stderr || error.message}`)) : resolve({ stdout, stderr })),
    );
  });
}

export class WorkingCopy {
  private constructor(
    readonly dir: string,
    readonly branch: string,
  ) {}

  /** Clones `url` (credentials in the URL) into `dir`; an empty repository gets a first commit on `branch`. */
  static async clone(url: string, dir: string, branch: string): Promise<WorkingCopy> {
    await git(path.dirname(dir), ['clone', '--quiet', url, dir]);
    const wc = new WorkingCopy(dir, branch);
    const heads = (await git(dir, ['ls-remote', '--heads', 'origin'])).stdout;
    if (!heads.includes(`refs/heads/${branch}`)) {
      await git(dir, ['checkout', '--quiet', '-B', branch]);
      fs.writeFileSync(path.join(dir, 'README.md'), '# GitOps repository of the tagflow end-to-end run\n');
      await wc.commitAll('Initial commit');
      await wc.push();
    }
    return wc;
  }

  /** Commits everything in the work tree; returns the new commit, or undefined when nothing changed. */
  async commitAll(message: string): Promise<string | undefined> {
    await git(this.dir, ['add', '-A']);
    if ((await git(this.dir, ['status', '--porcelain'])).stdout.trim() === '') return undefined;
    await git(this.dir, ['commit', '--quiet', '-m', message]);
    return this.head();
  }

  async push(refspec = `HEAD:${this.branch}`): Promise<void> {
    await git(this.dir, ['push', '--quiet', 'origin', refspec]);
  }

  /** Fetches and fast-forwards the branch to what the server has (Flux's commits). */
  async pull(): Promise<string> {
    await git(this.dir, ['fetch', '--quiet', 'origin']);
    await git(this.dir, ['merge', '--quiet', '--ff-only', `origin/${this.branch}`]);
    return this.head();
  }

  async head(ref = 'HEAD'): Promise<string> {
    return (await git(this.dir, ['rev-parse', ref])).stdout.trim();
  }

  /** The commit of a remote branch, or undefined when it does not exist. */
  async remoteHead(branch: string): Promise<string | undefined> {
    const line = (await git(this.dir, ['ls-remote', '--heads', 'origin', branch])).stdout.trim();
    return line ? line.split(/\s+/)[0] : undefined;
  }

  /** `git show` of a commit's patch, without the header: what it changed, as `git diff <parent> <commit>`. */
  async patchOf(commit: string): Promise<string> {
    return (await git(this.dir, ['-c', 'diff.noprefix=false', 'show', '--no-color', '--no-ext-diff', '--format=', commit])).stdout;
  }

  async messageOf(commit: string): Promise<string> {
    return (await git(this.dir, ['show', '--no-patch', '--format=%B', commit])).stdout;
  }

  async authorOf(commit: string): Promise<string> {
    return (await git(this.dir, ['show', '--no-patch', '--format=%an <%ae>', commit])).stdout.trim();
  }
}
