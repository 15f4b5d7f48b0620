import * as k8s from '@kubernetes/client-node';

/** A Kubernetes object as plain JSON. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly [k: string]: unknown };
  readonly [k: string]: unknown;
}

export type ApiAction = 'create' | 'delete' | 'patch' | 'read' | 'list';

/**
 * KubernetesObjectApi with raw JSON bodies. The stock methods run objects through the client's model
 * classes, which drop fields they do not know by their JSON name (e.g. `x-kubernetes-preserve-unknown-fields`
 * in a CRD schema: the API server then rejects the CRD) and turn timestamps into Date objects.
 * Discovery (kind -> resource), authentication and TLS are the client's.
 */
export class RawObjectApi extends k8s.KubernetesObjectApi {
  static create(kc: k8s.KubeConfig): RawObjectApi {
    const api = kc.makeApiClient(RawObjectApi);
    api.setDefaultNamespace(kc);
    return api;
  }

  async send<T>(
    obj: Pick<KubeObject, 'apiVersion' | 'kind'> & { metadata: { name?: string; namespace?: string } },
    action: ApiAction,
    method: k8s.HttpMethod,
    opts: { readonly query?: Readonly<Record<string, string>>; readonly body?: unknown; readonly contentType?: string } = {},
  ): Promise<T> {
    const uri = await this.specUriPath(structuredClone(obj) as k8s.KubernetesObject, action);
    const ctx = this.configuration.baseServer.makeRequestContext(uri, method);
    ctx.setHeaderParam('Accept', 'application/json');
    for (const [k, v] of Object.entries(opts.query ?? {})) ctx.setQueryParam(k, v);
    if (opts.body !== undefined) {
      ctx.setHeaderParam('Content-Type', opts.contentType ?? 'application/json');
      ctx.setBody(JSON.stringify(opts.body));
    }
    // 'any' makes the client's deserializer hand back the parsed JSON untouched.
    return (await this.requestPromise(ctx, 'any')) as unknown as T;
  }
}
