import { filterEnvironment } from '../filters';
import { loadStack } from '../../model/load';
import { environmentLatency, formatLatency, HOP_SECONDS, type MeasuredRun } from '../../latency/latency';
import measuredE2e from '../../latency/measured-e2e.json';

export function runLatency(opts: { stack: string; configDir: string; json?: boolean; tier?: string[]; app?: string[] }, log: (s: string) => void): number {
  const env = filterEnvironment(loadStack(opts.configDir, opts.stack), opts.tier, opts.app);
  const rows = environmentLatency(env);
  const measured = measuredE2e as MeasuredRun;
  if (opts.json) log(JSON.stringify({ assumptions: HOP_SECONDS, tiers: rows, measured }, null, 2));
  else {
    log(formatLatency(rows, measured));
    log('');
    log(`Computed from the stack's intervals plus per-hop estimates (tagflow latency --json lists them); commit → running assumes the tier's GitRepository fetch and a ${HOP_SECONDS.rollout.typical}s rollout.`);
    log(`Measured rows: ${measured.how}.`);
  }
  return 0;
}
