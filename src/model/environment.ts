import { z } from 'zod';
import { goRegexError, templateRefs, compileGoRegex } from '../engines/policy/go-regex';
import { semverRangeError } from '../engines/policy/masterminds-semver';
import { PromotionSchema } from './promotion';
import { chartOciTag, chartVersionConstraint, commitAuthor, extractTemplate, gitBranchName, ociTag, oidcIssuerUrl } from './validators';

/**
 * The one model of an environment (one cluster, one AWS account). It is read from `Pulumi.<stack>.yaml`
 * under the key `tagflow:environment` by both `tagflow synth` (cdk8s) and the Pulumi program, so the
 * GitOps tree and the AWS resources can never disagree about names, tiers or repositories.
 */

export const TIER_NAMES = ['dev', 'staging', 'release'] as const;
export type TierName = (typeof TIER_NAMES)[number];

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dnsLabel = (what: string) =>
  z
    .string()
    .max(63, { message: `${what} must be at most 63 characters (DNS-1123 label)` })
    .regex(DNS_LABEL, {
      message: `${what} must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit`,
    });

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const dnsSubdomain = (what: string) =>
  z
    .string()
    .max(253, { message: `${what} must be at most 253 characters (DNS-1123 subdomain)` })
    .regex(DNS_SUBDOMAIN, { message: `${what} must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.'` });

/** Go duration as Flux's CRDs accept it for `interval`. */
const DURATION = /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/;
const duration = z.string().regex(DURATION, { message: "must be a Go duration such as '1m', '5m0s' or '1h30m' (units ms, s, m, h)" });

const goRegex = z.string().superRefine((v, ctx) => {
  const err = goRegexError(v);
  if (err) ctx.addIssue({ code: 'custom', message: `is not a valid Go (RE2) regular expression: ${err}` });
});

/** A branch name git accepts (git check-ref-format --branch). */
const branchName = gitBranchName;

export const FilterTagsSchema = z
  .strictObject({
    pattern: goRegex.describe('Go RE2 regular expression a tag must match (unanchored search).'),
    extract: extractTemplate.optional().describe('Go template built from the match, e.g. `$ts` or `${version}`.'),
  })
  .superRefine((ft, ctx) => {
    if (ft.extract === undefined || goRegexError(ft.pattern)) return;
    const re = compileGoRegex(ft.pattern);
    for (const ref of templateRefs(ft.extract)) {
      const ok = ref.num >= 0 ? ref.num <= re.groupCount : re.groupNames.includes(ref.name);
      if (!ok) {
        ctx.addIssue({
          code: 'custom',
          path: ['extract'],
          message: `names group '${ref.name}', which the pattern does not define (groups: ${
            [...re.groupNames.map((n) => `'${n}'`), ...Array.from({ length: re.groupCount + 1 }, (_, i) => `$${i}`)].join(', ')
          })`,
        });
      }
    }
  });

export const PolicySchema = z.union([
  z.strictObject({
    semver: z.strictObject({
      range: z.string().superRefine((v, ctx) => {
        const err = semverRangeError(v);
        if (err) ctx.addIssue({ code: 'custom', message: `is not a valid semver range (Masterminds/semver v3): ${err}` });
      }),
    }),
  }),
  z.strictObject({ numerical: z.strictObject({ order: z.enum(['asc', 'desc']).default('asc') }) }),
  z.strictObject({ alphabetical: z.strictObject({ order: z.enum(['asc', 'desc']).default('asc') }) }),
]);
export type Policy = z.infer<typeof PolicySchema>;

/** Settings a tier preset supplies; every one can be overridden per tier and per app and tier. */
const TierSettingsShape = {
  tagScheme: z
    .string()
    .regex(/^[A-Za-z0-9_.{}-]+$/, { message: 'must be a tag template of letters, digits, _ . - and {time} {sha} {version}' })
    .optional()
    .describe('Tag template CI uses, with {time} (unix seconds), {sha} (git sha) and {version} (semver).'),
  filterTags: FilterTagsSchema.optional(),
  policy: PolicySchema.optional(),
  exclusionList: z.array(goRegex).max(25).optional().describe("Go regexes of tags to ignore; tagflow always keeps '^.*\\.sig$'."),
  scanInterval: duration.optional().describe('ImageRepository scan interval.'),
  digestPinning: z.boolean().optional().describe('Reflect the digest and pin the image by digest (`:digest` marker).'),
};

/** ConfigMap keys: what Kubernetes accepts as a data key (and so as a file name in the mounted folder). */
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;

export const ConfigFileSchema = z.union([
  z.strictObject({ content: z.string().describe('The file content, inline.') }),
  z.strictObject({
    path: z
      .string()
      .min(1)
      .refine((p) => !p.startsWith('/') && !p.split(/[\\/]/).includes('..'), { message: "must be a path inside the stack file's folder (relative, no '..')" })
      .describe("A file next to the stack file (relative to its folder), read at synth time."),
  }),
]);

export const AppConfigSchema = z
  .strictObject({
    mountPath: z
      .string()
      .regex(/^\/[^\s:]*$/, { message: 'must be an absolute path in the container' })
      .optional()
      .describe("Folder the files appear in, read-only (default /etc/<app>)."),
    files: z
      .record(
        z.string().max(253).regex(CONFIG_KEY, { message: "must be a ConfigMap key: letters, digits, '-', '_' and '.'" }),
        ConfigFileSchema,
      )
      .describe('File name → {content} or {path}. They become a ConfigMap the chart mounts; a change rolls the pods.'),
  })
  .describe("Config files of the app, rendered by the bundled chart as a ConfigMap (the app's pods restart when one changes).");
export type AppConfig = z.infer<typeof AppConfigSchema>;

export const NotificationsSchema = z
  .strictObject({
    chat: z
      .strictObject({
        type: z.enum(['slack', 'msteams', 'googlechat', 'discord', 'generic']).describe('The chat service (Flux Provider type); generic POSTs the event JSON.'),
        secretName: dnsSubdomain('secret name')
          .default('tagflow-chat-webhook')
          .describe('Secret in the tier namespace with key `address`: the webhook URL (the Pulumi program creates it).'),
      })
      .optional()
      .describe('Chat messages when the tier gets a new image (commit) and when a release fails or rolls back.'),
    commitStatus: z
      .strictObject({
        provider: z.enum(['github', 'gitlab', 'gitea']).default('github'),
        secretName: dnsSubdomain('secret name')
          .default('tagflow-commit-status')
          .describe('Secret in flux-system with the token (key `token`) that may set commit statuses.'),
      })
      .optional()
      .describe("Commit statuses on the GitOps repository: each commit shows which tiers apply it."),
  })
  .describe("Flux Providers and Alerts of a tier (objects in the tier namespace; commit statuses next to the tier's Kustomization).");
export type Notifications = z.infer<typeof NotificationsSchema>;

export const TierOverrideSchema = z.strictObject({
  ...TierSettingsShape,
  namespace: dnsLabel('namespace').optional(),
  pushBranch: branchName
    .optional()
    .describe("Branch the automation pushes to; a branch other than gitops.mainBranch makes the tier reviewed (default: release pushes to 'tagflow/<env>/release')."),
  commitSigningKey: z
    .strictObject({ secretName: dnsSubdomain('secret name') })
    .optional()
    .describe("Sign the automation's commits with the OpenPGP key in this Secret (key git.asc) of the tier namespace."),
  verifyCommits: z
    .strictObject({ mode: z.enum(['HEAD', 'Tag', 'TagAndHEAD']).default('HEAD'), secretName: dnsSubdomain('secret name') })
    .optional()
    .describe("Verify the tier's source commits against the public keys in this Secret of the tier namespace."),
  automationInterval: duration.optional(),
  webhook: z.boolean().optional().describe('ECR pushes trigger an immediate scan (Receiver + EventBridge); default on for dev and staging.'),
  keepImages: z.number().int().min(1).max(1000).optional().describe('ECR lifecycle: newest images of this tier to keep.'),
  values: z.record(z.string(), z.unknown()).optional().describe('Helm values for every app in this tier.'),
  notifications: z
    .union([z.literal(false), NotificationsSchema])
    .optional()
    .describe('Notifications of this tier, replacing the environment\'s (false: none).'),
});
export type TierOverride = z.infer<typeof TierOverrideSchema>;

export const AppTierOverrideSchema = z.strictObject({
  ...TierSettingsShape,
  enabled: z.boolean().optional().describe('Set false to leave the app out of this tier.'),
  initialTag: ociTag.optional().describe('Tag written before Flux has picked one (it must exist in the registry).'),
  values: z.record(z.string(), z.unknown()).optional(),
  config: AppConfigSchema.partial()
    .optional()
    .describe("This tier's config files: merged over the app's, file by file (same name: this one wins)."),
});
export type AppTierOverride = z.infer<typeof AppTierOverrideSchema>;

const tierRecord = <T extends z.ZodType>(schema: T) =>
  z.strictObject({ dev: schema.optional(), staging: schema.optional(), release: schema.optional() });

/** `oci://host[:port]/path` without a tag or digest (parsed, not matched with a backtracking pattern). */
function isOciChartUrl(v: string): boolean {
  if (!v.startsWith('oci://') || /\s/.test(v)) return false;
  try {
    const u = new URL(`https://${v.slice('oci://'.length)}`);
    const last = u.pathname.split('/').pop() ?? '';
    return u.pathname.length > 1 && !u.search && !u.hash && !u.username && last !== '' && !/[:@]/.test(u.pathname);
  } catch {
    return false;
  }
}

export const ChartSchema = z.union([
  z.strictObject({ bundled: z.literal(true).describe('The chart in charts/app, written into the GitOps tree.') }),
  z.strictObject({
    oci: z.strictObject({
      url: z.string().refine(isOciChartUrl, { message: 'must be an oci:// URL of a chart repository, without tag or digest' }),
      tag: chartOciTag.optional(),
      semver: chartVersionConstraint.optional(),
    }),
  }),
  z.strictObject({
    helmRepository: z.strictObject({
      url: z.string().regex(/^https?:\/\//, { message: 'must be an http(s):// URL' }),
      chart: z.string().min(1),
      version: chartVersionConstraint.default('*'),
    }),
  }),
]);

const KMS_KEY_ARN = z.string().regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/, {
  message: "must be a KMS key ARN such as 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'",
});

const ciBranches = z.array(branchName).min(1).default(['main']);
const GITHUB_REPOSITORY = z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, { message: "must be 'owner/repository'" });
const BUILDKITE_PIPELINE = z.string().regex(/^[a-z0-9-]+$/, { message: 'must be a Buildkite pipeline slug' });
/** GitHub deployment environment names (a job with `environment:` gets `sub` = repo:<owner/repo>:environment:<name>). */
const githubEnvironment = z.string().regex(/^[^\s:,*?]{1,255}$/, { message: 'must be a GitHub environment name (no spaces, colons, commas or wildcards)' });
export const CiSchema = z.union([
  z.strictObject({
    githubActions: z.strictObject({
      repositories: z
        .array(GITHUB_REPOSITORY)
        .min(1)
        .optional()
        .describe("Repositories that build images: one named like an app builds that app, a single one builds every app; otherwise set apps[].ci.repository."),
      branches: ciBranches,
      environments: z
        .array(githubEnvironment)
        .default([])
        .describe('GitHub environments whose jobs push (their OIDC sub is repo:<owner/repo>:environment:<name>, whatever the branch).'),
    }),
  }),
  z.strictObject({
    buildkite: z.strictObject({
      organization: z.string().regex(/^[a-z0-9-]+$/, { message: 'must be a Buildkite organization slug' }),
      pipelines: z.array(BUILDKITE_PIPELINE).min(1).optional().describe('Pipelines that build images: one named like an app builds that app, a single one builds every app; otherwise set apps[].ci.pipeline.'),
      branches: ciBranches,
    }),
  }),
]);
export type Ci = z.infer<typeof CiSchema>;

/** Which source builds an app: the one CI identity that may push its images. */
export const AppCiSchema = z
  .strictObject({
    repository: GITHUB_REPOSITORY.optional().describe('GitHub Actions: the repository whose workflows build this app.'),
    pipeline: BUILDKITE_PIPELINE.optional().describe('Buildkite: the pipeline that builds this app.'),
    branches: z.array(branchName).min(1).optional().describe('Branches whose builds may push (default: ci.<system>.branches).'),
    environments: z.array(githubEnvironment).optional().describe('GitHub environments whose jobs may push (default: ci.githubActions.environments).'),
  })
  .describe("The CI source that builds the app; only its OIDC identity may push the app's images.");
export type AppCi = z.infer<typeof AppCiSchema>;

/** One CI identity (a GitHub repository or a Buildkite pipeline) and the apps it builds. */
export interface CiSource {
  readonly system: 'githubActions' | 'buildkite';
  /** `owner/repository` (GitHub) or the pipeline slug (Buildkite). */
  readonly source: string;
  readonly organization?: string;
  readonly branches: readonly string[];
  readonly environments: readonly string[];
  /** Indexes into apps[] of the apps it builds. */
  readonly apps: number[];
}

/**
 * The source that builds `app`: apps[].ci, else the listed repository (pipeline) named like the app, else the
 * only one listed (a monorepo builds every app); undefined when there is none. Branches and environments of
 * the app's ci override the system's.
 */
export function appCiSource(ci: Ci, app: { name: string; ci?: AppCi }): Omit<CiSource, 'apps'> | undefined {
  if ('githubActions' in ci) {
    const g = ci.githubActions;
    const listed = g.repositories ?? [];
    const source = app.ci?.repository ?? listed.find((r) => r.slice(r.indexOf('/') + 1) === app.name) ?? (listed.length === 1 ? listed[0] : undefined);
    if (!source) return undefined;
    return { system: 'githubActions', source, branches: app.ci?.branches ?? g.branches, environments: app.ci?.environments ?? g.environments };
  }
  const b = ci.buildkite;
  const listed = b.pipelines ?? [];
  const source = app.ci?.pipeline ?? listed.find((p) => p === app.name) ?? (listed.length === 1 ? listed[0] : undefined);
  if (!source) return undefined;
  return { system: 'buildkite', source, organization: b.organization, branches: app.ci?.branches ?? b.branches, environments: [] };
}

/** IAM role name (no path). */
const IAM_ROLE_NAME = z.string().regex(/^[\w+=,.@-]{1,64}$/, { message: 'must be an IAM role name (letters, digits and +=,.@_-, at most 64 characters; no path)' });
/** A literal ECR tag pattern: tag characters and up to four `*` (ECR's tagPatternList limit). */
const TAG_PATTERN = z
  .string()
  .regex(/^[A-Za-z0-9_.*-]{1,128}$/, { message: 'must be a tag or a tag pattern of letters, digits, _ . - and * wildcards' })
  .refine((p) => (p.match(/\*/g) ?? []).length <= 4, { message: 'has more than the 4 wildcards ECR allows in a tag pattern' });

const ACCOUNT_ID = z.string().regex(/^\d{12}$/, { message: 'must be a 12-digit AWS account id (quote it in YAML)' });
const REGION = z.string().regex(/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/, { message: "must be an AWS region such as 'eu-west-1'" });
/** OCI distribution repository name (also what ECR accepts). */
const REPOSITORY_NAME = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
/** Helm release names (the app name) stop at 53 characters. */
const HELM_RELEASE_NAME_MAX = 53;

export const AppSchema = z.strictObject({
  name: dnsLabel('app name').refine((n) => n.length <= HELM_RELEASE_NAME_MAX, {
    message: `must be at most ${HELM_RELEASE_NAME_MAX} characters: it is the Helm release name, which Helm limits to ${HELM_RELEASE_NAME_MAX}`,
  }),
  repository: z
    .string()
    .min(2)
    .max(256)
    .regex(REPOSITORY_NAME, { message: 'must be a registry repository name (lowercase, digits, . _ - and / between parts)' })
    .optional()
    .describe('Repository of the app in the registry (ECR repository name); defaults to the app name.'),
  ecr: z
    .strictObject({
      accountId: ACCOUNT_ID.optional().describe('Registry account when images live in another account.'),
      region: REGION.optional(),
      create: z.boolean().default(true).describe('false adopts an existing repository instead of creating it.'),
      pullAccounts: z
        .array(ACCOUNT_ID)
        .default([])
        .describe('Accounts that read this repository: each needs an aws.readers entry naming its exact roles (repository policy; only for create: true).'),
      cacheTag: z
        .union([z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, { message: 'must be an image tag' }), z.literal(false)])
        .default('buildcache')
        .describe('The one tag CI may rewrite (registry layer cache), exempt from tag immutability; false keeps every tag immutable.'),
      keepTags: z
        .array(TAG_PATTERN)
        .default([])
        .describe("Tag patterns other stacks deploy from this repository (e.g. a reader's own release scheme): never expired. release-* always is."),
    })
    .optional()
    .describe('ECR settings of the app (registry provider aws only).'),
  ci: AppCiSchema.optional(),
  chart: ChartSchema.default({ bundled: true }),
  values: z.record(z.string(), z.unknown()).default({}),
  config: AppConfigSchema.optional(),
  tiers: tierRecord(AppTierOverrideSchema).default({}),
  promotion: PromotionSchema.optional().describe("This app's promotion gates: each gate set here replaces the environment's gate of that name (false: off)."),
});
export type App = z.infer<typeof AppSchema>;

/** `host[:port]` of a registry, without scheme or path. */
const REGISTRY_HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]{1,5})?$/;

export const RegistrySchema = z.discriminatedUnion('provider', [
  z.strictObject({
    provider: z.literal('aws').describe("Amazon ECR: each app's repository in aws.accountId/aws.region (or apps[].ecr), Flux logs in with provider aws."),
  }),
  z.strictObject({
    provider: z.literal('generic').describe('Any OCI registry (GHCR, Harbor, GitLab, Gitea, distribution): Flux logs in with a pull Secret.'),
    host: z.string().regex(REGISTRY_HOST, { message: "must be a registry host[:port] without scheme or path, e.g. 'ghcr.io' or 'registry.example.com:5000'" }),
    insecure: z.boolean().default(false).describe('The registry speaks plain HTTP (Flux: spec.insecure). Never for a registry outside a private network.'),
    secretName: dnsSubdomain('secret name')
      .optional()
      .describe('kubernetes.io/dockerconfigjson Secret in each tier namespace that Flux reads the registry with; omit for anonymous access.'),
  }),
]);
export type Registry = z.infer<typeof RegistrySchema>;

export const GitAuthSchemas = {
  githubApp: z
    .strictObject({
      appId: z.union([z.number().int().positive(), z.string().regex(/^\d+$/)]).transform(String),
      installationOwner: z.string().min(1).optional(),
      installationId: z.union([z.number().int().positive(), z.string().regex(/^\d+$/)]).transform(String).optional(),
      secretName: dnsSubdomain('secret name').default('tagflow-github-app'),
    })
    .superRefine((app, ctx) => {
      if ((app.installationOwner === undefined) === (app.installationId === undefined)) {
        ctx.addIssue({
          code: 'custom',
          message: 'must set exactly one of installationOwner or installationId (Flux fails the reconcile otherwise)',
        });
      }
    })
    .describe('Authenticate as a GitHub App (GitRepository provider github); https:// URLs only.'),
  basicAuth: z
    .strictObject({ secretName: dnsSubdomain('secret name').default('tagflow-git') })
    .describe('HTTP basic auth or a token: a Secret with username and password (GitLab, Gitea, Bitbucket, any git over HTTPS).'),
  sshKey: z
    .strictObject({ secretName: dnsSubdomain('secret name').default('tagflow-git') })
    .describe('An SSH deploy key with write access: a Secret with identity and known_hosts; ssh:// URLs only.'),
} as const;
export type GitAuthKind = keyof typeof GitAuthSchemas;
export const GIT_AUTH_KINDS = Object.keys(GitAuthSchemas) as GitAuthKind[];

export const GitOpsSchema = z
  .strictObject({
    url: z
      .string()
      .regex(/^(https?|ssh):\/\/[^\s/]+\/[^\s]+$/, { message: 'must be an https://, http:// or ssh:// URL of the repository (not the scp form git@host:repo)' }),
    mainBranch: branchName.default('main').describe('The branch the cluster follows; every tier lives in its own folder of it.'),
    insecure: z.boolean().default(false).describe('Allow a plain http:// URL (credentials travel unencrypted: a private network only).'),
    ...Object.fromEntries(Object.entries(GitAuthSchemas).map(([k, v]) => [k, v.optional()])) as {
      [K in GitAuthKind]: z.ZodOptional<(typeof GitAuthSchemas)[K]>;
    },
    commitAuthor: commitAuthor.default({ name: 'tagflow-bot', email: 'tagflow-bot@users.noreply.github.com' }),
  })
  .superRefine((g, ctx) => {
    const set = GIT_AUTH_KINDS.filter((k) => g[k] !== undefined);
    if (set.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: `must set exactly one of ${GIT_AUTH_KINDS.join(', ')} (the credentials Flux reads and pushes with)${set.length ? `; found ${set.join(', ')}` : ''}`,
      });
      return;
    }
    const scheme = g.url.slice(0, g.url.indexOf(':'));
    const auth = set[0]!;
    const fail = (message: string) => ctx.addIssue({ code: 'custom', path: ['url'], message });
    if (auth === 'sshKey' && scheme !== 'ssh') fail('must be an ssh:// URL with sshKey credentials');
    if (auth !== 'sshKey' && scheme === 'ssh') fail(`is an ssh:// URL, which needs sshKey credentials (not ${auth})`);
    if (auth === 'githubApp' && scheme !== 'https') fail('must be an https:// URL (provider github authenticates a GitHub App over HTTPS)');
    if (scheme === 'http' && !g.insecure) fail('is plain http://, which sends the credentials unencrypted; use https://, or set gitops.insecure: true on a private network');
  });
export type GitOps = z.infer<typeof GitOpsSchema>;

export const EnvironmentSchema = z
  .strictObject({
    name: dnsLabel('environment name'),
    aws: z
      .strictObject({
        accountId: ACCOUNT_ID,
        region: REGION,
        kmsKeyArn: KMS_KEY_ARN.optional().describe('Encrypt ECR repositories with this customer managed KMS key (default: the AWS managed key aws/ecr).'),
        encryption: z
          .enum(['KMS', 'AES256'])
          .default('KMS')
          .describe('ECR encryption: KMS (default; kmsKeyArn or the AWS managed key) or AES256 (only when asked; ECR cannot change it on an existing repository).'),
        readers: z
          .array(
            z.strictObject({
              accountId: ACCOUNT_ID,
              environment: dnsLabel('environment name').describe("The reading account's tagflow environment: its Flux image-reader role is tagflow-<environment>-flux-image-reader."),
              objectLevelTiers: z
                .array(z.enum(TIER_NAMES))
                .min(1)
                .optional()
                .describe('The reader uses object-level identity: one role tagflow-<environment>-<tier>-image-reader per tier listed.'),
              nodeRoles: z
                .array(IAM_ROLE_NAME)
                .default([])
                .describe("Roles in that account that pull images for its pods (EKS node role or pull identity): that stack's cluster.imagePullRoles."),
            }),
          )
          .default([])
          .describe('Other accounts that pull images from the repositories this stack creates (apps[].ecr.pullAccounts), by exact role.'),
      })
      .optional()
      .describe('The AWS account and region of the environment (required for registry provider aws, ci and cluster identities).'),
    registry: RegistrySchema.default({ provider: 'aws' }).describe('Where the images live (default: Amazon ECR).'),
    cluster: z.strictObject({
      name: z.string().regex(/^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$/, { message: 'must be a cluster name (EKS rules)' }),
      oidcIssuerUrl: oidcIssuerUrl.optional().describe('The https:// OIDC issuer URL of the cluster (IRSA trust).'),
      identity: z.enum(['irsa', 'pod-identity']).default('irsa'),
      objectLevelIdentity: z
        .boolean()
        .default(false)
        .describe("One ServiceAccount and IRSA role per tier (needs image-reflector-controller's ObjectLevelWorkloadIdentity gate)."),
      webhookUrl: z
        .string()
        .regex(/^https:\/\/[^\s/?#]+\/?$/, { message: 'must be an https:// origin (scheme and host, no path), e.g. https://flux-webhook.dev.example.com' })
        .optional()
        .describe("Where the cluster exposes notification-controller's webhook-receiver Service (an Ingress you own); EventBridge POSTs ECR pushes there."),
      imagePullRoles: z
        .array(IAM_ROLE_NAME)
        .default([])
        .describe("Roles in aws.accountId that pull images for the cluster's pods (EKS node role, or a pull identity): they get pull on the apps' ECR repositories, also in other accounts."),
    }),
    ci: CiSchema.optional().describe('The pipeline that builds images: gets a push-only role through OIDC.'),
    gitops: GitOpsSchema,
    notifications: NotificationsSchema.optional().describe('Notifications of every tier (a tier may override or turn them off).'),
    tiers: z
      .record(z.string(), TierOverrideSchema.nullable())
      .superRefine((tiers, ctx) => {
        const keys = Object.keys(tiers);
        if (keys.length === 0) ctx.addIssue({ code: 'custom', message: `must list at least one tier (${TIER_NAMES.join(', ')})` });
        for (const k of keys) {
          if (!(TIER_NAMES as readonly string[]).includes(k)) {
            ctx.addIssue({ code: 'custom', path: [k], message: `unknown tier; tiers are ${TIER_NAMES.join(', ')}` });
          }
        }
      })
      .describe('The tiers this environment runs, each with optional overrides of its preset.'),
    apps: z.array(AppSchema).min(1),
    promotion: PromotionSchema.optional().describe('Gates `tagflow promote` applies before an image gets a release tag of this environment (apps may override them).'),
  })
  .superRefine((env, ctx) => {
    const ecr = env.registry.provider === 'aws';
    // Commit statuses go to the API of the host that serves the repository (notification-controller derives
    // it from the URL): an http(s) URL of <host>/<owner>/<repository>.
    const statusPaths: (string | number)[][] = [
      ...(env.notifications?.commitStatus ? [['notifications', 'commitStatus']] : []),
      ...Object.entries(env.tiers).flatMap(([t, o]) => (o && o.notifications && o.notifications.commitStatus ? [['tiers', t, 'notifications', 'commitStatus']] : [])),
    ];
    if (statusPaths.length && !(env.gitops.insecure ? /^https?:\/\/[^/]+\/[^/]+\/.+/ : /^https:\/\/[^/]+\/[^/]+\/.+/).test(env.gitops.url)) {
      ctx.addIssue({
        code: 'custom',
        path: ['gitops', 'url'],
        message: `is '${env.gitops.url}': ${statusPaths[0]!.join('.')} sets commit statuses through the API of the repository's host, which needs an https:// URL of <host>/<owner>/<repository>`,
      });
    }
    if (!env.aws && (ecr || env.ci)) {
      ctx.addIssue({
        code: 'custom',
        path: ['aws'],
        message: `is required ${ecr ? 'with registry provider aws (ECR, the default)' : 'for the CI role (ci)'}: set aws.accountId and aws.region`,
      });
    }
    if (env.ci && !ecr) ctx.addIssue({ code: 'custom', path: ['ci'], message: 'creates an ECR push role, so it needs registry provider aws' });
    if (env.aws?.encryption === 'AES256' && env.aws.kmsKeyArn) {
      ctx.addIssue({ code: 'custom', path: ['aws', 'encryption'], message: 'is AES256, which cannot use aws.kmsKeyArn: remove one of them' });
    }
    if (env.cluster.imagePullRoles.length && !ecr) {
      ctx.addIssue({ code: 'custom', path: ['cluster', 'imagePullRoles'], message: 'grants pull on ECR repositories, so it needs registry provider aws' });
    }
    const readers = new Map<string, number>();
    (env.aws?.readers ?? []).forEach((r, j) => {
      const first = readers.get(r.accountId);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['aws', 'readers', j, 'accountId'], message: `duplicate reader account (also aws.readers[${first}].accountId)` });
      else readers.set(r.accountId, j);
      if (r.accountId === env.aws?.accountId) {
        ctx.addIssue({ code: 'custom', path: ['aws', 'readers', j, 'accountId'], message: "is this stack's own account; a reader is another account (this stack's roles get identity policies)" });
      }
    });
    const builds = new Map<string, number[]>();
    const ciSystem = env.ci ? ('githubActions' in env.ci ? 'githubActions' : 'buildkite') : undefined;
    const seen = new Map<string, number>();
    env.apps.forEach((app, i) => {
      (app.ecr?.pullAccounts ?? []).forEach((account, j) => {
        if (app.ecr?.create === false) {
          ctx.addIssue({ code: 'custom', path: ['apps', i, 'ecr', 'pullAccounts', j], message: 'is only for a repository this stack creates (create: true); grant it in the stack that owns the repository' });
        } else if (!readers.has(account)) {
          ctx.addIssue({
            code: 'custom',
            path: ['apps', i, 'ecr', 'pullAccounts', j],
            message: `has no aws.readers entry: the repository policy names exact roles, so add {accountId: "${account}", environment: <its tagflow environment>, nodeRoles: [<roles its nodes pull with>]}`,
          });
        }
      });
      if (app.ci) {
        if (!ciSystem) ctx.addIssue({ code: 'custom', path: ['apps', i, 'ci'], message: 'needs ci (ci.githubActions or ci.buildkite): the CI system whose identity pushes the app' });
        const wrong: [keyof AppCi, string][] =
          ciSystem === 'githubActions' ? [['pipeline', 'is for Buildkite; this environment builds with GitHub Actions (set repository)']] : ciSystem === 'buildkite'
            ? [['repository', 'is for GitHub Actions; this environment builds with Buildkite (set pipeline)'], ['environments', 'is for GitHub Actions; Buildkite has no environments']]
            : [];
        for (const [k, message] of wrong) if (app.ci[k] !== undefined) ctx.addIssue({ code: 'custom', path: ['apps', i, 'ci', k], message });
      }
      if (env.ci && ecr && app.ecr?.create !== false) {
        const src = appCiSource(env.ci, app);
        if (!src) {
          const [field, what, list] = ciSystem === 'githubActions' ? ['repository', "'owner/name' of the GitHub repository", 'ci.githubActions.repositories'] : ['pipeline', 'the Buildkite pipeline slug', 'ci.buildkite.pipelines'];
          ctx.addIssue({
            code: 'custom',
            path: ['apps', i, 'ci'],
            message: `app '${app.name}' has no CI source, so nothing could push its images: set apps[${i}].ci.${field} (${what} that builds it) or list one named '${app.name}' in ${list}`,
          });
        } else builds.set(src.source, [...(builds.get(src.source) ?? []), i]);
      }
      if (app.ecr && !ecr) {
        ctx.addIssue({ code: 'custom', path: ['apps', i, 'ecr'], message: `is for registry provider aws; this environment's registry is ${env.registry.provider}` });
      }
      if (app.ecr?.create !== false && app.ecr?.accountId && env.aws && app.ecr.accountId !== env.aws.accountId) {
        ctx.addIssue({
          code: 'custom',
          path: ['apps', i, 'ecr', 'create'],
          message: `cannot create a repository in account ${app.ecr.accountId} from this stack (account ${env.aws.accountId}); set create: false and grant pullAccounts in the stack that owns it`,
        });
      }
      const first = seen.get(app.name);
      if (first !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['apps', i, 'name'], message: `duplicate app name (also apps[${first}].name)` });
      } else seen.set(app.name, i);
      for (const t of Object.keys(app.tiers ?? {})) {
        if (!(t in env.tiers)) {
          ctx.addIssue({ code: 'custom', path: ['apps', i, 'tiers', t], message: `tier is not listed in tiers (${Object.keys(env.tiers).join(', ')})` });
        }
      }
    });
    if (env.ci && ecr) {
      const listed = 'githubActions' in env.ci ? (['githubActions', 'repositories', env.ci.githubActions.repositories] as const) : (['buildkite', 'pipelines', env.ci.buildkite.pipelines] as const);
      (listed[2] ?? []).forEach((source, j) => {
        if (!builds.has(source)) {
          ctx.addIssue({ code: 'custom', path: ['ci', listed[0], listed[1], j], message: 'builds no app of this stack (none is named like it or names it in apps[].ci): it would get a role that can push nothing' });
        }
      });
    }
    if (ecr) {
      if (env.cluster.objectLevelIdentity && env.cluster.identity !== 'irsa') {
        ctx.addIssue({ code: 'custom', path: ['cluster', 'objectLevelIdentity'], message: 'needs cluster.identity irsa (Flux object-level identity does not support Pod Identity)' });
      }
      if ((env.cluster.identity === 'irsa' || env.cluster.objectLevelIdentity) && !env.cluster.oidcIssuerUrl) {
        ctx.addIssue({ code: 'custom', path: ['cluster', 'oidcIssuerUrl'], message: 'is required when cluster.identity is irsa' });
      }
    }
  });

export type EnvironmentInput = z.input<typeof EnvironmentSchema>;
export type Environment = z.infer<typeof EnvironmentSchema>;
