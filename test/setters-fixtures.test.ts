import * as fs from 'node:fs';
import * as path from 'node:path';
import { applySetters, applySettersToTree, isYaml11NonString, type LatestRef } from '../src/engines/markers/setters';
import { findMarkedValues, markerValues, markerValuesByLine, parseMarkerComment } from '../src/engines/markers/marker';
import { listTree, tmpDir } from './support/tree';
import { setterFixtures } from './support/flux-sources';

const { dir: fixturesDir, source } = setterFixtures();
const fixtures = fixturesDir ?? '';
const haveFixtures = fixturesDir !== undefined;
const describeFixtures = haveFixtures ? describe : describe.skip;

describeFixtures(`Flux's own setter fixtures (image-automation-controller testdata from ${source}), byte for byte`, () => {
  test('update-setters: TestUpdateWithSetters', () => {
    const policies = new Map<string, LatestRef>([
      ['policy', { name: 'index.repo.fake/updated', tag: 'v1.0.1' }],
      ['unchanged', { name: 'image', tag: 'v1.0.0' }],
      ['policy-with-digest', { name: 'image', tag: 'v1.0.0', digest: 'sha256:6745aaad46d795c9836632e1fb62f24b7e7f4c843144da8e47a5465c411a14be' }],
    ]);
    const original = path.join(fixtures, 'update-setters', 'original');
    const expected = path.join(fixtures, 'update-setters', 'expected');
    const { files } = applySettersToTree(original, undefined, { namespace: 'automation-ns', policies });
    // Only changed files are written, into an empty folder, and compared with expected/.
    const outDir = tmpDir();
    for (const [rel, text] of files) {
      fs.mkdirSync(path.dirname(path.join(outDir, rel)), { recursive: true });
      fs.writeFileSync(path.join(outDir, rel), text);
    }
    expect(listTree(outDir)).toEqual(listTree(expected));
    for (const f of listTree(expected)) {
      expect({ f, text: fs.readFileSync(path.join(outDir, f), 'utf8') }).toEqual({ f, text: fs.readFileSync(path.join(expected, f), 'utf8') });
    }
  });

  const withMarker = (text: string, policy: string) => text.replace('# SETTER_SITE', `# {"$imagepolicy": "test-ns:${policy}"}`);
  const policies = new Map<string, LatestRef>([['policy', { name: 'helloworld', tag: '1.0.1' }]]);

  test('policy-testdata appconfig: Test_applyPolicies', () => {
    const input = withMarker(fs.readFileSync(path.join(fixtures, 'policy-testdata/appconfig/deploy.yaml'), 'utf8'), 'policy');
    const expected = withMarker(fs.readFileSync(path.join(fixtures, 'policy-testdata/appconfig-setters-expected/deploy.yaml'), 'utf8'), 'policy');
    expect(applySetters(input, { namespace: 'test-ns', policies }).text).toBe(expected);
  });

  test('policy-testdata pathconfig: only files under update.path change', () => {
    const root = tmpDir();
    for (const d of ['yes', 'no']) {
      fs.mkdirSync(path.join(root, d));
      fs.writeFileSync(path.join(root, d, 'deploy.yaml'), withMarker(fs.readFileSync(path.join(fixtures, `policy-testdata/pathconfig/${d}/deploy.yaml`), 'utf8'), 'policy'));
    }
    const { files } = applySettersToTree(root, './yes', { namespace: 'test-ns', policies });
    expect([...files.keys()]).toEqual(['yes/deploy.yaml']);
    for (const d of ['yes', 'no']) {
      const exp = withMarker(fs.readFileSync(path.join(fixtures, `policy-testdata/pathconfig-expected/${d}/deploy.yaml`), 'utf8'), 'policy');
      const got = files.get(`${d}/deploy.yaml`) ?? fs.readFileSync(path.join(root, d, 'deploy.yaml'), 'utf8');
      expect(got).toBe(exp);
    }
  });
});

describe('marker grammar and placement', () => {
  const ctx = { namespace: 'ns', policies: new Map<string, LatestRef>([['app', { name: 'repo/app', tag: '1.2.3', digest: 'sha256:' + 'a'.repeat(64) }]]) };
  const apply = (t: string) => applySetters(t, ctx).text;

  test.each([
    ['## {"$imagepolicy": "ns:app:tag"}', 'tag'],
    ['#{ "$imagepolicy" : "ns:app" , "other": "x" }', 'full'],
    ['# {"$imagepolicy": "ns:app:digest"}', 'digest'],
  ])('parses %s', (c, field) => expect(parseMarkerComment(c)?.field).toBe(field));

  test.each([
    '# {"$imagepolicy": "ns:app:tag"} trailing',
    "# {'$imagepolicy': 'ns:app'}",
    '# {"$imagepolicy": "ns:app", "n": 1}',
    '# {"$imagepolicy": "ns:app:version"}',
    '# {"$imagepolicy": "app"}',
  ])('rejects %s', (c) => expect(parseMarkerComment(c)).toBeUndefined());

  test('same-line comment sets the value; a comment above a key: value is ignored', () => {
    expect(apply('a:\n  tag: old # {"$imagepolicy": "ns:app:tag"}\n')).toBe('a:\n  tag: 1.2.3 # {"$imagepolicy": "ns:app:tag"}\n'.replace('1.2.3', '"1.2.3"'));
    const above = 'a:\n  # {"$imagepolicy": "ns:app:tag"}\n  tag: old\n';
    expect(apply(above)).toBe(above);
  });

  test('a head comment above a plain sequence item is honoured', () => {
    expect(apply('images:\n  # {"$imagepolicy": "ns:app"}\n  - old\n  # {"$imagepolicy": "ns:app:tag"}\n  - old\n')).toBe(
      `images:\n  # {"$imagepolicy": "ns:app"}\n  - repo/app:1.2.3@sha256:${'a'.repeat(64)}\n  # {"$imagepolicy": "ns:app:tag"}\n  - "1.2.3"\n`,
    );
  });

  test('another namespace, an unknown policy and a file without the double-quoted key are left alone', () => {
    for (const t of ['x: y # {"$imagepolicy": "other:app"}\n', 'x: y # {"$imagepolicy": "ns:nope"}\n']) expect(apply(t)).toBe(t);
    expect(findMarkedValues("x: y # {'$imagepolicy': 'ns:app'}\n")).toEqual([]);
  });

  test('values that read as non-strings in YAML 1.1 are double-quoted when the old value was plain', () => {
    const c = { namespace: 'ns', policies: new Map<string, LatestRef>([['t', { name: 'r', tag: '1606364286' }]]) };
    expect(applySetters('tag: old # {"$imagepolicy": "ns:t:tag"}\n', c).text).toBe('tag: "1606364286" # {"$imagepolicy": "ns:t:tag"}\n');
    expect(applySetters("tag: 'old' # {\"$imagepolicy\": \"ns:t:tag\"}\n", c).text).toBe("tag: '1606364286' # {\"$imagepolicy\": \"ns:t:tag\"}\n");
    expect(['1.0', 'true', 'on', '0x1F', '~', '1e3'].every(isYaml11NonString)).toBe(true);
    expect(['v1.0', 'release-1.2.3', 'branch-dev-1-abc'].some(isYaml11NonString)).toBe(false);
  });

  test('a file that does not parse is skipped', () => {
    const t = 'a: [\n  tag: old # {"$imagepolicy": "ns:app:tag"}\n';
    expect(apply(t)).toBe(t);
  });

  test('update.path cannot escape the root', () => {
    const root = tmpDir();
    fs.writeFileSync(path.join(root, 'a.yaml'), 'x: old # {"$imagepolicy": "ns:app:tag"}\n');
    expect([...applySettersToTree(root, '../../..', ctx).files.keys()]).toEqual(['a.yaml']);
  });
});

describe('markerValuesByLine: the fast path synth uses agrees with the YAML parse', () => {
  const slow = (text: string) => {
    const m = new Map<string, string>();
    for (const mv of findMarkedValues(text)) if (!m.has(mv.marker.ref)) m.set(mv.marker.ref, mv.value);
    return m;
  };

  test.each([
    ['plain', 'a:\n  tag: v1 # {"$imagepolicy": "ns:p:tag"}\n'],
    ['double-quoted with escapes', 'a:\n  tag: "v\\u00e91" # {"$imagepolicy": "ns:p:tag"}\n'],
    ['single-quoted', "a:\n  digest: 'sha256:ab''c' # {\"$imagepolicy\": \"ns:p:digest\"}\n"],
    ['a number-looking value', 'a:\n  tag: 1.0 # {"$imagepolicy": "ns:p:tag"}\n'],
    ['empty string', 'a:\n  digest: "" # {"$imagepolicy": "ns:p:digest"}\n'],
    ['first of two wins', 'a:\n  tag: one # {"$imagepolicy": "ns:p:tag"}\nb:\n  tag: two # {"$imagepolicy": "ns:p:tag"}\n'],
    ['tagflow header mentions markers', '# Values marked {"$imagepolicy": ...} are kept.\na:\n  tag: v2 # {"$imagepolicy": "ns:p:tag"}\n'],
    ['sequence item', 'images:\n  - image: repo:v1 # {"$imagepolicy": "ns:p"}\n'],
    ['CRLF', 'a:\r\n  tag: v3 # {"$imagepolicy": "ns:p:tag"}\r\n'],
  ])('%s', (_name, text) => {
    expect(markerValuesByLine(text)).toEqual(slow(text));
  });

  test.each([
    ['head comment above a sequence item', 'a:\n  # {"$imagepolicy": "ns:p:tag"}\n  - v1\n'],
    ['flow mapping', 'a: {tag: v1} # {"$imagepolicy": "ns:p:tag"}\n'],
    ['quoted key', '"tag": v1 # {"$imagepolicy": "ns:p:tag"}\n'],
  ])('falls back to the parse for other shapes: %s', (_name, text) => {
    expect(markerValuesByLine(text)).toBeUndefined();
    expect(markerValues(text)).toEqual(slow(text));
  });

  (haveFixtures ? test : test.skip)('on every YAML file of the Flux fixtures, when it answers, it answers as the parse does', () => {
    let answered = 0;
    for (const rel of listTree(fixtures).filter((f) => /\.ya?ml$/.test(f))) {
      const text = fs.readFileSync(path.join(fixtures, rel), 'utf8');
      const fast = markerValuesByLine(text);
      if (fast === undefined) continue;
      answered++;
      expect({ rel, values: fast }).toEqual({ rel, values: slow(text) });
    }
    expect(answered).toBeGreaterThan(3);
  });
});
