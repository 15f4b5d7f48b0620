import { createHash } from 'node:crypto';
import { parseWwwAuthenticate } from './www-authenticate';

/** The OCI digest of some bytes: `sha256:<hex>`. */
export function sha256Digest(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** The registry is down, refuses us, or answers something that is not the OCI distribution API: exit 3. */
export class RegistryError extends Error {
  public readonly exitCode = 3;
}

export interface RegistryCredentials {
  readonly username: string;
  readonly password: string;
}

export interface RegistryClientOptions {
  /** `https://host[:port]` or `http://host[:port]` (plain HTTP only when asked for explicitly). */
  readonly baseUrl: string;
  /** Basic credentials, also sent to a bearer token realm; called at most once, on the first 401. */
  readonly credentials?: () => Promise<RegistryCredentials | undefined>;
  /** Tags asked for per page of `tags/list` (the registry may return fewer). */
  readonly pageSize?: number;
  /** Per-request timeout. */
  readonly timeoutMs?: number;
}

/** Manifest media types tagflow accepts, in the Accept header of manifest requests. */
export const MANIFEST_MEDIA_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
] as const;

export interface Manifest {
  readonly mediaType: string;
  readonly digest: string;
  /** The exact bytes the registry stores: their sha256 is the digest. */
  readonly body: Buffer;
}

/** Strips a trailing slash, defaults the scheme to https, and rejects anything but a bare origin. */
export function normalizeRegistryUrl(url: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `https://${url}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw new RegistryError(`registry '${url}' is not a URL or host[:port]`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new RegistryError(`registry '${url}': only https:// and http:// are supported`);
  if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash) {
    throw new RegistryError(`registry '${url}' must be an origin (scheme, host, port) without a path; the repository comes from the stack`);
  }
  return `${u.protocol}//${u.host}`;
}

/**
 * A small OCI distribution API client: the calls tagflow needs, with the token dance registries use
 * (401 + `WWW-Authenticate: Bearer realm=…` → token from the realm → retry) and Basic auth (ECR).
 * Every failure becomes a RegistryError that says which registry, which call and what went wrong.
 */
export class RegistryClient {
  public readonly baseUrl: string;
  private readonly opts: RegistryClientOptions;
  private creds?: Promise<RegistryCredentials | undefined>;
  /** Authorization header per scope (`repository:<name>:<actions>`), once a challenge was answered. */
  private readonly authByScope = new Map<string, string>();

  constructor(opts: RegistryClientOptions) {
    this.baseUrl = normalizeRegistryUrl(opts.baseUrl);
    this.opts = opts;
  }

  /** Every tag of a repository, following `Link: <…>; rel="next"` pages. */
  public async listTags(repository: string): Promise<string[]> {
    const tags: string[] = [];
    let next: string | undefined = `/v2/${repository}/tags/list?n=${this.opts.pageSize ?? 1000}`;
    const seen = new Set<string>();
    while (next) {
      if (seen.has(next)) throw new RegistryError(`${this.baseUrl}: tags/list of '${repository}' links back to a page it already sent (${next})`);
      seen.add(next);
      const res = await this.request('GET', next, repository, 'pull');
      if (res.status === 404) throw await this.notFound(res, `repository '${repository}'`);
      await this.expectOk(res, `GET tags/list of '${repository}'`);
      const body = await this.json(res, `GET tags/list of '${repository}'`);
      const page = (body as { tags?: unknown }).tags;
      // Registries send `"tags": null` for a repository without tags.
      if (page !== null && page !== undefined && !(Array.isArray(page) && page.every((t) => typeof t === 'string'))) {
        throw new RegistryError(`${this.baseUrl}: GET tags/list of '${repository}' answered JSON without a "tags" array of strings`);
      }
      tags.push(...((page as string[] | null) ?? []));
      next = nextLink(res.headers.get('link'), this.baseUrl);
    }
    return tags;
  }

  /** The digest a tag points at (HEAD on the manifest, `Docker-Content-Digest`), or undefined when the tag does not exist. */
  public async resolveDigest(repository: string, reference: string): Promise<string | undefined> {
    const res = await this.request('HEAD', `/v2/${repository}/manifests/${reference}`, repository, 'pull', { accept: MANIFEST_MEDIA_TYPES.join(', ') });
    if (res.status === 404) return undefined;
    await this.expectOk(res, `HEAD manifest ${repository}:${reference}`);
    const digest = res.headers.get('docker-content-digest');
    if (digest) return digest;
    // Some registries omit the header on HEAD; the body's hash is the digest then.
    return (await this.getManifest(repository, reference))?.digest;
  }

  /** The manifest a tag or digest points at, byte for byte; undefined when it does not exist. */
  public async getManifest(repository: string, reference: string): Promise<Manifest | undefined> {
    const res = await this.request('GET', `/v2/${repository}/manifests/${reference}`, repository, 'pull', { accept: MANIFEST_MEDIA_TYPES.join(', ') });
    if (res.status === 404) return undefined;
    await this.expectOk(res, `GET manifest ${repository}:${reference}`);
    const body = Buffer.from(await res.arrayBuffer());
    const digest = sha256Digest(body);
    const claimed = res.headers.get('docker-content-digest');
    if (claimed && claimed !== digest && claimed.startsWith('sha256:')) {
      throw new RegistryError(`${this.baseUrl}: manifest ${repository}:${reference} has digest ${digest} but the registry says ${claimed}`);
    }
    if (reference.startsWith('sha256:') && reference !== digest) {
      throw new RegistryError(`${this.baseUrl}: asked for manifest ${repository}@${reference}, got content with digest ${digest}`);
    }
    let mediaType = res.headers.get('content-type')?.split(';')[0]?.trim() ?? '';
    try {
      mediaType = (JSON.parse(body.toString('utf8')) as { mediaType?: string }).mediaType ?? mediaType;
    } catch {
      throw new RegistryError(`${this.baseUrl}: GET manifest ${repository}:${reference} answered something that is not JSON`);
    }
    return { mediaType, digest, body };
  }

  /** Stores a manifest under a tag (or digest); returns the digest the registry reports. */
  public async putManifest(repository: string, reference: string, manifest: Pick<Manifest, 'mediaType' | 'body'>): Promise<string> {
    const res = await this.request('PUT', `/v2/${repository}/manifests/${reference}`, repository, 'pull,push', { 'content-type': manifest.mediaType }, manifest.body);
    await this.expectOk(res, `PUT manifest ${repository}:${reference}`);
    return res.headers.get('docker-content-digest') ?? '';
  }

  /** Whether a blob exists in a repository. */
  public async hasBlob(repository: string, digest: string): Promise<boolean> {
    const res = await this.request('HEAD', `/v2/${repository}/blobs/${digest}`, repository, 'pull');
    if (res.status === 404) return false;
    await this.expectOk(res, `HEAD blob ${repository}@${digest}`);
    return true;
  }

  /** A blob's bytes. */
  public async getBlob(repository: string, digest: string): Promise<Buffer> {
    const res = await this.request('GET', `/v2/${repository}/blobs/${digest}`, repository, 'pull');
    await this.expectOk(res, `GET blob ${repository}@${digest}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    const actual = sha256Digest(bytes);
    if (digest.startsWith('sha256:') && actual !== digest) throw new RegistryError(`${this.baseUrl}: blob ${repository}@${digest} arrived with digest ${actual}`);
    return bytes;
  }

  /**
   * Uploads a blob (monolithic POST + PUT), or mounts it from `mountFrom` in the same registry when the
   * registry allows (callers check `hasBlob` first).
   */
  public async putBlob(repository: string, digest: string, data: () => Promise<Buffer>, mountFrom?: string): Promise<void> {
    const actions = 'pull,push';
    const mount = mountFrom ? `?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(mountFrom)}` : '';
    const start = await this.request('POST', `/v2/${repository}/blobs/uploads/${mount}`, repository, actions);
    if (start.status === 201) return; // mounted
    await this.expectOk(start, `POST blob upload to ${repository}`);
    const location = start.headers.get('location');
    if (!location) throw new RegistryError(`${this.baseUrl}: POST blob upload to ${repository} answered without a Location header`);
    const url = new URL(location, this.baseUrl);
    url.searchParams.set('digest', digest);
    const bytes = await data();
    const put = await this.request('PUT', url.pathname + url.search, repository, actions, { 'content-type': 'application/octet-stream' }, bytes);
    await this.expectOk(put, `PUT blob ${repository}@${digest}`);
  }

  private async request(
    method: string,
    pathAndQuery: string,
    repository: string,
    actions: string,
    headers: Record<string, string> = {},
    body?: Buffer,
  ): Promise<Response> {
    const scope = `repository:${repository}:${actions}`;
    const send = (authorization?: string) => this.fetch(method, pathAndQuery, { ...headers, ...(authorization ? { authorization } : {}) }, body);
    let res = await send(this.authByScope.get(scope));
    if (res.status !== 401) return res;
    const challenges = parseWwwAuthenticate(res.headers.get('www-authenticate') ?? '');
    await res.arrayBuffer().catch(() => undefined);
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    let authorization: string;
    if (bearer) authorization = `Bearer ${await this.token(bearer.params, scope)}`;
    else if (basic) {
      const c = await this.credentials();
      if (!c) throw new RegistryError(`${this.baseUrl} requires a username and password (Basic auth) for ${method} ${stripQuery(pathAndQuery)}; none were given`);
      authorization = `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
    } else {
      throw new RegistryError(`${this.baseUrl} answered 401 to ${method} ${stripQuery(pathAndQuery)} without a Bearer or Basic challenge`);
    }
    this.authByScope.set(scope, authorization);
    res = await send(authorization);
    if (res.status === 401 || res.status === 403) {
      throw new RegistryError(`${this.baseUrl} refused ${method} ${stripQuery(pathAndQuery)} (${res.status}) with the credentials it asked for: ${await errorText(res)}`);
    }
    return res;
  }

  private credentials(): Promise<RegistryCredentials | undefined> {
    this.creds ??= this.opts.credentials ? this.opts.credentials() : Promise.resolve(undefined);
    return this.creds;
  }

  /** Distribution's token flow: GET realm?service=…&scope=…, with Basic credentials when we have them. */
  private async token(params: Readonly<Record<string, string>>, scope: string): Promise<string> {
    const realm = params.realm;
    if (!realm) throw new RegistryError(`${this.baseUrl} sent a Bearer challenge without a realm`);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new RegistryError(`${this.baseUrl} sent a Bearer challenge whose realm '${realm}' is not a URL`);
    }
    if (params.service) url.searchParams.set('service', params.service);
    url.searchParams.set('scope', params.scope ?? scope);
    const c = await this.credentials();
    const headers: Record<string, string> = c ? { authorization: `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` } : {};
    const res = await this.fetchUrl('GET', url, headers);
    if (!res.ok) throw new RegistryError(`token service ${url.origin}${url.pathname} refused a token for '${scope}' (${res.status}): ${await errorText(res)}`);
    const body = await this.json(res, `GET token from ${url.origin}${url.pathname}`);
    const token = (body as { token?: unknown; access_token?: unknown }).token ?? (body as { access_token?: unknown }).access_token;
    if (typeof token !== 'string' || !token) throw new RegistryError(`token service ${url.origin}${url.pathname} answered JSON without a "token"`);
    return token;
  }

  private fetch(method: string, pathAndQuery: string, headers: Record<string, string>, body?: Buffer): Promise<Response> {
    return this.fetchUrl(method, new URL(pathAndQuery, this.baseUrl), headers, body);
  }

  private async fetchUrl(method: string, url: URL, headers: Record<string, string>, body?: Buffer): Promise<Response> {
    try {
      return await fetch(url, { method, headers, body, redirect: 'follow', signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000) });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      const why = err.name === 'TimeoutError' ? `no answer within ${(this.opts.timeoutMs ?? 30_000) / 1000} s` : (err.cause?.code ?? err.cause?.message ?? err.message);
      throw new RegistryError(`${url.origin} is unreachable (${method} ${url.pathname}): ${why}`);
    }
  }

  private async expectOk(res: Response, what: string): Promise<void> {
    if (res.ok) return;
    throw new RegistryError(`${this.baseUrl}: ${what} failed with HTTP ${res.status}: ${await errorText(res)}`);
  }

  private async notFound(res: Response, what: string): Promise<RegistryError> {
    return new RegistryError(`${this.baseUrl}: ${what} does not exist: ${await errorText(res)}`);
  }

  private async json(res: Response, what: string): Promise<unknown> {
    const text = await res.text();
    try {
      const v: unknown = JSON.parse(text);
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v;
    } catch {
      /* reported below */
    }
    throw new RegistryError(`${this.baseUrl}: ${what} answered something that is not a JSON object (is this an OCI registry?): ${preview(text)}`);
  }
}

function stripQuery(p: string): string {
  return p.split('?')[0]!;
}

function preview(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length === 0 ? '(empty body)' : JSON.stringify(t.length > 120 ? `${t.slice(0, 120)}…` : t);
}

/** The distribution error body's messages (`{"errors":[{"code","message"}]}`), or a short preview of the body. */
async function errorText(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  try {
    const errors = (JSON.parse(text) as { errors?: { code?: string; message?: string }[] }).errors;
    if (Array.isArray(errors) && errors.length) return errors.map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; ');
  } catch {
    /* not JSON */
  }
  return preview(text);
}

/** The `rel="next"` target of a Link header, resolved against the registry. */
export function nextLink(link: string | null, baseUrl: string): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (m && /(?:^|;)\s*rel="?next"?\s*(?:;|$)/.test(m[2]!)) {
      const u = new URL(m[1]!, baseUrl);
      return u.pathname + u.search;
    }
  }
  return undefined;
}
