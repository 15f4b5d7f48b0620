import { loadStack } from '../../model/load';
import { environmentLatency, formatLatency, HOP_SECONDS } from '../../latency/latency';

export function runLatency(opts: { stack: string; configDir: string; json?: boolean }, log: (s: string) => void): number {
  const rows = environmentLatency(loadStack(opts.configDir, opts.stack));
  if (opts.json) log(JSON.stringify({ assumptions: HOP_SECONDS, tiers: rows }, null, 2));
  else {
    log(formatLatency(rows));
    log('');
    log(`Computed from the stack's intervals plus per-hop estimates (tagflow latency --json lists them); commit → running assumes the tier's GitRepository fetch and a ${HOP_SECONDS.rollout.typical}s rollout.`);
  }
  return 0;
}
