import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type * as net from 'node:net';
import * as path from 'node:path';
import { copyImage } from '../src/promote/copy-image';
import { RegistryClient, RegistryError, RegistryRun } from '../src/registry/oci-client';
import { cliAsync } from './support/cli';
import { tmpDir } from './support/tree';

/**
 * A hostile registry on 127.0.0.1: each test sets what it answers. Every request is recorded (method,
 * path, Authorization), so a test can prove what was (not) sent and (not) written. Servers are closed
 * after the tests, connections destroyed.
 */
type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

interface Hostile {
  url: string;
  origin: string;
  requests: { method: string; url: string; authorization?: string }[];
  handle: Handler;
  close(): Promise<void>;
}

async function hostile(opts: { tls?: { key: string; cert: string } } = {}): Promise<Hostile> {
  const sockets = new Set<net.Socket>();
  const h: Hostile = {
    url: '',
    origin: '',
    requests: [],
    handle: (_req, res) => res.writeHead(404).end(),
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
  const listener: Handler = (req, res) => {
    h.requests.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization });
    h.handle(req, res);
  };
  const server = opts.tls ? https.createServer(opts.tls, listener) : http.createServer(listener);
  server.on('connection', (s) => sockets.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  h.url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  h.origin = h.url;
  return h;
}

const sha256 = (b: Buffer | string) => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;
const CREDS = { username: 'ci', password: 'hunter2-not-a-secret' };
const BASIC = `Basic ${Buffer.from(`${CREDS.username}:${CREDS.password}`).toString('base64')}`;

describe('a hostile registry cannot make tagflow hang, grow without bound, leak credentials or promote unverified bytes', () => {
  let reg: Hostile;
  let other: Hostile;
  beforeAll(async () => {
    [reg, other] = await Promise.all([hostile(), hostile()]);
  });
  afterAll(async () => Promise.all([reg.close(), other.close()]));
  beforeEach(() => {
    reg.requests.length = 0;
    other.requests.length = 0;
  });
  const client = (limits: ConstructorParameters<typeof RegistryRun>[0] = {}, extra: Partial<ConstructorParameters<typeof RegistryClient>[0]> = {}) =>
    new RegistryClient({ baseUrl: reg.url, insecure: true, run: new RegistryRun(limits), ...extra });

  test('endless unique Link pages stop at the page limit (the CLI with its default of 1,000): exit 3, one line', async () => {
    let n = 0;
    reg.handle = (_req, res) => {
      n++;
      res.writeHead(200, { 'content-type': 'application/json', link: `</v2/checkout-api/tags/list?last=t${n}&n=1000>; rel="next"` }).end(JSON.stringify({ name: 'x', tags: [`t${n}`] }));
    };
    const r = await cliAsync(['simulate', '--stack', 'dev', '--registry', reg.url, '--insecure-registry', '--out', tmpDir()]);
    expect(r.code).toBe(3);
    expect(r.err).toBe(`tagflow: ${reg.url}: GET tags/list of 'checkout-api' sent more than 1000 pages (1000 tags so far); tagflow stops there\n`);
    expect(n).toBe(1000);
  }, 60_000);

  test('more tags than the limit stop there', async () => {
    reg.handle = (req, res) => {
      const last = Number(new URL(req.url!, 'http://x').searchParams.get('last') ?? 0);
      const tags = Array.from({ length: 1000 }, (_, i) => `t${last + i}`);
      res.writeHead(200, { 'content-type': 'application/json', link: `</v2/a/tags/list?last=${last + 1000}>; rel="next"` }).end(JSON.stringify({ tags }));
    };
    await expect(client({ maxTags: 5000 }).listTags('a')).rejects.toThrow(/sent more than 5000 tags; tagflow stops there/);
    expect(reg.requests).toHaveLength(6);
  });

  test('a huge (endless) body stops at the response limit; memory stays bounded', async () => {
    reg.handle = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"tags":[');
      const chunk = Buffer.from('"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",'.repeat(1000));
      const pump = () => {
        while (res.write(chunk)) if (res.destroyed) return;
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    };
    global.gc?.();
    const before = process.memoryUsage().rss;
    const t0 = Date.now();
    await expect(client().listTags('a')).rejects.toThrow(`${reg.url}: GET tags/list of 'a' sent more than 4194304 bytes; tagflow stops there`);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
  });

  test('a body announced larger than the limit is refused before it is read', async () => {
    reg.handle = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(50 * 1024 * 1024) });
      res.write('{"tags":[');
    };
    await expect(client().listTags('a')).rejects.toThrow(/GET tags\/list of 'a' announced 52428800 bytes; tagflow reads at most 4194304 here/);
  });

  test('a stalled body (headers, a few bytes, then nothing) ends at the idle timeout', async () => {
    reg.handle = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"tags":["a"');
    };
    const t0 = Date.now();
    await expect(client({ idleTimeoutMs: 500 }).listTags('a')).rejects.toThrow(`${reg.url} stopped answering (GET /v2/a/tags/list): no data for 0.5 s (stalled)`);
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  test('a registry that never sends headers ends at the idle timeout', async () => {
    reg.handle = () => undefined;
    await expect(client({ idleTimeoutMs: 400 }).listTags('a')).rejects.toThrow(`${reg.url} is unreachable (GET /v2/a/tags/list): no data for 0.4 s (stalled)`);
  });

  test('a trickle (a byte every 100 ms, never idle) ends at the deadline', async () => {
    reg.handle = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"tags":["');
      const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write('a')), 100);
    };
    const t0 = Date.now();
    await expect(client({ idleTimeoutMs: 1000, deadlineMs: 1500 }).listTags('a')).rejects.toThrow(/stopped answering \(GET \/v2\/a\/tags\/list\): the command's registry deadline \(1\.5 s\) passed/);
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  test.each([
    ['truncated JSON', '{"tags": ["a", '],
    ['not JSON', '<html>It works!</html>'],
    ['a JSON list', '["a"]'],
  ])('garbage (%s) is a one-line error', async (_name, body) => {
    reg.handle = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    const r = await cliAsync(['simulate', '--stack', 'dev', '--registry', reg.url, '--insecure-registry', '--out', tmpDir()]);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/^tagflow: http:\/\/127\.0\.0\.1:\d+: GET tags\/list of 'checkout-api' answered something that is not a JSON object \(is this an OCI registry\?\): .*\n$/);
    expect(r.err.trim().split('\n')).toHaveLength(1);
  });

  test('a tag longer than an OCI tag can be is refused', async () => {
    reg.handle = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ tags: ['a'.repeat(129)] }));
    await expect(client().listTags('a')).rejects.toThrow(/sent a tag of 129 characters; an OCI tag has at most 128/);
  });

  describe('credentials', () => {
    const tokenService: Handler = (req, res) => res.writeHead(req.headers.authorization === BASIC ? 200 : 401, { 'content-type': 'application/json' }).end(req.headers.authorization === BASIC ? '{"token":"t0k3n"}' : '{"details":"who are you?"}');
    const challenge = (realm: string): Handler => (req, res) => {
      if (req.headers.authorization === 'Bearer t0k3n') res.writeHead(200, { 'content-type': 'application/json' }).end('{"tags":["a"]}');
      else res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm}",service="reg"` }).end();
    };

    test('a bearer realm on another origin gets no credentials unless allowed (and says how to allow it)', async () => {
      other.handle = tokenService;
      reg.handle = challenge(`${other.url}/token`);
      const withCreds = (allowedRealms?: string[]) => client({}, { credentials: async () => CREDS, allowedRealms });
      await expect(withCreds().listTags('a')).rejects.toThrow(
        `token service ${other.url}/token refused a token for 'repository:a:pull' (401): "{\\"details\\":\\"who are you?\\"}"; it is not ${reg.url}, so tagflow did not send it your credentials: allow it with --registry-token-realm ${other.url}`,
      );
      expect(other.requests.map((r) => r.authorization)).toEqual([undefined]);
      expect(reg.requests.every((r) => r.authorization === undefined)).toBe(true);
      other.requests.length = 0;
      expect(await withCreds([other.url]).listTags('a')).toEqual(['a']);
      expect(other.requests.map((r) => r.authorization)).toEqual([BASIC]);
    });

    test('a realm on the registry\'s own origin gets them', async () => {
      reg.handle = (req, res) => (req.url!.startsWith('/token') ? tokenService(req, res) : challenge(`${reg.url}/token`)(req, res));
      expect(await client({}, { credentials: async () => CREDS }).listTags('a')).toEqual(['a']);
      expect(reg.requests.find((r) => r.url.startsWith('/token'))?.authorization).toBe(BASIC);
    });

    test('a redirect to another origin drops the Authorization header', async () => {
      other.handle = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"tags":["moved"]}');
      reg.handle = (req, res) => {
        if (!req.headers.authorization) res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end();
        else res.writeHead(307, { location: `${other.url}/v2/a/tags/list` }).end();
      };
      expect(await client({}, { credentials: async () => CREDS }).listTags('a')).toEqual(['moved']);
      expect(reg.requests.map((r) => r.authorization)).toEqual([undefined, BASIC]);
      expect(other.requests.map((r) => r.authorization)).toEqual([undefined]);
    });

    test('plain HTTP: an http:// registry needs --insecure-registry (exit 2)', async () => {
      const r = await cliAsync(['simulate', '--stack', 'dev', '--registry', reg.url, '--out', tmpDir()]);
      expect(r.code).toBe(2);
      expect(r.err).toBe(`tagflow: registry '${reg.url}' is plain HTTP: credentials and images would travel unencrypted; pass --insecure-registry to allow it\n`);
      expect(reg.requests).toEqual([]);
    });

    const canTls = (() => {
      try {
        execFileSync('openssl', ['version'], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    })();
    (canTls ? test : test.skip)('an HTTPS registry whose realm is plain HTTP: no token request, exit 3 (CLI, real TLS on 127.0.0.1)', async () => {
      const dir = tmpDir();
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { cwd: dir, stdio: 'ignore' });
      const tls = await hostile({ tls: { key: fs.readFileSync(path.join(dir, 'key.pem'), 'utf8'), cert: fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8') } });
      try {
        other.handle = tokenService;
        tls.handle = challenge(`${other.url}/token`);
        const r = await cliAsync(['simulate', '--stack', 'dev', '--registry', tls.url, '--registry-token-realm', other.url, '--out', tmpDir()], {
          NODE_EXTRA_CA_CERTS: path.join(dir, 'cert.pem'),
          TAGFLOW_REGISTRY_USERNAME: CREDS.username,
          TAGFLOW_REGISTRY_PASSWORD: CREDS.password,
        });
        expect(r.code).toBe(3);
        expect(r.err).toBe(`tagflow: ${tls.url} sent a Bearer challenge with realm ${other.url}/token, which is not HTTPS; tagflow sends no credentials over plain HTTP (--insecure-registry allows it)\n`);
        expect(other.requests).toEqual([]);
        expect(tls.requests.length).toBeGreaterThan(0); // the TLS registry was really reached
      } finally {
        await tls.close();
      }
    }, 60_000);
  });

  describe('promote verifies every manifest and blob before it writes anything', () => {
    const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
    const layer = crypto.randomBytes(512);
    const manifestOf = (cfg: Buffer, lyr: Buffer) =>
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(cfg), size: cfg.length },
          layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(lyr), size: lyr.length }],
        }),
      );
    const manifest = manifestOf(config, layer);
    const digest = sha256(manifest);
    /** A source registry that serves the image, with one lie chosen by the test. */
    const source = (lie: 'manifest-bytes' | 'header' | 'blob' | 'none'): Handler => (req, res) => {
      const u = req.url!;
      const mt = { 'content-type': 'application/vnd.oci.image.manifest.v1+json' };
      if (u.includes('/manifests/')) {
        const body = lie === 'manifest-bytes' ? manifestOf(config, crypto.randomBytes(512)) : manifest;
        const header = lie === 'header' ? sha256('something else') : sha256(body);
        res.writeHead(200, { ...mt, 'docker-content-digest': header, 'content-length': String(body.length) }).end(req.method === 'HEAD' ? undefined : body);
      } else if (u.includes(`/blobs/${sha256(config)}`)) res.writeHead(200).end(config);
      else if (u.includes(`/blobs/${sha256(layer)}`)) res.writeHead(200).end(lie === 'blob' ? crypto.randomBytes(512) : layer);
      else res.writeHead(404).end();
    };
    /** A target registry that has nothing, and records every write. */
    const target: Handler = (req, res) => {
      if (req.method === 'HEAD' || req.method === 'GET') res.writeHead(404).end();
      else if (req.method === 'POST') res.writeHead(202, { location: '/v2/rel/blobs/uploads/u1' }).end();
      else {
        req.resume();
        req.on('end', () => res.writeHead(201, { 'docker-content-digest': digest }).end());
      }
    };
    const writes = () => other.requests.filter((r) => r.method === 'PUT' || r.method === 'POST' || r.method === 'PATCH' || r.method === 'DELETE');
    const copy = () =>
      copyImage(
        { client: new RegistryClient({ baseUrl: reg.url, insecure: true }), repository: 'app' },
        digest,
        { client: new RegistryClient({ baseUrl: other.url, insecure: true }), repository: 'rel' },
        'release-1.0.0',
      );

    test.each([
      ['the manifest bytes do not hash to the digest asked for', 'manifest-bytes' as const, /asked for manifest app@sha256:[0-9a-f]{64}, got content with digest sha256:[0-9a-f]{64}; nothing was written/],
      ['the Docker-Content-Digest header disagrees with the bytes', 'header' as const, /manifest app:sha256:[0-9a-f]{64} has digest sha256:[0-9a-f]{64} but the registry says sha256:[0-9a-f]{64}; nothing was written/],
      ['a layer does not hash to its digest', 'blob' as const, /blob app@sha256:[0-9a-f]{64} arrived with digest sha256:[0-9a-f]{64}; nothing was written/],
    ])('%s: RegistryError, and the target saw no write', async (_name, lie, message) => {
      reg.handle = source(lie);
      other.handle = target;
      const err = await copy().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(RegistryError);
      expect((err as Error).message).toMatch(message);
      expect(writes()).toEqual([]);
    });

    test('an honest source: blobs, then the manifest under the tag', async () => {
      reg.handle = source('none');
      other.handle = target;
      expect(await copy()).toMatchObject({ status: 'copied', digest, blobsCopied: 2 });
      expect(writes().map((r) => `${r.method} ${r.url.split('?')[0]}`)).toEqual([
        'POST /v2/rel/blobs/uploads/',
        'PUT /v2/rel/blobs/uploads/u1',
        'POST /v2/rel/blobs/uploads/',
        'PUT /v2/rel/blobs/uploads/u1',
        'PUT /v2/rel/manifests/release-1.0.0',
      ]);
    });
  });
});
