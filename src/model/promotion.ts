import { z } from 'zod';

/**
 * The promotion gates of an environment: what `tagflow promote` checks on the exact digest before it puts
 * it under a release tag. Configured per environment (`promotion.gates`) and per app
 * (`apps[].promotion.gates`, gate by gate: an app's gate replaces the environment's gate of that name;
 * `false` turns one off). Resolved (keys read, durations parsed) in `resolvePromotionGates`.
 */

/** Severities, highest first: ECR's (basic and enhanced scanning) and Trivy's share the first four. */
export const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** A duration as Go writes it (`90m`, `1h30m`), with `d` (24h) for soak periods: `3d`, `36h`. */
const GATE_DURATION = /^([0-9]+(ms|s|m|h|d))+$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function gateDurationMs(v: string): number {
  let total = 0;
  for (const m of v.matchAll(/([0-9]+)(ms|s|m|h|d)/g)) total += Number(m[1]) * UNIT_MS[m[2]!]!;
  return total;
}

const gateDuration = z
  .string()
  .regex(GATE_DURATION, { message: "must be a duration such as '24h', '3d' or '1h30m' (units ms, s, m, h, d)" })
  .refine((v) => gateDurationMs(v) <= 366 * UNIT_MS.d!, { message: 'must be at most a year (366d)' });

export const PublicKeySchema = z.union([
  z.strictObject({
    path: z
      .string()
      .min(1)
      .refine((p) => !p.startsWith('/') && !p.split(/[\\/]/).includes('..'), { message: "must be a path inside the stack file's folder (relative, no '..')" })
      .describe('A PEM public key file next to the stack file (cosign.pub from `cosign generate-key-pair`).'),
  }),
  z.strictObject({
    pem: z.string().regex(/^\s*-----BEGIN PUBLIC KEY-----/, { message: "must be a PEM public key ('-----BEGIN PUBLIC KEY-----')" }).describe('The PEM public key, inline.'),
  }),
]);

export const PromotionGatesSchema = z
  .strictObject({
    scan: z
      .union([
        z.literal(false),
        z.strictObject({
          source: z
            .enum(['ecr', 'attestation'])
            .optional()
            .describe(
              'ecr: the registry scan (DescribeImageScanFindings, basic or enhanced); attestation: a signed cosign vulnerability attestation (predicate https://cosign.sigstore.dev/attestation/vuln/v1 holding a Trivy JSON report). Default: ecr for registry provider aws, attestation otherwise.',
            ),
          failOn: z.enum(SEVERITIES).default('HIGH').describe('Refuse an image with any finding at or above this severity.'),
          keys: z
            .array(PublicKeySchema)
            .min(1)
            .max(16)
            .optional()
            .describe("attestation: the public keys the attestation must verify against (default: the signature gate's keys)."),
        }),
      ])
      .optional()
      .describe('No finding at or above a severity on the digest; a scan that has not completed blocks.'),
    signature: z
      .union([
        z.literal(false),
        z.strictObject({
          keys: z.array(PublicKeySchema).min(1).max(16).describe('A cosign signature of the digest must verify against one of these keys.'),
        }),
      ])
      .optional()
      .describe("A cosign signature (tag sha256-<hex>.sig, or an OCI referrer) whose payload names the digest, by one of the team's CI keys."),
    soak: z
      .union([z.literal(false), z.strictObject({ minimum: gateDuration.describe('How long the staging tier must have run the image.') })])
      .optional()
      .describe("The image ran in staging at least this long: from the GitOps repository's history of the staging marker (git log of the staging release file)."),
    age: z
      .union([z.literal(false), z.strictObject({ minimum: gateDuration.describe('Minimum time since the image was built.') })])
      .optional()
      .describe("At least this long since the image's config `created` time (the build's clock)."),
  })
  .describe('Gates of tagflow promote (each evaluated on the exact digest promoted).');
export type PromotionGatesInput = z.infer<typeof PromotionGatesSchema>;

export const PromotionSchema = z
  .strictObject({ gates: PromotionGatesSchema.default({}) })
  .describe('What `tagflow promote` requires before an image gets a release tag of this environment.');
export type Promotion = z.infer<typeof PromotionSchema>;

export const GATE_NAMES = ['scan', 'signature', 'soak', 'age'] as const;
export type GateName = (typeof GATE_NAMES)[number];

/** A public key a gate verifies with, read and parsed; `where` names it for messages and evidence. */
export interface GateKey {
  readonly pem: string;
  readonly where: string;
}

/** The gates of one app, resolved: absent = off. */
export interface PromotionGates {
  readonly scan?: { readonly source: 'ecr' | 'attestation'; readonly failOn: Severity; readonly keys: readonly GateKey[] };
  readonly signature?: { readonly keys: readonly GateKey[] };
  readonly soak?: { readonly minimum: string; readonly minimumMs: number };
  readonly age?: { readonly minimum: string; readonly minimumMs: number };
}
