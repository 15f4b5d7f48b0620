import * as fs from 'node:fs';
import * as path from 'node:path';
import { valid as validSemver } from 'semver';
import { listStacks, loadStack } from '../model/load';
import type { AppTier, ResolvedEnvironment } from '../model/tiers';
import { renderTag } from '../model/tag-scheme';
import { markerValues } from '../engines/markers/marker';
import * as os from 'node:os';
import { appRegistryUrl, registryClients } from '../registry/clients';
import { RegistryError, type RegistryClient } from '../registry/oci-client';
import { GATE_NAMES, type GateName } from '../model/promotion';
import { copyImage, PromotionRefusedError, type CopyResult } from './copy-image';
import { pushPromotionRecord, readPromotionRecords, type PromotionRecord } from './evidence';
import { evaluateGates } from './gates';
import type { GateResult, GateSubject } from './gates/types';

/** Bad arguments to promote: exit 2. */
export class PromoteUsageError extends Error {
  public readonly exitCode = 2;
}

export interface PromoteOptions {
  readonly configDir: string;
  /** The stack whose release tier receives the image. */
  readonly stack: string;
  readonly app: string;
  /** `X.Y.Z`: the release tag is the release tier's scheme rendered with it (`release-X.Y.Z`). */
  readonly version: string;
  /** The stack whose staging tier ran the image; default: the one stack with a staging tier running the app. */
  readonly fromStack?: string;
  /** The GitOps tree holding the staging tier's marker values (its staging branch checkout). */
  readonly tree: string;
  /** Registry origin replacing the ECR hosts of both images (a mirror, or a local registry in tests). */
  readonly registry?: string;
  /** Allow an http:// registry (and http:// token realms). */
  readonly insecureRegistry?: boolean;
  /** Token service origins that may receive the credentials besides the registry's own. */
  readonly registryTokenRealm?: readonly string[];
  /** Gates let through although they fail (emergencies): recorded in the promotion record with `reason`. */
  readonly overrideGate?: readonly string[];
  /** Why the gates in overrideGate are overridden (required with it). */
  readonly reason?: string;
}

export interface PromotionPlan {
  readonly source: { readonly app: AppTier; readonly tag: string; readonly digest?: string; readonly file: string };
  readonly target: { readonly app: AppTier; readonly tag: string };
}

function appIn(env: ResolvedEnvironment, tier: string, app: string): AppTier | undefined {
  return env.tiers.find((t) => t.name === tier)?.apps.find((a) => a.app === app);
}

/** Reads what promote would do from the stacks and the tree; touches no registry. */
export function planPromotion(opts: PromoteOptions): PromotionPlan {
  if (!validSemver(opts.version) || opts.version.includes('-') || opts.version.includes('+')) {
    throw new PromoteUsageError(`--version '${opts.version}' must be a release version X.Y.Z (no pre-release, no build metadata)`);
  }
  const targetEnv = loadStack(opts.configDir, opts.stack);
  const target = appIn(targetEnv, 'release', opts.app);
  if (!target) {
    const apps = targetEnv.tiers.find((t) => t.name === 'release')?.apps.map((a) => a.app);
    throw new PromoteUsageError(
      apps ? `app '${opts.app}' is not in the release tier of stack '${opts.stack}' (its apps: ${apps.join(', ')})` : `stack '${opts.stack}' has no release tier to promote into`,
    );
  }
  const candidates = opts.fromStack ? [opts.fromStack] : listStacks(opts.configDir);
  const sources = candidates.map((s) => ({ stack: s, env: loadStack(opts.configDir, s) })).filter((c) => appIn(c.env, 'staging', opts.app));
  if (sources.length !== 1) {
    throw new PromoteUsageError(
      sources.length === 0
        ? `no stack${opts.fromStack ? ` named '${opts.fromStack}'` : ''} runs app '${opts.app}' in a staging tier`
        : `stacks ${sources.map((s) => s.stack).join(', ')} all run '${opts.app}' in staging; choose one with --from-stack`,
    );
  }
  const { env: sourceEnv } = sources[0]!;
  const staging = sourceEnv.tiers.find((t) => t.name === 'staging')!;
  const source = appIn(sourceEnv, 'staging', opts.app)!;
  const rel = `${staging.releasesFolder}/${opts.app}.yaml`;
  const file = path.join(opts.tree, rel);
  if (!fs.existsSync(file)) {
    throw new PromoteUsageError(`${file} does not exist: --tree must be a checkout of the GitOps repository's '${staging.branch}' branch (what the cluster runs)`);
  }
  const values = markerValues(fs.readFileSync(file, 'utf8'));
  const ref = `${source.namespace}:${source.policyName}`;
  const tag = values.get(`${ref}:tag`);
  if (!values.has(`${ref}:tag`)) throw new PromoteUsageError(`${rel} has no {"$imagepolicy": "${ref}:tag"} marker to promote from`);
  if (!tag) throw new PromotionRefusedError(`${rel}: staging runs no image of '${opts.app}' yet (its tag marker is empty until Flux selects a build)`);
  const digest = values.get(`${ref}:digest`) || undefined;
  return { source: { app: source, tag, digest, file: rel }, target: { app: target, tag: renderTag(target.tagScheme, { version: opts.version, time: 0, sha: '' }) } };
}

/** Where an app's image lives: its own registry (plain HTTP when the stack says insecure), or `registry` instead. */
function locate(app: AppTier, registry: string | undefined) {
  return { url: registry ?? appRegistryUrl(app), insecure: registry === undefined && app.registry.insecure, repository: app.repository };
}

/** What a promotion did, or would have done: the gates' verdicts and the record attached to the digest. */
export interface PromotionOutcome {
  readonly plan: PromotionPlan;
  /** promoted: copied now, with its record; already: the release tag pointed at the digest before (its record read back); refused: a gate failed, nothing written. */
  readonly status: 'promoted' | 'already' | 'refused';
  readonly digest: string;
  readonly result?: CopyResult;
  /** The verdicts of this run (promoted, refused), or of the recorded promotion (already). */
  readonly gates: readonly GateResult[];
  readonly overrides: readonly { readonly gate: string; readonly reason: string }[];
  /** The promotion record: pushed now, or read back. */
  readonly record?: { readonly digest: string; readonly via: string; readonly record: PromotionRecord };
  /** Other promotion records attached to the digest (older, or of other release tags). */
  readonly otherRecords: number;
}

/** A gate refused the promotion: exit 1, nothing was written. Carries every verdict. */
export class PromotionGateRefusal extends PromotionRefusedError {
  constructor(public readonly outcome: PromotionOutcome) {
    const failed = outcome.gates.filter((g) => g.verdict === 'fail');
    super(`refused: ${failed.map((g) => `gate ${g.gate}: ${g.reason}`).join('; ')}; nothing was written`);
  }
}

function actor(): string {
  const env = process.env;
  const ci = env.GITHUB_ACTOR ? `github:${env.GITHUB_ACTOR}` : env.BUILDKITE_BUILD_CREATOR_EMAIL ? `buildkite:${env.BUILDKITE_BUILD_CREATOR_EMAIL}` : undefined;
  if (ci) return ci;
  try {
    return `${os.userInfo().username}@${os.hostname()}`;
  } catch {
    return env.USER ?? 'unknown';
  }
}

function checkOverrides(opts: PromoteOptions): { gate: GateName; reason: string }[] {
  const names = opts.overrideGate ?? [];
  const reason = opts.reason?.trim() ?? '';
  if (names.length === 0) {
    if (opts.reason !== undefined) throw new PromoteUsageError('--reason is only for --override-gate (the reason a gate is overridden)');
    return [];
  }
  for (const n of names) {
    if (!(GATE_NAMES as readonly string[]).includes(n)) throw new PromoteUsageError(`--override-gate '${n}' is not a gate; gates are ${GATE_NAMES.join(', ')}`);
  }
  if (reason.length < 8) throw new PromoteUsageError('--override-gate needs --reason "<why>" (at least 8 characters): the override is recorded with it');
  if (reason.length > 1024 || /[\u0000-\u001f\u007f]/.test(reason)) throw new PromoteUsageError('--reason must be one line of at most 1,024 characters');
  return [...new Set(names)].map((gate) => ({ gate: gate as GateName, reason }));
}

/** The manifest under promotion and, for an index, its platform manifests, each verified against its digest. */
async function subjectOf(client: RegistryClient, repository: string, digest: string): Promise<GateSubject> {
  const m = await client.getManifest(repository, digest);
  if (!m) throw new PromotionRefusedError(`${client.baseUrl}/${repository}@${digest} does not exist in the registry`);
  const children: { digest: string; body: Buffer; mediaType: string }[] = [];
  if (m.mediaType === 'application/vnd.oci.image.index.v1+json' || m.mediaType === 'application/vnd.docker.distribution.manifest.list.v2+json') {
    const list = (JSON.parse(m.body.toString('utf8')) as { manifests?: { digest?: unknown }[] }).manifests ?? [];
    for (const d of list.slice(0, 256)) {
      if (typeof d?.digest !== 'string') continue;
      const c = await client.getManifest(repository, d.digest);
      if (!c) throw new RegistryError(`${client.baseUrl}/${repository}@${digest}: the index lists ${d.digest}, which the registry does not have`);
      children.push({ digest: c.digest, body: c.body, mediaType: c.mediaType });
    }
  }
  return { client, repository, digest: m.digest, mediaType: m.mediaType, manifest: m.body, children };
}

/**
 * Promotes the image staging runs to the release tag, by digest, through the release tier's gates. When
 * staging pins digests the marker's digest is copied (exactly what ran); otherwise the staging tag is
 * resolved now. Every gate is evaluated on that digest before anything is written; a failing gate (not
 * overridden) refuses with PromotionGateRefusal and nothing is written. A promotion writes the image, then
 * its promotion record (subject: the digest), then the release tag.
 */
export async function promote(opts: PromoteOptions): Promise<PromotionOutcome> {
  const overrides = checkOverrides(opts);
  const plan = planPromotion(opts);
  const client = registryClients({ insecure: opts.insecureRegistry, allowedRealms: opts.registryTokenRealm });
  const src = locate(plan.source.app, opts.registry);
  const dst = locate(plan.target.app, opts.registry);
  const source = { client: client(src.url, src.insecure), repository: src.repository };
  const target = { client: client(dst.url, dst.insecure), repository: dst.repository };
  if (plan.source.digest) {
    // The tag staging ran must still name the digest staging ran (ECR tags are immutable; other registries may not be).
    const now = await source.client.resolveDigest(source.repository, plan.source.tag);
    if (now && now !== plan.source.digest) {
      throw new PromotionRefusedError(`${plan.source.tag} now points at ${now}, but staging runs ${plan.source.digest}; refusing to guess which one was tested`);
    }
  }
  // Without a pinned digest, the tag is resolved to a digest first, and everything is then fetched by
  // digest and verified against it: the bytes promoted are the bytes that digest names.
  const digest = plan.source.digest ?? (await source.client.resolveDigest(source.repository, plan.source.tag));
  if (!digest) throw new PromotionRefusedError(`${src.url}/${src.repository}:${plan.source.tag} does not exist in the registry`);

  const current = await target.client.resolveDigest(target.repository, plan.target.tag);
  if (current === digest) {
    // Promoted before: the verdicts are the recorded ones (gates are not re-run on a release that exists).
    const records = await readPromotionRecords(target.client, target.repository, digest);
    const mine = records.find((r) => r.record.release.tag === plan.target.tag) ?? records[0];
    return { plan, status: 'already', digest, gates: mine?.record.gates ?? [], overrides: mine?.record.overrides ?? [], ...(mine ? { record: mine } : {}), otherRecords: records.length - (mine ? 1 : 0) };
  }
  if (current) {
    throw new PromotionRefusedError(`${dst.url}/${dst.repository}:${plan.target.tag} already points at ${current}, not at ${digest}; a release tag is never moved (promote another version)`);
  }

  const subject = await subjectOf(source.client, source.repository, digest);
  const evaluated = await evaluateGates(plan.target.app.promotion ?? {}, subject, {
    ecr: plan.source.app.ecr ? { host: { accountId: plan.source.app.ecr.accountId, region: plan.source.app.ecr.region }, repository: plan.source.app.repository } : undefined,
    soak: { tree: opts.tree, file: plan.source.file, keys: [`${plan.source.app.namespace}:${plan.source.app.policyName}:tag`, ...(plan.source.digest ? [`${plan.source.app.namespace}:${plan.source.app.policyName}:digest`] : [])] },
    now: Date.now(),
  });
  const overridden = new Set(overrides.map((o) => o.gate));
  const gates = evaluated.map((g) => (g.verdict === 'fail' && overridden.has(g.gate) ? { ...g, verdict: 'overridden' as const, reason: `${g.reason} (overridden: ${overrides[0]!.reason})` } : g));
  if (gates.some((g) => g.verdict === 'fail')) throw new PromotionGateRefusal({ plan, status: 'refused', digest, gates, overrides, otherRecords: 0 });

  const record: PromotionRecord = {
    apiVersion: 'tagflow.io/promotion/v1',
    subject: { digest, mediaType: subject.mediaType },
    release: { image: plan.target.app.image, tag: plan.target.tag, stack: opts.stack },
    source: { image: plan.source.app.image, tag: plan.source.tag, ...(plan.source.digest ? { digest: plan.source.digest } : {}), stack: plan.source.app.environment, tier: plan.source.app.tier, file: plan.source.file },
    promotedAt: new Date().toISOString(),
    by: actor(),
    gates,
    overrides,
  };
  let pushed: { digest: string; via: 'referrers-api' | 'tag-schema' } | undefined;
  const result = await copyImage(source, digest, target, plan.target.tag, {
    beforeTag: async () => {
      pushed = await pushPromotionRecord(target.client, target.repository, record, subject.manifest.length);
    },
  });
  return { plan, status: result.status === 'already' ? 'already' : 'promoted', digest, result, gates, overrides, ...(pushed ? { record: { ...pushed, record } } : {}), otherRecords: 0 };
}
