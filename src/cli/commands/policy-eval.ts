import { LIMITS } from '../../limits';
import { evaluatePolicy, PolicyError, type PolicySpec } from '../../engines/policy/evaluate';

export interface PolicyEvalInput extends PolicySpec {
  readonly tags: readonly string[];
}

/** Checks the JSON shape; returns an error message or undefined. */
function shapeError(input: unknown): string | undefined {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return 'input must be a JSON object';
  const i = input as Record<string, unknown>;
  if (!Array.isArray(i.tags) || i.tags.some((t) => typeof t !== 'string')) return 'tags must be an array of strings';
  if (i.tags.length > LIMITS.tagsPerRepository) return `tags has ${i.tags.length} entries; at most ${LIMITS.tagsPerRepository} (the tags of one repository)`;
  const long = (i.tags as string[]).findIndex((t) => t.length > LIMITS.tagLength);
  if (long >= 0) return `tags[${long}] is ${(i.tags[long] as string).length} characters; an OCI tag has at most ${LIMITS.tagLength}`;
  if (i.exclusionList !== undefined && (!Array.isArray(i.exclusionList) || i.exclusionList.some((t) => typeof t !== 'string'))) {
    return 'exclusionList must be an array of strings';
  }
  if (i.filterTags !== undefined && (typeof i.filterTags !== 'object' || i.filterTags === null)) return 'filterTags must be an object';
  const p = i.policy as Record<string, unknown> | undefined;
  if (typeof p !== 'object' || p === null) return 'policy must be an object with one of semver, numerical, alphabetical';
  if (p.semver !== undefined && typeof (p.semver as { range?: unknown })?.range !== 'string') return 'policy.semver.range must be a string';
  return undefined;
}

/**
 * `tagflow policy eval`: JSON in (stdin), JSON out (stdout). Exit 0 with {latest, candidates}, or exit 1
 * with {error} where Flux would fail; exit 2 when the input is not the documented shape.
 */
export function runPolicyEval(stdin: string, log: (s: string) => void): number {
  let input: unknown;
  try {
    input = JSON.parse(stdin);
  } catch (e) {
    log(JSON.stringify({ error: `input is not JSON: ${(e as Error).message}` }));
    return 2;
  }
  const bad = shapeError(input);
  if (bad) {
    log(JSON.stringify({ error: bad }));
    return 2;
  }
  const i = input as PolicyEvalInput;
  try {
    const r = evaluatePolicy(i.tags, i);
    log(JSON.stringify({ latest: r.latest, candidates: r.candidates }));
    return 0;
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
    log(JSON.stringify({ error: e.message }));
    return 1;
  }
}
