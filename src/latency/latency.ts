import { GIT_SOURCE_INTERVAL, type ResolvedEnvironment, type Tier } from '../model/tiers';

/** Go `time.ParseDuration` subset Flux intervals use (`1m`, `5m30s`, `1h`, `500ms`), in seconds. */
export function durationSeconds(d: string): number {
  const units: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
  const parts = [...d.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== d) throw new Error(`'${d}' is not a Go duration`);
  return parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]!]!, 0);
}

/**
 * The fixed costs of each hop, in seconds, typical and worst (our estimates for a healthy cluster, not
 * measurements): they are added to the interval waits, which dominate without the webhook.
 */
export const HOP_SECONDS = {
  /** ECR emits the push event, EventBridge matches it and the API destination POSTs (retries beyond this go to the DLQ path). */
  eventBridge: { typical: 1, worst: 10 },
  /** image-reflector-controller lists the repository's tags and the ImagePolicy re-evaluates. */
  scan: { typical: 2, worst: 10 },
  /** image-automation-controller clones the tier branch, applies the setters, commits and pushes. */
  commit: { typical: 3, worst: 15 },
  /** Kustomization applies the changed HelmRelease, helm-controller upgrades, and the Deployment rolls out. */
  rollout: { typical: 30, worst: 120 },
} as const;

/** The reference points the README compares against. */
export const ANCHORS = {
  /** Flux defaults: the next registry scan (5 min) and the next automation run (5 min) before Git changes. */
  fluxDefaultsPushToCommit: { typical: 300, worst: 600 },
  /** A pipeline that runs `kubectl set image` after the push. */
  kubectlSetImagePushToRunning: { typical: 120, worst: 120 },
} as const;

export interface Span {
  readonly typical: number;
  readonly worst: number;
}

export interface TierLatency {
  readonly tier: string;
  readonly path: 'webhook' | 'polling';
  readonly pushToCommit: Span;
  /** Absent for reviewed tiers: the commit lands on a review branch and waits for a human merge. */
  readonly pushToRunning?: Span;
  readonly scanInterval: number;
  readonly sourceInterval: number;
}

const add = (...spans: Span[]): Span => ({ typical: spans.reduce((s, x) => s + x.typical, 0), worst: spans.reduce((s, x) => s + x.worst, 0) });
/** Waiting for a periodic reconcile: half an interval typically, a whole one at worst. */
const wait = (interval: number): Span => ({ typical: interval / 2, worst: interval });

/**
 * Push → commit → running per tier, from the configured intervals. The ImageUpdateAutomation runs as soon
 * as an ImagePolicy it selects changes (it watches them), so its own interval is not on the path; the
 * scan is: polled every `scanInterval`, or triggered at once by the Receiver on the webhook path. After
 * the commit, the tier's GitRepository fetches on its interval.
 */
export function tierLatency(tier: Tier): TierLatency[] {
  const scanInterval = Math.max(...tier.apps.map((a) => durationSeconds(a.scanInterval)));
  const sourceInterval = durationSeconds(GIT_SOURCE_INTERVAL);
  const afterCommit = add(wait(sourceInterval), HOP_SECONDS.rollout);
  const paths: TierLatency[] = [];
  const polling = add(wait(scanInterval), HOP_SECONDS.scan, HOP_SECONDS.commit);
  const row = (path: TierLatency['path'], pushToCommit: Span): TierLatency => ({
    tier: tier.name,
    path,
    pushToCommit,
    pushToRunning: tier.reviewed ? undefined : add(pushToCommit, afterCommit),
    scanInterval,
    sourceInterval,
  });
  if (tier.webhook) {
    // A lost event is retried by EventBridge; polling remains the fallback, so the worst case is the better of the two.
    const webhook = add(HOP_SECONDS.eventBridge, HOP_SECONDS.scan, HOP_SECONDS.commit);
    paths.push(row('webhook', { typical: webhook.typical, worst: Math.min(webhook.worst, polling.worst) }));
  }
  paths.push(row('polling', polling));
  return paths;
}

export function environmentLatency(env: ResolvedEnvironment): TierLatency[] {
  return env.tiers.filter((t) => t.apps.length > 0).flatMap(tierLatency);
}

export function formatSeconds(s: number): string {
  if (s < 90) return `${Math.round(s)}s`;
  const m = Math.floor(s / 60);
  const r = Math.round(s - m * 60);
  return r ? `${m}m${String(r).padStart(2, '0')}s` : `${m}m`;
}

/** One figure the end-to-end run measured (`npm run e2e`, recorded with TAGFLOW_E2E_RECORD=1). */
export interface MeasuredLatency {
  readonly tier: string;
  readonly path: 'webhook' | 'polling';
  readonly pushToCommitSeconds: number;
  readonly pushToDeployedSeconds: number;
}

export interface MeasuredRun {
  readonly measuredAt: string;
  readonly how: string;
  readonly rows: readonly MeasuredLatency[];
}

export function formatLatency(rows: readonly TierLatency[], measured?: MeasuredRun): string {
  const span = (x?: Span) => (x ? `${formatSeconds(x.typical)} / ${formatSeconds(x.worst)}` : 'after review (merge)');
  const table = [
    ['TIER', 'PATH', 'PUSH→COMMIT typical / worst', 'PUSH→RUNNING typical / worst'],
    ...rows.map((r) => [r.tier, r.path === 'webhook' ? 'webhook (EventBridge → Receiver)' : `polling (scan every ${formatSeconds(r.scanInterval)})`, span(r.pushToCommit), span(r.pushToRunning)]),
    ['anchor', 'Flux defaults (5m scan, 5m automation)', span(ANCHORS.fluxDefaultsPushToCommit), '-'],
    ['anchor', 'CI runs kubectl set image', '-', span(ANCHORS.kubectlSetImagePushToRunning)],
    ...(measured?.rows ?? []).map((m) => [
      'measured',
      `${m.tier}, ${m.path === 'webhook' ? 'webhook (Receiver POST)' : 'polling'}, e2e ${measured!.measuredAt}`,
      formatSeconds(m.pushToCommitSeconds),
      formatSeconds(m.pushToDeployedSeconds),
    ]),
  ];
  const w = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  return table.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!))).join('  ')).join('\n');
}
