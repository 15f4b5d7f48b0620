import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { tmpDir } from './tree';

/**
 * A real OCI registry for tests: Debian's `docker-registry` (distribution 2.8) on 127.0.0.1 and a free
 * port, optionally behind distribution's bearer-token auth with a token service run here. Seeding uses
 * plain HTTP calls written for the test, not tagflow's client.
 */
export const REGISTRY_BINARY = ['/usr/bin/docker-registry', '/usr/local/bin/docker-registry', '/usr/sbin/docker-registry'].find((p) => fs.existsSync(p));
export const REGISTRY_SKIP_REASON = REGISTRY_BINARY ? '' : 'skipped: docker-registry is not installed (apt-get install docker-registry; .ci/run installs it)';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface TestRegistry {
  readonly url: string;
  /** The registry's storage root (to show that a refused promotion wrote nothing). */
  readonly dataDir: string;
  /** Credentials the token service accepts (token auth only). */
  readonly credentials?: { username: string; password: string };
  /** Origin of the token service (token auth only): another port, so another origin than the registry. */
  readonly realm?: string;
  /** Number of token requests served (token auth only). */
  tokenRequests(): number;
  /** An Authorization header for seeding with plain HTTP. */
  authFor(repository: string): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString('base64url');
}

async function startTokenService(keyPem: string, certPem: string, creds: { username: string; password: string }) {
  const der = new crypto.X509Certificate(certPem).raw.toString('base64');
  let count = 0;
  const issue = (scope: string | null, service: string | null) => {
    const access = (scope ?? '')
      .split(' ')
      .filter(Boolean)
      .map((s) => {
        const [type, name, actions] = [s.slice(0, s.indexOf(':')), s.slice(s.indexOf(':') + 1, s.lastIndexOf(':')), s.slice(s.lastIndexOf(':') + 1)];
        return { type, name, actions: actions.split(',') };
      });
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', x5c: [der] }));
    const claims = b64url(
      JSON.stringify({ iss: 'tagflow-test-issuer', sub: creds.username, aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: crypto.randomUUID(), access }),
    );
    const sig = crypto.sign('sha256', Buffer.from(`${header}.${claims}`), keyPem).toString('base64url');
    return `${header}.${claims}.${sig}`;
  };
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const expected = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    count++;
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: issue(u.searchParams.get('scope'), u.searchParams.get('service')) }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return { server, realm: `http://127.0.0.1:${port}/token`, count: () => count, issue };
}

/** Waits (10 s at most) until `url` answers the distribution API's /v2/ (200, or 401 behind auth); kills the child otherwise. */
async function waitForRegistry(url: string, child: ChildProcess, stderr: () => string, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const r = await fetch(`${url}/v2/`);
      if (r.status === 200 || r.status === 401) return;
    } catch {
      /* not up yet */
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill();
      throw new Error(`${what} did not start on ${url}: ${stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts docker-registry (or `binary`: another distribution build); `auth: 'token'` puts it behind bearer-token auth. */
export async function startRegistry(opts: { auth?: 'token'; binary?: string } = {}): Promise<TestRegistry> {
  const binary = opts.binary ?? REGISTRY_BINARY;
  if (!binary) throw new Error(REGISTRY_SKIP_REASON);
  const dir = tmpDir('tagflow-registry-');
  const port = await freePort();
  const creds = { username: 'ci', password: 'hunter2-not-a-secret' };
  let token: Awaited<ReturnType<typeof startTokenService>> | undefined;
  let authConfig = '';
  if (opts.auth === 'token') {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '1', '-subj', '/CN=tagflow-test-token'], {
      cwd: dir,
      stdio: 'ignore',
    });
    token = await startTokenService(fs.readFileSync(path.join(dir, 'key.pem'), 'utf8'), fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8'), creds);
    authConfig = [
      'auth:',
      '  token:',
      `    realm: ${token.realm}`,
      '    service: tagflow-test-registry',
      '    issuer: tagflow-test-issuer',
      `    rootcertbundle: ${path.join(dir, 'cert.pem')}`,
    ].join('\n');
  }
  const config = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${path.join(dir, 'data')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    authConfig,
    '',
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'config.yml'), config);
  const child: ChildProcess = spawn(binary, ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const url = `http://127.0.0.1:${port}`;
  await waitForRegistry(url, child, () => stderr, 'docker-registry');
  return {
    url,
    dataDir: path.join(dir, 'data'),
    credentials: token ? creds : undefined,
    realm: token ? new URL(token.realm).origin : undefined,
    tokenRequests: () => token?.count() ?? 0,
    async authFor(repository): Promise<Record<string, string>> {
      if (!token) return {};
      return { authorization: `Bearer ${token.issue(`repository:${repository}:pull,push,delete`, 'tagflow-test-registry')}` };
    },
    async stop() {
      child.kill();
      await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
      if (token) await new Promise((r) => token!.server.close(r));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function sha256(b: Buffer): string {
  return `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;
}

async function ok(res: Response, what: string): Promise<Response> {
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${await res.text()}`);
  return res;
}

/** Uploads a blob (POST then PUT ?digest=) and returns its descriptor. */
export async function pushBlob(reg: TestRegistry, repository: string, data: Buffer, mediaType: string) {
  const auth = await reg.authFor(repository);
  const digest = sha256(data);
  const start = await ok(await fetch(`${reg.url}/v2/${repository}/blobs/uploads/`, { method: 'POST', headers: auth }), 'POST upload');
  const loc = new URL(start.headers.get('location')!, reg.url);
  loc.searchParams.set('digest', digest);
  await ok(await fetch(loc, { method: 'PUT', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: data }), 'PUT blob');
  return { mediaType, digest, size: data.length };
}

export type ManifestFlavour = 'oci' | 'docker';

/** Pushes a small image (config + one layer) under a tag; returns the manifest digest and bytes. */
export async function pushImage(reg: TestRegistry, repository: string, tag: string, flavour: ManifestFlavour = 'oci', opts: { created?: string } = {}) {
  const oci = flavour === 'oci';
  const config = await pushBlob(
    reg,
    repository,
    Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', ...(opts.created ? { created: opts.created } : {}), rootfs: { type: 'layers', diff_ids: [] }, config: { Labels: { tag } } })),
    oci ? 'application/vnd.oci.image.config.v1+json' : 'application/vnd.docker.container.image.v1+json',
  );
  const layer = await pushBlob(reg, repository, crypto.randomBytes(256), oci ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.docker.image.rootfs.diff.tar.gzip');
  const mediaType = oci ? 'application/vnd.oci.image.manifest.v1+json' : 'application/vnd.docker.distribution.manifest.v2+json';
  const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, config, layers: [layer] }, null, 2));
  await putManifest(reg, repository, tag, mediaType, body);
  return { digest: sha256(body), body, mediaType, blobs: [config.digest, layer.digest] };
}

/** Pushes an OCI image index over the given manifests under a tag. */
export async function pushIndex(reg: TestRegistry, repository: string, tag: string, manifests: { digest: string; body: Buffer; mediaType: string }[]) {
  const mediaType = 'application/vnd.oci.image.index.v1+json';
  const platforms = [
    { architecture: 'amd64', os: 'linux' },
    { architecture: 'arm64', os: 'linux' },
  ];
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      manifests: manifests.map((m, i) => ({ mediaType: m.mediaType, digest: m.digest, size: m.body.length, platform: platforms[i % 2] })),
    }),
  );
  await putManifest(reg, repository, tag, mediaType, body);
  return { digest: sha256(body), body, mediaType };
}

export async function putManifest(reg: TestRegistry, repository: string, reference: string, mediaType: string, body: Buffer): Promise<void> {
  const auth = await reg.authFor(repository);
  await ok(await fetch(`${reg.url}/v2/${repository}/manifests/${reference}`, { method: 'PUT', headers: { ...auth, 'content-type': mediaType }, body }), `PUT manifest ${reference}`);
}

/** GET of a manifest with plain HTTP: its digest header and bytes (for assertions). */
export async function fetchManifest(reg: TestRegistry, repository: string, reference: string) {
  const auth = await reg.authFor(repository);
  const res = await fetch(`${reg.url}/v2/${repository}/manifests/${reference}`, {
    headers: { ...auth, accept: 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
  });
  if (res.status === 404) return undefined;
  await ok(res, `GET manifest ${reference}`);
  return { digest: res.headers.get('docker-content-digest'), body: Buffer.from(await res.arrayBuffer()) };
}

/**
 * go-containerregistry's in-memory registry (`registry -port N`, built from its Go module): serves the
 * OCI referrers API. It listens on localhost only; stopped by its pid.
 */
export async function startGgcrRegistry(binary: string): Promise<TestRegistry> {
  const port = await freePort();
  const child: ChildProcess = spawn(binary, ['-port', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const url = `http://127.0.0.1:${port}`;
  await waitForRegistry(url, child, () => stderr, 'ggcr registry');
  return {
    url,
    dataDir: '',
    tokenRequests: () => 0,
    authFor: async () => ({}),
    async stop() {
      child.kill();
      await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
    },
  };
}
