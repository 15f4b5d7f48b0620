/**
 * Which tier and app a file of the tree belongs to, by tagflow's layout: a tier's files are under
 * `environments/<env>/<tier>/` plus its entry point `clusters/<env>/tagflow-<tier>.yaml`; an app's are its
 * `images/<app>.yaml` and `releases/<app>.yaml` in each tier. `check`, `diff` and `synth --check` filter with it.
 */
const TIER_FILE = /^(?:environments\/[^/]+\/([^/]+)\/|clusters\/[^/]+\/tagflow-([^/]+)\.yaml$)/;
const APP_FILE = /^environments\/[^/]+\/[^/]+\/(?:images|releases)\/([^/]+)\.ya?ml$/;

/** The tier of a tree path (relative, `/`-separated), if it is a tier's file. */
export function tierOfPath(file: string): string | undefined {
  const t = TIER_FILE.exec(file);
  return t?.[1] ?? t?.[2];
}

/** The app of a tree path, if it is an app's image or release file. */
export function appOfPath(file: string): string | undefined {
  return APP_FILE.exec(file)?.[1];
}

/** True when a path belongs to one of `tiers` (if given) and one of `apps` (if given). */
export function inTiersAndApps(file: string, tiers?: readonly string[], apps?: readonly string[]): boolean {
  if (tiers?.length) {
    const tier = tierOfPath(file);
    if (!(tier && tiers.includes(tier))) return false;
  }
  if (apps?.length) {
    const app = appOfPath(file);
    if (!(app && apps.includes(app))) return false;
  }
  return true;
}
