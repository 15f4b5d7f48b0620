import { expectCliOutput } from './support/cli-output';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseEnvironment } from '../src/model/load';
import { resolveEnvironment, type AppTier, type Tier } from '../src/model/tiers';
import { appStatus, type ClusterObjects, type GitView, type RegistryView } from '../src/status/pipeline';
import { formatStatus } from '../src/status/format';
import { runStatus } from '../src/cli/commands/status';
import type { ClusterReader } from '../src/status/collect';
import { sampleEnvironment, tmpDir, writeStack } from './support/tree';

/**
 * Objects recorded from the end-to-end cluster (e2e/scenario, `recordObjects`): dev/api right after an
 * update ran through, and after an upgrade the API server rejected and helm-controller rolled back. The
 * failure states the run cannot reach safely are derived from them by changing the one field that matters.
 */
const FIX = path.join(__dirname, 'fixtures', 'status');
const load = (state: string): ClusterObjects => {
  const read = (kind: string) => JSON.parse(fs.readFileSync(path.join(FIX, state, `${kind}.json`), 'utf8'));
  return {
    imagePolicy: read('ImagePolicy'),
    imageRepository: read('ImageRepository'),
    automation: read('ImageUpdateAutomation'),
    kustomization: read('Kustomization'),
    helmRelease: read('HelmRelease'),
    deployment: read('Deployment'),
  };
};

// The e2e stack's dev tier and api app, with the recorded registry host.
const recorded = load('updated');
const host = (recorded.helmRelease!.spec!.values!.image!.repository as string).split('/')[0]!;
const env = resolveEnvironment(
  parseEnvironment(
    sampleEnvironment({ name: 'e2e', registry: { provider: 'generic', host, insecure: true }, aws: undefined, cluster: { name: 'e2e' }, tiers: { dev: {} }, apps: [{ name: 'api' }] }),
    't.yaml',
  ),
);
const tier: Tier = env.tiers[0]!;
const app: AppTier = tier.apps[0]!;
const tag = recorded.imagePolicy!.status!.latestRef!.tag!;
const registry: RegistryView = { tag };
const git: GitView = { source: 'cluster', tag };
const now = Date.parse(recorded.deployment!.status!.conditions!.find((c) => c.type === 'Progressing')!.lastUpdateTime!) + 30_000;
const clone = <T>(o: T): T => structuredClone(o);

describe('status: where an image is between the registry and the pods (recorded objects)', () => {
  test('after an update ran through: every stage ok, the app runs the newest accepted tag', () => {
    const s = appStatus(app, tier, registry, git, recorded, now);
    expect(s.verdict).toBe('ok');
    expect(s.blocking).toBeUndefined();
    expect(s.stages.map((x) => [x.name, x.state])).toEqual([
      ['registry', 'ok'],
      ['policy', 'ok'],
      ['git', 'ok'],
      ['cluster', 'ok'],
      ['release', 'ok'],
      ['rollout', 'ok'],
    ]);
    expect(s.stages.find((x) => x.name === 'rollout')!.value).toBe(`2/2 ${host}/api:${tag}`);
    expect(s.stages.find((x) => x.name === 'rollout')!.ageSeconds).toBe(30);
  });

  test('upgrade failed and rolled back: failed at release, with why the upgrade failed (not only that the rollback worked)', () => {
    const failed = load('upgrade-failed');
    const s = appStatus(app, tier, { tag: failed.imagePolicy!.status!.latestRef!.tag }, { source: 'cluster', tag: failed.imagePolicy!.status!.latestRef!.tag }, failed, now);
    expect(s.verdict).toBe('failed');
    expect(s.blocking).toMatchObject({ name: 'release', state: 'failed' });
    expect(s.blocking!.message).toMatch(/^Helm upgrade failed for release dev\/api .*Invalid value: "not a valid key!".*\(Helm rollback to previous release dev\/api\.v\d+ .* succeeded\)$/);
  });

  test('the policy has no match: waiting at policy with the ImagePolicy\'s own message (a new tag is retried, not failed)', () => {
    const o = clone(recorded);
    (o.imagePolicy!.status as any).conditions = [{ type: 'Ready', status: 'False', reason: 'Failure', message: 'version list argument cannot be empty' }];
    const s = appStatus(app, tier, { error: "none of the 3 tags matches filterTags.pattern" }, git, o, now);
    expect(s.blocking).toMatchObject({ name: 'policy', state: 'lagging', message: 'version list argument cannot be empty' });
    expect(s.verdict).toBe('progressing');
    // Flux says retrying cannot help: failed.
    (o.imagePolicy!.status as any).conditions.push({ type: 'Stalled', status: 'True', reason: 'InvalidPolicy', message: 'invalid semver range' });
    expect(appStatus(app, tier, registry, git, o, now)).toMatchObject({ verdict: 'failed', blocking: { name: 'policy', message: 'invalid semver range' } });
  });

  test('a newer tag the policy has not seen yet: waiting at policy, naming the tag and the last scan', () => {
    const s = appStatus(app, tier, { tag: 'branch-dev-1800000000-aaaaaaa' }, git, recorded, now);
    expect(s.target).toBe('branch-dev-1800000000-aaaaaaa');
    expect(s.blocking!.name).toBe('policy');
    expect(s.blocking!.message).toMatch(/has not selected branch-dev-1800000000-aaaaaaa yet \(last scan \d{4}-/);
  });

  test('the marker was never written: waiting at git with the automation\'s message', () => {
    const o = clone(recorded);
    (o.automation!.status as any).conditions = [{ type: 'Ready', status: 'False', reason: 'GitOperationFailed', message: 'failed to push to remote: authentication required' }];
    const s = appStatus(app, tier, registry, { source: 'tree', tag: '', commit: undefined }, o, now);
    expect(s.blocking).toMatchObject({ name: 'git', state: 'lagging', value: '(none)', message: 'failed to push to remote: authentication required' });
  });

  test('Git has the tag, the cluster has not applied it: waiting at cluster, naming what was applied', () => {
    const s = appStatus(app, tier, registry, { source: 'tree', tag, commit: 'abc1234' }, { ...recorded, helmRelease: { ...clone(recorded.helmRelease!), spec: { values: { image: { tag: 'older' } } } } }, now);
    expect(s.blocking!.name).toBe('cluster');
    expect(s.blocking!.message).toMatch(/has not applied the commit yet \(applied: main@sha1:[0-9a-f]{40}\)/);
  });

  test('pods not ready: waiting at rollout with the counts; a Deployment past its deadline failed', () => {
    const o = clone(recorded);
    (o.deployment!.status as any).availableReplicas = 1;
    (o.deployment!.status as any).conditions = [{ type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', message: 'ReplicaSet "api-5d8f" is progressing.' }];
    expect(appStatus(app, tier, registry, git, o, now).blocking).toMatchObject({ name: 'rollout', state: 'lagging', value: `1/2 ${host}/api:${tag}`, message: 'ReplicaSet "api-5d8f" is progressing.' });
    (o.deployment!.status as any).conditions = [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "api-5d8f" has timed out progressing.' }];
    expect(appStatus(app, tier, registry, git, o, now)).toMatchObject({ verdict: 'failed', blocking: { name: 'rollout', message: 'ReplicaSet "api-5d8f" has timed out progressing.' } });
  });

  test('the table shows each stage with its age and, under a stuck row, where and why', () => {
    const ok = appStatus(app, tier, registry, git, recorded, now);
    const f = load('upgrade-failed');
    const failedTag = f.imagePolicy!.status!.latestRef!.tag!;
    const failed = appStatus(app, tier, { tag: failedTag }, { source: 'cluster', tag: failedTag }, f, now);
    const text = formatStatus([ok, failed]);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^TIER\s+APP\s+REGISTRY\s+POLICY\s+GIT\s+CLUSTER\s+RELEASE\s+ROLLOUT$/);
    expect(lines[1]).toContain(`2/2 ${host}/api:${tag} (30s)`);
    expect(lines[3]).toMatch(/^  └ FAILED at release: Helm upgrade failed/);
  });
});

describe('tagflow status (CLI) on a recorded cluster', () => {
  /** A reader that answers from the recorded objects, as the API server did. */
  const reader = (state: string): ClusterReader => {
    const o = load(state);
    const byKind: Record<string, unknown> = { ImagePolicy: o.imagePolicy, ImageRepository: o.imageRepository, ImageUpdateAutomation: o.automation, Kustomization: o.kustomization, HelmRelease: o.helmRelease, Deployment: o.deployment };
    return { get: async (_v, kind) => byKind[kind] as Record<string, unknown>, list: async () => [] };
  };
  const dir = tmpDir();
  writeStack(dir, 'e2e', sampleEnvironment({ name: 'e2e', registry: { provider: 'generic', host, insecure: true }, aws: undefined, cluster: { name: 'e2e' }, tiers: { dev: {} }, apps: [{ name: 'api' }] }));
  const run = async (state: string, extra: Record<string, unknown> = {}) => {
    const out: string[] = [];
    // The recorded run's registry is gone: nothing listens on port 1.
    const code = await runStatus({ stack: 'e2e', configDir: dir, registry: 'http://127.0.0.1:1', insecureRegistry: true, ...extra }, (s) => out.push(s), reader(state));
    return { code, out: out.join('\n') };
  };

  test('a registry that cannot be reached does not hide the cluster: the row says so, the rest is read', async () => {
    const r = await run('updated', { json: true });
    const [row] = expectCliOutput('status', r.out).apps;
    expect(row.stages[0]).toMatchObject({ name: 'registry', state: 'unknown' });
    expect(row.stages[0].message).toMatch(/127\.0\.0\.1:1/);
    expect(row.stages.slice(1).map((s: { state: string }) => s.state)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
  });

  test('--watch on a failed upgrade exits 1 with the release\'s message; --watch needs one app', async () => {
    const r = await run('upgrade-failed', { watch: true, app: ['api'], timeout: '10s', interval: '1s' });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/dev\/api: failed at release: Helm upgrade failed/);
    await expect(run('updated', { watch: true })).rejects.toThrow(/--watch follows one app: pass --app/);
  });
});
