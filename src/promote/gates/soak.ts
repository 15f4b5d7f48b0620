import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { markerValues } from '../../engines/markers/marker';
import type { PromotionGates } from '../../model/promotion';
import type { GateResult } from './types';

/** How far back the history of the staging release file is read (commits touching it). */
export const SOAK_MAX_COMMITS = 1000;

function git(cwd: string, args: string[]): Promise<{ ok: boolean; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile('git', ['-c', 'core.quotePath=false', ...args], { cwd, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, GIT_OPTIONAL_LOCKS: '0' } }, (e, out, err) =>
      resolve({ ok: !e, out: String(out), err: String(err).trim().split('\n')[0] ?? '' }),
    );
  });
}

export interface SoakInput {
  /** The --tree checkout. */
  readonly tree: string;
  /** The staging release file, relative to the tree. */
  readonly file: string;
  /** The marker keys (`<ns>:<policy>:tag` and `:digest`) and the values staging runs now. */
  readonly keys: readonly string[];
  readonly now: number;
}

/**
 * The soak gate: how long staging has run the image, from the GitOps repository's history. The commit
 * that set the staging marker to its current value (the oldest commit of the newest unbroken run of
 * commits whose file has that value) is when the image reached staging; its committer time is when Flux's
 * automation (or a person) committed it; the cluster applied it one source interval later. An uncommitted
 * marker has not soaked at all.
 */
export async function soakGate(gate: NonNullable<PromotionGates['soak']>, input: SoakInput): Promise<GateResult> {
  const fail = (reason: string, evidence: Record<string, unknown> = {}): GateResult => ({ gate: 'soak', verdict: 'fail', reason, evidence: { minimum: gate.minimum, file: input.file, ...evidence } });
  const top = await git(input.tree, ['rev-parse', '--show-toplevel']);
  if (!top.ok) return fail(`--tree ${input.tree} is not a git checkout (${top.err}); soak is measured from the GitOps repository's history of ${input.file}`);
  const root = top.out.trim();
  const rel = path.relative(fs.realpathSync(root), fs.realpathSync(path.join(input.tree, input.file))).split(path.sep).join('/');
  const current = markerValues(fs.readFileSync(path.join(input.tree, input.file), 'utf8'));
  const want = input.keys.map((k) => current.get(k) ?? '');
  const status = await git(root, ['status', '--porcelain', '--', rel]);
  if (status.ok && status.out.trim()) return fail(`${input.file} has uncommitted changes: staging runs what is committed, and soak starts at that commit`);
  const log = await git(root, ['log', `-n${SOAK_MAX_COMMITS}`, '--format=%H %ct', '--', rel]);
  if (!log.ok) return fail(`git log of ${input.file} failed: ${log.err}`);
  const commits = log.out.trim().split('\n').filter(Boolean).map((l) => ({ sha: l.slice(0, l.indexOf(' ')), time: Number(l.slice(l.indexOf(' ') + 1)) }));
  if (commits.length === 0) return fail(`${input.file} has no commit in the history of ${root}`);
  let since: { sha: string; time: number } | undefined;
  let before: string | undefined;
  for (const c of commits) {
    const show = await git(root, ['show', `${c.sha}:${rel}`]);
    const values = show.ok ? markerValues(show.out) : new Map<string, string>();
    const same = input.keys.every((k, i) => (values.get(k) ?? '') === want[i]);
    if (!same) {
      before = c.sha;
      break;
    }
    since = c;
  }
  if (!since) return fail(`the newest commit of ${input.file} (${commits[0]!.sha.slice(0, 12)}) does not hold what staging runs now`);
  const ranMs = input.now - since.time * 1000;
  const evidence = {
    commit: since.sha,
    committedAt: new Date(since.time * 1000).toISOString(),
    ranFor: formatDuration(ranMs),
    ranForMs: ranMs,
    ...(before ? { previousCommit: before } : commits.length >= SOAK_MAX_COMMITS ? { historyTruncatedAt: SOAK_MAX_COMMITS } : {}),
  };
  if (ranMs < gate.minimumMs) {
    return fail(`staging has run it for ${formatDuration(ranMs)} (since commit ${since.sha.slice(0, 12)} at ${evidence.committedAt}), less than the soak of ${gate.minimum}`, evidence);
  }
  return {
    gate: 'soak',
    verdict: 'pass',
    reason: `staging has run it for ${formatDuration(ranMs)} (since commit ${since.sha.slice(0, 12)} at ${evidence.committedAt}), at least ${gate.minimum}`,
    evidence: { minimum: gate.minimum, file: input.file, ...evidence },
  };
}

/** `3d4h5m`, `12m30s`, `0s`: whole seconds, largest units first. */
export function formatDuration(ms: number): string {
  if (ms < 0) return `-${formatDuration(-ms)}`;
  let s = Math.floor(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  if (s || parts.length === 0) parts.push(`${s}s`);
  return parts.join('');
}
