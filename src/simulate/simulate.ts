import { gitDiff } from './git-diff';
import type { AppTier, ResolvedEnvironment } from '../model/tiers';
import { evaluatePolicy, excludeTags, PolicyError } from '../engines/policy/evaluate';
import { applySettersToFiles, type LatestRef, type SetterChange } from '../engines/markers/setters';

/** A tag as a registry (or a tags file) lists it; the digest is known when the source could tell. */
export interface ListedTag {
  readonly tag: string;
  readonly digest?: string;
}

/** Where simulate gets an app's tags from: a tags file or a registry. */
export interface TagSource {
  /** Human name for messages, e.g. `tags.yaml` or `http://127.0.0.1:5000`. */
  readonly name: string;
  /** The tags of an app's repository; throws a user error when the source cannot answer. */
  tags(app: AppTier): Promise<readonly ListedTag[]>;
  /** The digest of a tag when `tags` did not give it (registries: HEAD on the manifest). */
  digest(app: AppTier, tag: string): Promise<string | undefined>;
}

/** What Flux would do for one app in one tier. */
export interface SimulatedSelection {
  readonly tier: string;
  readonly namespace: string;
  readonly app: string;
  readonly image: string;
  /** Tags the source listed. */
  readonly listed: number;
  /** Tags left after exclusion and filter, in byte order. */
  readonly candidates: readonly string[];
  /** The tag the ImagePolicy would select; absent when the policy would fail. */
  readonly latest?: string;
  readonly digest?: string;
  /** Why Flux would select nothing (the ImagePolicy would not be Ready). */
  readonly error?: string;
}

export interface SimulationResult {
  readonly selections: readonly SimulatedSelection[];
  /** Changed files of the tree: relative path → [before, after]. */
  readonly files: ReadonlyMap<string, readonly [string, string]>;
  readonly changes: readonly SetterChange[];
}

/**
 * Runs image-reflector-controller's selection and image-automation-controller's setters, as the
 * environment's Flux objects configure them, on a copy of the tree in memory: nothing is written.
 */
export async function simulate(environment: ResolvedEnvironment, tree: ReadonlyMap<string, string>, source: TagSource, onApp?: (what: string) => void): Promise<SimulationResult> {
  const total = environment.tiers.reduce((n, t) => n + t.apps.length, 0);
  let done = 0;
  const selections: SimulatedSelection[] = [];
  const files = new Map<string, readonly [string, string]>();
  const changes: SetterChange[] = [];
  const working = new Map(tree);
  for (const tier of environment.tiers) {
    const policies = new Map<string, LatestRef>();
    for (const app of tier.apps) {
      onApp?.(`listing tags: ${tier.name}/${app.app} (${++done}/${total})`);
      const sel = await selectTag(app, source);
      selections.push(sel);
      if (sel.latest && !sel.error) policies.set(app.policyName, { name: app.image, tag: sel.latest, digest: sel.digest });
    }
    const r = applySettersToFiles(working, tier.releasesFolder, { namespace: tier.namespace, policies });
    for (const [rel, after] of r.files) {
      files.set(rel, [files.get(rel)?.[0] ?? tree.get(rel)!, after]);
      working.set(rel, after);
    }
    changes.push(...r.changes);
  }
  return { selections, files, changes };
}

/** What image-reflector-controller would select for one app in one tier from the source's tags. */
export async function selectTag(app: AppTier, source: TagSource): Promise<SimulatedSelection> {
  const base = { tier: app.tier, namespace: app.namespace, app: app.app, image: app.image };
  const listed = await source.tags(app);
  try {
    const r = evaluatePolicy(
      listed.map((t) => t.tag),
      { exclusionList: app.exclusionList, filterTags: app.filterTags, policy: app.policy },
    );
    let digest: string | undefined;
    if (app.digestPinning) {
      digest = listed.find((t) => t.tag === r.latest)?.digest ?? (await source.digest(app, r.latest));
      if (!digest) {
        return {
          ...base,
          listed: listed.length,
          candidates: r.candidates,
          latest: r.latest,
          error: `tier '${app.tier}' pins digests and ${source.name} gives none for '${r.latest}'; Flux would write its digest too`,
        };
      }
    }
    return { ...base, listed: listed.length, candidates: r.candidates, latest: r.latest, digest };
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
    // Say which stage left nothing, then Flux's own words (what `kubectl describe imagepolicy` shows).
    const kept = listed.length ? excludeTags(listed.map((t) => t.tag), app.exclusionList).length : 0;
    const why =
      listed.length === 0
        ? 'the repository has no tags'
        : kept === 0
          ? `the exclusionList drops all ${listed.length} tags`
          : e.message === 'version list argument cannot be empty'
            ? `none of the ${kept} tags left after the exclusionList matches filterTags.pattern '${app.filterTags.pattern}'`
            : '';
    return { ...base, listed: listed.length, candidates: [], error: why ? `${why} (Flux: ${e.message})` : e.message };
  }
}

/** The patch of the changed files, byte for byte what `git diff` (and Flux's commit) shows. */
export function unifiedDiff(files: ReadonlyMap<string, readonly [string, string]>): string {
  return gitDiff(files);
}

/** The selections as an aligned table. */
export function formatSelections(selections: readonly SimulatedSelection[]): string {
  const rows = [
    ['TIER', 'APP', 'SELECTED', 'CANDIDATES', 'DIGEST / ERROR'],
    ...selections.map((s) => [s.tier, s.app, s.latest ?? '-', `${s.candidates.length}/${s.listed}`, s.error ?? s.digest ?? '']),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}
