import { compileGoRegex, expandGoTemplate, GoRegexError } from './go-regex';
import { goParseFloat, ParseFloatError } from './go-parse-float';
import { parseConstraint, parseStrictVersion, SemverRangeError } from './masterminds-semver';

/**
 * image-reflector-controller's tag selection, field for field: ImageRepository `exclusionList`, then
 * ImagePolicy `filterTags` (pattern + extract), then the policy (semver, alphabetical or numerical).
 * The field shapes are those of the Flux specs, so a spec can be passed through unchanged.
 */
export interface PolicySpec {
  /** Go regexes; absent means Flux's default `["^.*\\.sig$"]`, a list (even empty) replaces it. */
  readonly exclusionList?: readonly string[];
  readonly filterTags?: { readonly pattern?: string; readonly extract?: string };
  readonly policy: {
    readonly semver?: { readonly range: string };
    readonly alphabetical?: { readonly order?: string };
    readonly numerical?: { readonly order?: string };
  };
}

export interface PolicyResult {
  /** The original tag Flux would select. */
  readonly latest: string;
  /** Tags left after exclusion and filter, in byte order. */
  readonly candidates: readonly string[];
}

/** Where Flux would fail: the policy is Stalled or not Ready, and nothing is selected. */
export class PolicyError extends Error {}

export const DEFAULT_EXCLUSION_LIST = ['^.*\\.sig$'] as const;

const byteCompare = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

function compile(pattern: string, field: string) {
  try {
    return compileGoRegex(pattern);
  } catch (e) {
    if (e instanceof GoRegexError) throw new PolicyError(`invalid regular expression in ${field} '${pattern}': ${e.message}`);
    throw e;
  }
}

/** Tags after the ImageRepository exclusion list, in the order Flux stores them (descending bytes). */
export function excludeTags(tags: readonly string[], exclusionList?: readonly string[]): string[] {
  const res = (exclusionList ?? DEFAULT_EXCLUSION_LIST).map((p, i) => compile(p, `exclusionList[${i}]`));
  const kept = [...new Set(tags)].filter((t) => !res.some((r) => r.test(t)));
  return kept.sort((a, b) => byteCompare(b, a));
}

/** Candidate values (extracted) mapped to their original tags, in list order. */
export function filterTags(
  tags: readonly string[],
  filter?: PolicySpec['filterTags'],
): { values: string[]; original: Map<string, string>; matched: string[] } {
  const original = new Map<string, string>();
  const values: string[] = [];
  const matched: string[] = [];
  const pattern = filter?.pattern ?? '';
  const re = pattern ? compile(pattern, 'filterTags.pattern') : undefined;
  for (const tag of tags) {
    let value = tag;
    if (re) {
      const m = re.exec(tag);
      if (!m) continue;
      if (filter?.extract) value = expandGoTemplate(filter.extract, m);
    }
    matched.push(tag);
    if (!original.has(value)) values.push(value);
    original.set(value, tag); // a later tag with the same value supplies the original
  }
  return { values, original, matched };
}

function order(o: string | undefined, kind: string): 'asc' | 'desc' {
  const v = o ?? 'asc';
  if (v !== 'asc' && v !== 'desc') throw new PolicyError(`invalid ${kind} order '${v}': must be asc or desc`);
  return v;
}

/** Throws PolicyError for a policy Flux marks Stalled (InvalidPolicy) before it looks at any tag. */
export function validatePolicy(policy: PolicySpec['policy']): void {
  if (policy.semver) {
    try {
      parseConstraint(policy.semver.range);
    } catch (e) {
      if (e instanceof SemverRangeError) throw new PolicyError(`semver parse error: ${e.message}`);
      throw e;
    }
  } else if (policy.alphabetical) order(policy.alphabetical.order, 'alphabetical');
  else if (policy.numerical) order(policy.numerical.order, 'numerical');
  else throw new PolicyError('no policy: set one of semver, alphabetical or numerical');
}

/** Latest of the candidate values under the policy, exactly as Flux's policers compute it. */
export function selectLatest(values: readonly string[], policy: PolicySpec['policy']): string {
  validatePolicy(policy);
  if (values.length === 0) throw new PolicyError('version list argument cannot be empty');
  if (policy.semver) {
    const constraint = parseConstraint(policy.semver.range);
    let best: { v: ReturnType<typeof parseStrictVersion>; s: string } | undefined;
    for (const s of values) {
      const v = parseStrictVersion(s);
      if (v && constraint.check(v) && (!best || v.compare(best.v!) > 0)) best = { v, s };
    }
    if (!best) throw new PolicyError('unable to determine latest version from provided list');
    return best.s;
  }
  if (policy.alphabetical) {
    const o = order(policy.alphabetical.order, 'alphabetical');
    const sorted = [...values].sort(byteCompare);
    return o === 'asc' ? sorted[sorted.length - 1] : sorted[0];
  }
  if (policy.numerical) {
    const o = order(policy.numerical.order, 'numerical');
    let latest = '';
    let pv = 0;
    values.forEach((s, i) => {
      let cv: number;
      try {
        cv = goParseFloat(s);
      } catch (e) {
        if (e instanceof ParseFloatError) throw new PolicyError(`failed to parse invalid numeric value '${s}'`);
        throw e;
      }
      if (i > 0 && ((o === 'asc' && cv < pv) || (o === 'desc' && cv > pv))) return;
      latest = s;
      pv = cv;
    });
    return latest;
  }
  throw new PolicyError('no policy: set one of semver, alphabetical or numerical');
}

/** The whole pipeline for one ImageRepository and ImagePolicy; throws PolicyError where Flux fails. */
export function evaluatePolicy(tags: readonly string[], spec: PolicySpec): PolicyResult {
  validatePolicy(spec.policy);
  const kept = excludeTags(tags, spec.exclusionList);
  const { values, original, matched } = filterTags(kept, spec.filterTags);
  const latest = selectLatest(values, spec.policy);
  return { latest: original.get(latest)!, candidates: matched.sort(byteCompare) };
}
