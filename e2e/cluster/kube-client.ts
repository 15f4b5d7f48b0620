// A small typed wrapper over @kubernetes/client-node for what the e2e scenario needs:
// server-side apply of multi-document YAML, get, list, delete, and waiting for conditions.
import * as k8s from '@kubernetes/client-node';
import { RawObjectApi, type KubeObject } from '../../src/kube/raw-object-api';
import { parseAllDocuments } from 'yaml';
import { pollUntil } from './wait';

export interface ObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
}

export interface Condition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
  readonly observedGeneration?: number;
}

export type { KubeObject };

/** An API error: HTTP status plus the Status object's reason and message. */
export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const header = (r: ObjectRef) => ({
  apiVersion: r.apiVersion,
  kind: r.kind,
  metadata: { name: r.name, ...(r.namespace ? { namespace: r.namespace } : {}) },
});

const refText = (r: ObjectRef): string => `${r.apiVersion} ${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name}`;

function toApiError(e: unknown, action: string): unknown {
  if (e instanceof k8s.ApiException) {
    const body = (typeof e.body === 'string' ? safeJson(e.body) : e.body) as { reason?: string; message?: string } | undefined;
    const detail = body?.message ?? (typeof e.body === 'string' ? e.body : JSON.stringify(e.body));
    return new KubeApiError(e.code, body?.reason ?? '', `${action}: HTTP ${e.code} ${body?.reason ?? ''}: ${detail}`);
  }
  if (e instanceof Error) e.message = `${action}: ${e.message}`;
  return e;
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

/** Parses multi-document YAML into objects, skipping empty documents. */
export function parseManifests(yamlText: string): KubeObject[] {
  const out: KubeObject[] = [];
  for (const doc of parseAllDocuments(yamlText)) {
    if (doc.errors.length > 0) throw new Error(`invalid YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
    const obj = doc.toJS() as KubeObject | null;
    if (obj === null || obj === undefined) continue;
    if (!obj.apiVersion || !obj.kind || !obj.metadata?.name) {
      throw new Error(`manifest without apiVersion/kind/metadata.name: ${JSON.stringify(obj).slice(0, 200)}`);
    }
    out.push(obj);
  }
  return out;
}

export function conditionsOf(obj: unknown): Condition[] {
  const status = (obj as { status?: { conditions?: unknown } } | undefined)?.status;
  return Array.isArray(status?.conditions) ? (status.conditions as Condition[]) : [];
}

export function describeConditions(obj: unknown): string {
  const cs = conditionsOf(obj);
  if (cs.length === 0) return 'no conditions';
  return cs.map((c) => `${c.type}=${c.status} (${c.reason ?? ''}): ${c.message ?? ''}`).join('; ');
}

export class Kube {
  private readonly api: RawObjectApi;

  private constructor(readonly config: k8s.KubeConfig) {
    this.api = RawObjectApi.create(config);
  }

  static fromKubeconfig(file: string): Kube {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(file);
    return new Kube(kc);
  }

  /** The same credentials, impersonating `user` (e.g. `system:serviceaccount:ns:name`). */
  impersonate(user: string): Kube {
    const kc = new k8s.KubeConfig();
    kc.loadFromString(this.config.exportConfig());
    const current = kc.getCurrentUser();
    if (!current) throw new Error('kubeconfig has no current user');
    kc.users = kc.users.map((u) => (u.name === current.name ? { ...u, impersonateUser: user } : u));
    return new Kube(kc);
  }

  /** Server-side apply (force) of every object in `manifests` (YAML text or objects), in order. */
  async apply(manifests: string | readonly KubeObject[], fieldManager = 'tagflow-e2e'): Promise<KubeObject[]> {
    const objs = typeof manifests === 'string' ? parseManifests(manifests) : manifests;
    const out: KubeObject[] = [];
    for (const obj of objs) {
      try {
        out.push(
          await this.api.send<KubeObject>(obj, 'patch', k8s.HttpMethod.PATCH, {
            query: { fieldManager, force: 'true' },
            body: obj,
            contentType: k8s.PatchStrategy.ServerSideApply,
          }),
        );
      } catch (e) {
        throw toApiError(e, `apply ${refText({ ...obj, ...obj.metadata })}`);
      }
    }
    return out;
  }

  async create(obj: KubeObject): Promise<KubeObject> {
    try {
      return await this.api.send<KubeObject>(obj, 'create', k8s.HttpMethod.POST, { body: obj });
    } catch (e) {
      throw toApiError(e, `create ${refText({ ...obj, ...obj.metadata })}`);
    }
  }

  /** The object, or undefined when it does not exist (404). */
  async get<T extends KubeObject = KubeObject>(ref: ObjectRef): Promise<T | undefined> {
    try {
      return await this.api.send<T>(header(ref), 'read', k8s.HttpMethod.GET);
    } catch (e) {
      if (e instanceof k8s.ApiException && e.code === 404) return undefined;
      throw toApiError(e, `get ${refText(ref)}`);
    }
  }

  /** Objects of a kind, in `namespace` or (without it) in all namespaces. */
  async list<T extends KubeObject = KubeObject>(
    apiVersion: string,
    kind: string,
    namespace?: string,
    labelSelector?: string,
  ): Promise<T[]> {
    try {
      const res = await this.api.send<{ items: T[] }>(
        { apiVersion, kind, metadata: namespace ? { namespace } : {} },
        'list',
        k8s.HttpMethod.GET,
        { query: labelSelector ? { labelSelector } : {} },
      );
      return res.items.map((i) => ({ ...i, apiVersion, kind }));
    } catch (e) {
      throw toApiError(e, `list ${apiVersion} ${kind}${namespace ? ` in ${namespace}` : ''}`);
    }
  }

  /** Deletes the object (background propagation); true if it existed. */
  async delete(ref: ObjectRef): Promise<boolean> {
    try {
      await this.api.send(header(ref), 'delete', k8s.HttpMethod.DELETE, { query: { propagationPolicy: 'Background' } });
      return true;
    } catch (e) {
      if (e instanceof k8s.ApiException && e.code === 404) return false;
      throw toApiError(e, `delete ${refText(ref)}`);
    }
  }

  /** Polls until `predicate(object)` holds; the timeout error shows the object's conditions. */
  async waitFor<T extends KubeObject = KubeObject>(
    ref: ObjectRef,
    what: string,
    predicate: (obj: T) => boolean,
    timeoutMs: number,
  ): Promise<T> {
    let last: T | undefined;
    return pollUntil(
      `${refText(ref)} ${what}`,
      timeoutMs,
      async () => {
        last = await this.get<T>(ref);
        return last !== undefined && predicate(last) ? last : undefined;
      },
      { intervalMs: 500, describe: () => (last ? describeConditions(last) : 'object not found') },
    );
  }

  /** Waits until condition `type` has `status` (e.g. 'Ready', 'True'); returns the object. */
  waitForCondition<T extends KubeObject = KubeObject>(
    ref: ObjectRef,
    type: string,
    status: string,
    timeoutMs: number,
  ): Promise<T> {
    return this.waitFor<T>(
      ref,
      `to have condition ${type}=${status}`,
      (obj) => conditionsOf(obj).some((c) => c.type === type && c.status === status),
      timeoutMs,
    );
  }
}
