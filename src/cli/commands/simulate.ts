import { loadStack } from '../../model/load';
import { synthesizeEnvironment } from '../../gitops/synth';
import { formatSelections, simulate, unifiedDiff } from '../../simulate/simulate';
import { registrySource, tagsFileSource } from '../../simulate/tag-sources';
import { UsageError } from '../errors';

export interface SimulateCommandOptions {
  readonly stack: string;
  readonly tags?: string;
  readonly registry?: string;
  readonly out: string;
  readonly configDir: string;
  readonly json?: boolean;
  readonly insecureRegistry?: boolean;
  readonly registryTokenRealm?: string[];
}

/**
 * Exit 0 when every app's policy selects a tag, 1 when Flux would select nothing for some app
 * (the diff still shows the others), 2 on bad input, 3 when the registry fails.
 */
export async function runSimulate(opts: SimulateCommandOptions, log: (s: string) => void): Promise<number> {
  if (!opts.tags === !opts.registry) throw new UsageError('simulate needs exactly one of --tags FILE and --registry URL');
  const environment = loadStack(opts.configDir, opts.stack);
  // The tree as synth would write it, with the marker values Flux already committed in --out kept.
  const synthesized = synthesizeEnvironment(environment, opts.stack, opts.out);
  const tree = new Map<string, string>();
  for (const [rel, content] of synthesized.files) if (typeof content === 'string') tree.set(rel, content);
  const source = opts.tags ? tagsFileSource(opts.tags, environment) : registrySource(opts.registry!, { insecure: opts.insecureRegistry, allowedRealms: opts.registryTokenRealm });
  const result = await simulate(environment, tree, source);
  const diff = unifiedDiff(result.files);
  if (opts.json) {
    log(JSON.stringify({ selections: result.selections, diff }, null, 2));
  } else {
    log(formatSelections(result.selections));
    log('');
    log(diff ? diff.trimEnd() : '(no change: the tree already holds the selected tags)');
  }
  return result.selections.some((s) => s.error) ? 1 : 0;
}
