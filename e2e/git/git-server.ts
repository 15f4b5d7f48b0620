// A git server over HTTP with basic auth: `git http-backend` (smart HTTP, upload-pack and receive-pack)
// behind a small Node server on 127.0.0.1, serving bare repositories from one folder. With `apiToken`, the
// same origin also answers the two calls of GitHub's (Enterprise) REST API that Flux's commit-status
// provider makes: list and create the statuses of a commit (`/api/v3/repos/<owner>/<repo>/...`).
import { execFileSync, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

export interface GitServerOptions {
  /** Folder holding the bare repositories (`<name>.git`). */
  readonly root: string;
  readonly username: string;
  readonly password: string;
  /** Every request's method, path and status, one line each. */
  readonly logFile?: string;
  /** The token GitHub's API part accepts (`Authorization: Bearer <token>`); without it there is no API. */
  readonly apiToken?: string;
}

/** A commit status posted through the API part. */
export interface CommitStatusRecord {
  /** `<owner>/<repo>` */
  readonly repository: string;
  readonly sha: string;
  readonly state: string;
  readonly context: string;
  readonly description: string;
  readonly at: number;
}

/** A push the server accepted: when, and the branch heads of the repository right after it. */
export interface PushEvent {
  readonly repository: string;
  readonly at: number;
  readonly heads: Readonly<Record<string, string>>;
}

export interface GitServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly username: string;
  readonly password: string;
  /** Creates an empty bare repository (default branch `main`; `name` may be `<owner>/<repo>`) and returns its clone URL (no credentials). */
  createRepository(name: string): string;
  /** Folder of a bare repository. */
  repositoryPath(name: string): string;
  /** Emits 'push' (PushEvent) after each receive-pack that succeeded. */
  readonly events: EventEmitter;
  /** Requests served so far, by service (`git-upload-pack`, `git-receive-pack`). */
  requests(service: string): number;
  /** Commit statuses posted so far (oldest first). */
  readonly statuses: readonly CommitStatusRecord[];
  stop(): Promise<void>;
}

const GIT = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, stdio: 'pipe', encoding: 'utf8' });

function splitCgiResponse(buf: Buffer): { headers: Record<string, string>; status: number; body: Buffer } | undefined {
  let end = buf.indexOf('\r\n\r\n');
  let sep = 4;
  if (end < 0) {
    end = buf.indexOf('\n\n');
    sep = 2;
  }
  if (end < 0) return undefined;
  const headers: Record<string, string> = {};
  let status = 200;
  for (const line of buf.subarray(0, end).toString('latin1').split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const k = line.slice(0, i).trim();
    const v = line.slice(i + 1).trim();
    if (k.toLowerCase() === 'status') status = Number.parseInt(v, 10);
    else headers[k] = v;
  }
  return { headers, status, body: buf.subarray(end + sep) };
}

/**
 * Starts the server. Every request needs the basic-auth credentials (git's smart HTTP then runs as that
 * user, which also enables receive-pack); anything else gets 401 with a Basic challenge.
 */
export async function startGitServer(opts: GitServerOptions): Promise<GitServer> {
  fs.mkdirSync(opts.root, { recursive: true });
  const expected = `Basic ${Buffer.from(`${opts.username}:${opts.password}`).toString('base64')}`;
  const events = new EventEmitter();
  const counts = new Map<string, number>();
  const log = (line: string) => opts.logFile && fs.appendFileSync(opts.logFile, `${new Date().toISOString()} ${line}\n`);

  const statuses: CommitStatusRecord[] = [];
  const api = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => {
    const reply = (status: number, body: unknown) => {
      log(`${status} ${req.method} ${url.pathname}`);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${opts.apiToken}`) return reply(401, { message: 'Bad credentials' });
    const list = /^\/api\/v3\/repos\/([^/]+\/[^/]+)\/commits\/([0-9a-f]{40})\/statuses$/.exec(url.pathname);
    const create = /^\/api\/v3\/repos\/([^/]+\/[^/]+)\/statuses\/([0-9a-f]{40})$/.exec(url.pathname);
    const [, repository, sha] = list ?? create ?? [];
    if (!repository || !sha || (list && req.method !== 'GET') || (create && req.method !== 'POST')) return reply(404, { message: 'Not Found' });
    const dir = path.join(opts.root, `${repository}.git`);
    if (!fs.existsSync(dir)) return reply(404, { message: 'Not Found' });
    try {
      GIT(dir, 'cat-file', '-e', `${sha}^{commit}`);
    } catch {
      return reply(422, { message: `No commit found for SHA: ${sha}` });
    }
    const asGitHub = (r: CommitStatusRecord, i: number) => ({ id: i + 1, state: r.state, context: r.context, description: r.description, created_at: new Date(r.at).toISOString() });
    if (list) return reply(200, statuses.map(asGitHub).filter((_, i) => statuses[i]!.repository === repository && statuses[i]!.sha === sha).reverse());
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const b = JSON.parse(body || '{}') as { state?: string; context?: string; description?: string };
      if (!['error', 'failure', 'pending', 'success'].includes(b.state ?? '')) return reply(422, { message: `state is '${b.state}'` });
      const record = { repository, sha, state: b.state!, context: b.context ?? 'default', description: b.description ?? '', at: Date.now() };
      statuses.push(record);
      reply(201, asGitHub(record, statuses.length - 1));
    });
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (opts.apiToken && url.pathname.startsWith('/api/')) return api(req, res, url);
    if (req.headers.authorization !== expected) {
      log(`401 ${req.method} ${url.pathname}`);
      res.writeHead(401, { 'www-authenticate': 'Basic realm="tagflow-e2e-git"', 'content-type': 'text/plain' }).end('authentication required\n');
      return;
    }
    const service = url.searchParams.get('service') ?? path.basename(url.pathname);
    counts.set(service, (counts.get(service) ?? 0) + 1);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: opts.root,
      GIT_HTTP_EXPORT_ALL: '1',
      REQUEST_METHOD: req.method ?? 'GET',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.replace(/^\?/, ''),
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      REMOTE_USER: opts.username,
      REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
      GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
      HTTP_CONTENT_ENCODING: String(req.headers['content-encoding'] ?? ''),
    };
    const cgi = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let stderr = '';
    cgi.stdout.on('data', (c: Buffer) => chunks.push(c));
    cgi.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    req.pipe(cgi.stdin);
    cgi.on('close', (code) => {
      const parsed = splitCgiResponse(Buffer.concat(chunks));
      if (!parsed) {
        log(`502 ${req.method} ${url.pathname} http-backend exit ${code}: ${stderr.trim()}`);
        res.writeHead(502, { 'content-type': 'text/plain' }).end(`git http-backend failed: ${stderr}`);
        return;
      }
      log(`${parsed.status} ${req.method} ${url.pathname}${url.search}`);
      res.writeHead(parsed.status, parsed.headers).end(parsed.body);
      if (req.method === 'POST' && service === 'git-receive-pack' && parsed.status === 200) {
        const at = Date.now();
        const repository = /^\/(.+?\.git)\//.exec(url.pathname)?.[1] ?? '';
        const refs = GIT(path.join(opts.root, repository), 'for-each-ref', '--format=%(refname:short) %(objectname)', 'refs/heads');
        const heads = Object.fromEntries(refs.trim().split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
        events.emit('push', { repository, at, heads } satisfies PushEvent);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    username: opts.username,
    password: opts.password,
    events,
    requests: (service) => counts.get(service) ?? 0,
    statuses,
    repositoryPath: (name) => path.join(opts.root, `${name}.git`),
    createRepository(name) {
      const dir = path.join(opts.root, `${name}.git`);
      fs.mkdirSync(path.dirname(dir), { recursive: true });
      GIT(opts.root, 'init', '--quiet', '--bare', '--initial-branch=main', dir);
      return `${url}/${name}.git`;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
