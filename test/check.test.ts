import { expectCliOutput } from './support/cli-output';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { lint } from '../src/check/lint';
import { main } from '../src/cli/main';
import { synth } from '../src/gitops/synth';
import { REPO_ROOT, tmpDir } from './support/tree';

/** A fresh copy of the synthesized example tree. */
function tree(): string {
  const out = tmpDir();
  synth({ configDir: REPO_ROOT, outDir: out, stacks: ['dev'] });
  return out;
}

/** Edits the first object of `kind` in `file` (relative), keeping other documents as they are. */
function edit(root: string, file: string, kind: string, change: (o: any) => void): void {
  const full = path.join(root, file);
  const docs = parseAllDocuments(fs.readFileSync(full, 'utf8')) as any[];
  const doc = docs.find((d) => d.toJS()?.kind === kind);
  const obj = doc.toJS();
  change(obj);
  doc.contents = doc.createNode(obj);
  fs.writeFileSync(full, docs.map((d) => d.toString()).join('---\n'));
}

const IMAGES = 'environments/dev/dev/images/checkout-api.yaml';
const RELEASE = 'environments/dev/dev/releases/checkout-api.yaml';

describe('tagflow check', () => {
  test('is silent on the synthesized example stacks', () => {
    const out = tmpDir();
    synth({ configDir: REPO_ROOT, outDir: out });
    expect(lint(out)).toEqual([]);
  });

  const cases: [string, (root: string) => void, string, RegExp][] = [
    ['marker-unknown-policy', (r) => fs.writeFileSync(path.join(r, RELEASE), fs.readFileSync(path.join(r, RELEASE), 'utf8').replace('"dev:checkout-api:tag"', '"dev:checkout:tag"')), RELEASE, /names no ImagePolicy 'checkout' in namespace 'dev'/],
    // A marker naming another tier's policy: that tier's automation does not cover this file.
    ['marker-outside-update-path', (r) => fs.writeFileSync(path.join(r, RELEASE), fs.readFileSync(path.join(r, RELEASE), 'utf8').replace('"dev:checkout-api:tag"', '"staging:checkout-api:tag"')), RELEASE, /"staging:checkout-api:tag" is outside the update.path/],
    [
      'marker-outside-update-path',
      (r) => {
        fs.mkdirSync(path.join(r, 'environments/dev/dev/other'), { recursive: true });
        fs.renameSync(path.join(r, RELEASE), path.join(r, 'environments/dev/dev/other/checkout-api.yaml'));
      },
      'environments/dev/dev/other/checkout-api.yaml',
      /outside the update.path/,
    ],
    ['marker-no-automation', (r) => fs.writeFileSync(path.join(r, 'x.yaml'), 'image: a:1 # {"$imagepolicy": "nowhere:p"}\n'), 'x.yaml', /no ImageUpdateAutomation in namespace 'nowhere'/],
    ['marker-policy-not-selected', (r) => edit(r, IMAGES, 'ImagePolicy', (o) => (o.metadata.labels['tagflow.io/tier'] = 'staging')), RELEASE, /not selected by the policySelector/],
    ['policy-unused', (r) => fs.writeFileSync(path.join(r, RELEASE), fs.readFileSync(path.join(r, RELEASE), 'utf8').replace(/ # \{"\$imagepolicy": "dev:checkout-api:[a-z]+"\}/g, '')), IMAGES, /ImagePolicy dev\/checkout-api is used by no marker/],
    ['regex-invalid', (r) => edit(r, IMAGES, 'ImagePolicy', (o) => (o.spec.filterTags.pattern = '^branch-dev-(?=x)(?P<ts>[0-9]+)')), IMAGES, /does not compile under Go RE2/],
    ['extract-unknown-group', (r) => edit(r, IMAGES, 'ImagePolicy', (o) => (o.spec.filterTags.extract = '$stamp')), IMAGES, /names group 'stamp'/],
    ['numerical-non-number', (r) => edit(r, IMAGES, 'ImagePolicy', (o) => (o.spec.filterTags = { pattern: '^branch-dev-(?P<ts>.+)$', extract: '$ts' })), IMAGES, /can yield a non-number/],
    ['numerical-non-number', (r) => edit(r, IMAGES, 'ImagePolicy', (o) => delete o.spec.filterTags), IMAGES, /\(none\)/],
    ['semver-range-invalid', (r) => edit(r, IMAGES, 'ImagePolicy', (o) => (o.spec.policy = { semver: { range: '>=1.0.0p' } })), IMAGES, /semver range '>=1.0.0p' does not parse/],
    ['tier-overlap', (r) => edit(r, IMAGES, 'ImagePolicy', (o) => (o.spec.filterTags = { pattern: '^(branch-dev|release)-(?P<ts>[0-9]+)', extract: '$ts' })), IMAGES, /accepts tags of the release scheme/],
    ['image-url-invalid', (r) => edit(r, IMAGES, 'ImageRepository', (o) => (o.spec.image += ':latest')), IMAGES, /must have no scheme, tag or digest/],
    ['image-url-invalid', (r) => edit(r, IMAGES, 'ImageRepository', (o) => (o.spec.image = 'https://' + o.spec.image)), IMAGES, /no scheme/],
    ['aws-provider-non-ecr', (r) => edit(r, IMAGES, 'ImageRepository', (o) => (o.spec.image = 'ghcr.io/acme/checkout-api')), IMAGES, /'ghcr.io', which is not ECR/],
    ['secretref-ignored', (r) => edit(r, IMAGES, 'ImageRepository', (o) => (o.spec.secretRef = { name: 'creds' })), IMAGES, /secretRef is ignored because provider is 'aws'/],
    ['interval-without-always', (r) => edit(r, IMAGES, 'ImagePolicy', (o) => (o.spec.interval = '5m')), IMAGES, /interval is only allowed with digestReflectionPolicy: Always/],
    ['policy-unknown-repository', (r) => edit(r, IMAGES, 'ImagePolicy', (o) => (o.spec.imageRepositoryRef.name = 'nope')), IMAGES, /names no ImageRepository/],
  ];

  test.each(cases)('%s: reported with file and line', (rule, mutate, file, message) => {
    const root = tree();
    mutate(root);
    const hits = lint(root).filter((f) => f.rule === rule);
    expect(hits.length).toBeGreaterThan(0);
    expect(hits[0].file).toBe(file);
    expect(hits[0].message).toMatch(message);
    // The line points into the file, at the offending field or marker.
    const lines = fs.readFileSync(path.join(root, file), 'utf8').split('\n');
    expect(hits[0].line).toBeGreaterThanOrEqual(1);
    expect(hits[0].line).toBeLessThanOrEqual(lines.length);
  });

  test('the line of a marker finding is the marker line', () => {
    const root = tree();
    fs.writeFileSync(path.join(root, RELEASE), fs.readFileSync(path.join(root, RELEASE), 'utf8').replace('"dev:checkout-api:tag"', '"dev:nope:tag"'));
    const [hit] = lint(root).filter((f) => f.rule === 'marker-unknown-policy');
    expect(fs.readFileSync(path.join(root, RELEASE), 'utf8').split('\n')[hit.line - 1]).toMatch(/dev:nope:tag/);
  });

  test('CLI: file:line: rule: message, --json, exit 1 on findings, 0 clean, 2 unreadable', async () => {
    const root = tree();
    let out = '';
    const run = async (args: string[]) => {
      out = '';
      const spy = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
      try {
        return await main(['node', 'tagflow', 'check', ...args], (s) => (out += s + '\n'));
      } finally {
        spy.mockRestore();
      }
    };
    expect(await run([root])).toBe(0);
    edit(root, IMAGES, 'ImageRepository', (o) => (o.spec.secretRef = { name: 'creds' }));
    expect(await run([root])).toBe(1);
    expect(out).toMatch(/^environments\/dev\/dev\/images\/checkout-api\.yaml:\d+: secretref-ignored: /m);
    expect(await run([root, '--json'])).toBe(1);
    expect(expectCliOutput('check', out)[0]).toMatchObject({ file: IMAGES, rule: 'secretref-ignored' });
    expect(await run([path.join(root, 'missing')])).toBe(2);
  });
});
