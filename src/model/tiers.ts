import * as fs from 'node:fs';
import type { App, AppConfig, Environment, GitAuthKind, Notifications, Policy, TierName, TierOverride } from './environment';
import { GIT_AUTH_KINDS } from './environment';
import { TIER_NAMES } from './environment';
import { compileGoRegex } from '../engines/policy/go-regex';
import { renderTag, TagSchemeError } from './tag-scheme';
import { ConfigError, type ConfigIssue } from './errors';
import { fileInStackFolder } from './stack-folder';
import { resolvePromotionGates, type KeyCache } from './promotion-resolve';
import type { PromotionGates } from './promotion';

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
  /**
   * Branch the automation pushes to: `{env}` is the environment name; undefined means the branch the
   * cluster follows (the tier updates itself). Any other branch makes the tier reviewed.
   */
  readonly pushBranch?: string;
  /** Image pushes trigger a scan at once through the tier's Receiver (ECR: EventBridge → API destination). */
  readonly webhook: boolean;
}

/**
 * Cosign writes `.sig`, `.att` and `.sbom` tags next to images; Flux's default list only drops `.sig`,
 * and a non-empty list replaces the default, so tagflow always keeps all three.
 */
export const SIGNATURE_EXCLUSIONS = ['^.*\\.sig$', '^.*\\.att$', '^.*\\.sbom$'] as const;

/** dev and staging share one shape: builds of a branch, newest by push time, committed straight to what runs. */
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
    pushBranch: 'tagflow/{env}/release',
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
  /** `<registry host>/<repository>`, e.g. `<account>.dkr.ecr.<region>.amazonaws.com/<repository>`: no scheme, no tag. */
  readonly image: string;
  /** Repository of the app in its registry (the image without its host). */
  readonly repository: string;
  readonly registry: RegistryAccess;
  /** ECR settings: present exactly when the registry provider is aws. */
  readonly ecr?: {
    readonly accountId: string;
    readonly region: string;
    readonly create: boolean;
    readonly pullAccounts: readonly string[];
    /** The one tag CI may rewrite (layer cache), exempt from tag immutability; false: none. */
    readonly cacheTag: string | false;
    /** Tag patterns (ECR wildcards) other stacks deploy from this repository: the lifecycle never expires them. */
    readonly keepTags: readonly string[];
  };
  readonly tagScheme: string;
  readonly filterTags: { readonly pattern: string; readonly extract?: string };
  readonly policy: Policy;
  readonly exclusionList: readonly string[];
  readonly scanInterval: string;
  readonly digestPinning: boolean;
  /**
   * The tag written before Flux has selected one: `initialTag` from the stack, or '' (none yet: the
   * bundled chart then runs no pods, so nothing ever points at a tag that does not exist). `tagflow synth
   * --registry` fills it from the registry.
   */
  readonly initialTag: string;
  /** The digest written with the initial tag on digest-pinning tiers ('' or absent: none yet). */
  readonly initialDigest?: string;
  readonly values: Record<string, unknown>;
  readonly chart: ChartSource;
  /** Config files (name → content) the bundled chart mounts at `mountPath`; absent without files. */
  readonly config?: { readonly mountPath: string; readonly files: Readonly<Record<string, string>> };
  /** Release tier only: the gates `tagflow promote` applies before it puts an image under this tier's tag ({}: none). */
  readonly promotion?: PromotionGates;
}

/** How Flux reaches an app's registry. */
export interface RegistryAccess {
  readonly provider: 'aws' | 'generic';
  /** `host[:port]`. */
  readonly host: string;
  /** Plain HTTP (generic only). */
  readonly insecure: boolean;
  /** Pull Secret in the tier namespace (generic only; absent: anonymous). */
  readonly secretName?: string;
}

/** The git credentials Secret every tier namespace holds (the Pulumi program creates it, never Git). */
export interface GitCredentials {
  readonly kind: GitAuthKind;
  readonly secretName: string;
}

/** One tier of an environment, every preset and override applied: a tenant of the cluster. */
export interface Tier {
  readonly name: TierName;
  readonly environment: string;
  /** The tier's tenant namespace: everything the tier runs lives here. */
  readonly namespace: string;
  /** The branch the cluster follows (gitops.mainBranch): the automation checks it out. */
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
  /**
   * The tier's Kustomization in flux-system (applies `folder` from the cluster's own source), and the
   * ServiceAccount in flux-system it impersonates (same name), whose grants are the tier namespace only.
   */
  readonly kustomizationName: string;
  /** The GitRepository in the tier namespace: the bundled chart's source and what the automation pushes to. */
  readonly gitRepositoryName: string;
  readonly gitCredentials: GitCredentials;
  /** The ImageUpdateAutomation in the tier namespace. */
  readonly automationName: string;
  /** The ServiceAccount helm-controller impersonates for the tier's HelmReleases. */
  readonly deployerServiceAccount: string;
  /**
   * The webhook path: a generic Receiver in the tier namespace for the tier's ImageRepositories (by label);
   * the Pulumi program creates its token Secret. `url` is where EventBridge posts ECR pushes.
   */
  readonly webhook?: { readonly receiverName: string; readonly secretName: string; readonly url?: string };
  /** OpenPGP key Secret (key `git.asc`) the automation signs its commits with. */
  readonly commitSigningKey?: { readonly secretName: string };
  /** Verification of the tier source's commits. */
  readonly verifyCommits?: { readonly mode: 'HEAD' | 'Tag' | 'TagAndHEAD'; readonly secretName: string };
  /** Chat and commit-status notifications of the tier (absent: none). */
  readonly notifications?: Notifications;
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
/** The tier's Receiver for image pushes and the Secret holding its token, both in the tier namespace. */
export const RECEIVER_NAME = 'tagflow-image-push';
export const RECEIVER_SECRET_NAME = 'tagflow-image-push-token';
/** Names inside every tier namespace. */
export const TIER_GIT_REPOSITORY = 'gitops';
export const TIER_AUTOMATION = 'tagflow';
export const TIER_DEPLOYER = 'tagflow-deployer';
/** The Kustomization (and its ServiceAccount) of a tier in flux-system. */
export const tierKustomizationName = (environment: string, tier: string) => `tagflow-${environment}-${tier}`;
export const BUNDLED_CHART_PATH = 'charts/app';
/** The registry layer cache tag CI rewrites on every build (exempt from tag immutability). */
export const DEFAULT_CACHE_TAG = 'buildcache';

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

/** `{[key]: value}` when value is defined, else `{}`: keeps optional fields absent rather than undefined. */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
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

/** The git credentials of the environment (exactly one kind is set; the schema checks it). */
export function gitCredentials(gitops: Environment['gitops']): GitCredentials {
  const kind = GIT_AUTH_KINDS.find((k) => gitops[k] !== undefined)!;
  return { kind, secretName: gitops[kind]!.secretName };
}

/** Registry access and image of an app (ECR from the account and region, or the generic registry's host). */
function registryOf(env: Environment, app: App): Pick<AppTier, 'image' | 'repository' | 'registry' | 'ecr'> {
  const repository = app.repository ?? app.name;
  const r = env.registry;
  if (r.provider === 'generic') {
    return { image: `${r.host}/${repository}`, repository, registry: { provider: 'generic', host: r.host, insecure: r.insecure, secretName: r.secretName } };
  }
  const accountId = app.ecr?.accountId ?? env.aws!.accountId;
  const region = app.ecr?.region ?? env.aws!.region;
  const host = `${accountId}.dkr.ecr.${region}.amazonaws.com`;
  return {
    image: `${host}/${repository}`,
    repository,
    registry: { provider: 'aws', host, insecure: false },
    ecr: {
      accountId,
      region,
      create: app.ecr?.create ?? true,
      pullAccounts: app.ecr?.pullAccounts ?? [],
      cacheTag: app.ecr?.cacheTag ?? DEFAULT_CACHE_TAG,
      keepTags: app.ecr?.keepTags ?? [],
    },
  };
}

/** The size limit of a ConfigMap's data (keys and values), which the API server enforces. */
export const CONFIG_MAP_MAX_BYTES = 1024 * 1024;

/**
 * An app's config files in one tier: the tier's files merged over the app's, `path` entries read from the
 * stack file's folder (and only from there: a path that leaves it, also through a symbolic link, is an
 * error), checked against the ConfigMap size limit.
 */
function resolveConfig(
  app: App,
  appIndex: number,
  tier: TierName,
  baseDir: string | undefined,
  issues: ConfigIssue[],
): AppTier['config'] {
  const override = app.tiers?.[tier]?.config;
  const files: [string, AppConfig['files'][string], (string | number)[]][] = [
    ...Object.entries(app.config?.files ?? {}).map(([k, v]) => [k, v, ['apps', appIndex, 'config', 'files', k]] as [string, AppConfig['files'][string], (string | number)[]]),
    ...Object.entries(override?.files ?? {}).map(([k, v]) => [k, v, ['apps', appIndex, 'tiers', tier, 'config', 'files', k]] as [string, AppConfig['files'][string], (string | number)[]]),
  ];
  if (files.length === 0) return undefined;
  const out: Record<string, string> = {};
  const root = baseDir ? fs.realpathSync(baseDir) : undefined;
  for (const [name, f, where] of files) {
    if ('content' in f) {
      out[name] = f.content;
      continue;
    }
    const real = fileInStackFolder(root, f.path, [...where, 'path'], issues);
    if (!real) continue;
    if (!fs.statSync(real).isFile()) {
      issues.push({ path: [...where, 'path'], value: f.path, message: 'is not a file' });
      continue;
    }
    const bytes = fs.readFileSync(real);
    const text = bytes.toString('utf8');
    if (!Buffer.from(text, 'utf8').equals(bytes)) {
      issues.push({ path: [...where, 'path'], value: f.path, message: 'is not UTF-8 text (a ConfigMap file of the chart holds text)' });
      continue;
    }
    out[name] = text;
  }
  const size = Object.entries(out).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
  if (size > CONFIG_MAP_MAX_BYTES) {
    issues.push({
      path: ['apps', appIndex, 'config', 'files'],
      message: `add up to ${size} bytes in tier '${tier}'; a ConfigMap holds at most ${CONFIG_MAP_MAX_BYTES} bytes (1 MiB, enforced by the API server)`,
    });
  }
  return { mountPath: override?.mountPath ?? app.config?.mountPath ?? `/etc/${app.name}`, files: out };
}

/**
 * Applies presets and overrides: the single place where "what does this tier do" is decided. `baseDir`
 * is the stack file's folder, where config files with a `path` are read.
 */
export function resolveEnvironment(env: Environment, file = `Pulumi.${env.name}.yaml`, baseDir?: string): ResolvedEnvironment {
  const issues: ConfigIssue[] = [];
  const tierNames = TIER_NAMES.filter((t) => t in env.tiers);
  const ecr = env.registry.provider === 'aws';
  const keyCache: KeyCache = new Map();
  const tiers: Tier[] = tierNames.map((name) => {
    const preset = TIER_PRESETS[name];
    const o: TierOverride = env.tiers[name] ?? {};
    const branch = env.gitops.mainBranch;
    const pushBranch = (o.pushBranch ?? preset.pushBranch ?? branch).replace('{env}', env.name);
    const folder = `environments/${env.name}/${name}`;
    const namespace = o.namespace ?? preset.namespace;
    const webhook = o.webhook ?? preset.webhook;
    if (webhook && ecr && !env.cluster.webhookUrl) {
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
      try {
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
      }
      const cacheTag = app.ecr?.cacheTag ?? (ecr ? DEFAULT_CACHE_TAG : false);
      if (cacheTag && compileGoRegex(filterTags.pattern).test(cacheTag)) {
        issues.push({
          path: ['apps', appIndex, 'ecr', 'cacheTag'],
          value: cacheTag,
          message: `is matched by filterTags.pattern '${filterTags.pattern}' of tier '${name}': a tag CI may rewrite must never be deployable; pick another cache tag`,
        });
      }
      const exclusions = [...SIGNATURE_EXCLUSIONS, ...pick('exclusionList').filter((x) => !(SIGNATURE_EXCLUSIONS as readonly string[]).includes(x))];
      apps.push({
        app: app.name,
        environment: env.name,
        tier: name,
        namespace,
        policyName: app.name,
        ...registryOf(env, app),
        tagScheme,
        filterTags,
        policy: pick('policy'),
        exclusionList: exclusions,
        scanInterval: pick('scanInterval'),
        digestPinning: pick('digestPinning'),
        initialTag: a.initialTag ?? '',
        values: mergeValues(app.values, o.values, a.values),
        chart: chartSource(app),
        ...optional('config', resolveConfig(app, appIndex, name, baseDir, issues)),
        ...(name === 'release' ? { promotion: resolvePromotionGates(env, app, appIndex, baseDir, issues, keyCache) } : {}),
      });
    });
    return {
      name,
      environment: env.name,
      namespace,
      branch,
      pushBranch,
      reviewed: pushBranch !== branch,
      automationInterval: o.automationInterval ?? preset.automationInterval,
      keepImages: o.keepImages ?? preset.keepImages,
      tagScheme: o.tagScheme ?? preset.tagScheme,
      folder,
      releasesFolder: `${folder}/releases`,
      kustomizationName: tierKustomizationName(env.name, name),
      gitRepositoryName: TIER_GIT_REPOSITORY,
      gitCredentials: gitCredentials(env.gitops),
      automationName: TIER_AUTOMATION,
      deployerServiceAccount: TIER_DEPLOYER,
      webhook: webhook
        ? { receiverName: RECEIVER_NAME, secretName: RECEIVER_SECRET_NAME, ...(ecr && env.cluster.webhookUrl ? { url: env.cluster.webhookUrl.replace(/\/$/, '') } : {}) }
        : undefined,
      ...(o.commitSigningKey ? { commitSigningKey: o.commitSigningKey } : {}),
      ...(o.verifyCommits ? { verifyCommits: o.verifyCommits } : {}),
      ...optional('notifications', o.notifications === false ? undefined : (o.notifications ?? env.notifications)),
      apps,
    };
  });
  const byNs = new Map<string, string>();
  for (const t of tiers) {
    const other = byNs.get(t.namespace);
    if (other) {
      issues.push({ path: ['tiers', t.name, 'namespace'], value: t.namespace, message: `is also the namespace of tier '${other}'; each tier needs its own namespace` });
    }
    if (t.namespace === FLUX_NAMESPACE) {
      issues.push({ path: ['tiers', t.name, 'namespace'], value: t.namespace, message: 'is the Flux controllers\' namespace; a tier is a tenant and needs a namespace of its own' });
    }
    byNs.set(t.namespace, t.name);
    if (t.reviewed && tiers.some((u) => u !== t && u.pushBranch === t.pushBranch)) {
      issues.push({ path: ['tiers', t.name, 'pushBranch'], value: t.pushBranch, message: 'is also the push branch of another tier; each reviewed tier needs a review branch of its own' });
    }
  }
  if (issues.length) throw new ConfigError(file, issues);
  return { model: env, name: env.name, tiers };
}
