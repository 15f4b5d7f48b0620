import * as fs from 'node:fs';
import * as path from 'node:path';
import { valid as validSemver } from 'semver';
import { listStacks, loadStack } from '../model/load';
import type { AppTier, ResolvedEnvironment } from '../model/tiers';
import { renderTag } from '../model/tag-scheme';
import { markerValues } from '../engines/markers/marker';
import { appRegistryUrl, registryClients } from '../registry/clients';
import { copyImage, PromotionRefusedError, type CopyResult } from './copy-image';

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

/**
 * Promotes the image staging runs to the release tag, by digest. When staging pins digests the marker's
 * digest is copied (exactly what ran); otherwise the staging tag is resolved now.
 */
export async function promote(opts: PromoteOptions): Promise<{ plan: PromotionPlan; result: CopyResult }> {
  const plan = planPromotion(opts);
  const client = registryClients({ insecure: opts.insecureRegistry, allowedRealms: opts.registryTokenRealm });
  const src = locate(plan.source.app, opts.registry);
  const dst = locate(plan.target.app, opts.registry);
  const source = { client: client(src.url, src.insecure), repository: src.repository };
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
  const result = await copyImage(source, digest, { client: client(dst.url, dst.insecure), repository: dst.repository }, plan.target.tag);
  return { plan, result };
}
