// The whole loop, for real: tagflow's tree on a real API server with the real Flux controllers under the
// multi-tenancy lockdown, a real OCI registry and a real git server. Every step asserts on the objects'
// status; the run writes a JSON report (see e2e/README and the README's "End-to-end" section).
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadBuildManifest, startCluster, type Cluster, type KubeObject } from '../cluster';
import { ProcessSupervisor } from '../cluster/process-supervisor';
import { pollUntil } from '../cluster/wait';
import { startGitServer, type GitServer, type PushEvent } from '../git/git-server';
import { git, WorkingCopy } from '../git/working-copy';
import { startRegistry, type OciRegistry } from '../registry/oci-registry';
import { bootstrapSync, fluxInstallRbac, tierSecrets } from './bootstrap';
import { isReady, postPushEvent, recordOf, runningPods, waitAllFluxReady, waitDeploymentRunning } from './cluster-state';
import { RunReport } from './report';
import { startEventSink, type EventSink } from './event-sink';
import { tagflow, tagflowOk } from './tagflow-cli';
import { loadStack } from '../../src/model/load';
import type { ResolvedEnvironment } from '../../src/model/tiers';

const MINUTE = 60_000;
const STACK = 'e2e';
const APPS = [
  { app: 'api', repository: 'api' },
  { app: 'worker', repository: 'team/worker' },
] as const;
const TIERS = ['dev', 'staging', 'release'] as const;
/** `flux bootstrap`'s sync interval: how often the cluster fetches the branch it follows. */
const BOOTSTRAP_INTERVAL = '1m';

const workDir = process.env.TAGFLOW_E2E_WORKDIR ? path.join(process.env.TAGFLOW_E2E_WORKDIR, 'scenario') : fs.mkdtempSync(path.join(os.tmpdir(), 'tagflow-e2e-'));
const report = new RunReport(process.env.TAGFLOW_E2E_REPORT ?? path.join(workDir, 'report.json'));

let cluster: Cluster;
let services: ProcessSupervisor;
let registry: OciRegistry;
let gitServer: GitServer;
let gitops: WorkingCopy;
let env: ResolvedEnvironment;
let events: EventSink;
/** Edits of the stack file made by the steps so far, applied in order to the template. */
const stackEdits: ((text: string) => string)[] = [];
const configDir = path.join(workDir, 'config');
const receiverTokens = new Map<string, string>();
/** Every accepted push to the GitOps repository, with its time. */
const pushes: PushEvent[] = [];
let failed: string | undefined;

/** Runs a scenario step; once one fails, later steps report "not run" instead of timing out one by one. */
async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
  if (failed) {
    report.steps.push({ name, status: 'not run', seconds: 0, detail: `an earlier step failed: ${failed}` });
    report.write();
    throw new Error(`not run: the step '${failed}' failed`);
  }
  try {
    return await report.step(name, fn);
  } catch (e) {
    failed = name;
    throw e;
  }
}

const tierOf = (name: string) => env.tiers.find((t) => t.name === name)!;
const image = (repository: string, tag: string) => `${registry.host}/${repository}:${tag}`;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

async function synth(extra: string[] = []): Promise<void> {
  await tagflowOk(['synth', '--stack', STACK, '--config-dir', configDir, '--out', gitops.dir, ...extra]);
}

function writeStack(): void {
  const template = fs.readFileSync(path.join(__dirname, 'Pulumi.e2e.template.yaml'), 'utf8');
  const text = stackEdits.reduce((t, edit) => edit(t), template.replaceAll('${REGISTRY_HOST}', registry.host).replaceAll('${GIT_URL}', `${gitServer.url}/gitops.git`));
  if (/\$\{[A-Z_]+\}/.test(text)) throw new Error(`Pulumi.e2e.template.yaml has a placeholder the harness does not fill: ${/\$\{[A-Z_]+\}/.exec(text)![0]}`);
  fs.writeFileSync(path.join(configDir, `Pulumi.${STACK}.yaml`), text);
}

/**
 * Waits until Flux's commits on the branch since `since` change the tier's releases folder into exactly
 * `predicted` (compared as git prints the range's patch, limited to that folder); returns those commits.
 */
async function waitForTierPatch(tier: string, since: string, predicted: string, timeoutMs: number): Promise<{ commits: string[]; patch: string }> {
  const folder = tierOf(tier).releasesFolder;
  let last = '';
  return pollUntil(
    `Flux's commits for tier ${tier} to equal the patch tagflow simulate printed`,
    timeoutMs,
    async () => {
      const head = await gitops.remoteHead(gitops.branch);
      if (!head || head === since) return undefined;
      await git(gitops.dir, ['fetch', '--quiet', 'origin']);
      last = (await git(gitops.dir, ['diff', '--no-color', since, `origin/${gitops.branch}`, '--', folder])).stdout;
      if (last !== predicted) return undefined;
      const commits = (await git(gitops.dir, ['log', '--format=%H', `${since}..origin/${gitops.branch}`, '--', folder])).stdout.trim().split('\n').filter(Boolean);
      return { commits, patch: last };
    },
    { intervalMs: 500, describe: () => `last patch:\n${last}\npredicted:\n${predicted}` },
  );
}

/** When the git server accepted the push that first made `commit` part of `branch`. */
async function pushedAt(commit: string, branch: string): Promise<number> {
  for (const p of pushes) {
    const head = p.heads[branch];
    if (!head) continue;
    const contained = await git(gitops.dir, ['merge-base', '--is-ancestor', commit, head]).then(
      () => true,
      () => false,
    );
    if (contained) return p.at;
  }
  throw new Error(`no push recorded that brought ${commit} to ${branch}`);
}

/** `flux reconcile source git flux-system`: fetch the branch now instead of at the next interval (not used where latency is measured). */
async function fetchNow(): Promise<void> {
  // Its own field manager: applied by the bootstrap's manager, this partial object would drop spec.
  await cluster.kube.apply(
    [{ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'flux-system', namespace: 'flux-system', annotations: { 'reconcile.fluxcd.io/requestedAt': new Date().toISOString() } } }],
    'tagflow-e2e-reconcile',
  );
}

/** Commits the working tree and pushes it; the cluster sees it at once. */
async function commitAndApply(message: string): Promise<void> {
  await gitops.pull();
  await synth();
  await gitops.commitAll(message);
  await gitops.push();
  await fetchNow();
}

/** `tagflow status --watch` for one app, as its own process (the user's view while the loop runs). */
function watchStatus(app: string, tier: string, timeout = '5m') {
  return tagflow(['status', '--stack', STACK, '--config-dir', configDir, '--kubeconfig', cluster.kubeconfigPath, '--app', app, '--tier', tier, '--watch', '--timeout', timeout], { timeoutMs: 6 * MINUTE });
}

/** Saves the app's objects as the cluster has them now (the status tests' recorded objects come from here). */
async function recordObjects(name: string, tier: string, app: string): Promise<void> {
  const t = tierOf(tier);
  const dir = path.join(workDir, 'recorded', name);
  fs.mkdirSync(dir, { recursive: true });
  const refs: [string, string, string, string][] = [
    ['image.toolkit.fluxcd.io/v1', 'ImagePolicy', t.namespace, app],
    ['image.toolkit.fluxcd.io/v1', 'ImageRepository', t.namespace, app],
    ['image.toolkit.fluxcd.io/v1', 'ImageUpdateAutomation', t.namespace, t.automationName],
    ['kustomize.toolkit.fluxcd.io/v1', 'Kustomization', 'flux-system', t.kustomizationName],
    ['helm.toolkit.fluxcd.io/v2', 'HelmRelease', t.namespace, app],
    ['apps/v1', 'Deployment', t.namespace, app],
  ];
  for (const [apiVersion, kind, namespace, n] of refs) {
    const o = await cluster.kube.get({ apiVersion, kind, namespace, name: n });
    fs.writeFileSync(path.join(dir, `${kind}.json`), JSON.stringify(o, null, 2) + '\n');
  }
}

async function receiverPath(tier: string): Promise<string> {
  const t = tierOf(tier);
  const receiver = await cluster.kube.waitFor<KubeObject & { status?: { webhookPath?: string } }>(
    { apiVersion: 'notification.toolkit.fluxcd.io/v1', kind: 'Receiver', namespace: t.namespace, name: t.webhook!.receiverName },
    'to publish its webhook path',
    (r) => !!r.status?.webhookPath,
    MINUTE,
  );
  // What the Pulumi program computes for the EventBridge API destination must be the path Flux serves.
  const expected = `/hook/${sha256(receiverTokens.get(tier)! + t.webhook!.receiverName + t.namespace)}`;
  if (receiver.status!.webhookPath !== expected) throw new Error(`Receiver ${t.namespace}/${t.webhook!.receiverName} serves ${receiver.status!.webhookPath}, tagflow computes ${expected}`);
  return expected;
}

beforeAll(async () => {
  fs.mkdirSync(configDir, { recursive: true });
  fs.mkdirSync(workDir, { recursive: true });
  try {
    const manifest = loadBuildManifest();
    report.build = {
      thisRunSeconds: Number(process.env.TAGFLOW_E2E_BUILD_SECONDS ?? Number.NaN),
      warmSeconds: Number(process.env.TAGFLOW_E2E_WARM_BUILD_SECONDS ?? Number.NaN),
      fluxVersion: manifest.fluxVersion,
      components: Object.fromEntries(Object.entries(manifest.components).map(([k, c]) => [k, { version: c.version, cached: c.cached, buildSeconds: c.buildSeconds }])),
    };
  } catch (e) {
    report.notes.push(`build manifest: ${(e as Error).message}`);
  }
  cluster = await startCluster({ workDir, flux: { lockdown: true } });
  services = new ProcessSupervisor(cluster.logsDir, 3600);
  registry = await startRegistry(services, workDir);
  gitServer = await startGitServer({ root: path.join(workDir, 'git'), username: 'flux', password: randomBytes(12).toString('hex'), logFile: path.join(cluster.logsDir, 'git-server.log') });
  gitServer.events.on('push', (e: PushEvent) => pushes.push(e));
  events = await startEventSink();
  const url = gitServer.createRepository('gitops');
  gitops = await WorkingCopy.clone(url.replace('http://', `http://${gitServer.username}:${gitServer.password}@`), path.join(workDir, 'gitops'), 'main');
  writeStack();
  env = loadStack(configDir, STACK);
  for (const t of env.tiers) receiverTokens.set(t.name, randomBytes(20).toString('hex'));
}, 15 * MINUTE);

afterAll(async () => {
  report.write();
  process.stdout.write(`\n${report.table()}\n`);
  await gitServer?.stop();
  await events?.stop();
  await services?.stop();
  await cluster?.stop();
  if (failed) process.stdout.write(`e2e: step '${failed}' failed; process logs in ${cluster?.logsDir ?? workDir}\n`);
}, 5 * MINUTE);

describe('the GitOps loop on a real API server and real Flux controllers (lockdown flags on)', () => {
  test('a. synth, commit, bootstrap: every Flux object Ready, every Deployment available', async () => {
    await step('a. synth + bootstrap: all Ready', async () => {
      for (const { repository } of APPS) {
        await registry.pushImage(repository, 'branch-dev-1700000000-aaaaaaa');
        await registry.pushImage(repository, 'branch-staging-1700000000-bbbbbbb');
        await registry.pushImage(repository, 'release-1.0.0');
      }
      // New apps start from what their policies select in the registry now: never a tag that does not exist.
      await synth(['--registry']);
      await tagflowOk(['check', gitops.dir]);
      await gitops.commitAll('tagflow: e2e');
      await gitops.push();
      const boot = { environment: env, repositoryUrl: `${gitServer.url}/gitops.git`, username: gitServer.username, password: gitServer.password, branch: 'main', interval: BOOTSTRAP_INTERVAL, lockdown: true, receiverTokens, chatWebhookUrl: events.url };
      await cluster.kube.apply([...fluxInstallRbac(), ...tierSecrets(boot)]);
      await cluster.kube.apply(bootstrapSync(boot));
      const namespaces = ['flux-system', ...env.tiers.map((t) => t.namespace)];
      const records = await waitAllFluxReady(
        cluster.kube,
        namespaces,
        { GitRepository: 1 + 3, Kustomization: 1 + 3, ImageRepository: 6, ImagePolicy: 6, ImageUpdateAutomation: 3, Receiver: 3, HelmRelease: 6 },
        6 * MINUTE,
      );
      report.objects.push(...records);
      for (const t of TIERS) {
        for (const { app, repository } of APPS) {
          const tag = t === 'release' ? 'release-1.0.0' : `branch-${t}-1700000000-${t === 'dev' ? 'aaaaaaa' : 'bbbbbbb'}`;
          const want = await expectedImage(t, app, repository, tag);
          await waitDeploymentRunning(cluster.kube, tierOf(t).namespace, app, want, 3 * MINUTE);
          expect(await runningPods(cluster.kube, tierOf(t).namespace, app, want)).toBeGreaterThan(0);
        }
      }
    });
  });

  /** What a tier's Deployment runs for a tag: `repository@digest` on digest-pinning tiers, else `repository:tag`. */
  async function expectedImage(tier: string, app: string, repository: string, tag: string): Promise<string> {
    if (!tierOf(tier).apps.find((a) => a.app === app)!.digestPinning) return image(repository, tag);
    return `${registry.host}/${repository}@${await registry.client.resolveDigest(repository, tag)}`;
  }

  /**
   * Pushes a new build of `apps` for each tier, asks `tagflow simulate` what Flux will commit per tier
   * (before Flux has seen the tags), triggers the tiers' Receivers (webhook) or waits for their scans
   * (polling), and checks each Flux commit against the prediction and each Deployment's rollout.
   */
  async function updateTiers(
    tiers: readonly ('dev' | 'staging')[],
    time: number,
    sha: string,
    pathKind: 'webhook' | 'polling',
    apps: readonly (typeof APPS)[number][] = APPS,
    afterPush: () => void = () => undefined,
  ) {
    const since = await gitops.head();
    const tags = new Map(tiers.map((t) => [t, `branch-${t}-${time}-${sha}`]));
    const imagesPushedAt = Date.now();
    for (const t of tiers) for (const { repository } of apps) await registry.pushImage(repository, tags.get(t)!);
    const predicted = new Map<string, string>();
    for (const t of tiers) {
      const sim = await tagflowOk(['simulate', '--stack', STACK, '--config-dir', configDir, '--out', gitops.dir, '--tier', t, '--app', ...apps.map((a) => a.app), '--json']);
      predicted.set(t, JSON.parse(sim.stdout).diff);
    }
    afterPush();
    if (pathKind === 'webhook') for (const t of tiers) await postPushEvent(cluster.receiverUrl, await receiverPath(t), apps[0]!.repository, tags.get(t)!);
    for (const t of tiers) {
      // Flux commits as soon as one of the tier's policies moves, so the apps of one push may land in one
      // commit or in several: together they must be, byte for byte, the patch simulate printed.
      const { commits, patch } = await waitForTierPatch(t, since, predicted.get(t)!, 3 * MINUTE);
      report.commits.push({ tier: t, commit: commits.join(','), equal: patch === predicted.get(t), simulated: predicted.get(t)!, flux: patch });
      expect(patch).toBe(predicted.get(t));
      for (const c of commits) {
        expect(await gitops.authorOf(c)).toBe('tagflow-e2e-bot <tagflow-e2e-bot@example.invalid>');
        expect(await gitops.messageOf(c)).toMatch(new RegExp(`^chore\\(${tierOf(t).namespace}\\): update images`));
      }
      const committedAt = await pushedAt(commits.at(-1)!, gitops.branch);
      for (const { app, repository } of apps) {
        const want = await expectedImage(t, app, repository, tags.get(t)!);
        await waitDeploymentRunning(cluster.kube, tierOf(t).namespace, app, want, 4 * MINUTE);
        if (app !== apps[0]!.app) continue;
        report.latencies.push({
          tier: t,
          path: pathKind,
          app,
          tag: tags.get(t)!,
          pushToCommitSeconds: Math.round((committedAt - imagesPushedAt) / 100) / 10,
          pushToDeployedSeconds: Math.round((Date.now() - imagesPushedAt) / 100) / 10,
        });
      }
    }
    return tags;
  }

  let stagingTag = '';

  test('b. new images on the webhook path: Flux commits what simulate predicted, the Deployments roll, synth keeps what Flux wrote', async () => {
    await step('b. webhook: commit = simulate, rollout', async () => {
      // The pusher's view: `tagflow status --watch` follows the new dev image to running pods and exits 0.
      let watching: ReturnType<typeof watchStatus> | undefined;
      const tags = await updateTiers(['dev', 'staging'], 1700000100, 'c0ffee1', 'webhook', APPS, () => {
        watching = watchStatus('api', 'dev');
      });
      stagingTag = tags.get('staging')!;
      const watched = await watching!;
      report.notes.push(`tagflow status --watch (dev/api): exit ${watched.code}: ${watched.stdout.trim().split('\n').join(' | ')}`);
      expect(watched.stderr).toBe('');
      expect(watched.code).toBe(0);
      expect(watched.stdout.trim().split('\n').at(-1)).toBe(`dev/api runs ${tags.get('dev')}`);
      // The whole table, as data: every app of every tier runs what its tier selects (Git read from a checkout).
      await gitops.pull();
      // helm-controller marks a release Ready a moment after its Deployment is available: poll the snapshot.
      let rows: { tier: string; app: string; verdict: string }[] = [];
      await pollUntil('tagflow status to show every app ok', 2 * MINUTE, async () => {
        const all = await tagflowOk(['status', '--stack', STACK, '--config-dir', configDir, '--kubeconfig', cluster.kubeconfigPath, '--tree', gitops.dir, '--json']);
        rows = JSON.parse(all.stdout).apps;
        return rows.every((r) => r.verdict === 'ok') ? true : undefined;
      }, { intervalMs: 2000, describe: () => JSON.stringify(rows) });
      expect(rows.map((r) => `${r.tier}/${r.app} ${r.verdict}`)).toEqual(TIERS.flatMap((t) => APPS.map((a) => `${t}/${a.app} ok`)));
      const table = await tagflowOk(['status', '--stack', STACK, '--config-dir', configDir, '--kubeconfig', cluster.kubeconfigPath, '--tree', gitops.dir]);
      fs.writeFileSync(path.join(workDir, 'status.txt'), table.stdout);
      await recordObjects('updated', 'dev', 'api');
      // The chat webhook heard of the new image (the automation's commit) and of the upgrade.
      await pollUntil('the chat webhook to receive the dev tier\'s events', MINUTE, async () => {
        const dev = events.events.filter((e) => e.involvedObject.namespace === 'dev');
        const commit = dev.find((e) => e.involvedObject.kind === 'ImageUpdateAutomation' && e.message.includes(tags.get('dev')!));
        const upgrade = dev.find((e) => e.involvedObject.kind === 'HelmRelease' && e.involvedObject.name === 'api' && e.severity === 'info' && /upgrade/i.test(e.reason + e.message));
        return commit && upgrade ? true : undefined;
      }, { describe: () => JSON.stringify(events.events.map((e) => [e.involvedObject.kind, e.involvedObject.namespace, e.reason, e.message.slice(0, 80)])) });
      // Every HelmRelease upgraded cleanly, every other object is still Ready.
      await waitAllFluxReady(cluster.kube, env.tiers.map((t) => t.namespace), { GitRepository: 3, ImageRepository: 6, ImagePolicy: 6, ImageUpdateAutomation: 3, Receiver: 3, HelmRelease: 6 }, 2 * MINUTE);
      await gitops.pull();
      await tagflowOk(['check', gitops.dir]);
      // Re-running synth on the tree Flux updated changes nothing Flux wrote (nothing at all).
      await synth();
      expect((await git(gitops.dir, ['status', '--porcelain'])).stdout).toBe('');
    });
  });

  test('b. new images on polling alone (no webhook POST): Flux finds them within the scan interval', async () => {
    await step('b. polling: commit = simulate, rollout', async () => {
      await updateTiers(['dev'], 1700000200, 'd00dad2', 'polling', [APPS[0]]);
    });
  });

  test('c. promote: the review branch gets the release, production waits for the merge, then runs exactly the promoted digest', async () => {
    await step('c. promote -> review branch -> merge -> release', async () => {
      const release = tierOf('release');
      const before = await cluster.kube.get<KubeObject & { spec: { template: { spec: { containers: { image: string }[] } } } }>({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: release.namespace, name: 'api' });
      const runningBefore = before!.spec.template.spec.containers[0]!.image;
      const stagingDigest = await registry.client.resolveDigest('api', stagingTag);
      // The tree promote reads staging from, and the commit production stays at, is what the server has.
      const main = await gitops.pull();
      const promoted = await tagflowOk(['promote', '--stack', STACK, '--config-dir', configDir, '--app', 'api', '--version', '1.1.0', '--tree', gitops.dir]);
      report.notes.push(`tagflow promote: ${promoted.stdout.trim()}`);
      expect(promoted.stdout).toContain(`${registry.host}/api:${stagingTag} → ${registry.host}/api:release-1.1.0`);
      expect(await registry.client.resolveDigest('api', 'release-1.1.0')).toBe(stagingDigest);
      await postPushEvent(cluster.receiverUrl, await receiverPath('release'), 'api', 'release-1.1.0');
      const review = await pollUntil(`Flux to push ${release.pushBranch}`, 3 * MINUTE, async () => gitops.remoteHead(release.pushBranch), { intervalMs: 500 });
      await git(gitops.dir, ['fetch', '--quiet', 'origin']);
      const patch = (await git(gitops.dir, ['diff', `${main}`, review])).stdout;
      expect(patch).toContain(`tag: release-1.1.0 # {"$imagepolicy": "${release.namespace}:api:tag"}`);
      expect(patch).toContain(`digest: ${stagingDigest} # {"$imagepolicy": "${release.namespace}:api:digest"}`);
      // Production is unchanged until a human merges.
      expect(await gitops.remoteHead('main')).toBe(main);
      const hr = await cluster.kube.get({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: release.namespace, name: 'api' });
      expect((hr as typeof before)!.spec.template.spec.containers[0]!.image).toBe(runningBefore);
      // The scripted merge, then what the release workflow does when the pull request closes.
      await git(gitops.dir, ['merge', '--quiet', '--no-ff', '-m', `Merge ${release.pushBranch}`, `origin/${release.pushBranch}`]);
      await gitops.push();
      await gitops.push(`:refs/heads/${release.pushBranch}`);
      await waitDeploymentRunning(cluster.kube, release.namespace, 'api', `${registry.host}/api@${stagingDigest}`, 4 * MINUTE);
      expect(await runningPods(cluster.kube, release.namespace, 'api', `${registry.host}/api@${stagingDigest}`)).toBeGreaterThan(0);
      report.notes.push(`promoted api ${stagingTag} -> release-1.1.0 = ${stagingDigest}; production runs it after the merge`);
    });
  });

  test('d. negative: an upgrade the API server rejects fails with the server\'s message, status --watch exits 1, the chat hears it', async () => {
    await step('d. negative: rejected upgrade reported', async () => {
      const dev = tierOf('dev');
      // api's values (the only app with replicaCount: 2) get an annotation key Kubernetes does not allow.
      const edit = (t: string) => t.replace('          replicaCount: 2\n', '          replicaCount: 2\n          podAnnotations: { "not a valid key!": "x" }\n');
      stackEdits.push(edit);
      writeStack();
      const watching = watchStatus('api', 'dev', '4m');
      await commitAndApply('tagflow: an annotation the API server rejects');
      const hr = await cluster.kube.waitFor<KubeObject>(
        { apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', namespace: dev.namespace, name: 'api' },
        'to fail with the API server\'s message',
        (o) => !isReady(o as never) && /Invalid value: "not a valid key!"/.test(recordOf(o as never).message ?? ''),
        4 * MINUTE,
      );
      const r = recordOf(hr as never);
      expect(r.ready).toBe('False');
      report.negative = { object: `HelmRelease ${dev.namespace}/api`, reason: r.reason ?? '', message: r.message ?? '' };
      const watched = await watching;
      report.notes.push(`tagflow status --watch (dev/api, failing upgrade): exit ${watched.code}: ${watched.stdout.trim().split('\n').join(' | ')}`);
      expect(watched.code).toBe(1);
      expect(watched.stdout).toMatch(/dev\/api: failed at release: .*Invalid value: "not a valid key!"/);
      await recordObjects('upgrade-failed', 'dev', 'api');
      await pollUntil('the chat webhook to receive the failed upgrade', MINUTE, async () =>
        events.events.some((e) => e.involvedObject.kind === 'HelmRelease' && e.involvedObject.name === 'api' && e.involvedObject.namespace === 'dev' && e.severity === 'error' && e.message.includes('not a valid key!')) ? true : undefined,
      );
      // Rolled back: the pods still run the last good release.
      const running = await cluster.kube.get<KubeObject & { spec: { template: { spec: { containers: { image: string }[] } } } }>({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: dev.namespace, name: 'api' });
      expect(running!.spec.template.spec.containers[0]!.image).toBe(image('api', 'branch-dev-1700000200-d00dad2'));
      // Fixed in Git: the release recovers.
      stackEdits.splice(stackEdits.indexOf(edit), 1);
      writeStack();
      await commitAndApply('tagflow: drop the bad annotation');
      await cluster.kube.waitForCondition({ apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', namespace: dev.namespace, name: 'api' }, 'Ready', 'True', 4 * MINUTE);
    });
  });

  test('e. a changed config file reaches the pods: the ConfigMap changes and the Deployment rolls', async () => {
    await step('e. config file change rolls the pods', async () => {
      const file = path.join(configDir, 'config', 'api.yaml');
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, 'greeting: hello\nlimit: 10\n');
      stackEdits.push((t) => t.replace('      - name: api\n', '      - name: api\n        config:\n          mountPath: /etc/api\n          files:\n            app.yaml: { path: config/api.yaml }\n'));
      writeStack();
      const dev = tierOf('dev');
      const checksum = async () => {
        const d = await cluster.kube.get<KubeObject & { spec: { template: { metadata: { annotations?: Record<string, string> } } } }>({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: dev.namespace, name: 'api' });
        return d?.spec.template.metadata.annotations?.['checksum/config'];
      };
      const configMap = async () =>
        (await cluster.kube.get<KubeObject & { data?: Record<string, string> }>({ apiVersion: 'v1', kind: 'ConfigMap', namespace: dev.namespace, name: 'api-config' }))?.data?.['app.yaml'];
      const running = (await cluster.kube.get<KubeObject & { spec: { template: { spec: { containers: { image: string }[] } } } }>({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: dev.namespace, name: 'api' }))!.spec.template.spec.containers[0]!.image;
      await commitAndApply('tagflow: api reads config/api.yaml');
      await pollUntil('the ConfigMap with the file', 3 * MINUTE, async () => ((await configMap()) === 'greeting: hello\nlimit: 10\n' ? true : undefined));
      const first = await pollUntil('the checksum annotation', MINUTE, checksum);
      await waitDeploymentRunning(cluster.kube, dev.namespace, 'api', running, 2 * MINUTE);
      // Change the file only: synth, commit, and the pods roll to the new content.
      fs.writeFileSync(file, 'greeting: hello\nlimit: 20\n');
      await commitAndApply('tagflow: raise the limit');
      await pollUntil('the ConfigMap with the new content', 3 * MINUTE, async () => ((await configMap()) === 'greeting: hello\nlimit: 20\n' ? true : undefined));
      const second = await pollUntil('a new checksum', MINUTE, async () => {
        const c = await checksum();
        return c && c !== first ? c : undefined;
      });
      await waitDeploymentRunning(cluster.kube, dev.namespace, 'api', running, 2 * MINUTE);
      report.notes.push(`config change: checksum/config ${first.slice(0, 12)} -> ${second.slice(0, 12)}, Deployment rolled out`);
    });
  });

  test('f. tenancy: what a tier folder may not do is refused by the API server and reported; each account can do its job and no more', async () => {
    await step('f. tenancy: escalations refused, SubjectAccessReviews', async () => {
      const dev = tierOf('dev');
      const staging = tierOf('staging');
      const ks = { apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', namespace: 'flux-system', name: dev.kustomizationName };
      const intruder = path.join(gitops.dir, dev.folder, 'intruder.yaml');
      const attempts: [string, string, () => Promise<boolean>][] = [
        [
          'a ConfigMap aimed at the staging namespace',
          `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: intruder, namespace: ${staging.namespace} }\ndata: { a: b }\n`,
          async () => !(await cluster.kube.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: staging.namespace, name: 'intruder' })) && !(await cluster.kube.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: dev.namespace, name: 'intruder' })),
        ],
        ['a ClusterRole', 'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: { name: intruder }\nrules: [{ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }]\n', async () => !(await cluster.kube.get({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', name: 'intruder' }))],
        [
          'a Kustomization that would run as another account',
          'apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: { name: intruder }\nspec: { interval: 1m, path: ./, prune: false, sourceRef: { kind: GitRepository, name: gitops }, serviceAccountName: tagflow-deployer }\n',
          async () => !(await cluster.kube.get({ apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', namespace: dev.namespace, name: 'intruder' })),
        ],
      ];
      for (const [what, yaml, untouched] of attempts) {
        await gitops.pull();
        fs.writeFileSync(intruder, yaml);
        await gitops.commitAll(`attempt: ${what}`);
        await gitops.push();
        const head = await gitops.head();
        await fetchNow();
        const refused = await cluster.kube.waitFor<KubeObject>(ks, `to refuse ${what}`, (o) => {
          const rec = recordOf(o as never);
          return rec.ready === 'False' && /forbidden/i.test(rec.message ?? '') && JSON.stringify(o).includes(head.slice(0, 12));
        }, 3 * MINUTE);
        report.notes.push(`refused ${what}: ${recordOf(refused as never).message?.slice(0, 300)}`);
        expect(await untouched()).toBe(true);
        fs.rmSync(intruder);
        const reverted = await gitops.commitAll(`revert: ${what}`);
        await gitops.push();
        await fetchNow();
        await cluster.kube.waitFor<KubeObject & { status?: { lastAppliedRevision?: string } }>(ks, 'to apply the revert', (o) => isReady(o as never) && (o.status?.lastAppliedRevision ?? '').endsWith(reverted!), 3 * MINUTE);
      }
      // A HelmRelease may be committed, but its deployer cannot install into another namespace.
      await gitops.pull();
      fs.writeFileSync(intruder, `apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: { name: intruder }\nspec:\n  interval: 10m\n  targetNamespace: ${staging.namespace}\n  serviceAccountName: ${dev.deployerServiceAccount}\n  chart: { spec: { chart: ./charts/app, sourceRef: { kind: GitRepository, name: ${dev.gitRepositoryName} } } }\n  values: { image: { repository: ${registry.host}/api, tag: branch-dev-1700000000-aaaaaaa } }\n  install: { remediation: { retries: 0 } }\n`);
      await gitops.commitAll('attempt: a release into another namespace');
      await gitops.push();
      await fetchNow();
      const hr = await cluster.kube.waitFor<KubeObject>({ apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', namespace: dev.namespace, name: 'intruder' }, 'to be refused', (o) => /forbidden/i.test(recordOf(o as never).message ?? ''), 4 * MINUTE);
      report.notes.push(`refused a release into ${staging.namespace}: ${recordOf(hr as never).message?.slice(0, 300)}`);
      expect(await cluster.kube.get({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: staging.namespace, name: 'intruder' })).toBeUndefined();
      fs.rmSync(intruder);
      await gitops.commitAll('revert: a release into another namespace');
      await gitops.push();
      await fetchNow();

      // SubjectAccessReviews: what each tier account may do, asked of the API server.
      const can = async (user: string, verb: string, group: string, resource: string, namespace?: string) => {
        const sar = await cluster.kube.create({
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          metadata: { name: '' },
          spec: { user, groups: ['system:serviceaccounts', 'system:authenticated'], resourceAttributes: { verb, group, resource, ...(namespace ? { namespace } : {}) } },
        } as never);
        return (sar as unknown as { status: { allowed: boolean } }).status.allowed;
      };
      const applier = `system:serviceaccount:flux-system:${dev.kustomizationName}`;
      const deployer = `system:serviceaccount:${dev.namespace}:${dev.deployerServiceAccount}`;
      const matrix: [string, string, string, string, string | undefined, boolean][] = [
        [applier, 'create', 'helm.toolkit.fluxcd.io', 'helmreleases', dev.namespace, true],
        [applier, 'patch', 'image.toolkit.fluxcd.io', 'imagepolicies', dev.namespace, true],
        [applier, 'delete', 'source.toolkit.fluxcd.io', 'gitrepositories', dev.namespace, true],
        [applier, 'create', 'helm.toolkit.fluxcd.io', 'helmreleases', staging.namespace, false],
        [applier, 'create', 'kustomize.toolkit.fluxcd.io', 'kustomizations', dev.namespace, false],
        [applier, 'get', '', 'secrets', dev.namespace, false],
        [applier, 'create', 'rbac.authorization.k8s.io', 'rolebindings', dev.namespace, false],
        [applier, 'create', 'rbac.authorization.k8s.io', 'clusterroles', undefined, false],
        [applier, 'create', '', 'namespaces', undefined, false],
        [deployer, 'create', 'apps', 'deployments', dev.namespace, true],
        [deployer, 'create', '', 'services', dev.namespace, true],
        [deployer, 'create', '', 'secrets', dev.namespace, true],
        [deployer, 'create', 'apps', 'deployments', staging.namespace, false],
        [deployer, 'create', 'helm.toolkit.fluxcd.io', 'helmreleases', dev.namespace, false],
        [deployer, 'create', 'kustomize.toolkit.fluxcd.io', 'kustomizations', dev.namespace, false],
        [deployer, 'create', 'rbac.authorization.k8s.io', 'roles', dev.namespace, false],
        [deployer, 'create', 'rbac.authorization.k8s.io', 'clusterrolebindings', undefined, false],
      ];
      for (const [user, verb, group, resource, namespace, allowed] of matrix) {
        expect({ user, verb, resource: `${resource}.${group}`, namespace, allowed: await can(user, verb, group, resource, namespace) }).toEqual({ user, verb, resource: `${resource}.${group}`, namespace, allowed });
      }
      report.notes.push(`SubjectAccessReviews: ${matrix.length} checks as expected`);
    });
  });
});
