import * as fs from 'node:fs';
import * as path from 'node:path';
import { cliAsync as cli } from './support/cli';
import { pushImage, REGISTRY_SKIP_REASON, startRegistry, type TestRegistry } from './support/registry';
import { sampleEnvironment, snapshotTree, tmpDir, writeStack } from './support/tree';

/**
 * `tagflow synth --registry`: a new app's first HelmRelease starts from the image its policy selects in the
 * registry now (a real docker-registry), or from a pinned initialTag that must exist there.
 */
const maybe = REGISTRY_SKIP_REASON ? describe.skip : describe;

maybe(`synth --registry against a real docker-registry ${REGISTRY_SKIP_REASON}`, () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry();
    await pushImage(reg, 'api', 'branch-dev-1700000000-aaaaaaa');
    await pushImage(reg, 'api', 'branch-dev-1700000500-bbbbbbb');
    await pushImage(reg, 'api', 'release-1.2.0');
  });
  afterAll(async () => reg?.stop());

  const stack = (apps: unknown[]) => {
    const dir = tmpDir();
    const host = new URL(reg.url).host;
    writeStack(dir, 'test', sampleEnvironment({ registry: { provider: 'generic', host, insecure: true }, aws: undefined, cluster: { name: 'c' }, tiers: { dev: {}, release: {} }, apps }));
    return dir;
  };
  const tagIn = (out: string, tier: string, app: string) => /^ {6}tag: (.*) # \{"\$imagepolicy"/m.exec(fs.readFileSync(path.join(out, `environments/test/${tier}/releases/${app}.yaml`), 'utf8'))?.[1];

  test('new apps start from the newest accepted tag (and its digest where pinned); an app with nothing to select starts with no image', async () => {
    const dir = stack([{ name: 'api' }, { name: 'web' }]);
    const out = path.join(dir, 'out');
    const r = await cli(['synth', '--config-dir', dir, '--out', out, '--registry']);
    // Only synth's own check's warnings (the test stack has no signature gate); no error, no note.
    expect(r.err.split('\n').filter((l) => l && !/: warning: release-without-signature-gate: /.test(l))).toEqual([]);
    expect(r.code).toBe(0);
    expect(tagIn(out, 'dev', 'api')).toBe('branch-dev-1700000500-bbbbbbb');
    expect(tagIn(out, 'release', 'api')).toBe('release-1.2.0');
    expect(fs.readFileSync(path.join(out, 'environments/test/release/releases/api.yaml'), 'utf8')).toMatch(/^ {6}digest: sha256:[0-9a-f]{64} # \{"\$imagepolicy": "release:api:digest"\}$/m);
    expect(tagIn(out, 'dev', 'web')).toBe('""');
    expect(r.out).toMatch(/test: dev\/web: no image yet \(127\.0\.0\.1:\d+\/web does not exist in each app's registry\); it runs no pods until Flux selects one/);
    // Once written, a file keeps what is there (Flux's values): a second run does not consult the registry for it.
    await pushImage(reg, 'api', 'branch-dev-1700000900-ccccccc');
    expect((await cli(['synth', '--config-dir', dir, '--out', out, '--registry'])).code).toBe(0);
    expect(tagIn(out, 'dev', 'api')).toBe('branch-dev-1700000500-bbbbbbb');
  });

  test('a pinned initialTag must exist in the registry: exit 2, nothing written', async () => {
    const dir = stack([{ name: 'api', tiers: { dev: { initialTag: 'branch-dev-1600000000-0000000' } } }]);
    const out = path.join(dir, 'out');
    fs.mkdirSync(out);
    const before = snapshotTree(out);
    const r = await cli(['synth', '--config-dir', dir, '--out', out, '--registry']);
    expect(r.code).toBe(2);
    expect(r.err.trim()).toMatch(/^tagflow: dev\/api: initialTag 'branch-dev-1600000000-0000000' does not exist in 127\.0\.0\.1:\d+\/api/);
    expect(snapshotTree(out)).toEqual(before);
  });

  test('a registry that cannot be reached stops synth before anything is written (exit 3)', async () => {
    const dir = stack([{ name: 'api' }]);
    const out = path.join(dir, 'out');
    fs.mkdirSync(out);
    const r = await cli(['synth', '--config-dir', dir, '--out', out, '--registry', 'http://127.0.0.1:1', '--insecure-registry']);
    expect(r.code).toBe(3);
    expect(fs.readdirSync(out)).toEqual([]);
  });
});
