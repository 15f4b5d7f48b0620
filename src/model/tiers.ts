import type { App, Environment, Policy, TierName, TierOverride } from './environment';
import { TIER_NAMES } from './environment';
import { compileGoRegex } from '../engines/policy/go-regex';
import { placeholderTag, renderTag, TagSchemeError } from './tag-scheme';
import { ConfigError, type ConfigIssue } from './errors';

/** The preset of a tier: what a tier is unless the stack overrides it. */
export interface TierPreset {
  readonly tagScheme: string;
  readonly filterTags: { readonly pattern: string; readonly extract?: string };
  readonly policy: Policy;
  readonly exclusionList: readonly string[];
  readonly scanInterval: string;
  readonly automationInterval: string;
  readonly digestPinning: boolean;
  readonly keepImages: number;
  readonly namespace: string;
  /** Branch the tier is applied from and checked out by the automation; undefined means the main branch. */
  readonly branch?: string;
  /** Branch the automation pushes to; undefined means `branch`. */
  readonly pushBranch?: string;
  /** ECR pushes trigger a scan at once through a Receiver (EventBridge → API destination). */
  readonly webhook: boolean;
}

/**
 * Cosign writes `.sig`, `.att` and `.sbom` tags next to images; Flux's default list only drops `.sig`,
 * and a non-empty list replaces the default, so tagflow always keeps all three.
 */
export const SIGNATURE_EXCLUSIONS = ['^.*\\.sig$', '^.*\\.att$', '^.*\\.sbom$'] as const;

/** dev and staging share one shape: builds of a branch, newest by push time, committed to the tier's branch. */
function branchTierPreset(name: 'dev' | 'staging'): TierPreset {
  return {
    tagScheme: `branch-${name}-{time}-{sha}`,
    filterTags: { pattern: `^branch-${name}-(?P<ts>[0-9]+)-[0-9a-f]+$`, extract: '$ts' },
    policy: { numerical: { order: 'asc' } },
    exclusionList: SIGNATURE_EXCLUSIONS,
    scanInterval: '1m',
    automationInterval: '1m',
    digestPinning: false,
    keepImages: 30,
    namespace: name,
    branch: name,
    webhook: true,
  };
}

export const TIER_PRESETS: Readonly<Record<TierName, TierPreset>> = {
  dev: branchTierPreset('dev'),
  staging: branchTierPreset('staging'),
  release: {
    tagScheme: 'release-{version}',
    filterTags: { pattern: '^release-(?P<version>[0-9]+\\.[0-9]+\\.[0-9]+)$', extract: '$version' },
    policy: { semver: { range: '>=1.0.0' } },
    exclusionList: SIGNATURE_EXCLUSIONS,
    scanInterval: '5m',
    automationInterval: '5m',
    digestPinning: true,
    keepImages: 0,
    namespace: 'release',
    pushBranch: 'tagflow/release-updates',
    webhook: false,
  },
};

export type ChartSource =
  | { readonly kind: 'bundled'; readonly path: string }
  | { readonly kind: 'oci'; readonly url: string; readonly tag?: string; readonly semver?: string }
  | { readonly kind: 'helmRepository'; readonly url: string; readonly chart: string; readonly version: string };

/** One app in one tier, every preset and override applied. */
export interface AppTier {
  readonly app: string;
  readonly environment: string;
  readonly tier: TierName;
  readonly namespace: string;
  /** ImageRepository and ImagePolicy name (the app name). */
  readonly policyName: string;
  /** `<account>.dkr.ecr.<region>.amazonaws.com/<repository>`: no scheme, no tag. */
  readonly image: string;
  readonly ecr: {
    readonly accountId: string;
    readonly region: string;
    readonly repository: string;
    readonly create: boolean;
    readonly pullAccounts: readonly string[];
  };
  readonly tagScheme: string;
  readonly filterTags: { readonly pattern: string; readonly extract?: string };
  readonly policy: Policy;
  readonly exclusionList: readonly string[];
  readonly scanInterval: string;
  readonly digestPinning: boolean;
  readonly initialTag: string;
  readonly values: Record<string, unknown>;
  readonly chart: ChartSource;
}

/** One tier of an environment, every preset and override applied. */
export interface Tier {
  readonly name: TierName;
  readonly environment: string;
  readonly namespace: string;
  readonly branch: string;
  readonly pushBranch: string;
  /** A human merges `pushBranch` into `branch`: the automation never writes straight to what runs. */
  readonly reviewed: boolean;
  readonly automationInterval: string;
  /** ECR lifecycle: newest images of the tier's scheme kept in each repository; 0 keeps all (release). */
  readonly keepImages: number;
  /** The tier's CI tag scheme (per-app schemes may override it). */
  readonly tagScheme: string;
  /** Folder of the tier in the GitOps tree, relative to its root, without `./`. */
  readonly folder: string;
  /** Folder the ImageUpdateAutomation updates (`update.path`): the tier's HelmReleases. */
  readonly releasesFolder: string;
  /** Name of the tier's GitRepository and Kustomization in flux-system. */
  readonly sourceName: string;
  /** The webhook path: a generic Receiver in flux-system for the tier's ImageRepositories; Pulumi creates its token Secret. */
  readonly webhook?: { readonly receiverName: string; readonly secretName: string; readonly url: string };
  readonly apps: readonly AppTier[];
}

export interface ResolvedEnvironment {
  readonly model: Environment;
  readonly name: string;
  readonly tiers: readonly Tier[];
}

export const FLUX_NAMESPACE = 'flux-system';
/** How often a tier's GitRepository fetches its branch (what `tagflow latency` assumes for commit → cluster). */
export const GIT_SOURCE_INTERVAL = '1m';
/**
 * The tier's Receiver for ECR pushes and the Secret holding its token, both in flux-system: the namespace
 * exists from `flux bootstrap` on, so `pulumi up` can create the Secret before the tier namespaces exist.
 */
export const receiverName = (tier: string) => `tagflow-${tier}-ecr-push`;
export const receiverSecretName = (tier: string) => `tagflow-${tier}-ecr-push-token`;
export const BUNDLED_CHART_PATH = 'charts/app';

/** Deep merge of plain objects; arrays and scalars of later sources replace earlier ones. */
export function mergeValues(...sources: (Record<string, unknown> | undefined)[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const src of sources) {
    if (!src) continue;
    for (const [k, v] of Object.entries(src)) {
      const prev = out[k];
      out[k] = isPlainObject(prev) && isPlainObject(v) ? mergeValues(prev, v) : v;
    }
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function chartSource(app: App): ChartSource {
  const c = app.chart;
  if ('oci' in c) return { kind: 'oci', ...c.oci };
  if ('helmRepository' in c) return { kind: 'helmRepository', ...c.helmRepository };
  return { kind: 'bundled', path: BUNDLED_CHART_PATH };
}

/** Applies presets and overrides: the single place where "what does this tier do" is decided. */
export function resolveEnvironment(env: Environment, file = `Pulumi.${env.name}.yaml`): ResolvedEnvironment {
  const issues: ConfigIssue[] = [];
  const tierNames = TIER_NAMES.filter((t) => t in env.tiers);
  const tiers: Tier[] = tierNames.map((name) => {
    const preset = TIER_PRESETS[name];
    const o: TierOverride = env.tiers[name] ?? {};
    const branch = o.branch ?? preset.branch ?? env.gitops.mainBranch;
    const folder = `environments/${env.name}/${name}`;
    const namespace = o.namespace ?? preset.namespace;
    const webhook = o.webhook ?? preset.webhook;
    if (webhook && !env.cluster.webhookUrl) {
      issues.push({
        path: ['cluster', 'webhookUrl'],
        message: `is required because tier '${name}' has webhook on${o.webhook === undefined ? ' (the default for dev and staging)' : ''}: set the https:// origin of the webhook-receiver, or tiers.${name}.webhook: false`,
      });
    }
    const apps: AppTier[] = [];
    env.apps.forEach((app, appIndex) => {
      const a = app.tiers?.[name] ?? {};
      if (a.enabled === false) return;
      const pick = <K extends 'tagScheme' | 'filterTags' | 'policy' | 'exclusionList' | 'scanInterval' | 'digestPinning'>(k: K) =>
        (a[k] ?? o[k] ?? preset[k]) as NonNullable<TierOverride[K]>;
      const tagScheme = pick('tagScheme');
      const filterTags = pick('filterTags');
      const where = a.tagScheme ? ['apps', appIndex, 'tiers', name, 'tagScheme'] : o.tagScheme ? ['tiers', name, 'tagScheme'] : ['tiers', name];
      let initialTag = a.initialTag;
      try {
        const sample = placeholderTag(tagScheme);
        initialTag ??= sample;
        // The scheme CI pushes and the pattern Flux selects with must agree, or nothing ever deploys.
        if (!compileGoRegex(filterTags.pattern).test(renderTag(tagScheme, { time: 1700000000, sha: 'a1b2c3d', version: '1.2.3' }))) {
          issues.push({
            path: where,
            value: tagScheme,
            message: `tags of this scheme are not matched by filterTags.pattern '${filterTags.pattern}' of app '${app.name}' in tier '${name}', so Flux would never select them`,
          });
        }
      } catch (e) {
        if (!(e instanceof TagSchemeError)) throw e;
        issues.push({ path: where, value: tagScheme, message: e.message });
        initialTag ??= 'invalid';
      }
      const exclusions = [...SIGNATURE_EXCLUSIONS, ...pick('exclusionList').filter((x) => !(SIGNATURE_EXCLUSIONS as readonly string[]).includes(x))];
      const registryAccount = app.ecr.accountId ?? env.aws.accountId;
      const registryRegion = app.ecr.region ?? env.aws.region;
      const repository = app.ecr.repository ?? app.name;
      apps.push({
        app: app.name,
        environment: env.name,
        tier: name,
        namespace,
        policyName: app.name,
        image: `${registryAccount}.dkr.ecr.${registryRegion}.amazonaws.com/${repository}`,
        ecr: { accountId: registryAccount, region: registryRegion, repository, create: app.ecr.create, pullAccounts: app.ecr.pullAccounts },
        tagScheme,
        filterTags,
        policy: pick('policy'),
        exclusionList: exclusions,
        scanInterval: pick('scanInterval'),
        digestPinning: pick('digestPinning'),
        initialTag,
        values: mergeValues(app.values, o.values, a.values),
        chart: chartSource(app),
      });
    });
    return {
      name,
      environment: env.name,
      namespace,
      branch,
      pushBranch: o.pushBranch ?? preset.pushBranch ?? branch,
      reviewed: (o.pushBranch ?? preset.pushBranch ?? branch) !== branch,
      automationInterval: o.automationInterval ?? preset.automationInterval,
      keepImages: o.keepImages ?? preset.keepImages,
      tagScheme: o.tagScheme ?? preset.tagScheme,
      folder,
      releasesFolder: `${folder}/releases`,
      sourceName: `tagflow-${env.name}-${name}`,
      webhook: webhook && env.cluster.webhookUrl ? { receiverName: receiverName(name), secretName: receiverSecretName(name), url: env.cluster.webhookUrl!.replace(/\/$/, '') } : undefined,
      apps,
    };
  });
  const byNs = new Map<string, string>();
  for (const t of tiers) {
    const other = byNs.get(t.namespace);
    if (other) {
      issues.push({ path: ['tiers', t.name, 'namespace'], value: t.namespace, message: `is also the namespace of tier '${other}'; each tier needs its own namespace` });
    }
    byNs.set(t.namespace, t.name);
  }
  if (issues.length) throw new ConfigError(file, issues);
  return { model: env, name: env.name, tiers };
}
