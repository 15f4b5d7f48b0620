import { expectCliOutput } from './support/cli-output';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { loadStack } from '../src/model/load';
import { synthesizeEnvironment } from '../src/gitops/synth';
import { simulate, unifiedDiff, type TagSource } from '../src/simulate/simulate';
import { registrySource, tagsFileSource, TagsFileError } from '../src/simulate/tag-sources';
import { RegistryClient, RegistryError } from '../src/registry/oci-client';
import { cliAsync } from './support/cli';
import { REPO_ROOT, snapshotTree, tmpDir } from './support/tree';
import { freePort, pushImage, REGISTRY_BINARY, REGISTRY_SKIP_REASON, startRegistry, type TestRegistry } from './support/registry';


const cli = cliAsync;

function treeOf(stack: string): Map<string, string> {
  const out = synthesizeEnvironment(loadStack(REPO_ROOT, stack), stack);
  return new Map([...out.files].filter((e): e is [string, string] => typeof e[1] === 'string'));
}

function writeTags(tags: unknown): string {
  const f = path.join(tmpDir(), 'tags.json');
  fs.writeFileSync(f, JSON.stringify(tags));
  return f;
}

const DIGEST_A = `sha256:${'a'.repeat(64)}`;

describe('simulate with a tags file', () => {
  const devTags = {
    'checkout-api': [
      'branch-dev-1700000000-abc1234',
      'branch-dev-1700000900-def5678',
      'branch-dev-1700000900-def5678.sig',
      'branch-dev-999999999-fff0000', // a smaller number sorting higher as a string: numerical must win
      'branch-staging-1700000300-0a0a0a0',
      'release-1.4.0',
    ],
    'payments/worker': ['branch-dev-1700000100-1111111', 'latest'],
  };

  it('selects per app and tier as Flux would and diffs only the marked values', async () => {
    const env = loadStack(REPO_ROOT, 'dev');
    const tree = treeOf('dev');
    const r = await simulate(env, tree, tagsFileSource(writeTags(devTags), env));
    const pick = (tier: string, app: string) => r.selections.find((s) => s.tier === tier && s.app === app)!;
    expect(pick('dev', 'checkout-api')).toMatchObject({ latest: 'branch-dev-1700000900-def5678', listed: 6 });
    expect(pick('dev', 'checkout-api').candidates).toHaveLength(3);
    expect(pick('staging', 'checkout-api')).toMatchObject({ latest: 'branch-staging-1700000300-0a0a0a0' });
    expect(pick('dev', 'payments-worker').latest).toBe('branch-dev-1700000100-1111111');
    expect(pick('staging', 'payments-worker').latest).toBeUndefined();
    expect(pick('staging', 'payments-worker').error).toMatch(/none of the 2 tags .* matches filterTags.pattern '\^branch-staging-/);
    expect([...r.files.keys()].sort()).toEqual([
      'environments/dev/dev/releases/checkout-api.yaml',
      'environments/dev/dev/releases/payments-worker.yaml',
      'environments/dev/staging/releases/checkout-api.yaml',
    ]);
    // Exactly one line changes per file: the tag marked for that tier's namespace and policy.
    for (const [rel, [before, after]] of r.files) {
      const b = before.split('\n');
      const a = after.split('\n');
      const changed = a.flatMap((l, i) => (l === b[i] ? [] : [l]));
      expect(changed).toHaveLength(1);
      // The value was "" (no image yet): Flux keeps the double-quoted style of the node it rewrites.
      expect(changed[0]).toMatch(new RegExp(`tag: "branch-\\w+-\\d+-\\w+" # \\{"\\$imagepolicy": "(dev|staging):[a-z-]+:tag"\\}`));
      expect(rel).toContain(changed[0]!.includes('"dev:') ? '/dev/releases/' : '/staging/releases/');
    }
  });

  it('prints a diff that git applies to the tree, giving the simulated files', async () => {
    const env = loadStack(REPO_ROOT, 'dev');
    const tree = treeOf('dev');
    const r = await simulate(env, tree, tagsFileSource(writeTags(devTags), env));
    const dir = tmpDir();
    for (const [rel, text] of tree) {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), text);
    }
    const patch = path.join(tmpDir(), 'sim.patch');
    fs.writeFileSync(patch, unifiedDiff(r.files));
    execFileSync('git', ['init', '-q'], { cwd: dir });
    execFileSync('git', ['apply', '--check', patch], { cwd: dir });
    execFileSync('git', ['apply', patch], { cwd: dir });
    for (const [rel, [, after]] of r.files) expect(fs.readFileSync(path.join(dir, rel), 'utf8')).toBe(after);
  });

  it('writes the digest on digest-pinning tiers, and says so when the tags file has none', async () => {
    const env = loadStack(REPO_ROOT, 'prod');
    const tree = treeOf('prod');
    const withDigest = await simulate(
      env,
      tree,
      tagsFileSource(writeTags({ 'checkout-api': [{ tag: 'release-1.4.0', digest: DIGEST_A }, 'release-1.3.9', 'release-2.0.0-rc.1'], 'payments/worker': ['release-1.9.0', 'release-2.1.0'] }), env),
    );
    const api = withDigest.selections.find((s) => s.app === 'checkout-api')!;
    expect(api).toMatchObject({ latest: 'release-1.4.0', digest: DIGEST_A });
    const after = withDigest.files.get('environments/prod/release/releases/checkout-api.yaml')![1];
    expect(after).toContain(`digest: "${DIGEST_A}" # {"$imagepolicy": "production:checkout-api:digest"}`);
    expect(after).toContain('tag: "release-1.4.0" # {"$imagepolicy": "production:checkout-api:tag"}');
    const worker = withDigest.selections.find((s) => s.app === 'payments-worker')!;
    // Pulumi.prod.yaml narrows payments-worker to >=2.0.0 <3.0.0.
    expect(worker.latest).toBe('release-2.1.0');
    expect(worker.error).toMatch(/pins digests and .* gives none for 'release-2.1.0'/);
    // An app without a selectable digest is not half-written.
    expect(withDigest.files.has('environments/prod/release/releases/payments-worker.yaml')).toBe(false);
  });

  it('rejects a tags file that names no repository of the stack, or has the wrong shape', () => {
    const env = loadStack(REPO_ROOT, 'dev');
    expect(() => tagsFileSource(writeTags({ 'chekout-api': ['x'] }), env)).toThrow(/'chekout-api' is not a repository of environment 'dev' \(its repositories: checkout-api, payments\/worker\)/);
    expect(() => tagsFileSource(writeTags({ 'checkout-api': [{ tag: 'x', digest: 'md5:1' }] }), env)).toThrow(/\.checkout-api\[0\]\.digest: must be sha256/);
    expect(() => tagsFileSource(writeTags(['x']), env)).toThrow(TagsFileError);
  });

  it('reports a repository missing from the tags file by name', async () => {
    const env = loadStack(REPO_ROOT, 'dev');
    await expect(simulate(env, treeOf('dev'), tagsFileSource(writeTags({ 'checkout-api': [] }), env))).rejects.toThrow(
      /has no tags for repository 'payments\/worker' \(app 'payments-worker'\)/,
    );
  });

  it('CLI: table and diff, exit 1 when a policy would select nothing, the tree on disk untouched', async () => {
    const out = tmpDir();
    expect((await cli(['synth', '--out', out])).code).toBe(0);
    const before = snapshotTree(out);
    const r = await cli(['simulate', '--stack', 'dev', '--tags', writeTags(devTags), '--out', out]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^TIER +APP +SELECTED +CANDIDATES +DIGEST \/ ERROR$/m);
    expect(r.out).toMatch(/^dev +checkout-api +branch-dev-1700000900-def5678 +3\/6$/m);
    expect(r.out).toContain('+      tag: "branch-dev-1700000900-def5678" # {"$imagepolicy": "dev:checkout-api:tag"}');
    expect(snapshotTree(out)).toEqual(before);
    const json = await cli(['simulate', '--stack', 'dev', '--tags', writeTags({ ...devTags, 'payments/worker': ['branch-dev-1-a', { tag: 'branch-staging-2-b', digest: DIGEST_A }] }), '--out', out, '--json']);
    expect(json.code).toBe(0);
    const parsed = expectCliOutput('simulate', json.out);
    expect(parsed.selections).toHaveLength(4);
    expect(parsed.diff).toContain('diff --git a/environments/dev/staging/releases/payments-worker.yaml');
  });

  it('CLI: starts from the marker values already in the tree (what Flux committed)', async () => {
    const out = tmpDir();
    expect((await cli(['synth', '--out', out])).code).toBe(0);
    const file = path.join(out, 'environments/dev/dev/releases/checkout-api.yaml');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('tag: ""', 'tag: "branch-dev-1700000900-def5678"'));
    const r = await cli(['simulate', '--stack', 'dev', '--tags', writeTags({ ...devTags, 'payments/worker': ['branch-dev-1-a', { tag: 'branch-staging-2-b', digest: DIGEST_A }] }), '--out', out]);
    expect(r.code).toBe(0);
    expect(r.out).not.toContain('a/environments/dev/dev/releases/checkout-api.yaml');
    expect(r.out).toContain('a/environments/dev/staging/releases/checkout-api.yaml');
  });

  it('CLI: one tag source at most; an unknown tier or app is a usage error', async () => {
    const r = await cli(['simulate', '--stack', 'dev', '--tags', writeTags(devTags), '--registry', 'http://127.0.0.1:1']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('simulate takes --tags FILE or --registry URL, not both');
    const t = await cli(['simulate', '--stack', 'dev', '--tags', writeTags(devTags), '--tier', 'qa']);
    expect(t.code).toBe(2);
    expect(t.err).toContain("--tier 'qa': environment 'dev' has tiers dev, staging");
    const a = await cli(['simulate', '--stack', 'dev', '--tags', writeTags(devTags), '--app', 'nope']);
    expect(a.code).toBe(2);
    expect(a.err).toContain("--app 'nope': environment 'dev' has apps checkout-api, payments-worker");
  });

  it('CLI: --tier and --app narrow the selections and the diff', async () => {
    const r = await cli(['simulate', '--stack', 'dev', '--tags', writeTags({ ...devTags, 'payments/worker': ['branch-dev-1-a', 'branch-staging-2-b'] }), '--tier', 'dev', '--app', 'checkout-api', '--out', tmpDir(), '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.selections.map((s: { tier: string; app: string }) => `${s.tier}/${s.app}`)).toEqual(['dev/checkout-api']);
    expect(j.diff).toContain('environments/dev/dev/releases/checkout-api.yaml');
    expect(j.diff).not.toContain('payments-worker');
  });
});

describe('simulate against a registry that fails', () => {
  it('a registry that is down: exit 3, one line, no stack trace', async () => {
    const port = await freePort();
    const r = await cli(['simulate', '--stack', 'dev', '--registry', `http://127.0.0.1:${port}`, '--insecure-registry', '--out', tmpDir()]);
    expect(r.code).toBe(3);
    expect(r.err.trim()).toBe(`tagflow: http://127.0.0.1:${port} is unreachable (GET /v2/checkout-api/tags/list): ECONNREFUSED`);
  });

  it('a server that answers garbage: exit 3, says it is not an OCI registry', async () => {
    const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>It works!</body></html>'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as net.AddressInfo).port;
      const r = await cli(['simulate', '--stack', 'dev', '--registry', `http://127.0.0.1:${port}`, '--insecure-registry', '--out', tmpDir()]);
      expect(r.code).toBe(3);
      expect(r.err).toContain('GET tags/list of \'checkout-api\' answered something that is not a JSON object (is this an OCI registry?): "<html><body>It works!</body></html>"');
      expect(r.err).not.toMatch(/\n\s+at /);
    } finally {
      server.close();
    }
  });

  it('JSON without a tags array, and a 500, are reported as such', async () => {
    let answer = '{"name":"x","tags":"nope"}';
    let status = 200;
    const server = http.createServer((_req, res) => res.writeHead(status, { 'content-type': 'application/json' }).end(answer));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const c = new RegistryClient({ insecure: true, baseUrl: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}` });
      await expect(c.listTags('x')).rejects.toThrow(/answered JSON without a "tags" array of strings/);
      status = 500;
      answer = '{"errors":[{"code":"UNKNOWN","message":"storage backend down"}]}';
      await expect(c.listTags('x')).rejects.toThrow(/failed with HTTP 500: UNKNOWN: storage backend down/);
    } finally {
      server.close();
    }
  });
});

const describeRegistry = REGISTRY_BINARY ? describe : describe.skip;
const suffix = REGISTRY_BINARY ? '' : ` (${REGISTRY_SKIP_REASON})`;

describeRegistry(`simulate against a real docker-registry${suffix}`, () => {
  let reg: TestRegistry;
  const pushed = new Map<string, string>();
  const tags = {
    'checkout-api': ['branch-dev-1700000000-abc1234', 'branch-dev-1700000900-def5678', 'branch-staging-1700000300-0a0a0a0', 'release-1.3.9', 'release-1.4.0'],
    'payments/worker': ['branch-dev-1700000100-1111111', 'branch-staging-1700000200-2222222', 'release-1.9.0', 'release-2.1.0'],
  };

  beforeAll(async () => {
    reg = await startRegistry();
    for (const [repo, list] of Object.entries(tags)) {
      for (const [i, tag] of list.entries()) pushed.set(`${repo}:${tag}`, (await pushImage(reg, repo, tag, i % 2 ? 'docker' : 'oci')).digest);
    }
  }, 60_000);
  afterAll(async () => reg?.stop());

  it('lists every tag across pages', async () => {
    const c = new RegistryClient({ insecure: true, baseUrl: reg.url, pageSize: 2 });
    expect((await c.listTags('checkout-api')).sort()).toEqual([...tags['checkout-api']].sort());
    await expect(c.listTags('nope')).rejects.toThrow(/repository 'nope' does not exist: NAME_UNKNOWN/);
  });

  it('selects from the registry, with the manifest digest on the release tier', async () => {
    const dev = loadStack(REPO_ROOT, 'dev');
    const r = await simulate(dev, treeOf('dev'), registrySource(reg.url, { pageSize: 2, insecure: true }));
    expect(r.selections.map((s) => [s.tier, s.app, s.latest])).toEqual([
      ['dev', 'checkout-api', 'branch-dev-1700000900-def5678'],
      ['dev', 'payments-worker', 'branch-dev-1700000100-1111111'],
      ['staging', 'checkout-api', 'branch-staging-1700000300-0a0a0a0'],
      ['staging', 'payments-worker', 'branch-staging-1700000200-2222222'],
    ]);
    const prod = loadStack(REPO_ROOT, 'prod');
    const p = await simulate(prod, treeOf('prod'), registrySource(reg.url, { insecure: true }));
    const api = p.selections.find((s) => s.app === 'checkout-api')!;
    expect(api.latest).toBe('release-1.4.0');
    expect(api.digest).toBe(pushed.get('checkout-api:release-1.4.0'));
    expect(p.files.get('environments/prod/release/releases/checkout-api.yaml')![1]).toContain(`digest: "${api.digest}" #`);
  });

  it('CLI against the registry: exit 0, the table, the tree untouched', async () => {
    const out = tmpDir();
    expect((await cli(['synth', '--out', out])).code).toBe(0);
    const before = snapshotTree(out);
    const r = await cli(['simulate', '--stack', 'prod', '--registry', reg.url, '--insecure-registry', '--out', out]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`^release +payments-worker +release-2\\.1\\.0 +2/4 +${pushed.get('payments/worker:release-2.1.0')}$`, 'm'));
    expect(snapshotTree(out)).toEqual(before);
  });
});

describeRegistry(`simulate against a docker-registry behind bearer-token auth${suffix}`, () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ auth: 'token' });
    await pushImage(reg, 'checkout-api', 'branch-dev-1700000500-abcdef0');
    await pushImage(reg, 'checkout-api', 'branch-staging-1700000600-abcdef1');
    await pushImage(reg, 'payments/worker', 'branch-dev-1700000700-abcdef2');
    await pushImage(reg, 'payments/worker', 'branch-staging-1700000800-abcdef3');
  }, 60_000);
  afterAll(async () => reg?.stop());

  it('gets a token from the realm with the given credentials and lists tags', async () => {
    const before = reg.tokenRequests();
    const c = new RegistryClient({ insecure: true, baseUrl: reg.url, credentials: async () => reg.credentials, allowedRealms: [reg.realm!], pageSize: 1 });
    expect(await c.listTags('payments/worker')).toEqual(['branch-dev-1700000700-abcdef2', 'branch-staging-1700000800-abcdef3']);
    // One token for the scope, reused across pages.
    expect(reg.tokenRequests() - before).toBe(1);
  });

  it('without credentials the token service refuses, and the message says where', async () => {
    const c = new RegistryClient({ insecure: true, baseUrl: reg.url });
    await expect(c.listTags('checkout-api')).rejects.toBeInstanceOf(RegistryError);
    await expect(c.listTags('checkout-api')).rejects.toThrow(/token service http:\/\/127\.0\.0\.1:\d+\/token refused a token for 'repository:checkout-api:pull' \(401\)/);
  });

  it('CLI with TAGFLOW_REGISTRY_USERNAME/PASSWORD', async () => {
    const r = await cli(['simulate', '--stack', 'dev', '--registry', reg.url, '--insecure-registry', '--registry-token-realm', reg.realm!, '--out', tmpDir()], {
      TAGFLOW_REGISTRY_USERNAME: reg.credentials!.username,
      TAGFLOW_REGISTRY_PASSWORD: reg.credentials!.password,
    });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^staging +payments-worker +branch-staging-1700000800-abcdef3 +1\/2 +sha256:[0-9a-f]{64}$/m);
  });
});

describe('tag sources are pluggable', () => {
  it('simulate asks the source for a digest only on digest-pinning tiers', async () => {
    const asked: string[] = [];
    const source: TagSource = {
      name: 'fake',
      tags: async (app) => (app.tier === 'release' ? [{ tag: 'release-2.0.0' }] : [{ tag: `branch-${app.tier}-1-a` }]),
      digest: async (app, tag) => {
        asked.push(`${app.tier}/${app.app}:${tag}`);
        return DIGEST_A;
      },
    };
    // In the dev stack only payments-worker overrides staging to pin digests.
    await simulate(loadStack(REPO_ROOT, 'dev'), treeOf('dev'), source);
    expect(asked).toEqual(['staging/payments-worker:branch-staging-1-a']);
    asked.length = 0;
    await simulate(loadStack(REPO_ROOT, 'prod'), treeOf('prod'), source);
    expect(asked).toEqual(['release/checkout-api:release-2.0.0', 'release/payments-worker:release-2.0.0']);
  });
});
