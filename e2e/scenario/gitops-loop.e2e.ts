// The whole loop, for real: tagflow's tree on a real API server with the real Flux controllers under the
// multi-tenancy lockdown, a real OCI registry and a real git server. Every step asserts on the objects'
// status; the run writes a JSON report (the README's "End-to-end" section). The world and the moves are
// in loop.ts; the steps, in order, are here.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { KubeObject } from '../cluster';
import { pollUntil } from '../cluster/wait';
import { git } from '../git/working-copy';
import { bootstrapSync, commitStatusSecrets, fluxInstallRbac, tierSecrets } from './bootstrap';
import { isReady, postPushEvent, recordOf, runningPods, waitAllFluxReady, waitDeploymentRunning } from './cluster-state';
import { GITOPS_REPOSITORY, GitOpsLoop, MINUTE, STACK } from './loop';
import { RunReport } from './report';
import { tagflowOk } from './tagflow-cli';

const APPS = [
  { app: 'api', repository: 'api' },
  { app: 'worker', repository: 'team/worker' },
] as const;
const TIERS = ['dev', 'staging', 'release'] as const;
/** `flux bootstrap`'s sync interval: how often the cluster fetches the branch it follows. */
const BOOTSTRAP_INTERVAL = '1m';

const workDir = process.env.TAGFLOW_E2E_WORKDIR ? path.join(process.env.TAGFLOW_E2E_WORKDIR, 'scenario') : fs.mkdtempSync(path.join(os.tmpdir(), 'tagflow-e2e-'));
const report = new RunReport(process.env.TAGFLOW_E2E_REPORT ?? path.join(workDir, 'report.json'));
const loop = new GitOpsLoop(workDir, report);
let failed: string | undefined;

/** Runs a scenario step; once one fails, later steps report "not run" instead of timing out one by one. */
/**
 * The commit status a tier's Kustomization posted (through notification-controller's github provider, to
 * the git server's GitHub API) for a commit: `kustomization/<name>/<provider uid prefix>` is Flux's context.
 */
async function commitStatusOf(tier: string, sha: string, state: 'success' | 'failure', within = MINUTE) {
  const { kustomizationName } = loop.tierOf(tier);
  return pollUntil(`a ${state} commit status from ${kustomizationName} on ${sha.slice(0, 12)}`, within, async () =>
    loop.gitServer.statuses.find((s) => s.repository === GITOPS_REPOSITORY && s.sha === sha && s.state === state && s.context.startsWith(`kustomization/${kustomizationName}/`)),
    { describe: () => JSON.stringify(loop.gitServer.statuses.map((s) => [s.sha.slice(0, 12), s.state, s.context, s.description])) },
  );
}

/** Every tier's Kustomization posted success on the commit it applied: the commit shows which tiers run it. */
async function expectTiersRunCommit(): Promise<string> {
  const shas = new Set<string>();
  for (const t of loop.env.tiers) {
    const ks = await loop.cluster.kube.get<KubeObject & { status?: { lastAppliedRevision?: string } }>({ apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', namespace: 'flux-system', name: t.kustomizationName });
    const sha = /sha1:([0-9a-f]{40})$/.exec(ks?.status?.lastAppliedRevision ?? '')?.[1];
    expect({ tier: t.name, applied: sha !== undefined }).toEqual({ tier: t.name, applied: true });
    await commitStatusOf(t.name, sha!, 'success');
    shas.add(sha!);
  }
  report.notes.push(`commit statuses: ${[...shas].map((sha) => `${sha.slice(0, 12)} <- ${loop.gitServer.statuses.filter((s) => s.sha === sha).map((s) => `${s.context.split('/')[1]} ${s.state}`).join(', ')}`).join('; ')}`);
  return [...shas].join(',');
}

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

beforeAll(async () => {
  fs.mkdirSync(workDir, { recursive: true });
  await loop.start();
}, 15 * MINUTE);

afterAll(async () => {
  report.write();
  process.stdout.write(`\n${report.table()}\n`);
  await loop.stop();
  if (failed) process.stdout.write(`e2e: step '${failed}' failed; process logs in ${loop.cluster?.logsDir ?? workDir}\n`);
}, 5 * MINUTE);

describe('the GitOps loop on a real API server and real Flux controllers (lockdown flags on)', () => {
  test('a. synth, commit, bootstrap: every Flux object Ready, every Deployment available', async () => {
    await step('a. synth + bootstrap: all Ready', async () => {
      for (const { repository } of APPS) {
        await loop.registry.pushImage(repository, 'branch-dev-1700000000-aaaaaaa');
        await loop.registry.pushImage(repository, 'branch-staging-1700000000-bbbbbbb');
        await loop.registry.pushImage(repository, 'release-1.0.0');
      }
      // New apps start from what their policies select in the registry now: never a tag that does not exist.
      await loop.synth(['--registry']);
      await tagflowOk(['check', loop.gitops.dir]);
      await loop.gitops.commitAll('tagflow: e2e');
      await loop.gitops.push();
      const boot = { environment: loop.env, repositoryUrl: loop.gitopsUrl, username: loop.gitServer.username, password: loop.gitServer.password, branch: 'main', interval: BOOTSTRAP_INTERVAL, lockdown: true, receiverTokens: loop.receiverTokens, chatWebhookUrl: loop.events.url, commitStatusToken: loop.commitStatusToken };
      await loop.cluster.kube.apply([...fluxInstallRbac(), ...tierSecrets(boot), ...commitStatusSecrets(boot)]);
      await loop.cluster.kube.apply(bootstrapSync(boot));
      const namespaces = ['flux-system', ...loop.env.tiers.map((t) => t.namespace)];
      const records = await waitAllFluxReady(
        loop.cluster.kube,
        namespaces,
        { GitRepository: 1 + 3, Kustomization: 1 + 3, ImageRepository: 6, ImagePolicy: 6, ImageUpdateAutomation: 3, Receiver: 3, HelmRelease: 6 },
        6 * MINUTE,
      );
      report.objects.push(...records);
      await expectTiersRunCommit();
      for (const t of TIERS) {
        for (const { app, repository } of APPS) {
          const tag = t === 'release' ? 'release-1.0.0' : `branch-${t}-1700000000-${t === 'dev' ? 'aaaaaaa' : 'bbbbbbb'}`;
          const want = await loop.expectedImage(t, app, repository, tag);
          await waitDeploymentRunning(loop.cluster.kube, loop.tierOf(t).namespace, app, want, 3 * MINUTE);
          expect(await runningPods(loop.cluster.kube, loop.tierOf(t).namespace, app, want)).toBeGreaterThan(0);
        }
      }
    });
  });

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
    const since = await loop.gitops.head();
    const tags = new Map(tiers.map((t) => [t, `branch-${t}-${time}-${sha}`]));
    const imagesPushedAt = Date.now();
    for (const t of tiers) for (const { repository } of apps) await loop.registry.pushImage(repository, tags.get(t)!);
    const predicted = new Map<string, string>();
    for (const t of tiers) {
      const sim = await tagflowOk(['simulate', '--stack', STACK, '--config-dir', loop.configDir, '--out', loop.gitops.dir, '--tier', t, '--app', ...apps.map((a) => a.app), '--json']);
      predicted.set(t, JSON.parse(sim.stdout).diff);
    }
    afterPush();
    if (pathKind === 'webhook') for (const t of tiers) await postPushEvent(loop.cluster.receiverUrl, await loop.receiverPath(t), apps[0]!.repository, tags.get(t)!);
    for (const t of tiers) {
      // Flux commits as soon as one of the tier's policies moves, so the apps of one push may land in one
      // commit or in several: together they must be, byte for byte, the patch simulate printed.
      const { commits, patch } = await loop.waitForTierPatch(t, since, predicted.get(t)!, 3 * MINUTE);
      report.commits.push({ tier: t, commit: commits.join(','), equal: patch === predicted.get(t), simulated: predicted.get(t)!, flux: patch });
      expect(patch).toBe(predicted.get(t));
      for (const c of commits) {
        expect(await loop.gitops.authorOf(c)).toBe('tagflow-e2e-bot <tagflow-e2e-bot@example.invalid>');
        expect(await loop.gitops.messageOf(c)).toMatch(new RegExp(`^chore\\(${loop.tierOf(t).namespace}\\): update images`));
      }
      const committedAt = await loop.pushedAt(commits.at(-1)!, loop.gitops.branch);
      for (const { app, repository } of apps) {
        const want = await loop.expectedImage(t, app, repository, tags.get(t)!);
        await waitDeploymentRunning(loop.cluster.kube, loop.tierOf(t).namespace, app, want, 4 * MINUTE);
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
      let watching: ReturnType<typeof loop.watchStatus> | undefined;
      const tags = await updateTiers(['dev', 'staging'], 1700000100, 'c0ffee1', 'webhook', APPS, () => {
        watching = loop.watchStatus('api', 'dev');
      });
      stagingTag = tags.get('staging')!;
      const watched = await watching!;
      report.notes.push(`tagflow status --watch (dev/api): exit ${watched.code}: ${watched.stdout.trim().split('\n').join(' | ')}`);
      expect(watched.stderr).toBe('');
      expect(watched.code).toBe(0);
      expect(watched.stdout.trim().split('\n').at(-1)).toBe(`dev/api runs ${tags.get('dev')}`);
      // The whole table, as data: every app of every tier runs what its tier selects (Git read from a checkout).
      await loop.gitops.pull();
      // helm-controller marks a release Ready a moment after its Deployment is available: poll the snapshot.
      let rows: { tier: string; app: string; verdict: string }[] = [];
      await pollUntil('tagflow status to show every app ok', 2 * MINUTE, async () => {
        const all = await tagflowOk(['status', '--stack', STACK, '--config-dir', loop.configDir, '--kubeconfig', loop.cluster.kubeconfigPath, '--tree', loop.gitops.dir, '--json']);
        rows = JSON.parse(all.stdout).apps;
        return rows.every((r) => r.verdict === 'ok') ? true : undefined;
      }, { intervalMs: 2000, describe: () => JSON.stringify(rows) });
      expect(rows.map((r) => `${r.tier}/${r.app} ${r.verdict}`)).toEqual(TIERS.flatMap((t) => APPS.map((a) => `${t}/${a.app} ok`)));
      const table = await tagflowOk(['status', '--stack', STACK, '--config-dir', loop.configDir, '--kubeconfig', loop.cluster.kubeconfigPath, '--tree', loop.gitops.dir]);
      fs.writeFileSync(path.join(workDir, 'status.txt'), table.stdout);
      await loop.recordObjects('updated', 'dev', 'api');
      // The chat webhook heard of the new image (the automation's commit) and of the upgrade.
      await pollUntil('the chat webhook to receive the dev tier\'s events', MINUTE, async () => {
        const dev = loop.events.events.filter((e) => e.involvedObject.namespace === 'dev');
        const commit = dev.find((e) => e.involvedObject.kind === 'ImageUpdateAutomation' && e.message.includes(tags.get('dev')!));
        const upgrade = dev.find((e) => e.involvedObject.kind === 'HelmRelease' && e.involvedObject.name === 'api' && e.severity === 'info' && /upgrade/i.test(e.reason + e.message));
        return commit && upgrade ? true : undefined;
      }, { describe: () => JSON.stringify(loop.events.events.map((e) => [e.involvedObject.kind, e.involvedObject.namespace, e.reason, e.message.slice(0, 80)])) });
      // Every HelmRelease upgraded cleanly, every other object is still Ready.
      await waitAllFluxReady(loop.cluster.kube, loop.env.tiers.map((t) => t.namespace), { GitRepository: 3, ImageRepository: 6, ImagePolicy: 6, ImageUpdateAutomation: 3, Receiver: 3, HelmRelease: 6 }, 2 * MINUTE);
      await loop.gitops.pull();
      // Flux's own commits show on the git server which tiers apply them.
      const head = await loop.gitops.head();
      await pollUntil('every tier Kustomization to apply the head commit', 2 * MINUTE, async () => {
        await loop.fetchNow();
        const applied = await Promise.all(loop.env.tiers.map(async (t) => (await loop.cluster.kube.get<KubeObject & { status?: { lastAppliedRevision?: string } }>({ apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', namespace: 'flux-system', name: t.kustomizationName }))?.status?.lastAppliedRevision));
        return applied.every((r) => r?.endsWith(head)) ? true : undefined;
      });
      expect(await expectTiersRunCommit()).toBe(head);
      await tagflowOk(['check', loop.gitops.dir]);
      // The CI drift gate accepts what Flux committed: the checkout is what synth writes.
      await tagflowOk(['synth', '--stack', STACK, '--config-dir', loop.configDir, '--out', loop.gitops.dir, '--check']);
      // Re-running synth on the tree Flux updated changes nothing Flux wrote (nothing at all).
      await loop.synth();
      expect((await git(loop.gitops.dir, ['status', '--porcelain'])).stdout).toBe('');
    });
  });

  test('b. new images on polling alone (no webhook POST): Flux finds them within the scan interval', async () => {
    await step('b. polling: commit = simulate, rollout', async () => {
      await updateTiers(['dev'], 1700000200, 'd00dad2', 'polling', [APPS[0]]);
    });
  });

  test('c. promote: the review branch gets the release, production waits for the merge, then runs exactly the promoted digest', async () => {
    await step('c. promote -> review branch -> merge -> release', async () => {
      const release = loop.tierOf('release');
      const before = await loop.cluster.kube.get<KubeObject & { spec: { template: { spec: { containers: { image: string }[] } } } }>({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: release.namespace, name: 'api' });
      const runningBefore = before!.spec.template.spec.containers[0]!.image;
      const stagingDigest = await loop.registry.client.resolveDigest('api', stagingTag);
      // The tree promote reads staging from, and the commit production stays at, is what the server has.
      const main = await loop.gitops.pull();
      const promoted = await tagflowOk(['promote', '--stack', STACK, '--config-dir', loop.configDir, '--app', 'api', '--version', '1.1.0', '--tree', loop.gitops.dir]);
      report.notes.push(`tagflow promote: ${promoted.stdout.trim()}`);
      expect(promoted.stdout).toContain(`${loop.registry.host}/api:${stagingTag} → ${loop.registry.host}/api:release-1.1.0`);
      expect(await loop.registry.client.resolveDigest('api', 'release-1.1.0')).toBe(stagingDigest);
      await postPushEvent(loop.cluster.receiverUrl, await loop.receiverPath('release'), 'api', 'release-1.1.0');
      const review = await pollUntil(`Flux to push ${release.pushBranch}`, 3 * MINUTE, async () => loop.gitops.remoteHead(release.pushBranch), { intervalMs: 500 });
      await git(loop.gitops.dir, ['fetch', '--quiet', 'origin']);
      const patch = (await git(loop.gitops.dir, ['diff', `${main}`, review])).stdout;
      expect(patch).toContain(`tag: release-1.1.0 # {"$imagepolicy": "${release.namespace}:api:tag"}`);
      expect(patch).toContain(`digest: ${stagingDigest} # {"$imagepolicy": "${release.namespace}:api:digest"}`);
      // Production is unchanged until a human merges.
      expect(await loop.gitops.remoteHead('main')).toBe(main);
      const hr = await loop.cluster.kube.get({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: release.namespace, name: 'api' });
      expect((hr as typeof before)!.spec.template.spec.containers[0]!.image).toBe(runningBefore);
      // The scripted merge, then what the release workflow does when the pull request closes.
      await git(loop.gitops.dir, ['merge', '--quiet', '--no-ff', '-m', `Merge ${release.pushBranch}`, `origin/${release.pushBranch}`]);
      await loop.gitops.push();
      await loop.gitops.push(`:refs/heads/${release.pushBranch}`);
      await waitDeploymentRunning(loop.cluster.kube, release.namespace, 'api', `${loop.registry.host}/api@${stagingDigest}`, 4 * MINUTE);
      expect(await runningPods(loop.cluster.kube, release.namespace, 'api', `${loop.registry.host}/api@${stagingDigest}`)).toBeGreaterThan(0);
      report.notes.push(`promoted api ${stagingTag} -> release-1.1.0 = ${stagingDigest}; production runs it after the merge`);
    });
  });

  test('d. negative: an upgrade the API server rejects fails with the server\'s message, status --watch exits 1, the chat hears it', async () => {
    await step('d. negative: rejected upgrade reported', async () => {
      const dev = loop.tierOf('dev');
      // api's values (the only app with replicaCount: 2) get an annotation key Kubernetes does not allow.
      const edit = (t: string) => t.replace('          replicaCount: 2\n', '          replicaCount: 2\n          podAnnotations: { "not a valid key!": "x" }\n');
      loop.stackEdits.push(edit);
      loop.writeStack();
      await loop.commitAndApply('tagflow: an annotation the API server rejects');
      // Once the cluster has the new values, the release is not done until helm-controller has upgraded it:
      // `--watch` started now follows that upgrade (started earlier, it could see the old, finished one).
      await loop.cluster.kube.waitFor<KubeObject & { spec?: { values?: { podAnnotations?: Record<string, string> } } }>(
        { apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', namespace: dev.namespace, name: 'api' },
        'to have the new values',
        (o) => o.spec?.values?.podAnnotations?.['not a valid key!'] === 'x',
        3 * MINUTE,
      );
      const watching = loop.watchStatus('api', 'dev', '4m');
      const hr = await loop.cluster.kube.waitFor<KubeObject>(
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
      await loop.recordObjects('upgrade-failed', 'dev', 'api');
      await pollUntil('the chat webhook to receive the failed upgrade', MINUTE, async () =>
        loop.events.events.some((e) => e.involvedObject.kind === 'HelmRelease' && e.involvedObject.name === 'api' && e.involvedObject.namespace === 'dev' && e.severity === 'error' && e.message.includes('not a valid key!')) ? true : undefined,
      );
      // Rolled back: the pods still run the last good release.
      const running = await loop.cluster.kube.get<KubeObject & { spec: { template: { spec: { containers: { image: string }[] } } } }>({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: dev.namespace, name: 'api' });
      expect(running!.spec.template.spec.containers[0]!.image).toBe(loop.image('api', 'branch-dev-1700000200-d00dad2'));
      // Fixed in Git: the release recovers.
      loop.stackEdits.splice(loop.stackEdits.indexOf(edit), 1);
      loop.writeStack();
      await loop.commitAndApply('tagflow: drop the bad annotation');
      await loop.cluster.kube.waitForCondition({ apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', namespace: dev.namespace, name: 'api' }, 'Ready', 'True', 4 * MINUTE);
    });
  });

  test('e. a changed config file reaches the pods: the ConfigMap changes and the Deployment rolls', async () => {
    await step('e. config file change rolls the pods', async () => {
      const file = path.join(loop.configDir, 'config', 'api.yaml');
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, 'greeting: hello\nlimit: 10\n');
      loop.stackEdits.push((t) => t.replace('      - name: api\n', '      - name: api\n        config:\n          mountPath: /etc/api\n          files:\n            app.yaml: { path: config/api.yaml }\n'));
      loop.writeStack();
      const dev = loop.tierOf('dev');
      const checksum = async () => {
        const d = await loop.cluster.kube.get<KubeObject & { spec: { template: { metadata: { annotations?: Record<string, string> } } } }>({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: dev.namespace, name: 'api' });
        return d?.spec.template.metadata.annotations?.['checksum/config'];
      };
      const configMap = async () =>
        (await loop.cluster.kube.get<KubeObject & { data?: Record<string, string> }>({ apiVersion: 'v1', kind: 'ConfigMap', namespace: dev.namespace, name: 'api-config' }))?.data?.['app.yaml'];
      const running = (await loop.cluster.kube.get<KubeObject & { spec: { template: { spec: { containers: { image: string }[] } } } }>({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: dev.namespace, name: 'api' }))!.spec.template.spec.containers[0]!.image;
      await loop.commitAndApply('tagflow: api reads config/api.yaml');
      await pollUntil('the ConfigMap with the file', 3 * MINUTE, async () => ((await configMap()) === 'greeting: hello\nlimit: 10\n' ? true : undefined));
      const first = await pollUntil('the checksum annotation', MINUTE, checksum);
      await waitDeploymentRunning(loop.cluster.kube, dev.namespace, 'api', running, 2 * MINUTE);
      // Change the file only: the preview shows it as the changed line in each tier's release of api, the
      // drift gate names those files, nothing is written; then synth, commit, and the pods roll.
      fs.writeFileSync(file, 'greeting: hello\nlimit: 20\n');
      await loop.gitops.pull();
      const diff = await tagflowOk(['diff', '--stack', STACK, '--config-dir', loop.configDir, '--out', loop.gitops.dir]);
      const changed = [...diff.stdout.matchAll(/^diff --git a\/(\S+) /gm)].map((m) => m[1]);
      expect(changed).toEqual(loop.env.tiers.map((t) => `environments/${loop.env.model.name}/${t.name}/releases/api.yaml`).sort());
      expect(diff.stdout.split('\n').filter((l) => /^[-+] /.test(l)).map((l) => l.replace(/\s+/g, ' '))).toEqual(loop.env.tiers.flatMap(() => ['- limit: 10', '+ limit: 20']));
      const gate = await tagflowOk(['synth', '--stack', STACK, '--config-dir', loop.configDir, '--out', loop.gitops.dir, '--check'], 1);
      for (const f of changed) expect(gate.stdout + gate.stderr).toContain(f!);
      expect((await git(loop.gitops.dir, ['status', '--porcelain'])).stdout).toBe('');
      await loop.commitAndApply('tagflow: raise the limit');
      await pollUntil('the ConfigMap with the new content', 3 * MINUTE, async () => ((await configMap()) === 'greeting: hello\nlimit: 20\n' ? true : undefined));
      const second = await pollUntil('a new checksum', MINUTE, async () => {
        const c = await checksum();
        return c && c !== first ? c : undefined;
      });
      await waitDeploymentRunning(loop.cluster.kube, dev.namespace, 'api', running, 2 * MINUTE);
      report.notes.push(`config change: checksum/config ${first.slice(0, 12)} -> ${second.slice(0, 12)}, Deployment rolled out`);
    });
  });

  test('f. tenancy: what a tier folder may not do is refused by the API server and reported; each account can do its job and no more', async () => {
    await step('f. tenancy: escalations refused, SubjectAccessReviews', async () => {
      const dev = loop.tierOf('dev');
      const staging = loop.tierOf('staging');
      const ks = { apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', namespace: 'flux-system', name: dev.kustomizationName };
      const intruder = path.join(loop.gitops.dir, dev.folder, 'intruder.yaml');
      const attempts: [string, string, () => Promise<boolean>][] = [
        [
          'a ConfigMap aimed at the staging namespace',
          `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: intruder, namespace: ${staging.namespace} }\ndata: { a: b }\n`,
          async () => !(await loop.cluster.kube.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: staging.namespace, name: 'intruder' })) && !(await loop.cluster.kube.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: dev.namespace, name: 'intruder' })),
        ],
        ['a ClusterRole', 'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: { name: intruder }\nrules: [{ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }]\n', async () => !(await loop.cluster.kube.get({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', name: 'intruder' }))],
        [
          'a Kustomization that would run as another account',
          'apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: { name: intruder }\nspec: { interval: 1m, path: ./, prune: false, sourceRef: { kind: GitRepository, name: loop.gitops }, serviceAccountName: tagflow-deployer }\n',
          async () => !(await loop.cluster.kube.get({ apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', namespace: dev.namespace, name: 'intruder' })),
        ],
      ];
      for (const [what, yaml, untouched] of attempts) {
        await loop.gitops.pull();
        fs.writeFileSync(intruder, yaml);
        await loop.gitops.commitAll(`attempt: ${what}`);
        await loop.gitops.push();
        const head = await loop.gitops.head();
        await loop.fetchNow();
        const refused = await loop.cluster.kube.waitFor<KubeObject>(ks, `to refuse ${what}`, (o) => {
          const rec = recordOf(o as never);
          return rec.ready === 'False' && /forbidden/i.test(rec.message ?? '') && JSON.stringify(o).includes(head.slice(0, 12));
        }, 3 * MINUTE);
        report.notes.push(`refused ${what}: ${recordOf(refused as never).message?.slice(0, 300)}`);
        // The commit shows that the dev tier refused it.
        const failed = await commitStatusOf('dev', head, 'failure');
        report.notes.push(`commit status on ${head.slice(0, 12)}: ${failed.context} ${failed.state} (${failed.description})`);
        expect(await untouched()).toBe(true);
        fs.rmSync(intruder);
        const reverted = await loop.gitops.commitAll(`revert: ${what}`);
        await loop.gitops.push();
        await loop.fetchNow();
        await loop.cluster.kube.waitFor<KubeObject & { status?: { lastAppliedRevision?: string } }>(ks, 'to apply the revert', (o) => isReady(o as never) && (o.status?.lastAppliedRevision ?? '').endsWith(reverted!), 3 * MINUTE);
      }
      // A HelmRelease may be committed, but its deployer cannot install into another namespace.
      await loop.gitops.pull();
      fs.writeFileSync(intruder, `apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: { name: intruder }\nspec:\n  interval: 10m\n  targetNamespace: ${staging.namespace}\n  serviceAccountName: ${dev.deployerServiceAccount}\n  chart: { spec: { chart: ./charts/app, sourceRef: { kind: GitRepository, name: ${dev.gitRepositoryName} } } }\n  values: { image: { repository: ${loop.registry.host}/api, tag: branch-dev-1700000000-aaaaaaa } }\n  install: { remediation: { retries: 0 } }\n`);
      await loop.gitops.commitAll('attempt: a release into another namespace');
      await loop.gitops.push();
      await loop.fetchNow();
      const hr = await loop.cluster.kube.waitFor<KubeObject>({ apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', namespace: dev.namespace, name: 'intruder' }, 'to be refused', (o) => /forbidden/i.test(recordOf(o as never).message ?? ''), 4 * MINUTE);
      report.notes.push(`refused a release into ${staging.namespace}: ${recordOf(hr as never).message?.slice(0, 300)}`);
      expect(await loop.cluster.kube.get({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: staging.namespace, name: 'intruder' })).toBeUndefined();
      fs.rmSync(intruder);
      await loop.gitops.commitAll('revert: a release into another namespace');
      await loop.gitops.push();
      await loop.fetchNow();

      // SubjectAccessReviews: what each tier account may do, asked of the API server.
      const can = async (user: string, verb: string, group: string, resource: string, namespace?: string) => {
        const sar = await loop.cluster.kube.create({
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
