import type { ResolvedEnvironment } from '../model/tiers';
import { UsageError } from './errors';

/**
 * `--tier` / `--app`: the environment narrowed to those tiers and apps; a name the stack does not have is
 * a usage error that lists what it has (typos never silently select nothing).
 */
export function filterEnvironment(env: ResolvedEnvironment, tiers?: readonly string[], apps?: readonly string[]): ResolvedEnvironment {
  const tierNames = env.tiers.map((t) => t.name as string);
  const appNames = [...new Set(env.tiers.flatMap((t) => t.apps.map((a) => a.app)))];
  const unknownTier = tiers?.find((t) => !tierNames.includes(t));
  if (unknownTier) throw new UsageError(`--tier '${unknownTier}': environment '${env.name}' has tiers ${tierNames.join(', ')}`);
  const unknownApp = apps?.find((a) => !appNames.includes(a));
  if (unknownApp) throw new UsageError(`--app '${unknownApp}': environment '${env.name}' has apps ${appNames.join(', ')}`);
  return {
    ...env,
    tiers: env.tiers
      .filter((t) => !tiers?.length || tiers.includes(t.name))
      .map((t) => ({ ...t, apps: t.apps.filter((a) => !apps?.length || apps.includes(a.app)) })),
  };
}
