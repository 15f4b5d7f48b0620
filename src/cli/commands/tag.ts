import { loadStack, listStacks } from '../../model/load';
import { renderTag } from '../../model/tag-scheme';
import { TIER_NAMES, type TierName } from '../../model/environment';
import { TIER_PRESETS } from '../../model/tiers';
import { compileGoRegex } from '../../engines/policy/go-regex';
import { UsageError } from '../errors';

export interface TagCommandOptions {
  readonly tier: string;
  readonly sha?: string;
  readonly time?: string;
  readonly version?: string;
  readonly stack?: string;
  readonly app?: string;
  readonly configDir: string;
  readonly json?: boolean;
}

/**
 * Prints the tag CI should push for a tier. With --stack (and --app), the stack's overrides apply; the
 * tag is checked against the tier's filterTags pattern before it is printed, so CI and Flux cannot drift.
 */
export function runTag(opts: TagCommandOptions, log: (s: string) => void): number {
  if (!(TIER_NAMES as readonly string[]).includes(opts.tier)) {
    throw new UsageError(`--tier '${opts.tier}' is not a tier (tiers: ${TIER_NAMES.join(', ')})`);
  }
  const tierName = opts.tier as TierName;
  let scheme = TIER_PRESETS[tierName].tagScheme;
  let pattern = TIER_PRESETS[tierName].filterTags.pattern;
  const stack = opts.stack ?? (opts.app ? listStacks(opts.configDir).find((s) => loadStack(opts.configDir, s).tiers.some((t) => t.name === tierName)) : undefined);
  if (stack) {
    const tier = loadStack(opts.configDir, stack).tiers.find((t) => t.name === tierName);
    if (!tier) throw new UsageError(`stack '${stack}' has no tier '${tierName}'`);
    const appTier = opts.app ? tier.apps.find((a) => a.app === opts.app) : tier.apps[0];
    if (!appTier) throw new UsageError(`stack '${stack}' has no app '${opts.app}' in tier '${tierName}'`);
    scheme = appTier.tagScheme;
    pattern = appTier.filterTags.pattern;
  }
  const time = opts.time ?? (scheme.includes('{time}') ? String(Math.floor(Date.now() / 1000)) : undefined);
  let tag: string;
  try {
    tag = renderTag(scheme, { sha: opts.sha, time, version: opts.version });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (!compileGoRegex(pattern).test(tag)) {
    throw new UsageError(`tag '${tag}' is not matched by the tier's filterTags.pattern '${pattern}'`);
  }
  if (tag.length > 128) throw new UsageError(`tag '${tag}' is longer than the 128 characters a registry accepts`);
  log(opts.json ? JSON.stringify({ tag }, null, 2) : tag);
  return 0;
}
