import { createHash } from 'node:crypto';
import { parseWwwAuthenticate } from './www-authenticate';
import { LIMITS } from '../limits';

/** The OCI digest of some bytes: `sha256:<hex>`. */
export function sha256Digest(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

const DIGEST = /^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/;

/** Whether a string is a digest tagflow can verify (sha256 or sha512, lowercase hex). */
export function isDigest(s: string): boolean {
  return DIGEST.test(s);
}

/** The digest of some bytes in the algorithm of `like` (sha256 or sha512). */
export function digestOf(bytes: Buffer, like: string): string {
  const alg = like.startsWith('sha512:') ? 'sha512' : 'sha256';
  return `${alg}:${createHash(alg).update(bytes).digest('hex')}`;
}

/** The registry is down, refuses us, stalls, exceeds a limit, or answers something that is not the OCI distribution API: exit 3. */
export class RegistryError extends Error {
  public readonly exitCode = 3;
}

/** The repository does not exist in the registry (404 on tags/list): nothing was ever pushed to it. */
export class RepositoryNotFoundError extends RegistryError {}

/** A registry URL tagflow will not use as given (plain HTTP without --insecure-registry, a path): exit 2. */
export class RegistryUsageError extends Error {
  public readonly exitCode = 2;
}

export interface RegistryCredentials {
  readonly username: string;
  readonly password: string;
}

/**
 * What one command may ask of registries. Every limit ends with a RegistryError naming it; the defaults
 * are far above what real registries send and far below what exhausts the machine.
 */
export interface RegistryLimits {
  /** `tags/list` pages followed per repository: ECR sends at most 1,000 tags a page, Docker Hub 100, so 1,000 pages cover 100,000 tags at 100 a page. */
  readonly maxPages: number;
  /** Tags collected per repository (LIMITS.tagsPerRepository: ECR's 20,000 images per repository, with room for several tags each). */
  readonly maxTags: number;
  /** Bytes of one response that is not a blob: registries accept manifests up to 4 MiB (distribution spec); a 1,000-tag page is about 135 KB. */
  readonly maxResponseBytes: number;
  /** Bytes read from all registries in one command, blobs included (what promote may copy). */
  readonly maxRunBytes: number;
  /** No byte (of the headers or the body) for this long: the registry is stalled. */
  readonly idleTimeoutMs: number;
  /** All registry work of one command, however steadily the bytes come. */
  readonly deadlineMs: number;
}

export const DEFAULT_REGISTRY_LIMITS: RegistryLimits = {
  maxPages: 1_000,
  maxTags: LIMITS.tagsPerRepository,
  maxResponseBytes: 4 * 1024 * 1024,
  maxRunBytes: 4 * 1024 * 1024 * 1024,
  idleTimeoutMs: 30_000,
  deadlineMs: 15 * 60_000,
};

/** The budget of one command, shared by the clients of every registry it talks to. */
export class RegistryRun {
  public readonly limits: RegistryLimits;
  public readonly deadline: number;
  public bytesRead = 0;
  constructor(limits: Partial<RegistryLimits> = {}) {
    this.limits = { ...DEFAULT_REGISTRY_LIMITS, ...limits };
    this.deadline = Date.now() + this.limits.deadlineMs;
  }
}

export interface RegistryClientOptions {
  /** `https://host[:port]`, or `http://host[:port]` with `insecure`. */
  readonly baseUrl: string;
  /**
   * Plain HTTP allowed, for the registry and for its token realms (credentials then travel unencrypted).
   * Without it an http:// registry is refused, and so is a realm or redirect to http://.
   */
  readonly insecure?: boolean;
  /** Basic credentials: sent to the registry's own origin, and to token realms on that origin or in `allowedRealms`. */
  readonly credentials?: () => Promise<RegistryCredentials | undefined>;
  /** Origins of token services (bearer realms) that may receive the credentials besides the registry's own. */
  readonly allowedRealms?: readonly string[];
  /** Tags asked for per page of `tags/list` (the registry may return fewer). */
  readonly pageSize?: number;
  /** The command's budget (shared across clients); default: one of its own with the default limits. */
  readonly run?: RegistryRun;
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

/** A descriptor in a referrers list (an OCI image index's `manifests`). */
export interface ReferrerDescriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** The referrers tag schema (distribution spec 1.1): `<alg>-<hex>`, the tag of the index listing a digest's referrers. */
export function referrersTag(digest: string): string {
  return digest.replace(':', '-');
}

/** Strips a trailing slash, defaults the scheme to https, and rejects anything but a bare origin. */
export function normalizeRegistryUrl(url: string, insecure = true): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `https://${url}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw new RegistryUsageError(`registry '${url}' is not a URL or host[:port]`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new RegistryUsageError(`registry '${url}': only https:// and http:// are supported`);
  if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash || u.username || u.password) {
    throw new RegistryUsageError(`registry '${url}' must be an origin (scheme, host, port) without a path or credentials; the repository comes from the stack`);
  }
  if (u.protocol === 'http:' && !insecure) {
    throw new RegistryUsageError(`registry '${url}' is plain HTTP: credentials and images would travel unencrypted; pass --insecure-registry to allow it`);
  }
  return `${u.protocol}//${u.host}`;
}

/** One HTTP exchange: the response, and its body read under the idle timeout, the deadline and a byte limit. */
interface Exchange {
  readonly res: Response;
  /** The body, at most `max` bytes (RegistryError beyond). */
  body(what: string, max?: number): Promise<Buffer>;
  /** The start of the body for an error message (at most 64 KB read), never an error itself. */
  preview(): Promise<string>;
}

/**
 * A small OCI distribution API client: the calls tagflow needs, with the token dance registries use
 * (401 + `WWW-Authenticate: Bearer realm=…` → token from the realm → retry) and Basic auth (ECR).
 * Everything is bounded (RegistryLimits), credentials go only where they belong, and every manifest or
 * blob read by digest is verified against it. Every failure becomes a RegistryError that says which
 * registry, which call and what went wrong.
 */
export class RegistryClient {
  public readonly baseUrl: string;
  private readonly opts: RegistryClientOptions;
  private readonly run: RegistryRun;
  private creds?: Promise<RegistryCredentials | undefined>;
  /** Authorization header per scope (`repository:<name>:<actions>`), once a challenge was answered. */
  private readonly authByScope = new Map<string, string>();

  constructor(opts: RegistryClientOptions) {
    this.baseUrl = normalizeRegistryUrl(opts.baseUrl, opts.insecure === true);
    this.opts = opts;
    this.run = opts.run ?? new RegistryRun();
  }

  private get limits(): RegistryLimits {
    return this.run.limits;
  }

  /** Every tag of a repository, following `Link: <…>; rel="next"` pages, within maxPages and maxTags. */
  public async listTags(repository: string): Promise<string[]> {
    const tags: string[] = [];
    let next: string | undefined = `/v2/${repository}/tags/list?n=${this.opts.pageSize ?? 1000}`;
    const seen = new Set<string>();
    const what = `GET tags/list of '${repository}'`;
    while (next) {
      if (seen.has(next)) throw new RegistryError(`${this.baseUrl}: tags/list of '${repository}' links back to a page it already sent (${next})`);
      if (seen.size >= this.limits.maxPages) {
        throw new RegistryError(`${this.baseUrl}: ${what} sent more than ${this.limits.maxPages} pages (${tags.length} tags so far); tagflow stops there`);
      }
      seen.add(next);
      const ex = await this.request('GET', next, repository, 'pull');
      if (ex.res.status === 404) throw new RepositoryNotFoundError(`${this.baseUrl}: repository '${repository}' does not exist: ${errorText(await ex.preview())}`);
      await this.expectOk(ex, what);
      const body = this.json(await ex.body(what), what);
      const page = (body as { tags?: unknown }).tags;
      // Registries send `"tags": null` for a repository without tags.
      if (page !== null && page !== undefined && !(Array.isArray(page) && page.every((t) => typeof t === 'string'))) {
        throw new RegistryError(`${this.baseUrl}: ${what} answered JSON without a "tags" array of strings`);
      }
      for (const t of (page as string[] | null) ?? []) {
        if (t.length > LIMITS.tagLength) throw new RegistryError(`${this.baseUrl}: ${what} sent a tag of ${t.length} characters; an OCI tag has at most ${LIMITS.tagLength}`);
        tags.push(t);
      }
      if (tags.length > this.limits.maxTags) throw new RegistryError(`${this.baseUrl}: ${what} sent more than ${this.limits.maxTags} tags; tagflow stops there`);
      next = nextLink(ex.res.headers.get('link'), this.baseUrl);
    }
    return tags;
  }

  /** The digest a tag points at (HEAD on the manifest, `Docker-Content-Digest`), or undefined when the tag does not exist. */
  public async resolveDigest(repository: string, reference: string): Promise<string | undefined> {
    const ex = await this.request('HEAD', `/v2/${repository}/manifests/${reference}`, repository, 'pull', { accept: MANIFEST_MEDIA_TYPES.join(', ') });
    if (ex.res.status === 404) return undefined;
    await this.expectOk(ex, `HEAD manifest ${repository}:${reference}`);
    const digest = ex.res.headers.get('docker-content-digest');
    if (digest) {
      if (!isDigest(digest)) throw new RegistryError(`${this.baseUrl}: HEAD manifest ${repository}:${reference} answered a Docker-Content-Digest that is not a digest: ${JSON.stringify(digest.slice(0, 100))}`);
      if (isDigest(reference) && digest !== reference) throw new RegistryError(`${this.baseUrl}: asked for manifest ${repository}@${reference}, the registry says ${digest}`);
      return digest;
    }
    // Some registries omit the header on HEAD; the body's hash is the digest then.
    return (await this.getManifest(repository, reference))?.digest;
  }

  /**
   * The manifest a tag or digest points at, byte for byte; undefined when it does not exist. By digest,
   * the bytes must hash to it; either way they must hash to the `Docker-Content-Digest` the registry sends.
   */
  public async getManifest(repository: string, reference: string): Promise<Manifest | undefined> {
    const what = `GET manifest ${repository}:${reference}`;
    if (reference.includes(':') && !isDigest(reference)) throw new RegistryError(`${this.baseUrl}: cannot verify ${repository}@${reference}: tagflow verifies sha256 and sha512 digests only`);
    const ex = await this.request('GET', `/v2/${repository}/manifests/${reference}`, repository, 'pull', { accept: MANIFEST_MEDIA_TYPES.join(', ') });
    if (ex.res.status === 404) return undefined;
    await this.expectOk(ex, what);
    const body = await ex.body(what);
    const claimed = ex.res.headers.get('docker-content-digest');
    if (claimed && !isDigest(claimed)) throw new RegistryError(`${this.baseUrl}: ${what} answered a Docker-Content-Digest that is not a digest: ${JSON.stringify(claimed.slice(0, 100))}`);
    const digest = isDigest(reference) ? digestOf(body, reference) : digestOf(body, claimed ?? 'sha256:');
    if (isDigest(reference) && digest !== reference) {
      throw new RegistryError(`${this.baseUrl}: asked for manifest ${repository}@${reference}, got content with digest ${digest}; nothing was written`);
    }
    if (claimed && digestOf(body, claimed) !== claimed) {
      throw new RegistryError(`${this.baseUrl}: manifest ${repository}:${reference} has digest ${digestOf(body, claimed)} but the registry says ${claimed}; nothing was written`);
    }
    let mediaType = ex.res.headers.get('content-type')?.split(';')[0]?.trim() ?? '';
    try {
      mediaType = (JSON.parse(body.toString('utf8')) as { mediaType?: string }).mediaType ?? mediaType;
    } catch {
      throw new RegistryError(`${this.baseUrl}: ${what} answered something that is not JSON`);
    }
    return { mediaType, digest, body };
  }

  /** Stores a manifest under a tag (or digest); returns the digest the registry reports. */
  public async putManifest(repository: string, reference: string, manifest: Pick<Manifest, 'mediaType' | 'body'>): Promise<string> {
    const ex = await this.request('PUT', `/v2/${repository}/manifests/${reference}`, repository, 'pull,push', { 'content-type': manifest.mediaType }, manifest.body);
    await this.expectOk(ex, `PUT manifest ${repository}:${reference}`);
    await ex.preview();
    return ex.res.headers.get('docker-content-digest') ?? '';
  }

  /**
   * Stores a manifest by its digest and says whether the registry took its `subject` into its referrers
   * API (the `OCI-Subject` header, distribution spec 1.1); `false` means the caller must maintain the
   * referrers tag schema (`referrersTag`) itself.
   */
  public async putReferrer(repository: string, manifest: Pick<Manifest, 'mediaType' | 'body' | 'digest'>): Promise<{ readonly subjectIndexed: boolean }> {
    const what = `PUT manifest ${repository}@${manifest.digest}`;
    const ex = await this.request('PUT', `/v2/${repository}/manifests/${manifest.digest}`, repository, 'pull,push', { 'content-type': manifest.mediaType }, manifest.body);
    await this.expectOk(ex, what);
    await ex.preview();
    const stored = ex.res.headers.get('docker-content-digest');
    if (stored && stored !== manifest.digest) throw new RegistryError(`${this.baseUrl}: ${what}: the registry stored digest ${stored} (it rewrote the manifest)`);
    if (ex.res.headers.get('oci-subject') !== null) return { subjectIndexed: true };
    // No header: the registry may still serve the referrers API (some omit the header); ask it, as ORAS does.
    return { subjectIndexed: await this.servesReferrers(repository, manifest.digest) };
  }

  /** Whether the registry serves the referrers API for a repository (200 to `GET /v2/<name>/referrers/<digest>`). */
  public async servesReferrers(repository: string, digest: string): Promise<boolean> {
    const ex = await this.request('GET', `/v2/${repository}/referrers/${digest}`, repository, 'pull', { accept: 'application/vnd.oci.image.index.v1+json' });
    await ex.preview();
    return ex.res.status === 200 && (ex.res.headers.get('content-type') ?? '').startsWith('application/vnd.oci.image.index.v1+json');
  }

  /**
   * The manifests whose `subject` is `digest`: the referrers API (`GET /v2/<name>/referrers/<digest>`),
   * or, where the registry does not serve it (404), the index under the referrers tag schema
   * (`sha256-<hex>`, distribution spec 1.1). Only descriptors of `artifactType` when given (filtered here
   * too: a registry may ignore the filter). Callers fetch each by digest (verified) and check its subject.
   */
  public async listReferrers(repository: string, digest: string, artifactType?: string): Promise<{ readonly via: 'referrers-api' | 'tag-schema'; readonly descriptors: ReferrerDescriptor[] }> {
    if (!isDigest(digest)) throw new RegistryError(`${this.baseUrl}: cannot list referrers of ${repository}@${JSON.stringify(digest.slice(0, 100))}: not a sha256 or sha512 digest`);
    const what = `GET referrers of ${repository}@${digest}`;
    const query = artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : '';
    const ex = await this.request('GET', `/v2/${repository}/referrers/${digest}${query}`, repository, 'pull', { accept: 'application/vnd.oci.image.index.v1+json' });
    let via: 'referrers-api' | 'tag-schema' = 'referrers-api';
    let index: unknown;
    if (ex.res.status === 404) {
      await ex.preview();
      via = 'tag-schema';
      const m = await this.getManifest(repository, referrersTag(digest));
      if (!m) return { via, descriptors: [] };
      index = this.json(m.body, `GET manifest ${repository}:${referrersTag(digest)}`);
    } else {
      await this.expectOk(ex, what);
      index = this.json(await ex.body(what), what);
    }
    const manifests = (index as { manifests?: unknown }).manifests ?? [];
    if (!Array.isArray(manifests)) throw new RegistryError(`${this.baseUrl}: ${what} answered an index whose manifests are not a list`);
    if (manifests.length > 10_000) throw new RegistryError(`${this.baseUrl}: ${what} lists ${manifests.length} referrers; tagflow reads at most 10,000`);
    const out: ReferrerDescriptor[] = [];
    for (const d of manifests as ReferrerDescriptor[]) {
      if (typeof d?.digest !== 'string' || !isDigest(d.digest)) continue;
      if (artifactType && d.artifactType !== artifactType) continue;
      out.push({ mediaType: String(d.mediaType ?? ''), digest: d.digest, size: Number(d.size ?? 0), ...(d.artifactType ? { artifactType: String(d.artifactType) } : {}), ...(d.annotations ? { annotations: d.annotations } : {}) });
    }
    return { via, descriptors: out };
  }

  /**
   * Adds a descriptor to the referrers tag schema index of `subject` (`sha256-<hex>`), keeping what other
   * tools (cosign, oras) listed there; the registry does not serve the referrers API.
   */
  public async addToReferrersTag(repository: string, subject: string, descriptor: ReferrerDescriptor): Promise<void> {
    const tag = referrersTag(subject);
    const current = await this.getManifest(repository, tag);
    let manifests: ReferrerDescriptor[] = [];
    if (current) {
      const doc = this.json(current.body, `GET manifest ${repository}:${tag}`) as { manifests?: ReferrerDescriptor[] };
      if (current.mediaType !== 'application/vnd.oci.image.index.v1+json' || !Array.isArray(doc.manifests)) {
        throw new RegistryError(`${this.baseUrl}: ${repository}:${tag} is not an OCI image index; it cannot hold the referrers of ${subject}`);
      }
      manifests = doc.manifests.filter((d) => d?.digest !== descriptor.digest);
    }
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [...manifests, descriptor] }));
    await this.putManifest(repository, tag, { mediaType: 'application/vnd.oci.image.index.v1+json', body });
  }

  /** Whether a blob exists in a repository. */
  public async hasBlob(repository: string, digest: string): Promise<boolean> {
    const ex = await this.request('HEAD', `/v2/${repository}/blobs/${digest}`, repository, 'pull');
    if (ex.res.status === 404) return false;
    await this.expectOk(ex, `HEAD blob ${repository}@${digest}`);
    return true;
  }

  /** A blob's bytes: at most `size` (its descriptor's), hashing to `digest`. */
  public async getBlob(repository: string, digest: string, size?: number): Promise<Buffer> {
    const what = `GET blob ${repository}@${digest}`;
    if (!isDigest(digest)) throw new RegistryError(`${this.baseUrl}: cannot verify blob ${repository}@${JSON.stringify(digest.slice(0, 100))}: tagflow verifies sha256 and sha512 digests only`);
    const ex = await this.request('GET', `/v2/${repository}/blobs/${digest}`, repository, 'pull');
    await this.expectOk(ex, what);
    const bytes = await ex.body(what, size ?? this.limits.maxRunBytes);
    const actual = digestOf(bytes, digest);
    if (actual !== digest) throw new RegistryError(`${this.baseUrl}: blob ${repository}@${digest} arrived with digest ${actual}; nothing was written`);
    if (size !== undefined && bytes.length !== size) throw new RegistryError(`${this.baseUrl}: blob ${repository}@${digest} is ${bytes.length} bytes, its descriptor says ${size}`);
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
    await start.preview();
    if (start.res.status === 201) return; // mounted
    await this.expectOk(start, `POST blob upload to ${repository}`);
    const location = start.res.headers.get('location');
    if (!location) throw new RegistryError(`${this.baseUrl}: POST blob upload to ${repository} answered without a Location header`);
    const url = new URL(location, this.baseUrl);
    if (url.origin !== this.baseUrl) throw new RegistryError(`${this.baseUrl}: POST blob upload to ${repository} sent the upload to another origin (${url.origin})`);
    url.searchParams.set('digest', digest);
    const bytes = await data();
    const put = await this.request('PUT', url.pathname + url.search, repository, actions, { 'content-type': 'application/octet-stream' }, bytes);
    await this.expectOk(put, `PUT blob ${repository}@${digest}`);
    await put.preview();
  }

  private async request(method: string, pathAndQuery: string, repository: string, actions: string, headers: Record<string, string> = {}, body?: Buffer): Promise<Exchange> {
    const scope = `repository:${repository}:${actions}`;
    const send = (authorization?: string) => this.fetchUrl(method, new URL(pathAndQuery, this.baseUrl), { ...headers, ...(authorization ? { authorization } : {}) }, body);
    let ex = await send(this.authByScope.get(scope));
    if (ex.res.status !== 401) return ex;
    const challenges = parseWwwAuthenticate((ex.res.headers.get('www-authenticate') ?? '').slice(0, 8192));
    await ex.preview();
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
    ex = await send(authorization);
    if (ex.res.status === 401 || ex.res.status === 403) {
      throw new RegistryError(`${this.baseUrl} refused ${method} ${stripQuery(pathAndQuery)} (${ex.res.status}) with the credentials it asked for: ${errorText(await ex.preview())}`);
    }
    return ex;
  }

  private credentials(): Promise<RegistryCredentials | undefined> {
    this.creds ??= this.opts.credentials ? this.opts.credentials() : Promise.resolve(undefined);
    return this.creds;
  }

  /**
   * Distribution's token flow: GET realm?service=…&scope=…. The realm must be HTTPS (or the registry
   * insecure); it gets the Basic credentials only when it is the registry's own origin or an allowed realm,
   * otherwise the token is asked for anonymously (public images still work).
   */
  private async token(params: Readonly<Record<string, string>>, scope: string): Promise<string> {
    const realm = params.realm;
    if (!realm) throw new RegistryError(`${this.baseUrl} sent a Bearer challenge without a realm`);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new RegistryError(`${this.baseUrl} sent a Bearer challenge whose realm '${realm.slice(0, 200)}' is not a URL`);
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && this.opts.insecure)) {
      throw new RegistryError(`${this.baseUrl} sent a Bearer challenge with realm ${url.origin}${url.pathname}, which is not HTTPS; tagflow sends no credentials over plain HTTP (--insecure-registry allows it)`);
    }
    if (params.service) url.searchParams.set('service', params.service);
    url.searchParams.set('scope', params.scope ?? scope);
    const allowed = url.origin === this.baseUrl || (this.opts.allowedRealms ?? []).some((r) => normalizeRegistryUrl(r) === url.origin);
    const c = allowed ? await this.credentials() : undefined;
    const headers: Record<string, string> = c ? { authorization: `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` } : {};
    const ex = await this.fetchUrl('GET', url, headers);
    const where = `token service ${url.origin}${url.pathname}`;
    if (!ex.res.ok) {
      const hint =
        !allowed && this.opts.credentials
          ? `; it is not ${this.baseUrl}, so tagflow did not send it your credentials: allow it with --registry-token-realm ${url.origin}`
          : '';
      throw new RegistryError(`${where} refused a token for '${scope}' (${ex.res.status}): ${errorText(await ex.preview())}${hint}`);
    }
    const body = this.json(await ex.body(`GET token from ${url.origin}${url.pathname}`), `GET token from ${url.origin}${url.pathname}`);
    const token = (body as { token?: unknown; access_token?: unknown }).token ?? (body as { access_token?: unknown }).access_token;
    if (typeof token !== 'string' || !token || token.length > 64 * 1024) throw new RegistryError(`${where} answered JSON without a "token"`);
    return token;
  }

  /**
   * fetch with the run's limits: redirects followed here (at most 5, never from HTTPS to HTTP unless
   * insecure, the Authorization header dropped when the origin changes), the idle timeout armed until the
   * headers come and again before each body chunk, the command's deadline over all of it.
   */
  private async fetchUrl(method: string, first: URL, headers: Record<string, string>, body?: Buffer): Promise<Exchange> {
    let url = first;
    let hdrs = headers;
    for (let hop = 0; ; hop++) {
      const ex = await this.exchange(method, url, hdrs, body);
      const status = ex.res.status;
      if (![301, 302, 303, 307, 308].includes(status)) return ex;
      await ex.preview();
      const location = ex.res.headers.get('location');
      if (!location || hop >= 5) throw new RegistryError(`${url.origin}: ${method} ${url.pathname} redirected ${location ? 'more than 5 times' : 'without a Location'}`);
      const next = new URL(location, url);
      if (next.protocol !== 'https:' && !(next.protocol === 'http:' && this.opts.insecure)) {
        throw new RegistryError(`${url.origin}: ${method} ${url.pathname} redirected to ${next.origin}, which is not HTTPS`);
      }
      if (next.origin !== url.origin) {
        const { authorization: _dropped, ...rest } = hdrs;
        hdrs = rest;
      }
      url = next;
    }
  }

  private async exchange(method: string, url: URL, headers: Record<string, string>, body?: Buffer): Promise<Exchange> {
    const run = this.run;
    const ctrl = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    let why = '';
    const arm = () => {
      clearTimeout(timer);
      const left = run.deadline - Date.now();
      const idle = run.limits.idleTimeoutMs;
      why = left <= idle ? `the command's registry deadline (${run.limits.deadlineMs / 1000} s) passed` : `no data for ${idle / 1000} s (stalled)`;
      timer = setTimeout(() => ctrl.abort(), Math.max(0, Math.min(left, idle)));
      timer.unref();
    };
    const stop = () => clearTimeout(timer);
    const failure = (e: unknown, phase: string) => {
      stop();
      const err = e as Error & { cause?: { code?: string; message?: string } };
      const cause = ctrl.signal.aborted ? why : (err.cause?.code ?? err.cause?.message ?? err.message);
      return new RegistryError(`${url.origin} ${phase} (${method} ${url.pathname}): ${cause}`);
    };
    arm();
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body, redirect: 'manual', signal: ctrl.signal });
    } catch (e) {
      throw failure(e, 'is unreachable');
    }
    stop(); // re-armed for each chunk of the body, if it is read
    const read = async (what: string, max: number, truncate: boolean): Promise<Buffer> => {
      const declared = Number(res.headers.get('content-length') ?? NaN);
      if (!truncate && declared > max) {
        stop();
        await res.body?.cancel().catch(() => undefined);
        throw new RegistryError(`${this.baseUrl}: ${what} announced ${declared} bytes; tagflow reads at most ${max} here`);
      }
      const reader = res.body?.getReader();
      if (!reader) {
        stop();
        return Buffer.alloc(0);
      }
      const chunks: Buffer[] = [];
      let total = 0;
      try {
        for (;;) {
          arm();
          const { done, value } = await reader.read();
          if (done) break;
          total += value.length;
          run.bytesRead += value.length;
          if (total > max) {
            if (truncate) {
              chunks.push(Buffer.from(value));
              break;
            }
            throw new RegistryError(`${this.baseUrl}: ${what} sent more than ${max} bytes; tagflow stops there`);
          }
          if (run.bytesRead > run.limits.maxRunBytes) throw new RegistryError(`${this.baseUrl}: ${what}: this command read more than ${run.limits.maxRunBytes} bytes from registries; tagflow stops there`);
          chunks.push(Buffer.from(value));
        }
      } catch (e) {
        await reader.cancel().catch(() => undefined);
        if (e instanceof RegistryError) {
          stop();
          throw e;
        }
        throw failure(e, 'stopped answering');
      }
      if (total > max) await reader.cancel().catch(() => undefined);
      stop();
      return Buffer.concat(chunks);
    };
    return {
      res,
      body: (what, max = this.limits.maxResponseBytes) => read(what, max, false),
      preview: async () => {
        try {
          return (await read('an error body', 64 * 1024, true)).toString('utf8');
        } catch {
          return '';
        }
      },
    };
  }

  private async expectOk(ex: Exchange, what: string): Promise<void> {
    if (ex.res.ok) return;
    throw new RegistryError(`${this.baseUrl}: ${what} failed with HTTP ${ex.res.status}: ${errorText(await ex.preview())}`);
  }

  private json(bytes: Buffer, what: string): unknown {
    const text = bytes.toString('utf8');
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
  const t = text.slice(0, 4096).replace(/\s+/g, ' ').trim();
  return t.length === 0 ? '(empty body)' : JSON.stringify(t.length > 120 ? `${t.slice(0, 120)}…` : t);
}

/** The distribution error body's messages (`{"errors":[{"code","message"}]}`), or a short preview of the body. */
function errorText(text: string): string {
  try {
    const errors = (JSON.parse(text) as { errors?: { code?: string; message?: string }[] }).errors;
    if (Array.isArray(errors) && errors.length) {
      return preview(errors.slice(0, 5).map((e) => [e?.code, e?.message].filter((x) => typeof x === 'string').join(': ')).join('; ')).replace(/^"|"$/g, '');
    }
  } catch {
    /* not JSON */
  }
  return preview(text);
}

/** The `rel="next"` target of a Link header, resolved against the registry (never another origin). */
export function nextLink(link: string | null, baseUrl: string): string | undefined {
  if (!link) return undefined;
  for (const part of link.slice(0, 16 * 1024).split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (m && /(?:^|;)\s*rel="?next"?\s*(?:;|$)/.test(m[2]!)) {
      const u = new URL(m[1]!, baseUrl);
      return u.pathname + u.search;
    }
  }
  return undefined;
}
