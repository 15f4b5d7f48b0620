import * as k8s from '@kubernetes/client-node';
import { RawObjectApi } from '../kube/raw-object-api';
import type { ClusterReader } from './collect';

/** The cluster could not be reached or refused a read: exit 3, one line. */
export class ClusterError extends Error {
  public readonly exitCode = 3;
}

/**
 * Reads objects with the official Kubernetes client, through the kubeconfig kubectl uses (`KUBECONFIG` or
 * ~/.kube/config), or `kubeconfig`, and its current context or `context`.
 */
export function kubeReader(opts: { kubeconfig?: string; context?: string } = {}): ClusterReader {
  const kc = new k8s.KubeConfig();
  try {
    if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
    else kc.loadFromDefault();
  } catch (e) {
    throw new ClusterError(`cannot read the kubeconfig${opts.kubeconfig ? ` ${opts.kubeconfig}` : ''}: ${(e as Error).message}`);
  }
  if (opts.context) {
    if (!kc.getContexts().some((c) => c.name === opts.context)) {
      throw new ClusterError(`--context '${opts.context}' is not in the kubeconfig (contexts: ${kc.getContexts().map((c) => c.name).join(', ') || 'none'})`);
    }
    kc.setCurrentContext(opts.context);
  }
  if (!kc.getCurrentCluster()) throw new ClusterError('the kubeconfig has no current cluster: pass --kubeconfig or --context');
  const api = RawObjectApi.create(kc);
  const server = kc.getCurrentCluster()!.server;
  const fail = (e: unknown, what: string): never => {
    const code = (e as { code?: number }).code;
    const body = (e as { body?: unknown }).body;
    const message = typeof body === 'string' ? (safeMessage(body) ?? body) : e instanceof Error ? e.message : String(e);
    throw new ClusterError(`${server}: ${what}: ${code ? `HTTP ${code} ` : ''}${String(message).split('\n')[0]}`);
  };
  return {
    async get(apiVersion, kind, namespace, name) {
      try {
        return await api.send<Record<string, unknown>>({ apiVersion, kind, metadata: { name, namespace } }, 'read', k8s.HttpMethod.GET);
      } catch (e) {
        if ((e as { code?: number }).code === 404) return undefined;
        return fail(e, `get ${kind} ${namespace}/${name}`);
      }
    },
    async list(apiVersion, kind, namespace, labelSelector) {
      try {
        const r = await api.send<{ items: Record<string, unknown>[] }>({ apiVersion, kind, metadata: { namespace } }, 'list', k8s.HttpMethod.GET, {
          query: labelSelector ? { labelSelector } : {},
        });
        return r.items;
      } catch (e) {
        if ((e as { code?: number }).code === 404) return [];
        return fail(e, `list ${kind} in ${namespace}`);
      }
    },
  };
}

function safeMessage(s: string): string | undefined {
  try {
    return (JSON.parse(s) as { message?: string }).message;
  } catch {
    return undefined;
  }
}
