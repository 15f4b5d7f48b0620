import { RE2JS } from 're2js';
import { LIMITS } from '../../limits';

/**
 * Go `regexp` (RE2) semantics for Flux's `filterTags.pattern`, `exclusionList` and `extract`.
 *
 * JavaScript's RegExp differs from Go in ways that matter here: `(?P<name>...)` is a syntax error in JS,
 * lookarounds and backreferences are accepted by JS but rejected by Go, and `String.replace` expands
 * templates differently. re2js is a port of RE2/J, so compiling with it accepts exactly what Go accepts.
 */
export interface GoRegex {
  readonly source: string;
  /** Unanchored search, as Go's `MatchString`. */
  test(input: string): boolean;
  /** Group values of the leftmost-first match (index 0 = whole match), or undefined when there is none. */
  exec(input: string): GoMatch | undefined;
  /** Names of the named capture groups, in group order. */
  readonly groupNames: readonly string[];
  readonly groupCount: number;
}

export interface GoMatch {
  /** `groups[i]` is the text of group i, or undefined when the group did not take part in the match. */
  readonly groups: readonly (string | undefined)[];
  /** Group index of each named group. */
  readonly names: Readonly<Record<string, number>>;
}

export class GoRegexError extends Error {}

const cache = new Map<string, GoRegex>();

/** Compiles a pattern with Go RE2 syntax; throws GoRegexError with Go's message when Go would reject it. */
export function compileGoRegex(pattern: string): GoRegex {
  const hit = cache.get(pattern);
  if (hit) return hit;
  if (pattern.length > LIMITS.regexLength) {
    throw new GoRegexError(`the pattern is ${pattern.length} characters; tagflow compiles patterns of at most ${LIMITS.regexLength}`);
  }
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (e) {
    throw new GoRegexError((e as Error).message);
  }
  const named = re.namedGroups() as Record<string, number>;
  const names: Record<string, number> = {};
  for (const [k, v] of Object.entries(named)) names[k] = v;
  const groupCount = re.groupCount();
  const compiled: GoRegex = {
    source: pattern,
    groupCount,
    groupNames: Object.keys(names).sort((a, b) => names[a] - names[b]),
    test: (input) => re.matcher(input).find(),
    exec: (input) => {
      const m = re.matcher(input);
      if (!m.find()) return undefined;
      const groups: (string | undefined)[] = [];
      for (let i = 0; i <= groupCount; i++) {
        const g = m.group(i);
        groups.push(g === null || g === undefined ? undefined : g);
      }
      return { groups, names };
    },
  };
  if (cache.size > 10_000) cache.clear();
  cache.set(pattern, compiled);
  return compiled;
}

/** Returns Go's error message for a pattern, or undefined when it compiles. */
export function goRegexError(pattern: string): string | undefined {
  try {
    compileGoRegex(pattern);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

const NAME_CHAR = /[\p{L}\p{Nd}_]/u;

interface TemplateRef {
  readonly name: string;
  /** Group number when the name is a decimal number without leading zeros, else -1. */
  readonly num: number;
  readonly rest: string;
}

/** Port of Go's regexp `extract`: parses `name` or `{name}` after a `$`. */
function extractRef(str: string): TemplateRef | undefined {
  if (str === '') return undefined;
  let brace = false;
  let s = str;
  if (s[0] === '{') {
    brace = true;
    s = s.slice(1);
  }
  let i = 0;
  for (const ch of s) {
    if (!NAME_CHAR.test(ch)) break;
    i += ch.length;
  }
  if (i === 0) return undefined;
  const name = s.slice(0, i);
  if (brace) {
    if (i >= s.length || s[i] !== '}') return undefined;
    i++;
  }
  let num = 0;
  for (let j = 0; j < name.length; j++) {
    const c = name.charCodeAt(j);
    if (c < 48 || c > 57 || num >= 1e8) {
      num = -1;
      break;
    }
    num = num * 10 + (c - 48);
  }
  if (name[0] === '0' && name.length > 1) num = -1;
  return { name, num, rest: s.slice(i) };
}

/** The group references (`$name`, `${name}`, `$1`) a template uses, as Go parses them. */
export function templateRefs(template: string): { name: string; num: number }[] {
  const refs: { name: string; num: number }[] = [];
  let t = template;
  for (;;) {
    const at = t.indexOf('$');
    if (at < 0) break;
    t = t.slice(at + 1);
    if (t[0] === '$') {
      t = t.slice(1);
      continue;
    }
    const ref = extractRef(t);
    if (!ref) continue;
    refs.push({ name: ref.name, num: ref.num });
    t = ref.rest;
  }
  return refs;
}

/**
 * Go's `Regexp.ExpandString`: builds the result from the template alone (not the input with the match
 * replaced). Unknown or unmatched groups expand to '', `$$` is a literal `$`, a malformed `$` is kept.
 */
export function expandGoTemplate(template: string, match: GoMatch): string {
  let out = '';
  let t = template;
  for (;;) {
    const at = t.indexOf('$');
    if (at < 0) break;
    out += t.slice(0, at);
    t = t.slice(at + 1);
    if (t[0] === '$') {
      out += '$';
      t = t.slice(1);
      continue;
    }
    const ref = extractRef(t);
    if (!ref) {
      out += '$';
      continue;
    }
    t = ref.rest;
    if (ref.num >= 0) {
      out += match.groups[ref.num] ?? '';
    } else {
      const idx = match.names[ref.name];
      if (idx !== undefined) out += match.groups[idx] ?? '';
    }
  }
  return out + t;
}
