import { z } from 'zod';
import { goRegexError, templateRefs, compileGoRegex } from '../engines/policy/go-regex';
import { semverRangeError } from '../engines/policy/masterminds-semver';

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

/** Go duration as Flux's CRDs accept it for `interval`. */
const DURATION = /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/;
const duration = z.string().regex(DURATION, { message: "must be a Go duration such as '1m', '5m0s' or '1h30m' (units ms, s, m, h)" });

const goRegex = z.string().superRefine((v, ctx) => {
  const err = goRegexError(v);
  if (err) ctx.addIssue({ code: 'custom', message: `is not a valid Go (RE2) regular expression: ${err}` });
});

const branchName = z
  .string()
  .min(1)
  .regex(/^(?!\/|.*\/\/|.*\/$|.*\.\.|.*@\{)[A-Za-z0-9._\/-]+$/, { message: 'must be a valid git branch name' });

export const FilterTagsSchema = z
  .strictObject({
    pattern: goRegex.describe('Go RE2 regular expression a tag must match (unanchored search).'),
    extract: z.string().optional().describe('Go template built from the match, e.g. `$ts` or `${version}`.'),
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

export const TierOverrideSchema = z.strictObject({
  ...TierSettingsShape,
  namespace: dnsLabel('namespace').optional(),
  branch: branchName.optional().describe('Branch the tier is applied from and the automation checks out.'),
  pushBranch: branchName.optional().describe('Branch the automation pushes to.'),
  automationInterval: duration.optional(),
  webhook: z.boolean().optional().describe('ECR pushes trigger an immediate scan (Receiver + EventBridge); default on for dev and staging.'),
  keepImages: z.number().int().min(1).max(1000).optional().describe('ECR lifecycle: newest images of this tier to keep.'),
  values: z.record(z.string(), z.unknown()).optional().describe('Helm values for every app in this tier.'),
});
export type TierOverride = z.infer<typeof TierOverrideSchema>;

export const AppTierOverrideSchema = z.strictObject({
  ...TierSettingsShape,
  enabled: z.boolean().optional().describe('Set false to leave the app out of this tier.'),
  initialTag: z.string().min(1).max(128).optional().describe('Tag written before Flux has picked one.'),
  values: z.record(z.string(), z.unknown()).optional(),
});
export type AppTierOverride = z.infer<typeof AppTierOverrideSchema>;

const tierRecord = <T extends z.ZodType>(schema: T) =>
  z.strictObject({ dev: schema.optional(), staging: schema.optional(), release: schema.optional() });

export const ChartSchema = z.union([
  z.strictObject({ bundled: z.literal(true).describe('The chart in charts/app, written into the GitOps tree.') }),
  z.strictObject({
    oci: z.strictObject({
      url: z.string().regex(/^oci:\/\/[^:\s]+(:\d+)?\/\S+$/, { message: 'must be an oci:// URL without tag' }),
      tag: z.string().optional(),
      semver: z.string().optional(),
    }),
  }),
  z.strictObject({
    helmRepository: z.strictObject({
      url: z.string().regex(/^https?:\/\//, { message: 'must be an http(s):// URL' }),
      chart: z.string().min(1),
      version: z.string().default('*'),
    }),
  }),
]);

const KMS_KEY_ARN = z.string().regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/, {
  message: "must be a KMS key ARN such as 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'",
});

const ciBranches = z.array(branchName).min(1).default(['main']);
export const CiSchema = z.union([
  z.strictObject({
    githubActions: z.strictObject({
      repositories: z.array(z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, { message: "must be 'owner/repository'" })).min(1),
      branches: ciBranches,
    }),
  }),
  z.strictObject({
    buildkite: z.strictObject({
      organization: z.string().regex(/^[a-z0-9-]+$/, { message: 'must be a Buildkite organization slug' }),
      pipelines: z.array(z.string().regex(/^[a-z0-9-]+$/, { message: 'must be a Buildkite pipeline slug' })).min(1),
      branches: ciBranches,
    }),
  }),
]);
export type Ci = z.infer<typeof CiSchema>;

const ACCOUNT_ID = z.string().regex(/^\d{12}$/, { message: 'must be a 12-digit AWS account id (quote it in YAML)' });
const REGION = z.string().regex(/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/, { message: "must be an AWS region such as 'eu-west-1'" });
const ECR_REPO_NAME = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

export const AppSchema = z.strictObject({
  name: dnsLabel('app name'),
  ecr: z
    .strictObject({
      repository: z
        .string()
        .min(2)
        .max(256)
        .regex(ECR_REPO_NAME, { message: 'must be an ECR repository name (lowercase, digits, . _ - and / between parts)' })
        .optional()
        .describe('ECR repository name; defaults to the app name.'),
      accountId: ACCOUNT_ID.optional().describe('Registry account when images live in another account.'),
      region: REGION.optional(),
      create: z.boolean().default(true).describe('false adopts an existing repository instead of creating it.'),
      pullAccounts: z
        .array(ACCOUNT_ID)
        .default([])
        .describe("Accounts whose tagflow image-reader roles may list and pull (repository policy; only for create: true)."),
    })
    .default({ create: true, pullAccounts: [] }),
  chart: ChartSchema.default({ bundled: true }),
  values: z.record(z.string(), z.unknown()).default({}),
  tiers: tierRecord(AppTierOverrideSchema).default({}),
});
export type App = z.infer<typeof AppSchema>;

export const EnvironmentSchema = z
  .strictObject({
    name: dnsLabel('environment name'),
    aws: z.strictObject({
      accountId: ACCOUNT_ID,
      region: REGION,
      kmsKeyArn: KMS_KEY_ARN.optional().describe('Encrypt ECR repositories with this KMS key (default AES256).'),
    }),
    cluster: z.strictObject({
      name: z.string().regex(/^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$/, { message: 'must be an EKS cluster name' }),
      oidcIssuerUrl: z
        .string()
        .regex(/^https:\/\/[^\s/]+(\/[^\s]*)?$/, { message: 'must be the https:// OIDC issuer URL of the cluster' })
        .optional(),
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
    }),
    ci: CiSchema.optional().describe('The pipeline that builds images: gets a push-only role through OIDC.'),
    gitops: z.strictObject({
      url: z.string().regex(/^https:\/\/[^\s/]+\/[^\s]+$/, {
        message: 'must be an https:// URL (provider github authenticates a GitHub App over HTTPS)',
      }),
      mainBranch: branchName.default('main'),
      githubApp: z
        .strictObject({
          appId: z.union([z.number().int().positive(), z.string().regex(/^\d+$/)]).transform(String),
          installationOwner: z.string().min(1).optional(),
          installationId: z.union([z.number().int().positive(), z.string().regex(/^\d+$/)]).transform(String).optional(),
          secretName: dnsLabel('secret name').default('tagflow-github-app'),
        })
        .superRefine((app, ctx) => {
          if ((app.installationOwner === undefined) === (app.installationId === undefined)) {
            ctx.addIssue({
              code: 'custom',
              message: 'must set exactly one of installationOwner or installationId (Flux fails the reconcile otherwise)',
            });
          }
        }),
      commitAuthor: z
        .strictObject({ name: z.string().min(1), email: z.string().regex(/^[^\s@]+@[^\s@]+$/, { message: 'must be an email address' }) })
        .default({ name: 'tagflow-bot', email: 'tagflow-bot@users.noreply.github.com' }),
    }),
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
  })
  .superRefine((env, ctx) => {
    const seen = new Map<string, number>();
    env.apps.forEach((app, i) => {
      if (app.ecr.create && app.ecr.accountId && app.ecr.accountId !== env.aws.accountId) {
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
    if (env.cluster.objectLevelIdentity && env.cluster.identity !== 'irsa') {
      ctx.addIssue({ code: 'custom', path: ['cluster', 'objectLevelIdentity'], message: 'needs cluster.identity irsa (Flux object-level identity does not support Pod Identity)' });
    }
    if ((env.cluster.identity === 'irsa' || env.cluster.objectLevelIdentity) && !env.cluster.oidcIssuerUrl) {
      ctx.addIssue({ code: 'custom', path: ['cluster', 'oidcIssuerUrl'], message: 'is required when cluster.identity is irsa' });
    }
  });

export type EnvironmentInput = z.input<typeof EnvironmentSchema>;
export type Environment = z.infer<typeof EnvironmentSchema>;
