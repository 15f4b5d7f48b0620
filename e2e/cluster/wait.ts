// Bounded polling and small HTTP(S) probes.
import * as http from 'node:http';
import * as https from 'node:https';

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/**
 * Calls `attempt` every `intervalMs` until it returns a value other than undefined, or throws a
 * TimeoutError after `timeoutMs` whose message is `what` plus `describe()` (the last state seen).
 * An exception thrown by `attempt` aborts the wait at once.
 */
export async function pollUntil<T>(
  what: string,
  timeoutMs: number,
  attempt: () => Promise<T | undefined>,
  opts: { readonly intervalMs?: number; readonly describe?: () => string } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const interval = opts.intervalMs ?? 250;
  for (;;) {
    const value = await attempt();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) {
      const detail = opts.describe ? `: ${opts.describe()}` : '';
      throw new TimeoutError(`timed out after ${Math.round(timeoutMs / 1000)}s waiting for ${what}${detail}`);
    }
    await sleep(Math.min(interval, Math.max(0, deadline - Date.now())));
  }
}

export interface HttpResult {
  readonly status: number;
  readonly body: string;
}

export interface HttpOptions {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  /** PEM CA bundle for https URLs. */
  readonly ca?: string | Buffer;
  /** Accept any server certificate (health endpoints with self-signed certs). */
  readonly insecure?: boolean;
  readonly timeoutMs?: number;
}

/** One HTTP(S) request, bounded by timeoutMs (default 5 s). Rejects on network errors and timeouts. */
export function httpRequest(url: string, opts: HttpOptions = {}): Promise<HttpResult> {
  const u = new URL(url);
  const lib = u.protocol === 'https:' ? https : http;
  const timeoutMs = opts.timeoutMs ?? 5000;
  return new Promise<HttpResult>((resolve, reject) => {
    const req = lib.request(
      u,
      {
        method: opts.method ?? 'GET',
        headers: opts.headers,
        ...(u.protocol === 'https:' ? { ca: opts.ca, rejectUnauthorized: !opts.insecure } : {}),
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${opts.method ?? 'GET'} ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

/** A probe that is true when `url` answers 200; network errors count as "not yet". */
export function httpOkProbe(url: string, opts: HttpOptions = {}): () => Promise<boolean> {
  return async () => {
    try {
      return (await httpRequest(url, { timeoutMs: 2000, ...opts })).status === 200;
    } catch {
      return false;
    }
  };
}
