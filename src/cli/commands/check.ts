import { formatFindings, lint } from '../../check/lint';

/** Exit 0 when clean, 1 on findings, 2 when the tree cannot be read. */
export function runCheck(opts: { dir: string; json?: boolean }, log: (s: string) => void): number {
  const findings = lint(opts.dir);
  if (opts.json) log(JSON.stringify(findings, null, 2));
  else if (findings.length) log(formatFindings(findings));
  return findings.length ? 1 : 0;
}
