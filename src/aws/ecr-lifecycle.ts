import { ConfigError, type ConfigIssue } from '../model/errors';
import { TIER_NAMES, type TierName } from '../model/environment';
import { renderTag } from '../model/tag-scheme';
import { TIER_PRESETS, type AppTier, type Tier } from '../model/tiers';

/**
 * The ECR lifecycle policy of one repository, designed from ECR's documented evaluation rules
 * (https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html, "Lifecycle policy
 * evaluation rules", and lifecycle_policy_parameters.html):
 *
 * - a rule matches an image when each of its `tagPatternList` patterns matches at least one of the image's
 *   tags (any tag counts: a promoted image carries its dev, staging and release tags at once);
 * - "An image that matches the tagging requirements of a higher priority rule cannot be expired by a rule
 *   with a lower priority", and "an image is expired by exactly one or zero rules";
 * - a count rule sorts the images it matches by push time (the first push of the digest: adding a tag does
 *   not change it) and expires those beyond `countNumber`, oldest first.
 *
 * So, in priority order:
 *  1. one "keep" rule per tag pattern that must never be expired, with a count no repository reaches: the
 *     release scheme (always, for stacks that read this repository), every scheme a tier could select from
 *     at any time (semver, alphabetical, descending or unbounded tiers), `ecr.keepTags`, and every
 *     `initialTag` the GitOps tree may pin. An image carrying any such tag matches a keep rule first, so no
 *     later rule can expire it.
 *  2. one count rule per bounded tier scheme (numerical ascending on {time}, `keepImages` > 0), staging
 *     before dev (and any pattern that another matches after it), so an image promoted to staging is never
 *     expired by the dev rule, whatever the order of pushes;
 *  3. untagged images (superseded cache manifests) expire `UNTAGGED_DAYS` after their push.
 *
 * Tags of no rule (the cache tag, signatures) are never expired.
 */
export interface LifecycleRule {
  readonly rulePriority: number;
  readonly description: string;
  readonly selection:
    | { readonly tagStatus: 'tagged'; readonly tagPatternList: string[]; readonly countType: 'imageCountMoreThan'; readonly countNumber: number }
    | { readonly tagStatus: 'untagged'; readonly countType: 'sinceImagePushed'; readonly countUnit: 'days'; readonly countNumber: number };
  readonly action: { readonly type: 'expire' };
}

export interface LifecyclePolicy {
  readonly rules: LifecycleRule[];
}

/** Count of the keep rules: more images than this carrying one protected pattern would start to expire. */
export const KEEP_COUNT = 10000;
/** Untagged images (superseded cache manifests, re-pushed tags) expire this many days after their push. */
export const UNTAGGED_DAYS = 7;
/** ECR's limit of `*` per tag pattern. */
const MAX_WILDCARDS = 4;

/** The ECR tag pattern of a tag scheme: each placeholder becomes `*`, e.g. `branch-dev-*-*`. */
export function schemePattern(scheme: string): string {
  return scheme.replace(/\{[a-z]+\}/g, '*').replace(/\*+/g, '*');
}

/** ECR's wildcard match: `*` is any run of characters (also none), everything else literal, whole tag. */
export function tagPatternMatches(pattern: string, tag: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(tag);
}

/** The literal prefix of a tag scheme (up to its first placeholder), e.g. `branch-dev-`. */
export function schemePrefix(scheme: string): string {
  const i = scheme.indexOf('{');
  return i < 0 ? scheme : scheme.slice(0, i);
}

/** A tier whose policy always picks the newest {time} and keeps a bounded history: only it may expire tags. */
export function isBounded(appTier: Pick<AppTier, 'policy' | 'tagScheme'>, keepImages: number): boolean {
  return keepImages > 0 && 'numerical' in appTier.policy && appTier.policy.numerical.order === 'asc' && appTier.tagScheme.includes('{time}');
}

type RepoTier = Pick<Tier, 'name' | 'keepImages'> & { readonly apps: readonly Pick<AppTier, 'app' | 'tagScheme' | 'policy' | 'initialTag' | 'repository' | 'ecr'>[] };

/** Sample tags of a scheme, to decide which patterns can match which scheme's tags. */
const samples = (scheme: string) =>
  [
    { time: 1700000000, sha: 'a1b2c3d', version: '1.2.3' },
    { time: 9, sha: '0123456789abcdef0123456789abcdef01234567', version: '10.20.30' },
  ].map((i) => renderTag(scheme, i));

/**
 * Lifecycle rules for `repository`, from every tier that deploys it; undefined when nothing may expire.
 * Throws ConfigError when two bounded schemes cannot be told apart by ECR tag patterns.
 */
export function lifecyclePolicy(repository: string, tiers: readonly RepoTier[], file = 'stack'): LifecyclePolicy | undefined {
  const keep = new Map<string, string>(); // pattern -> why
  const bounded = new Map<string, { keepImages: number; tiers: Set<TierName>; schemes: Set<string>; where: (string | number)[] }>();
  keep.set(schemePattern(TIER_PRESETS.release.tagScheme), 'release images (also of stacks that read this repository)');
  const tierOrder = (t: TierName) => TIER_NAMES.indexOf(t);
  for (const tier of [...tiers].sort((a, b) => tierOrder(b.name) - tierOrder(a.name))) {
    for (const a of tier.apps.filter((x) => x.repository === repository)) {
      const pattern = schemePattern(a.tagScheme);
      if ((pattern.match(/\*/g) ?? []).length > MAX_WILDCARDS) {
        throw new ConfigError(file, [{ path: ['tiers', tier.name, 'tagScheme'], value: a.tagScheme, message: `of app '${a.app}' becomes the ECR tag pattern '${pattern}', which has more than ${MAX_WILDCARDS} wildcards` }]);
      }
      if (isBounded(a, tier.keepImages)) {
        const b = bounded.get(pattern) ?? { keepImages: 0, tiers: new Set(), schemes: new Set(), where: ['tiers', tier.name, 'tagScheme'] };
        b.keepImages = Math.max(b.keepImages, tier.keepImages);
        b.tiers.add(tier.name);
        b.schemes.add(a.tagScheme);
        bounded.set(pattern, b);
      } else if (!keep.has(pattern)) {
        keep.set(pattern, `tier ${tier.name} may select any of these tags`);
      }
      if (a.initialTag && !keep.has(a.initialTag)) keep.set(a.initialTag, `initialTag of ${a.app} in tier ${tier.name} (pinned in the GitOps tree)`);
      for (const p of a.ecr?.keepTags ?? []) if (!keep.has(p)) keep.set(p, 'ecr.keepTags');
    }
  }
  const issues: ConfigIssue[] = [];
  for (const [pattern, b] of bounded) {
    if (b.tiers.size > 1) {
      issues.push({ path: b.where, value: [...b.schemes][0], message: `gives the ECR tag pattern '${pattern}' to tiers ${[...b.tiers].join(' and ')}: the lifecycle could not keep each tier's newest images apart; give the tiers distinct literal parts` });
    }
  }
  // A bounded rule must come after any bounded rule whose pattern matches its tags: that rule would count
  // (and expire) them otherwise. Start from staging-before-dev; move a rule up until nothing above it matches it.
  const order = [...bounded.keys()];
  const matchesTagsOf = (p: string, q: string) => [...bounded.get(q)!.schemes].some((s) => samples(s).some((t) => tagPatternMatches(p, t)));
  const sorted: string[] = [];
  const pending = new Set(order);
  while (pending.size) {
    const next = order.find((q) => pending.has(q) && ![...pending].some((p) => p !== q && matchesTagsOf(q, p)));
    if (!next) {
      const [q] = pending;
      issues.push({ path: bounded.get(q)!.where, value: [...bounded.get(q)!.schemes][0], message: `has tags that another tier's ECR pattern also matches, and the other way round: give each tier a distinct literal prefix` });
      break;
    }
    sorted.push(next);
    pending.delete(next);
  }
  if (issues.length) throw new ConfigError(file, issues);

  const rules: LifecycleRule[] = [];
  const push = (description: string, selection: LifecycleRule['selection']) =>
    rules.push({ rulePriority: rules.length + 1, description: description.slice(0, 256), selection, action: { type: 'expire' } });
  for (const [pattern, why] of keep) {
    push(`keep ${pattern}: ${why}`, { tagStatus: 'tagged', tagPatternList: [pattern], countType: 'imageCountMoreThan', countNumber: KEEP_COUNT });
  }
  for (const pattern of sorted) {
    const b = bounded.get(pattern)!;
    push(`tier ${[...b.tiers].join(', ')}: keep the newest ${b.keepImages} ${pattern} images`, { tagStatus: 'tagged', tagPatternList: [pattern], countType: 'imageCountMoreThan', countNumber: b.keepImages });
  }
  push(`untagged images (superseded cache manifests) ${UNTAGGED_DAYS} days after their push`, { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: UNTAGGED_DAYS });
  return { rules };
}
