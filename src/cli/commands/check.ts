import { bySeverity, formatFindings, lint, stacksOfTree } from '../../check/lint';
import { loadStack } from '../../model/load';

/**
 * Exit 0 when clean (warnings are printed but do not fail), 1 on findings, 2 when the tree cannot be read.
 * Run from the folder of the stack files (as the other commands), the stacks that wrote the tree (its
 * `.tagflow/<stack>.json`) feed the rules only a stack can answer (a release tier without a signature gate).
 */
export function runCheck(opts: { dir: string; json?: boolean }, log: (s: string) => void): number {
  const findings = lint(opts.dir, { stacks: stacksOfTree(opts.dir, process.cwd(), loadStack) });
  if (opts.json) log(JSON.stringify(findings, null, 2));
  else if (findings.length) log(formatFindings(findings));
  return bySeverity(findings).errors.length ? 1 : 0;
}
