import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ConfigIssue } from './errors';

/**
 * The real path of `p`, a file named relative to the stack file's folder `root`, when it exists inside it
 * (also through symbolic links); otherwise undefined, with the issue added at `where`.
 */
export function fileInStackFolder(root: string | undefined, p: string, where: (string | number)[], issues: ConfigIssue[]): string | undefined {
  if (!root) {
    issues.push({ path: where, value: p, message: 'cannot be read: the stack was not loaded from a file' });
    return undefined;
  }
  const full = path.resolve(root, p);
  let real: string;
  try {
    real = fs.realpathSync(full);
  } catch {
    issues.push({ path: where, value: p, message: `does not exist (looked in ${full})` });
    return undefined;
  }
  if (real !== root && !real.startsWith(root + path.sep)) {
    issues.push({ path: where, value: p, message: `resolves to ${real}, outside the stack file's folder ${root}` });
    return undefined;
  }
  return real;
}
