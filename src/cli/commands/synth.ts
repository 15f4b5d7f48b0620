import * as path from 'node:path';
import { synth } from '../../gitops/synth';
import { formatFindings, lint } from '../../check/lint';

export interface SynthCommandOptions {
  readonly stack?: string[];
  readonly out: string;
  readonly configDir: string;
}

export function runSynth(opts: SynthCommandOptions, log: (s: string) => void): number {
  const { outputs, results, recovered } = synth({ configDir: opts.configDir, outDir: opts.out, stacks: opts.stack });
  if (recovered === 'completed' || recovered === 'rolled back' || recovered === 'discarded') {
    const what = { completed: 'completed its committed changes', 'rolled back': 'undid its partial changes', discarded: 'discarded its staged files (it had changed nothing)' }[recovered];
    process.stderr.write(`tagflow: an earlier run into ${opts.out} was interrupted; ${what} before this one\n`);
  }
  for (const o of outputs) {
    const r = results.get(o.stack)!;
    log(
      `${o.stack}: ${o.files.size} files in ${path.relative(process.cwd(), opts.out) || '.'} ` +
        `(${r.written.length} written, ${r.unchanged.length} unchanged, ${r.pruned.length} pruned)`,
    );
  }
  // What tagflow wrote must pass its own check: a finding here is a tagflow bug or a bad override.
  const findings = lint(opts.out).filter((f) => outputs.some((o) => o.files.has(f.file)));
  if (findings.length) {
    process.stderr.write(`tagflow: check found problems in the synthesized tree:\n${formatFindings(findings)}\n`);
    return 1;
  }
  return 0;
}
