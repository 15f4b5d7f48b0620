import * as fs from 'node:fs';
import * as path from 'node:path';
import { planPromotion, promote } from '../src/promote/promote';
import { copyImage } from '../src/promote/copy-image';
import { RegistryClient } from '../src/registry/oci-client';
import { cliAsync } from './support/cli';
import { parseDocument } from 'yaml';
import { REPO_ROOT, sampleEnvironment, tmpDir, writeStack } from './support/tree';
import { fetchManifest, pushImage, pushIndex, REGISTRY_BINARY, REGISTRY_SKIP_REASON, startRegistry, type TestRegistry } from './support/registry';


const cli = cliAsync;

/**
 * The bundled stacks (Pulumi.dev.yaml, Pulumi.prod.yaml), with prod's promotion gates turned off: these
 * tests are about what promote copies and refuses to move; the gates have their own tests against real
 * cosign signatures (promotion-gates.test.ts) and a stand-in ECR scan endpoint (promotion-ecr-scan.test.ts).
 */
function bundledStacksWithoutGates(): string {
  const dir = tmpDir('tagflow-bundled-');
  fs.copyFileSync(path.join(REPO_ROOT, 'Pulumi.dev.yaml'), path.join(dir, 'Pulumi.dev.yaml'));
  const prod = parseDocument(fs.readFileSync(path.join(REPO_ROOT, 'Pulumi.prod.yaml'), 'utf8'));
  if (!prod.hasIn(['config', 'tagflow:environment', 'promotion', 'gates'])) throw new Error('Pulumi.prod.yaml has no promotion gates any more: drop this helper');
  prod.deleteIn(['config', 'tagflow:environment', 'promotion']);
  fs.writeFileSync(path.join(dir, 'Pulumi.prod.yaml'), prod.toString());
  return dir;
}
const BUNDLED = bundledStacksWithoutGates();

/** Synthesizes the stacks of configDir into a tree and sets staging's marker values as Flux would commit them. */
async function treeWithStaging(configDir: string, env: string, values: Record<string, { tag: string; digest?: string }>): Promise<string> {
  const tree = tmpDir();
  const r = await cli(['synth', '--out', tree, '--config-dir', configDir]);
  if (r.code !== 0) throw new Error(r.err);
  for (const [app, v] of Object.entries(values)) {
    const file = path.join(tree, `environments/${env}/staging/releases/${app}.yaml`);
    let text = fs.readFileSync(file, 'utf8').replace(/tag: "" #/, `tag: "${v.tag}" #`);
    if (v.digest) text = text.replace(/digest: "" #/, `digest: "${v.digest}" #`);
    fs.writeFileSync(file, text);
  }
  return tree;
}

describe('promote: reading what staging runs (no registry)', () => {
  it('plans from the staging marker value to the release scheme', async () => {
    const tree = await treeWithStaging(BUNDLED, 'dev', { 'checkout-api': { tag: 'branch-staging-1700000300-0a0a0a0' } });
    const plan = planPromotion({ configDir: BUNDLED, stack: 'prod', app: 'checkout-api', version: '1.5.0', tree });
    expect(plan.source).toMatchObject({ tag: 'branch-staging-1700000300-0a0a0a0', file: 'environments/dev/staging/releases/checkout-api.yaml' });
    expect(plan.source.app.tier).toBe('staging');
    expect(plan.target.tag).toBe('release-1.5.0');
    expect(plan.target.app.image).toBe('111122223333.dkr.ecr.eu-west-1.amazonaws.com/checkout-api');
  });

  it('refuses while staging runs no image yet, bad versions, unknown apps and trees', async () => {
    const tree = await treeWithStaging(BUNDLED, 'dev', {});
    const base = { configDir: BUNDLED, stack: 'prod', app: 'checkout-api', tree };
    expect(() => planPromotion({ ...base, version: '1.5.0' })).toThrow(/staging runs no image of 'checkout-api' yet \(its tag marker is empty until Flux selects a build\)/);
    expect(() => planPromotion({ ...base, version: '1.5' })).toThrow(/--version '1.5' must be a release version X.Y.Z/);
    expect(() => planPromotion({ ...base, version: '1.5.0-rc.1' })).toThrow(/no pre-release/);
    expect(() => planPromotion({ ...base, app: 'nope', version: '1.5.0' })).toThrow(/app 'nope' is not in the release tier of stack 'prod' \(its apps: checkout-api, payments-worker\)/);
    expect(() => planPromotion({ ...base, stack: 'dev', version: '1.5.0' })).toThrow(/stack 'dev' has no release tier/);
    expect(() => planPromotion({ ...base, tree: tmpDir(), version: '1.5.0' })).toThrow(/must be a checkout of the GitOps repository's 'main' branch \(what the cluster runs\)/);
  });

  it('CLI: bad input exits 2, a refusal exits 1', async () => {
    const tree = await treeWithStaging(BUNDLED, 'dev', {});
    const bad = await cli(['promote', '--config-dir', BUNDLED, '--stack', 'prod', '--app', 'checkout-api', '--version', 'v1', '--tree', tree]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("--version 'v1' must be a release version");
    const refused = await cli(['promote', '--config-dir', BUNDLED, '--stack', 'prod', '--app', 'checkout-api', '--version', '1.0.0', '--tree', tree]);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('staging runs no image of');
  });
});

const describeRegistry = REGISTRY_BINARY ? describe : describe.skip;
const suffix = REGISTRY_BINARY ? '' : ` (${REGISTRY_SKIP_REASON})`;

describeRegistry(`promote against a real docker-registry${suffix}`, () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry();
  }, 30_000);
  afterAll(async () => reg?.stop());

  it('same repository, OCI manifest: the release tag gets the staging digest; re-running is a no-op; CLI output', async () => {
    const img = await pushImage(reg, 'checkout-api', 'branch-staging-1700000300-0a0a0a0', 'oci');
    const tree = await treeWithStaging(BUNDLED, 'dev', { 'checkout-api': { tag: 'branch-staging-1700000300-0a0a0a0' } });
    const r = await cli(['promote', '--config-dir', BUNDLED, '--stack', 'prod', '--app', 'checkout-api', '--version', '1.5.0', '--tree', tree, '--registry', reg.url, '--insecure-registry']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('promoted 111122223333.dkr.ecr.eu-west-1.amazonaws.com/checkout-api:branch-staging-1700000300-0a0a0a0 → 111122223333.dkr.ecr.eu-west-1.amazonaws.com/checkout-api:release-1.5.0');
    const released = await fetchManifest(reg, 'checkout-api', 'release-1.5.0');
    expect(released!.digest).toBe(img.digest);
    expect(released!.body.equals(img.body)).toBe(true);
    const again = await cli(['promote', '--config-dir', BUNDLED, '--stack', 'prod', '--app', 'checkout-api', '--version', '1.5.0', '--tree', tree, '--registry', reg.url, '--insecure-registry']);
    expect(again.code).toBe(0);
    expect(again.out).toContain(`release-1.5.0 already points at ${img.digest}`);
  });

  it('refuses to move a release tag that points at another image', async () => {
    await pushImage(reg, 'checkout-api', 'branch-staging-1700000400-0b0b0b0');
    const other = await pushImage(reg, 'checkout-api', 'release-1.6.0');
    const tree = await treeWithStaging(BUNDLED, 'dev', { 'checkout-api': { tag: 'branch-staging-1700000400-0b0b0b0' } });
    const r = await cli(['promote', '--config-dir', BUNDLED, '--stack', 'prod', '--app', 'checkout-api', '--version', '1.6.0', '--tree', tree, '--registry', reg.url, '--insecure-registry']);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`release-1.6.0 already points at ${other.digest}`);
    expect((await fetchManifest(reg, 'checkout-api', 'release-1.6.0'))!.digest).toBe(other.digest);
  });

  it('digest-pinned staging: promotes the digest staging runs, and refuses when the tag has moved since', async () => {
    const ran = await pushImage(reg, 'payments/worker', 'branch-staging-1700000500-0c0c0c0', 'docker');
    const tree = await treeWithStaging(BUNDLED, 'dev', { 'payments-worker': { tag: 'branch-staging-1700000500-0c0c0c0', digest: ran.digest } });
    // prod narrows payments-worker to >=2.0.0 <3.0.0, which promote does not need to honour: the version is the user's.
    const { result } = await promote({ configDir: BUNDLED, stack: 'prod', app: 'payments-worker', version: '2.0.0', tree, registry: reg.url, insecureRegistry: true });
    expect(result).toMatchObject({ status: 'copied', digest: ran.digest, mediaType: 'application/vnd.docker.distribution.manifest.v2+json' });
    await pushImage(reg, 'payments/worker', 'branch-staging-1700000500-0c0c0c0'); // the tag is re-pushed (mutable registry)
    await expect(promote({ configDir: BUNDLED, stack: 'prod', app: 'payments-worker', version: '2.0.1', tree, registry: reg.url, insecureRegistry: true })).rejects.toThrow(
      new RegExp(`now points at sha256:[0-9a-f]{64}, but staging runs ${ran.digest}`),
    );
  });

  it('another repository: copies (mounts) the blobs, same digest', async () => {
    const configDir = tmpDir();
    const app = (repository: string) => [{ name: 'api', repository }];
    writeStack(configDir, 'stg', sampleEnvironment({ name: 'stg', tiers: { staging: {} }, apps: app('team/api') }));
    writeStack(configDir, 'rel', sampleEnvironment({ name: 'rel', tiers: { release: {} }, apps: app('release/api') }));
    const img = await pushImage(reg, 'team/api', 'branch-staging-1700000600-0d0d0d0', 'docker');
    const tree = await treeWithStaging(configDir, 'stg', { api: { tag: 'branch-staging-1700000600-0d0d0d0' } });
    const { result } = await promote({ configDir, stack: 'rel', app: 'api', version: '3.1.4', tree, registry: reg.url, insecureRegistry: true });
    expect(result).toMatchObject({ status: 'copied', digest: img.digest, blobsCopied: 2 });
    expect((await fetchManifest(reg, 'release/api', 'release-3.1.4'))!.digest).toBe(img.digest);
    const c = new RegistryClient({ insecure: true, baseUrl: reg.url });
    for (const b of img.blobs) expect(await c.hasBlob('release/api', b)).toBe(true);
  });
});

describeRegistry(`copyImage between two real registries, with an image index${suffix}`, () => {
  let a: TestRegistry;
  let b: TestRegistry;
  beforeAll(async () => {
    [a, b] = await Promise.all([startRegistry(), startRegistry({ auth: 'token' })]);
  }, 30_000);
  afterAll(async () => Promise.all([a?.stop(), b?.stop()]));

  it('copies the index, its manifests by digest and their blobs; the index digest is unchanged', async () => {
    const amd = await pushImage(a, 'app', 'amd64-build', 'oci');
    const arm = await pushImage(a, 'app', 'arm64-build', 'oci');
    const index = await pushIndex(a, 'app', 'branch-staging-1700000700-0e0e0e0', [amd, arm]);
    const source = { client: new RegistryClient({ insecure: true, baseUrl: a.url }), repository: 'app' };
    const target = { client: new RegistryClient({ insecure: true, baseUrl: b.url, credentials: async () => b.credentials, allowedRealms: [b.realm!] }), repository: 'prod/app' };
    const r = await copyImage(source, index.digest, target, 'release-1.0.0');
    expect(r).toMatchObject({ status: 'copied', digest: index.digest, mediaType: 'application/vnd.oci.image.index.v1+json', manifestsCopied: 2, blobsCopied: 4 });
    const copied = await fetchManifest(b, 'prod/app', 'release-1.0.0');
    expect(copied!.digest).toBe(index.digest);
    for (const m of [amd, arm]) expect((await fetchManifest(b, 'prod/app', m.digest))!.digest).toBe(m.digest);
    expect((await copyImage(source, index.digest, target, 'release-1.0.0')).status).toBe('already');
  });
});
