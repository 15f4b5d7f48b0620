import * as path from 'node:path';
import { synth } from '../../gitops/synth';

export interface SynthCommandOptions {
  readonly stack?: string[];
  readonly out: string;
  readonly configDir: string;
}

export function runSynth(opts: SynthCommandOptions, log: (s: string) => void): number {
  const { outputs, results } = synth({ configDir: opts.configDir, outDir: opts.out, stacks: opts.stack });
  for (const o of outputs) {
    const r = results.get(o.stack)!;
    log(
      `${o.stack}: ${o.files.size} files in ${path.relative(process.cwd(), opts.out) || '.'} ` +
        `(${r.written.length} written, ${r.unchanged.length} unchanged, ${r.pruned.length} pruned)`,
    );
  }
  return 0;
}
