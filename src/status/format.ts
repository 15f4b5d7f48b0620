import type { AppStatus, Stage } from './pipeline';

/** `42s`, `3m`, `5h`, `2d`: how long ago, in the unit kubectl uses. */
export function formatAge(seconds: number | undefined): string {
  if (seconds === undefined) return '';
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 172800) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

const cell = (s: Stage | undefined) => (s ? `${s.state === 'ok' ? '' : s.state === 'failed' ? '✗ ' : '… '}${s.value}${s.ageSeconds !== undefined ? ` (${formatAge(s.ageSeconds)})` : ''}` : '');

/**
 * One row per app and tier: registry → ImagePolicy → Git → cluster → HelmRelease → Deployment, each value
 * with its age; under a row whose image is stuck, the first stage that lags or fails with its object's message.
 */
export function formatStatus(rows: readonly AppStatus[]): string {
  const header = ['TIER', 'APP', 'REGISTRY', 'POLICY', 'GIT', 'CLUSTER', 'RELEASE', 'ROLLOUT'];
  const table = [header, ...rows.map((r) => [r.tier, r.app, ...(['registry', 'policy', 'git', 'cluster', 'release', 'rollout'] as const).map((n) => cell(r.stages.find((s) => s.name === n)))])];
  const widths = header.map((_, i) => Math.max(...table.map((t) => t[i]!.length)));
  const lines: string[] = [];
  table.forEach((t, i) => {
    lines.push(t.map((c, j) => (j === t.length - 1 ? c : c.padEnd(widths[j]!))).join('  ').trimEnd());
    const r = i > 0 ? rows[i - 1]! : undefined;
    if (r?.blocking) lines.push(`  └ ${r.blocking.state === 'failed' ? 'FAILED' : 'waiting'} at ${r.blocking.name}: ${r.blocking.message ?? ''}`.trimEnd());
  });
  return lines.join('\n');
}
