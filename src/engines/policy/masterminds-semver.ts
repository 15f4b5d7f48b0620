import { RE2JS } from 're2js';
import { SemVer } from 'semver';
import { clip } from '../../limits';

/**
 * Masterminds/semver v3 (the library image-reflector-controller uses) on top of the npm `semver` package.
 *
 * npm `semver` parses and orders versions the way Masterminds does (strict MAJOR.MINOR.PATCH, one optional
 * leading `v`, pre-release identifiers compared numerically or in ASCII order, build metadata ignored), so
 * versions are npm SemVer objects. Constraints differ and are implemented here:
 *  - AND is a comma or a space, OR is `||`; hyphen ranges need spaces around `-`.
 *  - a comparator without operator means "=", and `1.2`/`1.2.x` as "=" behave like a tilde range;
 *  - `>1.2.x` means ">= 1.3.0", `<=1.2.x` means "< 1.3.0", `>11` means ">= 12.0.0";
 *  - pre-releases are admitted only when some comparator of the same AND group carries a pre-release,
 *    and then pre-releases of ANY version are admitted (npm limits that to the same [major, minor, patch]);
 *  - `~0.0.0`-style specials and caret rules for 0.x as in Masterminds' constraints.go.
 */

export class SemverRangeError extends Error {}

type Op = '=' | '!=' | '>' | '<' | '>=' | '<=' | '~' | '^';

interface Comparator {
  readonly op: Op;
  readonly con: SemVer;
  readonly dirty: boolean;
  readonly minorDirty: boolean;
  readonly patchDirty: boolean;
  readonly original: string;
}

export interface Constraint {
  readonly source: string;
  /** OR of AND groups. */
  readonly groups: readonly (readonly Comparator[])[];
  check(v: SemVer): boolean;
}

const STRICT_VERSION = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

/** Parses a tag as Flux's semver policy does; undefined when the tag is skipped. */
export function parseStrictVersion(tag: string): SemVer | undefined {
  if (!STRICT_VERSION.test(tag)) return undefined;
  return new SemVer(tag);
}

/** Masterminds Compare: -1, 0, 1 (build metadata ignored). */
export function compareVersions(a: SemVer, b: SemVer): number {
  return a.compare(b);
}

const CV = String.raw`v?([0-9|xX*]+)(\.[0-9|xX*]+)?(\.[0-9|xX*]+)?(-([0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*))?(\+([0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*))?`;
const OPS = String.raw`=>|=<|~>|>=|<=|!=|=|>|<|~|\^`;
/*
 * Masterminds compiles these with Go's regexp (RE2), which runs in time linear in the input. JavaScript's
 * backtracking RegExp does not: `VALID_GROUP` on `"1 "` repeated a few thousand times plus `!` never
 * finished. re2js is RE2 (leftmost-first, Go's `\s`), so both the semantics and the linear bound are Go's.
 */
const RANGE = RE2JS.compile(String.raw`\s*(${CV})\s+-\s+(${CV})\s*`);
/** The second version of a hyphen range: group 1 is the first version, then its 9 inner groups. */
const RANGE_SECOND = 11;
const VALID_GROUP = RE2JS.compile(String.raw`^(\s*(${OPS})?\s*(${CV})\s*,?)+$`);
const FIND = RE2JS.compile(String.raw`(${OPS})?\s*(${CV})`);
const ONE = RE2JS.compile(String.raw`^(${OPS})?\s*${CV}$`);

/** Every non-overlapping match of `re` in `input`, left to right (the patterns here never match ''). */
function* matches(re: RE2JS, input: string): Generator<{ start: number; end: number; group: (i: number) => string | undefined }> {
  const m = re.matcher(input);
  let from = 0;
  while (from <= input.length && m.find(from)) {
    const start = m.start();
    const end = m.end();
    yield { start, end, group: (i) => m.group(i) ?? undefined };
    from = end > start ? end : end + 1;
  }
}

/** Go's `FindStringSubmatch` for the anchored comparator pattern: groups, or undefined. */
function matchOne(text: string): (string | undefined)[] | undefined {
  const m = ONE.matcher(text);
  if (!m.find()) return undefined;
  return Array.from({ length: 11 }, (_, i) => m.group(i) ?? undefined);
}

const isX = (s: string | undefined) => s === 'x' || s === 'X' || s === '*';
const isNum = (s: string) => /^\d+$/.test(s);

function parseComparator(text: string): Comparator {
  const m = matchOne(text.trim());
  if (!m) throw new SemverRangeError(`improper constraint: ${clip(text)}`);
  const rawOp = m[1] ?? '';
  const major = m[2];
  const minor = m[3]?.slice(1);
  const patch = m[4]?.slice(1);
  const pre = m[6];
  const build = m[9];
  let dirty = false;
  let minorDirty = false;
  let patchDirty = false;
  let ver: string;
  const tail = (pre ? `-${pre}` : '') + (build ? `+${build}` : '');
  if (isX(major)) {
    ver = `0.0.0${tail}`;
    dirty = true;
  } else if (minor === undefined || isX(minor)) {
    minorDirty = true;
    dirty = true;
    ver = `${major}.0.0${tail}`;
  } else if (patch === undefined || isX(patch)) {
    dirty = true;
    patchDirty = true;
    ver = `${major}.${minor}.0${tail}`;
  } else {
    ver = `${major}.${minor}.${patch}${tail}`;
  }
  // Each numeric part must be a number (the character class also admits `1x`, `x1`, `|`).
  for (const p of [major, minor, patch]) {
    if (p !== undefined && !isX(p) && !isNum(p)) throw new SemverRangeError(`improper constraint: ${clip(text)}`);
  }
  let con: SemVer;
  try {
    con = new SemVer(ver, { loose: false });
  } catch {
    throw new SemverRangeError(`improper constraint: ${clip(text)}`);
  }
  const opMap: Record<string, Op> = {
    '': '=', '=': '=', '!=': '!=', '>': '>', '<': '<', '>=': '>=', '=>': '>=', '<=': '<=', '=<': '<=', '~': '~', '~>': '~', '^': '^',
  };
  return { op: opMap[rawOp], con, dirty, minorDirty, patchDirty, original: text.trim() };
}

function tilde(v: SemVer, c: Comparator): boolean {
  if (v.compare(c.con) < 0) return false;
  if (c.con.major === 0 && c.con.minor === 0 && c.con.patch === 0 && !c.minorDirty && !c.patchDirty) return true;
  if (v.major !== c.con.major) return false;
  if (v.minor !== c.con.minor && !c.minorDirty) return false;
  return true;
}

function caret(v: SemVer, c: Comparator): boolean {
  if (v.compare(c.con) < 0) return false;
  if (c.con.major > 0 || c.minorDirty) return v.major === c.con.major;
  if (c.con.major === 0 && v.major > 0) return false;
  if (c.con.minor > 0 || c.patchDirty) return v.minor === c.con.minor;
  if (c.con.minor === 0 && v.minor > 0) return false;
  return c.con.patch === v.patch;
}

function checkOne(v: SemVer, c: Comparator): boolean {
  switch (c.op) {
    case '=':
      if (c.dirty) return tilde(v, c);
      return v.compare(c.con) === 0;
    case '!=':
      if (c.dirty) {
        if (c.con.major !== v.major) return true;
        if (c.minorDirty) return false;
        if (c.con.minor !== v.minor) return true;
        if (c.patchDirty) return false;
      }
      return v.compare(c.con) !== 0;
    case '>':
      if (!c.dirty) return v.compare(c.con) > 0;
      if (v.major > c.con.major) return true;
      if (v.major < c.con.major) return false;
      if (c.minorDirty) return false;
      if (c.patchDirty) return v.minor > c.con.minor;
      return v.compare(c.con) > 0;
    case '<':
      return v.compare(c.con) < 0;
    case '>=':
      return v.compare(c.con) >= 0;
    case '<=':
      if (!c.dirty) return v.compare(c.con) <= 0;
      if (v.major > c.con.major) return false;
      if (v.major === c.con.major && v.minor > c.con.minor && !c.minorDirty) return false;
      return true;
    case '~':
      return tilde(v, c);
    case '^':
      return caret(v, c);
  }
}

/** Parses a Masterminds v3 constraint string; throws SemverRangeError as Flux's `InvalidPolicy`. */
export function parseConstraint(source: string): Constraint {
  if (source.trim() === '') throw new SemverRangeError('improper constraint: (empty)');
  // Hyphen ranges `a - b` become `>= a, <= b`, as Masterminds' rewriteRange does.
  let rewritten = '';
  let last = 0;
  for (const r of matches(RANGE, source)) {
    rewritten += `${source.slice(last, r.start)} >= ${r.group(1)}, <= ${r.group(RANGE_SECOND)} `;
    last = r.end;
  }
  rewritten += source.slice(last);
  const groups: Comparator[][] = [];
  for (const part of rewritten.split('||')) {
    if (!VALID_GROUP.matcher(part).find()) throw new SemverRangeError(`improper constraint: ${clip(part.trim() || source)}`);
    const all = [...matches(FIND, part)].map((f) => part.slice(f.start, f.end));
    const found = all.length ? all : [part];
    groups.push(found.map(parseComparator));
  }
  return {
    source,
    groups,
    check(v: SemVer): boolean {
      return groups.some((g) => {
        const admitsPre = g.some((c) => c.con.prerelease.length > 0);
        if (v.prerelease.length > 0 && !admitsPre) return false;
        return g.every((c) => checkOne(v, c));
      });
    },
  };
}

/** Returns the parse error for a range, or undefined when Masterminds accepts it. */
export function semverRangeError(range: string): string | undefined {
  try {
    parseConstraint(range);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}
