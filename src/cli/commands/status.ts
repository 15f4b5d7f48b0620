import { loadStack } from '../../model/load';
import { registrySource } from '../../simulate/tag-sources';
import { appTiers, clusterObjects, gitView, registryView, type ClusterReader } from '../../status/collect';
import { formatStatus } from '../../status/format';
import { appStatus, type AppStatus } from '../../status/pipeline';
import { durationSeconds } from '../../latency/latency';
import { UsageError } from '../errors';
import { filterEnvironment } from '../filters';

export interface StatusCommandOptions {
  readonly stack: string;
  readonly configDir: string;
  readonly app?: string[];
  readonly tier?: string[];
  readonly watch?: boolean;
  readonly timeout?: string;
  readonly interval?: string;
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly tree?: string;
  readonly registry?: string;
  readonly insecureRegistry?: boolean;
  readonly json?: boolean;
}

/** One snapshot of every selected app tier. */
export async function collectStatus(opts: StatusCommandOptions, reader: ClusterReader, now = () => Date.now()): Promise<AppStatus[]> {
  const env = filterEnvironment(loadStack(opts.configDir, opts.stack), opts.tier, opts.app);
  const source = registrySource(opts.registry, { insecure: opts.insecureRegistry });
  const rows: AppStatus[] = [];
  for (const { tier, app } of appTiers(env)) {
    const [objects, registry] = await Promise.all([clusterObjects(reader, tier, app), registryView(app, source)]);
    rows.push(appStatus(app, tier, registry, await gitView(tier, app, opts.tree, objects), objects, now()));
  }
  return rows;
}

/**
 * `tagflow status`: where each app's image is on its way to running pods. With `--watch` (one app, one
 * tier), follows it until it runs the newest accepted tag (exit 0) or a stage fails or the timeout passes
 * (exit 1), like `kubectl rollout status`.
 */
export async function runStatus(opts: StatusCommandOptions, log: (s: string) => void, reader?: ClusterReader): Promise<number> {
  const cluster = reader ?? (await import('../../status/cluster-reader')).kubeReader({ kubeconfig: opts.kubeconfig, context: opts.context });
  if (!opts.watch) {
    const rows = await collectStatus(opts, cluster);
    log(opts.json ? JSON.stringify({ apps: rows }, null, 2) : formatStatus(rows));
    return rows.some((r) => r.verdict === 'failed') ? 1 : 0;
  }
  if (opts.app?.length !== 1) throw new UsageError('--watch follows one app: pass --app <name> (and --tier when it runs in several)');
  const deadline = Date.now() + durationSeconds(opts.timeout ?? '10m') * 1000;
  const every = durationSeconds(opts.interval ?? '2s') * 1000;
  let lastLine = '';
  for (;;) {
    const rows = await collectStatus(opts, cluster);
    if (rows.length !== 1) throw new UsageError(`--watch follows one app in one tier; '${opts.app[0]}' runs in ${rows.map((r) => r.tier).join(', ')}: pass --tier`);
    const r = rows[0]!;
    const line = r.verdict === 'ok' ? `${r.tier}/${r.app} runs ${r.target}` : r.blocking ? `${r.tier}/${r.app}: ${r.blocking.state} at ${r.blocking.name}: ${r.blocking.message ?? r.blocking.value}` : `${r.tier}/${r.app}: progressing`;
    if (opts.json) {
      if (r.verdict !== 'progressing' || Date.now() >= deadline) log(JSON.stringify({ apps: rows, result: r.verdict === 'ok' ? 'ok' : r.verdict === 'failed' ? 'failed' : 'timeout' }, null, 2));
    } else if (line !== lastLine) log(line);
    lastLine = line;
    if (r.verdict === 'ok') return 0;
    if (r.verdict === 'failed') {
      if (!opts.json) log(`error: ${r.tier}/${r.app} failed at ${r.blocking?.name}`);
      return 1;
    }
    if (Date.now() >= deadline) {
      if (!opts.json) log(`error: timed out after ${opts.timeout ?? '10m'} waiting for ${r.tier}/${r.app} to run ${r.target ?? 'the newest accepted tag'}`);
      return 1;
    }
    await new Promise((res) => setTimeout(res, every));
  }
}
