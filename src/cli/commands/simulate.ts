import { loadStack } from '../../model/load';
import { synthesizeEnvironment } from '../../gitops/synth';
import { formatSelections, simulate, unifiedDiff } from '../../simulate/simulate';
import { registrySource, tagsFileSource } from '../../simulate/tag-sources';
import { UsageError } from '../errors';
import { filterEnvironment } from '../filters';
import { progress } from '../progress';

export interface SimulateCommandOptions {
  readonly stack: string;
  readonly tags?: string;
  readonly registry?: string;
  readonly out: string;
  readonly configDir: string;
  readonly json?: boolean;
  /** Only these tiers (default: all). */
  readonly tier?: string[];
  /** Only these apps (default: all). */
  readonly app?: string[];
  readonly insecureRegistry?: boolean;
  readonly registryTokenRealm?: string[];
}

/**
 * Exit 0 when every app's policy selects a tag, 1 when Flux would select nothing for some app
 * (the diff still shows the others), 2 on bad input, 3 when the registry fails.
 */
export async function runSimulate(opts: SimulateCommandOptions, log: (s: string) => void): Promise<number> {
  if (opts.tags && opts.registry) throw new UsageError('simulate takes --tags FILE or --registry URL, not both');
  const full = loadStack(opts.configDir, opts.stack);
  const environment = filterEnvironment(full, opts.tier, opts.app);
  // The tree as synth would write it, with the marker values Flux already committed in --out kept.
  const synthesized = synthesizeEnvironment(environment, opts.stack, opts.out);
  const tree = new Map<string, string>();
  for (const [rel, content] of synthesized.files) if (typeof content === 'string') tree.set(rel, content);
  // The tags file may list every repository of the stack, not only the filtered ones.
  const source = opts.tags ? tagsFileSource(opts.tags, full) : registrySource(opts.registry, { insecure: opts.insecureRegistry, allowedRealms: opts.registryTokenRealm });
  const bar = progress();
  let result: Awaited<ReturnType<typeof simulate>>;
  try {
    result = await simulate(environment, tree, source, bar.step);
  } finally {
    bar.done();
  }
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
