import type { AppTier, Tier } from '../model/tiers';

/**
 * Where an image is on its way from the registry to running pods, for one app in one tier. Pure: it works
 * on objects already read from the cluster (and the registry and Git), so it is tested on recorded objects.
 */

/** A condition as the Kubernetes API reports it. */
export interface Condition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
  readonly lastTransitionTime?: string;
  readonly lastUpdateTime?: string;
}

/** Objects of the cluster the pipeline reads (absent: not found). */
export interface ClusterObjects {
  readonly imagePolicy?: {
    readonly status?: { readonly latestRef?: { readonly name?: string; readonly tag?: string; readonly digest?: string }; readonly conditions?: readonly Condition[] };
  };
  readonly imageRepository?: { readonly status?: { readonly lastScanResult?: { readonly scanTime?: string; readonly tagCount?: number }; readonly conditions?: readonly Condition[] } };
  readonly automation?: { readonly status?: { readonly lastPushCommit?: string; readonly lastPushTime?: string; readonly conditions?: readonly Condition[] } };
  readonly kustomization?: { readonly status?: { readonly lastAppliedRevision?: string; readonly conditions?: readonly Condition[] } };
  readonly helmRelease?: {
    readonly metadata?: { readonly generation?: number };
    readonly spec?: { readonly values?: { readonly image?: { readonly repository?: string; readonly tag?: string; readonly digest?: string } } };
    readonly status?: {
      readonly observedGeneration?: number;
      readonly history?: readonly { readonly chartVersion?: string; readonly version?: number; readonly status?: string; readonly lastDeployed?: string }[];
      readonly conditions?: readonly Condition[];
    };
  };
  readonly deployment?: {
    readonly metadata?: { readonly generation?: number };
    readonly spec?: { readonly replicas?: number; readonly template?: { readonly spec?: { readonly containers?: readonly { readonly image?: string }[] } } };
    readonly status?: {
      readonly observedGeneration?: number;
      readonly replicas?: number;
      readonly updatedReplicas?: number;
      readonly availableReplicas?: number;
      readonly conditions?: readonly Condition[];
    };
  };
  /** Images of the pods of the release that are Running. */
  readonly runningPodImages?: readonly string[];
}

/** What the registry holds: the newest tag the tier accepts (or why there is none). */
export interface RegistryView {
  readonly tag?: string;
  readonly digest?: string;
  /** When the image was built (its config's `created`), if known. */
  readonly created?: string;
  readonly error?: string;
}

/** What Git holds at the app's markers, and the commit that set it. */
export interface GitView {
  readonly tag?: string;
  readonly digest?: string;
  readonly commit?: string;
  readonly time?: string;
  /** Where it was read: a checkout (`--tree`) or the cluster's applied objects. */
  readonly source: 'tree' | 'cluster';
}

export type StageName = 'registry' | 'policy' | 'git' | 'cluster' | 'release' | 'rollout';
export type StageState = 'ok' | 'lagging' | 'failed' | 'unknown';

export interface Stage {
  readonly name: StageName;
  readonly state: StageState;
  /** What the stage holds: a tag, `tag@digest`, a revision, `2/2 pods`... */
  readonly value: string;
  /** Seconds since it last changed, when known. */
  readonly ageSeconds?: number;
  /** The object's own message when the stage lags or fails. */
  readonly message?: string;
}

export interface AppStatus {
  readonly app: string;
  readonly tier: string;
  readonly namespace: string;
  /** The tag the tier should end up running (the registry's newest accepted tag, else the policy's). */
  readonly target?: string;
  readonly stages: readonly Stage[];
  /** The first stage that lags or fails; absent when the app runs the target. */
  readonly blocking?: Stage;
  /** ok: runs the target; progressing: on its way; failed: a stage failed (what `--watch` exits 1 on). */
  readonly verdict: 'ok' | 'progressing' | 'failed';
}

const ready = (cs: readonly Condition[] | undefined) => cs?.find((c) => c.type === 'Ready');
/** Flux marks an object Stalled when retrying cannot help (a bad spec): that is a failure, not a delay. */
const stalled = (cs: readonly Condition[] | undefined) => cs?.find((c) => c.type === 'Stalled' && c.status === 'True');

/** Kustomization reasons that mean the commit cannot be applied as it is (not a transient fetch error). */
const FAILED_APPLY_REASONS = new Set(['BuildFailed', 'ReconciliationFailed', 'HealthCheckFailed', 'PruneFailed']);

function age(now: number, ...times: (string | undefined)[]): number | undefined {
  const t = times.map((x) => (x ? Date.parse(x) : Number.NaN)).find((x) => !Number.isNaN(x));
  return t === undefined ? undefined : Math.max(0, Math.round((now - t) / 1000));
}

const shortDigest = (d?: string) => (d ? `@${d.replace(/^sha256:/, '').slice(0, 12)}` : '');

/** HelmRelease reasons that mean the last install or upgrade failed (helm-controller v2 API). */
const FAILED_RELEASE_REASONS = new Set(['InstallFailed', 'UpgradeFailed', 'RollbackSucceeded', 'RollbackFailed', 'UninstallFailed', 'TestFailed', 'ArtifactFailed', 'InitFailed', 'RetriesExceeded']);

/** The image a Deployment runs for a tag (and digest, when the tier pins it), as the bundled chart writes it. */
export function expectedImage(app: Pick<AppTier, 'image' | 'digestPinning'>, tag: string | undefined, digest?: string): string | undefined {
  if (app.digestPinning && digest) return `${app.image}@${digest}`;
  return tag ? `${app.image}:${tag}` : undefined;
}

/**
 * The stages in order, each compared with the one before it: the first that differs or reports a failure is
 * where the image is stuck, and its object's message says why.
 */
export function appStatus(app: AppTier, tier: Pick<Tier, 'name' | 'namespace'>, registry: RegistryView, git: GitView, o: ClusterObjects, now = Date.now()): AppStatus {
  const stages: Stage[] = [];
  const policyReady = ready(o.imagePolicy?.status?.conditions);
  const latest = o.imagePolicy?.status?.latestRef;
  const target = registry.tag ?? latest?.tag;

  stages.push(
    registry.error
      ? { name: 'registry', state: 'unknown', value: '-', message: registry.error }
      : { name: 'registry', state: registry.tag ? 'ok' : 'lagging', value: registry.tag ? `${registry.tag}${shortDigest(registry.digest)}` : '-', ageSeconds: age(now, registry.created), message: registry.tag ? undefined : 'no tag in the registry matches the tier' },
  );

  // ImagePolicy: Ready with the registry's newest tag.
  if (!o.imagePolicy) stages.push({ name: 'policy', state: 'failed', value: '-', message: `ImagePolicy ${tier.namespace}/${app.policyName} not found` });
  else if (policyReady?.status === 'False') {
    // A policy that selects nothing, or a scan that failed: retried, unless Flux says it is stalled.
    const st = stalled(o.imagePolicy.status?.conditions);
    stages.push({ name: 'policy', state: st ? 'failed' : 'lagging', value: latest?.tag ?? '-', message: (st ?? policyReady).message ?? policyReady.reason });
  }
  else if (!latest?.tag || (registry.tag && latest.tag !== registry.tag)) {
    const scan = o.imageRepository?.status?.lastScanResult?.scanTime;
    stages.push({ name: 'policy', state: 'lagging', value: latest?.tag ?? '-', message: `ImagePolicy has not selected ${registry.tag ?? 'a tag'} yet${scan ? ` (last scan ${scan})` : ''}: the next scan or a webhook call picks it up` });
  } else stages.push({ name: 'policy', state: 'ok', value: `${latest.tag}${shortDigest(latest.digest)}`, ageSeconds: age(now, policyReady?.lastTransitionTime) });

  // Git: the marker values the automation wrote.
  const autoReady = ready(o.automation?.status?.conditions);
  const gitDigestOk = !app.digestPinning || !latest?.digest || git.digest === latest.digest;
  if (latest?.tag && (git.tag !== latest.tag || !gitDigestOk)) {
    // A failed push (another tier's automation pushed first, the server was down) is retried.
    const st = stalled(o.automation?.status?.conditions);
    stages.push({
      name: 'git',
      state: st ? 'failed' : 'lagging',
      value: git.tag || '(none)',
      ageSeconds: age(now, git.time),
      message: st?.message ?? (autoReady?.status === 'False' ? autoReady.message : `ImageUpdateAutomation has not committed ${latest.tag}${autoReady?.message ? ` (${autoReady.message})` : ''}`),
    });
  } else stages.push({ name: 'git', state: git.tag ? 'ok' : 'lagging', value: `${git.tag || '(none)'}${git.commit ? ` ${git.commit.slice(0, 7)}` : ''}`, ageSeconds: age(now, git.time) });

  // The cluster: the tier's Kustomization applied that commit (the HelmRelease in the cluster has the value).
  const hrImage = o.helmRelease?.spec?.values?.image;
  const ksReady = ready(o.kustomization?.status?.conditions);
  const ksFailed = ksReady?.status === 'False' && (FAILED_APPLY_REASONS.has(ksReady.reason ?? '') || !!stalled(o.kustomization?.status?.conditions));
  if (!o.helmRelease) stages.push({ name: 'cluster', state: ksFailed ? 'failed' : 'lagging', value: '-', message: ksReady?.message ?? `HelmRelease ${tier.namespace}/${app.app} not found` });
  else if (git.tag !== undefined && hrImage?.tag !== git.tag) {
    stages.push({ name: 'cluster', state: ksFailed ? 'failed' : 'lagging', value: hrImage?.tag ?? '-', message: ksReady?.status === 'False' ? ksReady.message : `the tier's Kustomization has not applied the commit yet (applied: ${o.kustomization?.status?.lastAppliedRevision ?? 'nothing'})` });
  } else stages.push({ name: 'cluster', state: 'ok', value: o.kustomization?.status?.lastAppliedRevision?.replace(/^.*@sha1:(.{7}).*$/, '$1') ?? hrImage?.tag ?? '-', ageSeconds: age(now, ksReady?.lastTransitionTime) });

  // The release: helm-controller installed or upgraded it.
  const hr = o.helmRelease;
  const hrReady = ready(hr?.status?.conditions);
  const last = hr?.status?.history?.[0];
  const revision = last ? `${last.chartVersion ?? '?'} r${last.version ?? '?'}` : '-';
  if (!hr) stages.push({ name: 'release', state: 'lagging', value: '-' });
  else if (hrReady?.status === 'False' && FAILED_RELEASE_REASONS.has(hrReady.reason ?? '')) {
    // After a rollback, Ready says the rollback succeeded; why the upgrade failed is on Released.
    const released = hr.status?.conditions?.find((c) => c.type === 'Released' && c.status === 'False');
    const remediated = hr.status?.conditions?.find((c) => c.type === 'Remediated' && c.status === 'True');
    const why = released?.message ?? hrReady.message ?? hrReady.reason;
    stages.push({ name: 'release', state: 'failed', value: revision, message: remediated ? `${why} (${remediated.message ?? 'remediated'})` : why });
  }
  else if (hrReady?.status !== 'True' || hr.status?.observedGeneration !== hr.metadata?.generation) {
    stages.push({ name: 'release', state: 'lagging', value: revision, message: hrReady?.message ?? 'helm-controller has not reconciled the new values yet' });
  } else stages.push({ name: 'release', state: 'ok', value: revision, ageSeconds: age(now, last?.lastDeployed, hrReady.lastTransitionTime) });

  // The rollout: every replica of the Deployment runs the image.
  const want = expectedImage(app, hrImage?.tag, hrImage?.digest);
  const d = o.deployment;
  const running = d?.spec?.template?.spec?.containers?.[0]?.image;
  const replicas = d?.spec?.replicas ?? 1;
  const s = d?.status ?? {};
  const progressing = d?.status?.conditions?.find((c) => c.type === 'Progressing');
  const pods = `${s.availableReplicas ?? 0}/${replicas}`;
  if (!d) stages.push({ name: 'rollout', state: 'lagging', value: '-', message: `Deployment ${tier.namespace}/${app.app} not found` });
  else if (progressing?.status === 'False' && progressing.reason === 'ProgressDeadlineExceeded') stages.push({ name: 'rollout', state: 'failed', value: `${pods} ${running ?? ''}`.trim(), message: progressing.message });
  else if (running !== want || s.observedGeneration !== d.metadata?.generation || s.updatedReplicas !== replicas || s.availableReplicas !== replicas || (s.replicas ?? 0) !== replicas) {
    stages.push({ name: 'rollout', state: 'lagging', value: `${pods} ${running ?? ''}`.trim(), message: progressing?.message ?? `${s.updatedReplicas ?? 0} of ${replicas} replicas updated, ${s.availableReplicas ?? 0} available` });
  } else stages.push({ name: 'rollout', state: 'ok', value: `${pods} ${running}`, ageSeconds: age(now, progressing?.lastUpdateTime) });

  const blocking = stages.find((x) => x.state === 'failed' || x.state === 'lagging');
  const reachedTarget = target !== undefined && hrImage?.tag === target && stages.every((x) => x.state === 'ok' || x.name === 'registry');
  return {
    app: app.app,
    tier: tier.name,
    namespace: tier.namespace,
    target,
    stages,
    ...(blocking ? { blocking } : {}),
    verdict: stages.some((x) => x.state === 'failed') ? 'failed' : reachedTarget && !blocking ? 'ok' : 'progressing',
  };
}
