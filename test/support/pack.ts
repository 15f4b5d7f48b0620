import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT, tmpDir } from './tree';

/**
 * `npm pack` as a release would run it (prepare builds lib/, prepack/postpack add and remove the
 * shrinkwrap), in a copy of this checkout's files (git's view: tracked and untracked-not-ignored) with its
 * node_modules linked, so concurrent test suites never see lib/ being rewritten. Returns the tarball's path.
 */
export function packTagflow(): string {
  const copy = tmpDir('tagflow-src-');
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO_ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const f of files) {
    if (!fs.existsSync(path.join(REPO_ROOT, f))) continue; // deleted in the working tree
    fs.mkdirSync(path.dirname(path.join(copy, f)), { recursive: true });
    fs.copyFileSync(path.join(REPO_ROOT, f), path.join(copy, f));
  }
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(copy, 'node_modules'));
  const dest = tmpDir('tagflow-pack-');
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dest], { cwd: copy, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
  const [{ filename }] = JSON.parse(out.slice(out.indexOf('['))) as { filename: string }[];
  const tarball = path.join(dest, filename);
  if (!fs.existsSync(tarball)) throw new Error(`npm pack wrote no ${tarball}`);
  if (fs.existsSync(path.join(copy, 'npm-shrinkwrap.json'))) throw new Error('postpack left npm-shrinkwrap.json behind');
  return tarball;
}
