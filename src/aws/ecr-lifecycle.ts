import type { Tier } from '../model/tiers';

/**
 * ECR lifecycle policy of one repository, from the tiers that deploy it: for each tier that keeps a
 * bounded history (dev, staging), expire images of that tier's tag prefix beyond the newest N. A tier's
 * policy selects the newest build of its scheme, which is always among the newest N pushed, so no rule
 * can expire a tag a policy could still select. Release tags match no rule and are never expired, and
 * untagged images are left alone (they may be the platform images of a multi-arch index).
 */
export interface LifecycleRule {
  readonly rulePriority: number;
  readonly description: string;
  readonly selection: {
    readonly tagStatus: 'tagged';
    readonly tagPrefixList: string[];
    readonly countType: 'imageCountMoreThan';
    readonly countNumber: number;
  };
  readonly action: { readonly type: 'expire' };
}

/** The literal prefix of a tag scheme (up to its first placeholder), e.g. `branch-dev-`. */
export function schemePrefix(scheme: string): string {
  const i = scheme.indexOf('{');
  return i < 0 ? scheme : scheme.slice(0, i);
}

/** Lifecycle rules for a repository used by these tiers; undefined when no rule applies. */
export function lifecyclePolicy(tiers: readonly Pick<Tier, 'name' | 'keepImages' | 'tagScheme'>[]): { rules: LifecycleRule[] } | undefined {
  const rules: LifecycleRule[] = [];
  const prefixes = tiers.filter((t) => t.keepImages > 0).map((t) => ({ t, prefix: schemePrefix(t.tagScheme) }));
  for (const { t, prefix } of prefixes) {
    // A prefix that is empty, or that another tier's prefix starts with, would expire that tier's tags too.
    if (prefix.length < 3 || tiers.some((o) => o !== t && schemePrefix(o.tagScheme).startsWith(prefix))) continue;
    rules.push({
      rulePriority: rules.length + 1,
      description: `tier ${t.name}: keep the newest ${t.keepImages} ${prefix}* images`,
      selection: { tagStatus: 'tagged', tagPrefixList: [prefix], countType: 'imageCountMoreThan', countNumber: t.keepImages },
      action: { type: 'expire' },
    });
  }
  return rules.length ? { rules } : undefined;
}
