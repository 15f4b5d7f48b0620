import { withoutWarnings } from './support/cli';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import Ajv from 'ajv/dist/2020';
import { parse } from 'yaml';
import { main } from '../src/cli/main';
import { environmentJsonSchema, stackFileJsonSchema } from '../src/cli/commands/schema';
import { compileGoRegex } from '../src/engines/policy/go-regex';
import { TIER_PRESETS } from '../src/model/tiers';
import { REPO_ROOT, sampleEnvironment, snapshotTree, tmpDir, writeStack } from './support/tree';

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation((s: any) => {
    err += String(s);
    return true;
  });
  try {
    const code = await main(['node', 'tagflow', ...args], (s) => (out += s + '\n'));
    return { code, out, err };
  } finally {
    spy.mockRestore();
  }
}

describe('tagflow tag', () => {
  test.each([
    [['--tier', 'dev', '--sha', 'ABCDEF1', '--time', '1700000000'], 'branch-dev-1700000000-abcdef1'],
    [['--tier', 'staging', '--sha', '0123456789abcdef0123456789abcdef01234567', '--time', '5'], 'branch-staging-5-0123456789abcdef0123456789abcdef01234567'],
    [['--tier', 'release', '--version', 'v2.10.0'], 'release-2.10.0'],
  ])('%j prints %s, which the tier pattern accepts', async (args, tag) => {
    const r = await run(['tag', ...args]);
    expect(r).toEqual({ code: 0, out: `${tag}\n`, err: '' });
    const tier = args[1] as keyof typeof TIER_PRESETS;
    expect(compileGoRegex(TIER_PRESETS[tier].filterTags.pattern).test(tag)).toBe(true);
  });

  test('dev without --time uses the current unix time', async () => {
    const before = Math.floor(Date.now() / 1000);
    const r = await run(['tag', '--tier', 'dev', '--sha', 'abcdef1']);
    const ts = Number(/^branch-dev-(\d+)-abcdef1$/.exec(r.out.trim())![1]);
    expect(ts).toBeGreaterThanOrEqual(before);
    expect(ts).toBeLessThanOrEqual(before + 5);
  });

  test.each([
    [['--tier', 'qa', '--sha', 'abcdef1'], /--tier 'qa' is not a tier/],
    [['--tier', 'dev', '--sha', 'not-hex!'], /sha 'not-hex!' must be 7 to 64 hexadecimal/],
    [['--tier', 'dev', '--sha', 'abcdef1', '--time', '-3'], /time '-3' must be unix seconds/],
    [['--tier', 'release', '--version', '1.02.3'], /version '1.02.3' must be MAJOR.MINOR.PATCH/],
    [['--tier', 'release'], /needs \{version\}/],
  ])('%j exits 2 with a clear message', async (args, message) => {
    const r = await run(['tag', ...args]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.out).toBe('');
  });

  test("--stack applies the stack's tier overrides", async () => {
    const dir = tmpDir();
    writeStack(dir, 's', sampleEnvironment({ tiers: { dev: { tagScheme: 'dev-{time}-{sha}', filterTags: { pattern: '^dev-(?P<ts>[0-9]+)-[0-9a-f]+$', extract: '$ts' } } } }));
    const r = await run(['tag', '--tier', 'dev', '--sha', 'abcdef1', '--time', '9', '--stack', 's', '--config-dir', dir]);
    expect(r).toEqual({ code: 0, out: 'dev-9-abcdef1\n', err: '' });
  });
});

describe('tagflow schema', () => {
  test('the committed schemas are current', () => {
    const committed = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'schema/environment.schema.json'), 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(environmentJsonSchema())));
    const stack = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'schema/stack.schema.json'), 'utf8'));
    expect(stack).toEqual(JSON.parse(JSON.stringify(stackFileJsonSchema())));
  });

  test('the example stack files validate against the stack-file schema, and a broken one does not', () => {
    const validate = new Ajv({ strict: false, allErrors: true }).compile(stackFileJsonSchema());
    for (const f of ['Pulumi.dev.yaml', 'Pulumi.prod.yaml']) {
      const doc = parse(fs.readFileSync(path.join(REPO_ROOT, f), 'utf8'));
      validate(doc);
      expect({ f, errors: validate.errors ?? null }).toEqual({ f, errors: null });
    }
    const bad = parse(fs.readFileSync(path.join(REPO_ROOT, 'Pulumi.dev.yaml'), 'utf8'));
    bad.config['tagflow:environment'].tiers = { qa: {} };
    bad.config['tagflow:environment'].aws.accountId = 42;
    expect(validate(bad)).toBe(false);
  });
});

describe('the tagflow binary and cdk8s synth', () => {
  test('bin/tagflow exits 2 on bad config and 0 on the examples', () => {
    const dir = tmpDir();
    writeStack(dir, 'bad', sampleEnvironment({ name: 'Bad' }));
    const bad = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin/tagflow.js'), 'synth', '--out', path.join(dir, 'o')], { cwd: dir, encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/Pulumi\.bad\.yaml: tagflow:environment\.name: "Bad"/);
    expect(fs.existsSync(path.join(dir, 'o'))).toBe(false);
    const ok = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin/tagflow.js'), 'synth', '--out', path.join(dir, 'ok')], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(withoutWarnings(ok.stderr)).toBe('');
    expect(ok.status).toBe(0);
  });

  test('`cdk8s synth` empties its output folder, then renders the tree `tagflow synth` writes into an empty folder (README)', () => {
    const a = tmpDir();
    const b = tmpDir();
    execFileSync(process.execPath, [path.join(REPO_ROOT, 'bin/tagflow.js'), 'synth', '--out', a], { cwd: REPO_ROOT });
    // What cdk8s-cli deletes first: a file of someone else's, and a marker value Flux committed.
    execFileSync(process.execPath, [path.join(REPO_ROOT, 'bin/tagflow.js'), 'synth', '--out', b], { cwd: REPO_ROOT });
    fs.writeFileSync(path.join(b, 'mine.txt'), 'not tagflow\n');
    const release = path.join(b, 'environments/dev/dev/releases/checkout-api.yaml');
    fs.writeFileSync(release, fs.readFileSync(release, 'utf8').replace(/tag: "" (# \{"\$imagepolicy": "dev:checkout-api:tag"\})/, 'tag: branch-dev-1700000000-abc1234 $1'));
    expect(fs.readFileSync(release, 'utf8')).toContain('branch-dev-1700000000-abc1234');
    execFileSync(path.join(REPO_ROOT, 'node_modules/.bin/cdk8s'), ['synth', '--check-upgrade=false', '--output', b], { cwd: REPO_ROOT, stdio: 'pipe' });
    expect(fs.existsSync(path.join(b, 'mine.txt'))).toBe(false);
    expect(snapshotTree(b)).toEqual(snapshotTree(a)); // Flux's value is gone too: nothing of the folder is kept
    expect(fs.readFileSync(path.join(REPO_ROOT, 'cdk8s.yaml'), 'utf8')).toMatch(/^app: node lib\/cdk8s-app\.js$/m);
  });
});
