// What the scenario asserts on: the real objects' status, read from the API server.
import { conditionsOf, describeConditions, httpRequest, pollUntil, type Kube, type KubeObject } from '../cluster';
import type { ObjectRecord } from './report';

/** The Flux kinds a tagflow tree creates, with the API versions the controllers serve. */
export const FLUX_KINDS = [
  ['source.toolkit.fluxcd.io/v1', 'GitRepository'],
  ['kustomize.toolkit.fluxcd.io/v1', 'Kustomization'],
  ['image.toolkit.fluxcd.io/v1', 'ImageRepository'],
  ['image.toolkit.fluxcd.io/v1', 'ImagePolicy'],
  ['image.toolkit.fluxcd.io/v1', 'ImageUpdateAutomation'],
  ['notification.toolkit.fluxcd.io/v1', 'Receiver'],
  ['helm.toolkit.fluxcd.io/v2', 'HelmRelease'],
] as const;

type Obj = KubeObject & { metadata: KubeObject['metadata'] & { generation?: number }; status?: { observedGeneration?: number } & Record<string, unknown> };

/** Ready=True for the object's current generation. */
export function isReady(o: Obj): boolean {
  const ready = conditionsOf(o).find((c) => c.type === 'Ready');
  return ready?.status === 'True' && (o.status?.observedGeneration === undefined || o.status.observedGeneration === o.metadata.generation);
}

export function recordOf(o: Obj): ObjectRecord {
  const ready = conditionsOf(o).find((c) => c.type === 'Ready');
  return { kind: o.kind, namespace: o.metadata.namespace ?? '', name: o.metadata.name, ready: ready?.status ?? 'Unknown', reason: ready?.reason, message: ready?.message };
}

/** Every Flux object in `namespaces`, by kind. */
export async function fluxObjects(kube: Kube, namespaces: readonly string[]): Promise<Obj[]> {
  const out: Obj[] = [];
  for (const ns of namespaces) for (const [apiVersion, kind] of FLUX_KINDS) out.push(...(await kube.list<Obj>(apiVersion, kind, ns)));
  return out;
}

/**
 * Waits until the expected number of Flux objects of each kind exist in `namespaces` and all are Ready;
 * the timeout names every object that is not, with its conditions.
 */
export async function waitAllFluxReady(kube: Kube, namespaces: readonly string[], expected: Readonly<Record<string, number>>, timeoutMs: number): Promise<ObjectRecord[]> {
  let last: Obj[] = [];
  const objs = await pollUntil(
    'every Flux object to be Ready',
    timeoutMs,
    async () => {
      last = await fluxObjects(kube, namespaces);
      const counts = Object.entries(expected).every(([kind, n]) => last.filter((o) => o.kind === kind).length === n);
      return counts && last.every(isReady) ? last : undefined;
    },
    {
      intervalMs: 1000,
      describe: () => {
        const counts = Object.entries(expected).map(([k, n]) => `${k} ${last.filter((o) => o.kind === k).length}/${n}`).join(', ');
        const notReady = last.filter((o) => !isReady(o)).map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}: ${describeConditions(o)}`);
        return `${counts}; not Ready: ${notReady.join(' | ') || 'none'}`;
      },
    },
  );
  return objs.map(recordOf);
}

type Deployment = KubeObject & {
  metadata: KubeObject['metadata'] & { generation?: number };
  spec: { replicas?: number; template: { spec: { containers: { image: string }[] } } };
  status?: { observedGeneration?: number; replicas?: number; updatedReplicas?: number; availableReplicas?: number; readyReplicas?: number };
};

/** The Deployment has rolled out `image`: every replica updated and available, on the current generation. */
export async function waitDeploymentRunning(kube: Kube, namespace: string, name: string, image: string, timeoutMs: number): Promise<Deployment> {
  let last: Deployment | undefined;
  return pollUntil(
    `Deployment ${namespace}/${name} to run ${image}`,
    timeoutMs,
    async () => {
      last = await kube.get<Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', namespace, name });
      if (!last) return undefined;
      const want = last.spec.replicas ?? 1;
      const s = last.status ?? {};
      const done =
        last.spec.template.spec.containers[0]?.image === image &&
        s.observedGeneration === last.metadata.generation &&
        s.updatedReplicas === want &&
        s.availableReplicas === want &&
        (s.replicas ?? 0) === want &&
        want > 0;
      return done ? last : undefined;
    },
    { intervalMs: 250, describe: () => (last ? `image ${last.spec.template.spec.containers[0]?.image}, status ${JSON.stringify(last.status)}` : 'no Deployment') },
  );
}

/** Pods of a Deployment (by its instance label) that run `image` and are Running on a node. */
export async function runningPods(kube: Kube, namespace: string, release: string, image: string): Promise<number> {
  type Pod = KubeObject & { spec: { nodeName?: string; containers: { image: string }[] }; status: { phase?: string } };
  const pods = await kube.list<Pod>('v1', 'Pod', namespace, `app.kubernetes.io/instance=${release}`);
  return pods.filter((p) => p.status.phase === 'Running' && p.spec.nodeName && p.spec.containers[0]?.image === image).length;
}

/**
 * POSTs to a Receiver what an EventBridge API destination sends for an ECR push: the event as JSON, with
 * the connection's API-key header. A generic Receiver accepts any body; the path is its only secret.
 */
export async function postPushEvent(receiverUrl: string, webhookPath: string, repository: string, tag: string): Promise<void> {
  const event = {
    version: '0',
    'detail-type': 'ECR Image Action',
    source: 'aws.ecr',
    time: new Date().toISOString(),
    detail: { result: 'SUCCESS', 'repository-name': repository, 'image-tag': tag, 'action-type': 'PUSH' },
  };
  const r = await httpRequest(`${receiverUrl}${webhookPath}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-tagflow-source': 'eventbridge/e2e' },
    body: JSON.stringify(event),
  });
  if (r.status !== 200) throw new Error(`POST ${webhookPath}: HTTP ${r.status} ${r.body}`);
}
