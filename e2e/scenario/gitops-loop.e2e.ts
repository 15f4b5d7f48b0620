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
import { tagflowOk } from './tagflow-cli';
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

function writeStack(mutate: (text: string) => string = (t) => t): void {
  const template = fs.readFileSync(path.join(__dirname, 'Pulumi.e2e.template.yaml'), 'utf8');
  const text = mutate(template.replaceAll('${REGISTRY_HOST}', registry.host).replaceAll('${GIT_URL}', `${gitServer.url}/gitops.git`));
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
      const boot = { environment: env, repositoryUrl: `${gitServer.url}/gitops.git`, username: gitServer.username, password: gitServer.password, branch: 'main', interval: BOOTSTRAP_INTERVAL, lockdown: true, receiverTokens };
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
  async function updateTiers(tiers: readonly ('dev' | 'staging')[], time: number, sha: string, pathKind: 'webhook' | 'polling', apps: readonly (typeof APPS)[number][] = APPS) {
    const since = await gitops.head();
    const tags = new Map(tiers.map((t) => [t, `branch-${t}-${time}-${sha}`]));
    const imagesPushedAt = Date.now();
    for (const t of tiers) for (const { repository } of apps) await registry.pushImage(repository, tags.get(t)!);
    const predicted = new Map<string, string>();
    for (const t of tiers) {
      const sim = await tagflowOk(['simulate', '--stack', STACK, '--config-dir', configDir, '--out', gitops.dir, '--tier', t, '--app', ...apps.map((a) => a.app), '--json']);
      predicted.set(t, JSON.parse(sim.stdout).diff);
    }
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
      stagingTag = (await updateTiers(['dev', 'staging'], 1700000100, 'c0ffee1', 'webhook')).get('staging')!;
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

  test('d. negative: a release whose objects the API server rejects ends not Ready with the server\'s message', async () => {
    await step('d. negative: rejected release reported', async () => {
      writeStack((t) => t.replace('    apps:\n', '    apps:\n      - name: broken\n        values:\n          podAnnotations: { "not a valid key!": "x" }\n        tiers: { staging: { enabled: false }, release: { enabled: false } }\n'));
      await synth();
      await gitops.commitAll('tagflow: add an app whose Deployment the API server rejects');
      await gitops.push();
      const dev = tierOf('dev');
      const hr = await cluster.kube.waitFor<KubeObject>(
        { apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', namespace: dev.namespace, name: 'broken' },
        'to fail with the API server\'s message',
        (o) => !isReady(o as never) && /annotations/i.test(recordOf(o as never).message ?? ''),
        5 * MINUTE,
      );
      const r = recordOf(hr as never);
      expect(r.ready).toBe('False');
      expect(r.message).toMatch(/Invalid value: "not a valid key!"/);
      report.negative = { object: `HelmRelease ${dev.namespace}/broken`, reason: r.reason ?? '', message: r.message ?? '' };
      // Remove it again: synth prunes its files, Flux prunes the release.
      writeStack();
      await synth();
      await gitops.commitAll('tagflow: remove the broken app');
      await gitops.push();
      await pollUntil('HelmRelease dev/broken to be pruned', 4 * MINUTE, async () =>
        (await cluster.kube.get({ apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', namespace: dev.namespace, name: 'broken' })) ? undefined : true,
      );
    });
  });
});
