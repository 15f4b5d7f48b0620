import { expectCliOutput } from './support/cli-output';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cliAsync as cli } from './support/cli';
import { COSIGN, GGCR_REGISTRY, ensureGoTool, goToolSkipReason } from './support/go-tools';
import { attest, commit, cosignBinary, cosignKeys, git, gitTree, registrySnapshot, setMarker, sign, vulnPredicate } from './support/gates';
import { fetchManifest, pushImage, putManifest, REGISTRY_BINARY, REGISTRY_SKIP_REASON, startGgcrRegistry, startRegistry, type TestRegistry } from './support/registry';
import { tmpDir, writeStack } from './support/tree';

/**
 * Promotion gates against the real tools: signatures and vulnerability attestations made by a real
 * cosign (built from its Go module), images in a real registry (Debian's docker-registry, distribution
 * 2.8, which does not serve the referrers API: cosign and tagflow use the referrers tag schema there; and
 * go-containerregistry's registry, built from its Go module, which serves it), soak measured from a real
 * git history.
 */
const skip = REGISTRY_BINARY ? goToolSkipReason(COSIGN) : REGISTRY_SKIP_REASON;
const describeGates = skip ? describe.skip : describe;
if (skip) process.stderr.write(`promotion-gates.test.ts: ${skip}\n`);

const HOUR = 3_600_000;
const STAGING_FILE = 'environments/gate/staging/releases/api.yaml';

interface Fixture {
  reg: TestRegistry;
  cosign: string;
  keys: { team: string; stranger: string };
  configDir: string;
  tree: string;
}

/** A stack whose release tier requires every gate; its generic registry is the test registry (declared insecure). */
function gateStack(reg: TestRegistry, keysDir: string, configDir: string, gates: Record<string, unknown>): void {
  fs.copyFileSync(path.join(keysDir, 'cosign.pub'), path.join(configDir, 'cosign.pub'));
  writeStack(configDir, 'gate', {
    name: 'gate',
    registry: { provider: 'generic', host: new URL(reg.url).host, insecure: true },
    cluster: { name: 'gate-cluster', webhookUrl: 'https://flux-webhook.test.example' },
    gitops: { url: 'https://github.com/acme/gitops', githubApp: { appId: 1, installationOwner: 'acme' } },
    tiers: { staging: {}, release: {} },
    apps: [{ name: 'api' }],
    promotion: { gates },
  });
}

const ALL_GATES = { signature: { keys: [{ path: 'cosign.pub' }] }, scan: { failOn: 'HIGH' }, soak: { minimum: '1h' }, age: { minimum: '2h' } };

let n = 0;
/** Pushes a new image (config created `createdAgo` ago), points staging's marker at its tag in a commit made `soakedFor` ago. */
async function stage(f: Fixture, opts: { soakedFor?: number; createdAgo?: number } = {}): Promise<{ tag: string; digest: string }> {
  n++;
  const tag = `branch-staging-${1700000000 + n}-${n.toString(16).padStart(7, '0')}`;
  const img = await pushImage(f.reg, 'api', tag, 'oci', { created: new Date(Date.now() - (opts.createdAgo ?? 5 * HOUR)).toISOString() });
  setMarker(f.tree, STAGING_FILE, 'staging:api:tag', tag);
  git(f.tree, ['add', '-A']);
  commit(f.tree, `staging: api ${tag}`, new Date(Date.now() - (opts.soakedFor ?? 3 * HOUR)));
  return { tag, digest: img.digest };
}

function promoteArgs(f: Fixture, version: string, extra: string[] = []): string[] {
  return ['promote', '--stack', 'gate', '--app', 'api', '--version', version, '--tree', f.tree, '--config-dir', f.configDir, ...extra];
}

/** The promotion record as an auditor reads it without tagflow: the referrers list, the artifact manifest, its layer. */
async function auditorReadsRecord(reg: TestRegistry, digest: string): Promise<any[]> {
  const accept = { accept: 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json' };
  let index = await fetch(`${reg.url}/v2/api/referrers/${digest}`, { headers: accept });
  if (index.status === 404) index = await fetch(`${reg.url}/v2/api/manifests/${digest.replace(':', '-')}`, { headers: accept });
  if (!index.ok) return [];
  const records = [];
  // (Some registries list config.mediaType as the artifactType: the manifest's own artifactType decides.)
  for (const d of ((await index.json()) as any).manifests) {
    const manifest = (await (await fetch(`${reg.url}/v2/api/manifests/${d.digest}`, { headers: accept })).json()) as any;
    if (manifest.artifactType !== 'application/vnd.tagflow.promotion.v1+json') continue;
    expect(manifest.subject.digest).toBe(digest);
    const blob = await fetch(`${reg.url}/v2/api/blobs/${manifest.layers[0].digest}`);
    records.push(await blob.json());
  }
  return records;
}

describeGates(`promotion gates with real cosign signatures on a real registry${skip ? ` (${skip})` : ''}`, () => {
  const f = {} as Fixture;
  beforeAll(async () => {
    const started = Date.now();
    f.cosign = await cosignBinary();
    process.stderr.write(`cosign ${COSIGN.version} ready in ${Math.round((Date.now() - started) / 1000)} s\n`);
    f.reg = await startRegistry();
    f.keys = await cosignKeys(f.cosign);
    f.configDir = tmpDir('tagflow-gate-config-');
    gateStack(f.reg, f.keys.team, f.configDir, ALL_GATES);
    f.tree = await gitTree(f.configDir, new Date(Date.now() - 48 * HOUR));
  }, 40 * 60_000);
  afterAll(async () => f.reg?.stop());

  /** Runs a promotion that must be refused: exit 1, the reason on stderr, and not one byte changed in the registry. */
  async function refused(version: string, reason: RegExp, extra: string[] = []) {
    const before = registrySnapshot(f.reg);
    const r = await cli(promoteArgs(f, version, extra));
    expect({ code: r.code, err: r.err }).toEqual({ code: 1, err: expect.stringMatching(reason) });
    expect(r.err).toContain('was not written (nothing was)');
    expect(registrySnapshot(f.reg)).toEqual(before);
    expect(await fetchManifest(f.reg, 'api', `release-${version}`)).toBeUndefined();
    return r;
  }

  it('a signed, scanned, soaked image is promoted with its record attached, and --explain reads the record back', async () => {
    const { tag, digest } = await stage(f);
    await sign(f.cosign, f.keys.team, f.reg, 'api', digest);
    await attest(f.cosign, f.keys.team, f.reg, 'api', digest, vulnPredicate(['MEDIUM', 'LOW']));
    const r = await cli(promoteArgs(f, '1.0.0', ['--explain']));
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`^signature +PASS +cosign signature \\(tag sha256-[0-9a-f]{64}\\.sig\\) verifies with cosign\\.pub and names ${digest}$`, 'm'));
    expect(r.out).toMatch(/^scan +PASS +vulnerability scan of .* signed by cosign\.pub\): 1 MEDIUM, 1 LOW, none at or above HIGH$/m);
    expect(r.out).toMatch(/^soak +PASS +staging has run it for 3h(\d+s)? \(since commit [0-9a-f]{12} at .*\), at least 1h$/m);
    expect(r.out).toMatch(/^age +PASS +created 5h(\d+s)? ago .*, at least 2h$/m);
    expect(r.out).toContain(`promoted 127.0.0.1:${new URL(f.reg.url).port}/api:${tag} → 127.0.0.1:${new URL(f.reg.url).port}/api:release-1.0.0`);
    expect(r.out).toMatch(/promotion record sha256:[0-9a-f]{64} \(referrers tag schema\)/);
    expect((await fetchManifest(f.reg, 'api', 'release-1.0.0'))!.digest).toBe(digest);

    // An auditor reads the record with plain HTTP (distribution 2.8: the referrers tag schema).
    const [record, ...more] = await auditorReadsRecord(f.reg, digest);
    expect(more).toEqual([]);
    expect(record).toMatchObject({
      apiVersion: 'tagflow.io/promotion/v1',
      subject: { digest },
      release: { tag: 'release-1.0.0', stack: 'gate' },
      source: { tag, tier: 'staging', file: STAGING_FILE },
      overrides: [],
    });
    expect(record.gates.map((g: any) => [g.gate, g.verdict])).toEqual([['signature', 'pass'], ['scan', 'pass'], ['soak', 'pass'], ['age', 'pass']]);
    expect(Date.now() - Date.parse(record.promotedAt)).toBeLessThan(10 * 60_000);

    // Re-running: the release exists; --explain shows the recorded verdicts, --json the same as data.
    const again = await cli(promoteArgs(f, '1.0.0', ['--explain']));
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/promoted before: the record sha256:[0-9a-f]{64} \(referrers tag schema\) says .* from .*api:branch-staging-/);
    expect(again.out).toMatch(/^signature +PASS +cosign signature/m);
    expect(again.out).toContain(`release-1.0.0 already points at ${digest}`);
    const json = await cli(promoteArgs(f, '1.0.0', ['--json']));
    expect(json.code).toBe(0);
    const data = expectCliOutput('promote', json.out);
    expect(data).toMatchObject({ status: 'already', digest, release: { tag: 'release-1.0.0' }, record: { via: 'tag-schema' } });
    expect(data.gates).toEqual(record.gates);
  });

  it('refuses an unsigned image, and writes nothing', async () => {
    const { digest } = await stage(f);
    await attest(f.cosign, f.keys.team, f.reg, 'api', digest, vulnPredicate([]));
    await refused('1.1.0', new RegExp(`refused: gate signature: no cosign signature of ${digest} \\(looked at tag sha256-[0-9a-f]{64}\\.sig and the referrers tag schema`));
  });

  it('refuses a signature by another key', async () => {
    const { digest } = await stage(f);
    await sign(f.cosign, f.keys.stranger, f.reg, 'api', digest);
    await attest(f.cosign, f.keys.team, f.reg, 'api', digest, vulnPredicate([]));
    await refused('1.2.0', /refused: gate signature: no valid signature: sha256-[0-9a-f]{64}\.sig: signature does not verify against cosign\.pub/);
  });

  it('refuses a tampered signature', async () => {
    const { digest } = await stage(f);
    await sign(f.cosign, f.keys.team, f.reg, 'api', digest);
    await attest(f.cosign, f.keys.team, f.reg, 'api', digest, vulnPredicate([]));
    // Change one byte of the ECDSA signature in cosign's signature manifest and push it back under the same tag.
    const sigTag = `${digest.replace(':', '-')}.sig`;
    const sig = JSON.parse((await fetchManifest(f.reg, 'api', sigTag))!.body.toString('utf8'));
    const raw = Buffer.from(sig.layers[0].annotations['dev.cosignproject.cosign/signature'], 'base64');
    raw[raw.length - 5] ^= 0x01;
    sig.layers[0].annotations['dev.cosignproject.cosign/signature'] = raw.toString('base64');
    await putManifest(f.reg, 'api', sigTag, sig.mediaType, Buffer.from(JSON.stringify(sig)));
    await refused('1.3.0', /refused: gate signature: no valid signature: sha256-[0-9a-f]{64}\.sig: signature does not verify against cosign\.pub/);
  });

  it("refuses another image's signature copied next to this digest", async () => {
    const other = await pushImage(f.reg, 'api', 'some-other-build');
    await sign(f.cosign, f.keys.team, f.reg, 'api', other.digest);
    const { digest } = await stage(f);
    await attest(f.cosign, f.keys.team, f.reg, 'api', digest, vulnPredicate([]));
    const theirs = (await fetchManifest(f.reg, 'api', `${other.digest.replace(':', '-')}.sig`))!;
    await putManifest(f.reg, 'api', `${digest.replace(':', '-')}.sig`, 'application/vnd.oci.image.manifest.v1+json', theirs.body);
    await refused('1.4.0', new RegExp(`refused: gate signature: no valid signature: sha256-[0-9a-f]{64}\\.sig: signed payload names "${other.digest}", not ${digest} \\(a signature of another image\\)`));
  });

  it('refuses an image with no vulnerability scan, and one with findings at or above the threshold', async () => {
    const a = await stage(f);
    await sign(f.cosign, f.keys.team, f.reg, 'api', a.digest);
    await refused('1.5.0', new RegExp(`refused: gate scan: no completed vulnerability scan: no attestation of ${a.digest}`));
    await attest(f.cosign, f.keys.team, f.reg, 'api', a.digest, vulnPredicate(['LOW', 'HIGH', 'CRITICAL', 'CRITICAL']));
    await refused('1.5.0', /refused: gate scan: vulnerability scan of .*: 1 HIGH, 2 CRITICAL at or above HIGH|refused: gate scan: vulnerability scan of .*: 2 CRITICAL, 1 HIGH at or above HIGH/);
    // An attestation signed by a stranger does not count as the team's scan.
    const b = await stage(f);
    await sign(f.cosign, f.keys.team, f.reg, 'api', b.digest);
    await attest(f.cosign, f.keys.stranger, f.reg, 'api', b.digest, vulnPredicate([]));
    await refused('1.5.1', /refused: gate scan: no completed vulnerability scan: .*attestation signature does not verify against cosign\.pub/);
  });

  it('refuses an image staging has not run for the soak period, and one younger than the minimum age', async () => {
    const a = await stage(f, { soakedFor: 10 * 60_000 });
    await sign(f.cosign, f.keys.team, f.reg, 'api', a.digest);
    await attest(f.cosign, f.keys.team, f.reg, 'api', a.digest, vulnPredicate([]));
    await refused('1.6.0', /refused: gate soak: staging has run it for 10m(\d+s)? \(since commit [0-9a-f]{12} at .*\), less than the soak of 1h/);
    // A later commit that leaves the marker alone does not restart the soak; an uncommitted marker has not soaked at all.
    fs.appendFileSync(path.join(f.tree, 'README.md'), 'unrelated\n');
    git(f.tree, ['add', '-A']);
    commit(f.tree, 'unrelated change', new Date());
    await refused('1.6.0', /gate soak: staging has run it for 10m/);
    const b = await stage(f, { createdAgo: 30 * 60_000 });
    await sign(f.cosign, f.keys.team, f.reg, 'api', b.digest);
    await attest(f.cosign, f.keys.team, f.reg, 'api', b.digest, vulnPredicate([]));
    await refused('1.6.1', /refused: gate age: created 30m(\d+s)? ago \(.*\), less than the minimum age of 2h/);
    setMarker(f.tree, STAGING_FILE, 'staging:api:tag', a.tag);
    await refused('1.6.1', /refused: gate soak: environments\/gate\/staging\/releases\/api\.yaml has uncommitted changes/);
    git(f.tree, ['checkout', '--', STAGING_FILE]);
  });

  it('--override-gate lets a failing gate through with its reason, logged and recorded; bad overrides are usage errors', async () => {
    const { digest } = await stage(f, { soakedFor: 5 * 60_000 });
    await sign(f.cosign, f.keys.team, f.reg, 'api', digest);
    await attest(f.cosign, f.keys.team, f.reg, 'api', digest, vulnPredicate([]));
    const noReason = await cli(promoteArgs(f, '1.7.0', ['--override-gate', 'soak']));
    expect(noReason).toMatchObject({ code: 2, err: expect.stringContaining('--override-gate needs --reason') });
    const unknown = await cli(promoteArgs(f, '1.7.0', ['--override-gate', 'tests', '--reason', 'hotfix for incident 42']));
    expect(unknown).toMatchObject({ code: 2, err: expect.stringContaining("--override-gate 'tests' is not a gate; gates are scan, signature, soak, age") });
    const r = await cli(promoteArgs(f, '1.7.0', ['--override-gate', 'soak', '--reason', 'hotfix for incident 42']));
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/^tagflow: gate soak OVERRIDDEN by .*: hotfix for incident 42 \(recorded in sha256:[0-9a-f]{64}\)$/m);
    const [record] = await auditorReadsRecord(f.reg, digest);
    expect(record.overrides).toEqual([{ gate: 'soak', reason: 'hotfix for incident 42' }]);
    expect(record.gates.find((g: any) => g.gate === 'soak')).toMatchObject({ verdict: 'overridden', reason: expect.stringMatching(/less than the soak of 1h \(overridden: hotfix for incident 42\)$/) });
    expect((await fetchManifest(f.reg, 'api', 'release-1.7.0'))!.digest).toBe(digest);
  });

  it("accepts cosign's OCI 1.1 referrers form (the registry's referrers tag schema) as well as its tag scheme", async () => {
    const { digest } = await stage(f);
    await sign(f.cosign, f.keys.team, f.reg, 'api', digest, 'referrers');
    expect(await fetchManifest(f.reg, 'api', `${digest.replace(':', '-')}.sig`)).toBeUndefined();
    await attest(f.cosign, f.keys.team, f.reg, 'api', digest, vulnPredicate([]));
    const r = await cli(promoteArgs(f, '1.8.0', ['--json']));
    expect(r.code).toBe(0);
    const data = expectCliOutput('promote', r.out);
    expect(data.gates[0]).toMatchObject({ gate: 'signature', verdict: 'pass', evidence: { form: 'referrer', key: 'cosign.pub' } });
    // cosign's referrer and tagflow's record share the one index of the tag schema.
    const index = JSON.parse((await fetchManifest(f.reg, 'api', digest.replace(':', '-')))!.body.toString('utf8'));
    expect(index.manifests.map((m: any) => m.artifactType).sort()).toEqual(['application/vnd.dev.cosign.artifact.sig.v1+json', 'application/vnd.tagflow.promotion.v1+json']);
  });
});

const refSkip = skip ?? goToolSkipReason(GGCR_REGISTRY);
(refSkip ? describe.skip : describe)(`against a registry that serves the referrers API (go-containerregistry ${GGCR_REGISTRY.version})${refSkip ? ` (${refSkip})` : ''}`, () => {
  const f = {} as Fixture;
  beforeAll(async () => {
    f.cosign = await cosignBinary();
    f.reg = await startGgcrRegistry((await ensureGoTool(GGCR_REGISTRY)).path);
    f.keys = await cosignKeys(f.cosign);
    f.configDir = tmpDir('tagflow-gate-config-');
    gateStack(f.reg, f.keys.team, f.configDir, { signature: { keys: [{ path: 'cosign.pub' }] }, soak: { minimum: '1h' } });
    f.tree = await gitTree(f.configDir, new Date(Date.now() - 48 * HOUR));
  }, 40 * 60_000);
  afterAll(async () => f.reg?.stop());

  /** An in-memory registry has no storage folder: its tags and the digest's referrers stand for its state. */
  const state = async (digest: string) => [await (await fetch(`${f.reg.url}/v2/api/tags/list`)).text(), await (await fetch(`${f.reg.url}/v2/api/referrers/${digest}`)).text()];

  it('verifies a referrer signature through the API and attaches the record as a referrer (no tag schema)', async () => {
    const { digest } = await stage(f);
    const served = await fetch(`${f.reg.url}/v2/api/referrers/${digest}`);
    expect(served.status).toBe(200);
    const before = await state(digest);
    const unsigned = await cli(promoteArgs(f, '2.0.0'));
    expect(unsigned.code).toBe(1);
    expect(unsigned.err).toMatch(new RegExp(`gate signature: no cosign signature of ${digest} \\(looked at tag sha256-[0-9a-f]{64}\\.sig and the referrers API\\)`));
    expect(await state(digest)).toEqual(before);
    await sign(f.cosign, f.keys.team, f.reg, 'api', digest, 'referrers');
    const r = await cli(promoteArgs(f, '2.0.0', ['--explain']));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^signature +PASS +cosign signature \(referrer sha256:[0-9a-f]{64}\) verifies with cosign\.pub/m);
    expect(r.out).toMatch(/^scan +OFF +not configured/m);
    expect(r.out).toMatch(/promotion record sha256:[0-9a-f]{64} \(referrers API\)/);
    expect(await fetchManifest(f.reg, 'api', digest.replace(':', '-'))).toBeUndefined();
    const [record] = await auditorReadsRecord(f.reg, digest);
    expect(record).toMatchObject({ subject: { digest }, release: { tag: 'release-2.0.0' } });
    const back = await cli(promoteArgs(f, '2.0.0', ['--json']));
    expect(JSON.parse(back.out)).toMatchObject({ status: 'already', record: { via: 'referrers-api' }, gates: [{ gate: 'signature', verdict: 'pass' }, { gate: 'scan', verdict: 'off' }, { gate: 'soak', verdict: 'pass' }, { gate: 'age', verdict: 'off' }] });
  });
});
