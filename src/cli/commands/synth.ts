import * as path from 'node:path';
import { synth } from '../../gitops/synth';
import { newAppTiers, resolveInitialRefs, type InitialRefs } from '../../gitops/initial-tags';
import { formatFindings, lint } from '../../check/lint';
import { listStacks, loadStack } from '../../model/load';
import { registrySource } from '../../simulate/tag-sources';

export interface SynthCommandOptions {
  readonly stack?: string[];
  readonly out: string;
  readonly configDir: string;
  /** `true`: each app's own registry; a URL: that registry. New HelmReleases start from what it holds. */
  readonly registry?: string | boolean;
  readonly insecureRegistry?: boolean;
}

export async function runSynth(opts: SynthCommandOptions, log: (s: string) => void): Promise<number> {
  let initialRefs: Map<string, InitialRefs> | undefined;
  if (opts.registry) {
    // Resolved before anything is written: an unreachable registry stops synth with the tree untouched.
    initialRefs = new Map();
    const source = registrySource(typeof opts.registry === 'string' ? opts.registry : undefined, { insecure: opts.insecureRegistry });
    for (const stack of opts.stack?.length ? opts.stack : listStacks(opts.configDir)) {
      const apps = newAppTiers(loadStack(opts.configDir, stack), stack, opts.out);
      const { refs, notes } = await resolveInitialRefs(apps, source);
      for (const n of notes) log(`${stack}: ${n}`);
      initialRefs.set(stack, refs);
    }
  }
  const { outputs, results, recovered } = synth({ configDir: opts.configDir, outDir: opts.out, stacks: opts.stack, initialRefs });
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
