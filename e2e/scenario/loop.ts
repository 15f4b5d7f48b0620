// The run's world and what the steps do with it: a cluster with the Flux controllers, the registry, the git
// server and a working copy of the GitOps repository, a chat webhook; and the moves a platform engineer
// makes (synth, commit, push, ask Flux to fetch, watch). The steps themselves are gitops-loop.e2e.ts.
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadBuildManifest, startCluster, type Cluster, type KubeObject } from '../cluster';
import { ProcessSupervisor } from '../cluster/process-supervisor';
import { pollUntil } from '../cluster/wait';
import { startGitServer, type GitServer, type PushEvent } from '../git/git-server';
import { git, WorkingCopy } from '../git/working-copy';
import { startRegistry, type OciRegistry } from '../registry/oci-registry';
import { startEventSink, type EventSink } from './event-sink';
import type { RunReport } from './report';
import { tagflow, tagflowOk } from './tagflow-cli';
import { loadStack } from '../../src/model/load';
import type { ResolvedEnvironment, Tier } from '../../src/model/tiers';


/** The GitOps repository on the run's git server, `<owner>/<repo>` as on GitHub. */
export const GITOPS_REPOSITORY = 'acme/gitops';
export const MINUTE = 60_000;
export const STACK = 'e2e';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export class GitOpsLoop {
  cluster!: Cluster;
  registry!: OciRegistry;
  gitServer!: GitServer;
  gitops!: WorkingCopy;
  env!: ResolvedEnvironment;
  events!: EventSink;
  readonly configDir: string;
  /** The Receiver token of each tier (what the Pulumi program generates). */
  readonly receiverTokens = new Map<string, string>();
  /** The token the git server's GitHub API part accepts (the Pulumi program's tagflow:commitStatusToken). */
  readonly commitStatusToken = randomBytes(20).toString('hex');
  /** Every push the git server accepted, with its time and the branch heads after it. */
  readonly pushes: PushEvent[] = [];
  /** Edits of the stack file made by the steps so far, applied in order to the template. */
  readonly stackEdits: ((text: string) => string)[] = [];
  private services?: ProcessSupervisor;

  constructor(
    readonly workDir: string,
    private readonly report: RunReport,
  ) {
    this.configDir = path.join(workDir, 'config');
  }

  async start(): Promise<void> {
    fs.mkdirSync(this.configDir, { recursive: true });
    try {
      // run.sh's copy of this run's build manifest (what it built, in how long); else the cache's.
      const manifest = loadBuildManifest(process.env.TAGFLOW_E2E_RUN_MANIFEST || undefined);
      this.report.build = {
        thisRunSeconds: Number(process.env.TAGFLOW_E2E_BUILD_SECONDS ?? Number.NaN),
        warmSeconds: Number(process.env.TAGFLOW_E2E_WARM_BUILD_SECONDS ?? Number.NaN),
        fluxVersion: manifest.fluxVersion,
        components: Object.fromEntries(Object.entries(manifest.components).map(([k, c]) => [k, { version: c.version, cached: c.cached, buildSeconds: c.buildSeconds }])),
      };
    } catch (e) {
      this.report.notes.push(`build manifest: ${(e as Error).message}`);
    }
    this.cluster = await startCluster({ workDir: this.workDir, flux: { lockdown: true } });
    this.services = new ProcessSupervisor(this.cluster.logsDir, 3600);
    this.registry = await startRegistry(this.services, this.workDir);
    this.gitServer = await startGitServer({
      root: path.join(this.workDir, 'git'),
      username: 'flux',
      password: randomBytes(12).toString('hex'),
      apiToken: this.commitStatusToken,
      logFile: path.join(this.cluster.logsDir, 'git-server.log'),
    });
    this.gitServer.events.on('push', (e: PushEvent) => this.pushes.push(e));
    this.events = await startEventSink();
    const url = this.gitServer.createRepository(GITOPS_REPOSITORY);
    this.gitops = await WorkingCopy.clone(url.replace('http://', `http://${this.gitServer.username}:${this.gitServer.password}@`), path.join(this.workDir, 'gitops'), 'main');
    this.writeStack();
    this.env = loadStack(this.configDir, STACK);
    for (const t of this.env.tiers) this.receiverTokens.set(t.name, randomBytes(20).toString('hex'));
  }

  /** Stops everything it started, by PID; never throws. */
  async stop(): Promise<void> {
    await this.gitServer?.stop().catch(() => undefined);
    await this.events?.stop().catch(() => undefined);
    await this.services?.stop();
    await this.cluster?.stop();
  }

  tierOf(name: string): Tier {
    return this.env.tiers.find((t) => t.name === name)!;
  }

  image(repository: string, tag: string): string {
    return `${this.registry.host}/${repository}:${tag}`;
  }

  /** What a tier's Deployment runs for a tag: `repository@digest` on digest-pinning tiers, else `repository:tag`. */
  async expectedImage(tier: string, app: string, repository: string, tag: string): Promise<string> {
    if (!this.tierOf(tier).apps.find((a) => a.app === app)!.digestPinning) return this.image(repository, tag);
    return `${this.registry.host}/${repository}@${await this.registry.client.resolveDigest(repository, tag)}`;
  }

  /** Clone URL of the GitOps repository (no credentials): `<owner>/<repo>`, as commit statuses need. */
  get gitopsUrl(): string {
    return `${this.gitServer.url}/${GITOPS_REPOSITORY}.git`;
  }

  async synth(extra: string[] = []): Promise<void> {
    await tagflowOk(['synth', '--stack', STACK, '--config-dir', this.configDir, '--out', this.gitops.dir, ...extra]);
  }

  /** Writes Pulumi.e2e.yaml: the committed template with the servers' addresses and the steps' edits. */
  writeStack(): void {
    const template = fs.readFileSync(path.join(__dirname, 'Pulumi.e2e.template.yaml'), 'utf8');
    const filled = template.replaceAll('${REGISTRY_HOST}', this.registry.host).replaceAll('${GIT_URL}', this.gitopsUrl);
    const text = this.stackEdits.reduce((t, edit) => edit(t), filled);
    const left = /\$\{[A-Z_]+\}/.exec(text);
    if (left) throw new Error(`Pulumi.e2e.template.yaml has a placeholder the harness does not fill: ${left[0]}`);
    fs.writeFileSync(path.join(this.configDir, `Pulumi.${STACK}.yaml`), text);
  }

  /**
   * Waits until Flux's commits on the branch since `since` change the tier's releases folder into exactly
   * `predicted` (compared as git prints the range's patch, limited to that folder); returns those commits.
   */
  async waitForTierPatch(tier: string, since: string, predicted: string, timeoutMs: number): Promise<{ commits: string[]; patch: string }> {
    const folder = this.tierOf(tier).releasesFolder;
    const { dir, branch } = this.gitops;
    let last = '';
    return pollUntil(
      `Flux's commits for tier ${tier} to equal the patch tagflow simulate printed`,
      timeoutMs,
      async () => {
        const head = await this.gitops.remoteHead(branch);
        if (!head || head === since) return undefined;
        await git(dir, ['fetch', '--quiet', 'origin']);
        last = (await git(dir, ['diff', '--no-color', since, `origin/${branch}`, '--', folder])).stdout;
        if (last !== predicted) return undefined;
        const commits = (await git(dir, ['log', '--format=%H', `${since}..origin/${branch}`, '--', folder])).stdout.trim().split('\n').filter(Boolean);
        return { commits, patch: last };
      },
      { intervalMs: 500, describe: () => `last patch:\n${last}\npredicted:\n${predicted}` },
    );
  }

  /** When the git server accepted the push that first made `commit` part of `branch`. */
  async pushedAt(commit: string, branch: string): Promise<number> {
    for (const p of this.pushes) {
      const head = p.heads[branch];
      if (!head) continue;
      const contained = await git(this.gitops.dir, ['merge-base', '--is-ancestor', commit, head]).then(
        () => true,
        () => false,
      );
      if (contained) return p.at;
    }
    throw new Error(`no push recorded that brought ${commit} to ${branch}`);
  }

  /** `flux reconcile source git flux-system`: fetch the branch now instead of at the next interval (not used where latency is measured). */
  async fetchNow(): Promise<void> {
    // Its own field manager: applied by the bootstrap's manager, this partial object would drop spec.
    await this.cluster.kube.apply(
      [{ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'flux-system', namespace: 'flux-system', annotations: { 'reconcile.fluxcd.io/requestedAt': new Date().toISOString() } } }],
      'tagflow-e2e-reconcile',
    );
  }

  /** Synthesizes, commits and pushes; the cluster fetches it at once. */
  async commitAndApply(message: string): Promise<void> {
    await this.gitops.pull();
    await this.synth();
    await this.gitops.commitAll(message);
    await this.gitops.push();
    await this.fetchNow();
  }

  /** `tagflow status --watch` for one app, as its own process (the user's view while the loop runs). */
  watchStatus(app: string, tier: string, timeout = '5m') {
    return tagflow(['status', '--stack', STACK, '--config-dir', this.configDir, '--kubeconfig', this.cluster.kubeconfigPath, '--app', app, '--tier', tier, '--watch', '--timeout', timeout], {
      timeoutMs: 6 * MINUTE,
    });
  }

  /** Saves the app's objects as the cluster has them now (the status tests' recorded objects come from here). */
  async recordObjects(name: string, tier: string, app: string): Promise<void> {
    const t = this.tierOf(tier);
    const dir = path.join(this.workDir, 'recorded', name);
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
      const o = await this.cluster.kube.get({ apiVersion, kind, namespace, name: n });
      fs.writeFileSync(path.join(dir, `${kind}.json`), JSON.stringify(o, null, 2) + '\n');
    }
  }

  /** The tier Receiver's webhook path, checked against what tagflow computes for the EventBridge API destination. */
  async receiverPath(tier: string): Promise<string> {
    const t = this.tierOf(tier);
    const receiver = await this.cluster.kube.waitFor<KubeObject & { status?: { webhookPath?: string } }>(
      { apiVersion: 'notification.toolkit.fluxcd.io/v1', kind: 'Receiver', namespace: t.namespace, name: t.webhook!.receiverName },
      'to publish its webhook path',
      (r) => !!r.status?.webhookPath,
      MINUTE,
    );
    const expected = `/hook/${sha256(this.receiverTokens.get(tier)! + t.webhook!.receiverName + t.namespace)}`;
    if (receiver.status!.webhookPath !== expected) throw new Error(`Receiver ${t.namespace}/${t.webhook!.receiverName} serves ${receiver.status!.webhookPath}, tagflow computes ${expected}`);
    return expected;
  }
}
