import * as semver from 'semver';
import { evaluatePolicy, filterTags, selectLatest, PolicyError } from '../src/engines/policy/evaluate';
import { goParseFloat } from '../src/engines/policy/go-parse-float';
import { compileGoRegex, expandGoTemplate, goRegexError } from '../src/engines/policy/go-regex';
import { parseConstraint, parseStrictVersion, semverRangeError } from '../src/engines/policy/masterminds-semver';
import { main } from '../src/cli/main';

const latest = (versions: string[], policy: Parameters<typeof selectLatest>[1]) => selectLatest(versions, policy);
const satisfies = (v: string, range: string) => parseConstraint(range).check(parseStrictVersion(v)!);

describe('Flux policy test cases (image-reflector-controller internal/policy)', () => {
  test.each([
    [['1.0.0', '1.0.0.1', '1.0.0p', '1.0.1', '1.2.0', '0.1.0'], '1.0.x', '1.0.1'],
    [['v1.2.3', 'v1.0.0', 'v0.1.0'], '1.0.x', 'v1.0.0'],
    [['1.2.0-1', '1.2.0-2', '1.2.0', '1.3.0-1'], '1.2.x', '1.2.0'],
    [['1.2.0-1', '1.2.0-2', '1.2.0-10'], '>=1.2.0-0', '1.2.0-10'],
  ])('semver %j in %s -> %s', (versions, range, expected) => {
    expect(latest(versions, { semver: { range } })).toBe(expected);
  });

  test.each([
    [['b1.2.3', 'b1.0.0', 'b0.1.0'], '1.0.x'],
    [[], '1.0.x'],
    [['1.2.0'], '1.0.x'],
  ])('semver %j in %s fails', (versions, range) => {
    expect(() => latest(versions, { semver: { range } })).toThrow(PolicyError);
  });

  test.each(['1.0.0p', '1x', 'x1', '-1', 'a', '', '*-*'])('invalid range %j is rejected', (range) => {
    expect(semverRangeError(range)).toBeDefined();
    expect(() => evaluatePolicy(['1.0.0'], { policy: { semver: { range } } })).toThrow(/semver parse error/);
  });

  test.each([
    [['-62', '-88', '73', '72', '15', '16', '15', '29', '-33', '-91'], '73', '-91'],
    [['5.4', '8.4', '0.1', '8.3', '3.5', '9.6', '1.1', '0.8', '6.1', '3.3'], '9.6', '0.1'],
    [['1606234201', '1606364286', '1606334092', '1606334284', '1606334201'], '1606364286', '1606234201'],
  ])('numerical %j -> asc %s, desc %s', (versions, asc, desc) => {
    expect(latest(versions, { numerical: { order: 'asc' } })).toBe(asc);
    expect(latest(versions, { numerical: { order: 'desc' } })).toBe(desc);
  });

  test('numerical fails on one unparsable candidate and on an empty list', () => {
    expect(() => latest(['0', '1a', 'b'], { numerical: {} })).toThrow(/failed to parse invalid numeric value '1a'/);
    expect(() => latest([], { numerical: {} })).toThrow(/cannot be empty/);
  });

  test.each([
    [['16.04', '16.04.1', '16.10', '20.04', '20.10'], '20.10', '16.04'],
    [['xenial', 'yakkety', 'zesty', 'artful', 'bionic'], 'zesty', 'artful'],
    [['1606234201', '1606364286', '1606334092', '1606334284', '1606334201'], '1606364286', '1606234201'],
  ])('alphabetical %j -> asc %s, desc %s', (versions, asc, desc) => {
    expect(latest(versions, { alphabetical: { order: 'asc' } })).toBe(asc);
    expect(latest(versions, { alphabetical: { order: 'desc' } })).toBe(desc);
  });

  test('alphabetical is byte order: "9" > "10", upper case before lower case', () => {
    expect(latest(['10', '9'], { alphabetical: {} })).toBe('9');
    expect(latest(['b', 'Z'], { alphabetical: {} })).toBe('b');
  });

  test.each([
    [['a'], undefined, undefined, ['a']],
    [['ver1', 'ver2', 'ver3', 'rel1'], '^ver', undefined, ['ver1', 'ver2', 'ver3']],
    [['ver1', 'ver2', 'ver3', 'rel1'], 'ver(\\d+)', '$1', ['1', '2', '3']],
  ])('filter %j pattern %s extract %s -> %j', (tags, pattern, extract, expected) => {
    expect(filterTags(tags, pattern === undefined ? undefined : { pattern, extract }).values).toEqual(expected);
  });
});

describe('Masterminds/semver v3 rules that differ from npm semver', () => {
  test('a pre-release comparator admits pre-releases of ANY version in its AND group (npm: same x.y.z only)', () => {
    expect(satisfies('2.0.0-alpha', '>=1.0.0-0')).toBe(true);
    expect(semver.satisfies('2.0.0-alpha', '>=1.0.0-0')).toBe(false);
  });

  test('without a pre-release comparator, pre-releases are excluded', () => {
    expect(satisfies('1.2.0-rc.1', '>=1.0.0')).toBe(false);
    expect(satisfies('1.2.0-rc.1', '>=1.0.0 || >=1.0.0-0')).toBe(true); // the OR group with a pre-release admits it
  });

  test('pre-release identifiers: ASCII order (upper before lower), numeric identifiers numerically', () => {
    expect(latest(['1.0.0-beta', '1.0.0-RC1'], { semver: { range: '>=1.0.0-0' } })).toBe('1.0.0-beta');
    expect(latest(['1.0.0-rc.9', '1.0.0-rc.10'], { semver: { range: '>=1.0.0-0' } })).toBe('1.0.0-rc.10');
  });

  test('AND by comma or space, OR by ||, hyphen ranges with spaces', () => {
    expect(satisfies('1.5.0', '>=1.0.0, <2.0.0')).toBe(true);
    expect(satisfies('1.5.0', '>=1.0.0 <1.4.0')).toBe(false);
    expect(satisfies('3.0.0', '<2.0.0 || >=3.0.0')).toBe(true);
    expect(satisfies('1.4.5', '1.2 - 1.4.5')).toBe(true);
    expect(satisfies('1.4.6', '1.2 - 1.4.5')).toBe(false);
  });

  test('tilde and caret, including the 0.x forms', () => {
    expect(satisfies('1.2.9', '~1.2.3')).toBe(true);
    expect(satisfies('1.3.0', '~1.2.3')).toBe(false);
    expect(satisfies('1.9.0', '^1.2.3')).toBe(true);
    expect(satisfies('2.0.0', '^1.2.3')).toBe(false);
    expect(satisfies('0.2.9', '^0.2.3')).toBe(true);
    expect(satisfies('0.3.0', '^0.2.3')).toBe(false);
    expect(satisfies('0.0.3', '^0.0.3')).toBe(true);
    expect(satisfies('0.0.4', '^0.0.3')).toBe(false);
  });

  test('wildcards: > 1.2.x means >= 1.3.0, <= 1.2.x admits 1.2.9, * admits every release', () => {
    expect(satisfies('1.2.9', '>1.2.x')).toBe(false);
    expect(satisfies('1.3.0', '>1.2.x')).toBe(true);
    expect(satisfies('1.2.9', '<=1.2.x')).toBe(true);
    expect(satisfies('1.3.0', '<=1.2.x')).toBe(false);
    expect(satisfies('42.0.0', '*')).toBe(true);
    expect(satisfies('1.2.3', '!=1.2.x')).toBe(false);
  });

  test('strict versions: one leading v, no leading zeros, no partial versions; build metadata ignored', () => {
    expect(parseStrictVersion('v1.2.3')).toBeDefined();
    expect(parseStrictVersion('vv1.2.3')).toBeUndefined();
    expect(parseStrictVersion('01.2.3')).toBeUndefined();
    expect(parseStrictVersion('1.2')).toBeUndefined();
    expect(parseStrictVersion(' 1.2.3')).toBeUndefined();
    expect(latest(['1.0.0+b', '1.0.0+a'], { semver: { range: '*' } })).toBe('1.0.0+b'); // tie: first in list
  });
});

describe('Go ParseFloat for numerical policies', () => {
  test.each([
    ['1e3', 1000],
    ['007', 7],
    ['-1', -1],
    ['.5', 0.5],
    ['1_000', 1000],
    ['0x1p4', 16],
    ['+Inf', Infinity],
    ['infinity', Infinity],
  ])('accepts %s', (s, v) => expect(goParseFloat(s)).toBe(v));

  test('accepts NaN', () => expect(goParseFloat('NaN')).toBeNaN());

  test.each(['0x10', ' 1', '1 ', '1.5.2', '', '1__0', '_1', '1_', '1e400', '+nan', '0b1', 'abc'])('rejects %j', (s) => {
    expect(() => goParseFloat(s)).toThrow();
  });

  test('equal values: the later candidate wins', () => {
    expect(latest(['1', '1.0', '01'], { numerical: { order: 'asc' } })).toBe('01');
  });
});

describe('Go RE2 regexes and templates', () => {
  test('named groups in Go syntax compile; lookarounds and backreferences are rejected as Go rejects them', () => {
    expect(goRegexError('^v(?P<v>[0-9]+)$')).toBeUndefined();
    expect(goRegexError('^v(?<v>[0-9]+)$')).toBeUndefined();
    expect(goRegexError('^(?=x)')).toMatch(/invalid or unsupported Perl syntax/);
    expect(goRegexError('(?<!x)y')).toBeDefined();
    expect(goRegexError('(a)\\1')).toBeDefined();
    expect(goRegexError('[[:alpha:]]+\\z')).toBeUndefined();
  });

  test.each([
    ['$ts', 'ts'],
    ['${ts}', 'ts'],
    ['$1', '1'],
    ['$1x', ''], // longest name: group "1x" does not exist
    ['${1}x', '1x'],
    ['$$', '$'],
    ['v$', 'v$'], // malformed: kept
    ['$missing-', '-'],
  ])('expand %s', (template, expected) => {
    const re = compileGoRegex('^(?P<ts>[0-9]+)$');
    const out = expandGoTemplate(template, re.exec('1')!);
    expect(out).toBe(expected.replace('ts', '1').replace(/^1x$/, '1x'));
  });
});

describe('evaluatePolicy (exclusion, filter, extract, policy)', () => {
  const tags = ['branch-dev-100-aaaaaaa', 'branch-dev-99-bbbbbbb', 'branch-dev-100-aaaaaaa.sig', 'branch-staging-500-ccccccc', 'release-1.0.0'];
  const dev = { filterTags: { pattern: '^branch-dev-(?P<ts>[0-9]+)-[0-9a-f]+$', extract: '$ts' }, policy: { numerical: { order: 'asc' } } };

  test('the dev tier preset picks the newest dev build by timestamp, never another tier', () => {
    expect(evaluatePolicy(tags, dev)).toEqual({ latest: 'branch-dev-100-aaaaaaa', candidates: ['branch-dev-100-aaaaaaa', 'branch-dev-99-bbbbbbb'] });
  });

  test('the default exclusion list drops .sig tags; an explicit list replaces it', () => {
    const all = { policy: { alphabetical: {} } };
    expect(evaluatePolicy(tags, all).candidates).not.toContain('branch-dev-100-aaaaaaa.sig');
    expect(evaluatePolicy(tags, { ...all, exclusionList: ['^release-'] }).candidates).toContain('branch-dev-100-aaaaaaa.sig');
  });

  test('no candidate after filtering is an error', () => {
    expect(() => evaluatePolicy(['release-1.0.0'], dev)).toThrow(/cannot be empty/);
  });

  test('extracted duplicates: the later tag in list order supplies the original', () => {
    const r = evaluatePolicy(['a-1', 'b-1'], { filterTags: { pattern: '-(?P<n>[0-9]+)$', extract: '$n' }, policy: { numerical: {} } });
    expect(r.latest).toBe('a-1'); // stored in descending byte order: b-1, then a-1
  });
});

describe('tagflow policy eval', () => {
  async function evalJson(input: unknown): Promise<{ code: number; out: any }> {
    let out = '';
    const stdin = jest.spyOn(process.stdin, Symbol.asyncIterator as any).mockImplementation(async function* () {
      yield Buffer.from(typeof input === 'string' ? input : JSON.stringify(input));
    } as any);
    try {
      const code = await main(['node', 'tagflow', 'policy', 'eval'], (s) => (out += s));
      return { code, out: JSON.parse(out) };
    } finally {
      stdin.mockRestore();
    }
  }

  test('prints latest and candidates', async () => {
    const r = await evalJson({ tags: ['release-1.0.0', 'release-1.2.0', 'release-2.0.0-rc.1'], filterTags: { pattern: '^release-(?P<v>.*)$', extract: '$v' }, policy: { semver: { range: '>=1.0.0' } } });
    expect(r).toEqual({ code: 0, out: { latest: 'release-1.2.0', candidates: ['release-1.0.0', 'release-1.2.0', 'release-2.0.0-rc.1'] } });
  });

  test.each([
    [{ tags: ['a'], filterTags: { pattern: '(?=a)' }, policy: { alphabetical: {} } }, /invalid regular expression/],
    [{ tags: ['1.0.0'], policy: { semver: { range: 'x1' } } }, /semver parse error/],
    [{ tags: ['1'], policy: { numerical: { order: 'up' } } }, /invalid numerical order 'up'/],
    [{ tags: [], policy: { alphabetical: {} } }, /cannot be empty/],
    [{ tags: ['1', 'x'], policy: { numerical: {} } }, /invalid numeric value 'x'/],
  ])('%j -> exit 1 with an error', async (input, message) => {
    const r = await evalJson(input);
    expect(r.code).toBe(1);
    expect(r.out.error).toMatch(message);
  });

  test('malformed input exits 2', async () => {
    expect((await evalJson('not json')).code).toBe(2);
    expect((await evalJson({ tags: 'a', policy: {} })).code).toBe(2);
  });

  test('input beyond the bounds exits 2 naming the bound: tag length, tag count, pattern length', async () => {
    const long = await evalJson({ tags: ['1.0.0', 'a'.repeat(129)], policy: { alphabetical: {} } });
    expect(long).toEqual({ code: 2, out: { error: 'tags[1] is 129 characters; an OCI tag has at most 128' } });
    const many = await evalJson({ tags: Array.from({ length: 100_001 }, (_, i) => `t${i}`), policy: { alphabetical: {} } });
    expect(many).toEqual({ code: 2, out: { error: 'tags has 100001 entries; at most 100000 (the tags of one repository)' } });
    const pattern = await evalJson({ tags: ['a'], filterTags: { pattern: 'a'.repeat(4097) }, policy: { alphabetical: {} } });
    expect(pattern.code).toBe(1);
    expect(pattern.out.error).toMatch(/the pattern is 4097 characters; tagflow compiles patterns of at most 4096/);
  });
});
