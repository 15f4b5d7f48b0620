// Smoke test of e2e/cluster: a real control plane, kwok, RBAC, and each Flux controller reconciling.
import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  conditionsOf,
  httpRequest,
  KubeApiError,
  processGroupAlive,
  startCluster,
  type Cluster,
  type KubeObject,
} from './index';

const WAIT_MS = 90_000;
const ns = 'smoke';

const readyCondition = (obj: unknown) => conditionsOf(obj).find((c) => c.type === 'Ready');

describe('e2e cluster smoke', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    const workDir = process.env.TAGFLOW_E2E_WORKDIR ? path.join(process.env.TAGFLOW_E2E_WORKDIR, 'smoke') : mkdtempSync(path.join(os.tmpdir(), 'tagflow-e2e-smoke-'));
    cluster = await startCluster({ workDir, flux: { lockdown: true } });
    await cluster.kube.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }]);
  }, 10 * 60 * 1000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('rolls out a Deployment onto the kwok node', async () => {
    await cluster.kube.apply(`
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: ${ns} }
spec:
  replicas: 2
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers: [{ name: web, image: example.invalid/x:1 }]
`);
    const dep = await cluster.kube.waitFor<KubeObject & { status?: { readyReplicas?: number; availableReplicas?: number } }>(
      { apiVersion: 'apps/v1', kind: 'Deployment', namespace: ns, name: 'web' },
      'to be Available with 2 ready replicas',
      (d) =>
        d.status?.readyReplicas === 2 &&
        conditionsOf(d).some((c) => c.type === 'Available' && c.status === 'True'),
      WAIT_MS,
    );
    expect(dep.status?.availableReplicas).toBe(2);
    const pods = await cluster.kube.list<KubeObject & { spec: { nodeName?: string }; status: { phase?: string } }>(
      'v1',
      'Pod',
      ns,
      'app=web',
    );
    expect(pods).toHaveLength(2);
    for (const pod of pods) {
      expect(pod.spec.nodeName).toBe(cluster.nodeNames[0]);
      expect(pod.status.phase).toBe('Running');
    }
  });

  it('enforces RBAC for an impersonated ServiceAccount', async () => {
    await cluster.kube.apply([{ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'nobody', namespace: ns } }]);
    const sa = cluster.kube.impersonate(`system:serviceaccount:${ns}:nobody`);
    const cm = (name: string): KubeObject => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace: ns },
      data: { a: 'b' },
    });
    const denied = await sa.create(cm('by-sa')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(denied).toBeInstanceOf(KubeApiError);
    expect((denied as KubeApiError).status).toBe(403);
    expect((denied as KubeApiError).message).toContain(`system:serviceaccount:${ns}:nobody`);
    await expect(cluster.kube.create(cm('by-admin'))).resolves.toMatchObject({ metadata: { name: 'by-admin' } });
  });

  it('runs each Flux controller', async () => {
    const token = 'smoke-token-0123456789';
    await cluster.kube.apply(`
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: { name: unreachable, namespace: ${ns} }
spec:
  interval: 1m
  url: http://127.0.0.1:1/x
  ref: { branch: main }
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: { name: unreachable, namespace: ${ns} }
spec:
  interval: 1m
  image: 127.0.0.1:1/smoke/x
  insecure: true
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: { name: missing-source, namespace: ${ns} }
spec:
  interval: 1m
  path: ./
  prune: true
  sourceRef: { kind: GitRepository, name: does-not-exist }
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: { name: missing-source, namespace: ${ns} }
spec:
  interval: 1m
  chartRef: { kind: OCIRepository, name: does-not-exist }
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata: { name: missing-source, namespace: ${ns} }
spec:
  interval: 1m
  sourceRef: { kind: GitRepository, name: does-not-exist }
  git:
    commit:
      author: { name: smoke, email: smoke@example.invalid }
  update: { strategy: Setters, path: ./ }
---
apiVersion: v1
kind: Secret
metadata: { name: webhook-token, namespace: ${ns} }
stringData: { token: ${token} }
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: { name: generic, namespace: ${ns} }
spec:
  type: generic
  secretRef: { name: webhook-token }
  resources:
    - { apiVersion: source.toolkit.fluxcd.io/v1, kind: GitRepository, name: unreachable }
`);
    const ref = (apiVersion: string, kind: string, name: string) => ({ apiVersion, kind, name, namespace: ns });

    // source-controller: a fetch failure
    const gitRef = ref('source.toolkit.fluxcd.io/v1', 'GitRepository', 'unreachable');
    const git = await cluster.kube.waitForCondition(gitRef, 'Ready', 'False', WAIT_MS);
    expect(readyCondition(git)?.message).toMatch(/127\.0\.0\.1:1/);

    // image-reflector-controller: a scan failure (a one-letter repository name like 127.0.0.1:1/x is
    // rejected before any request: go-containerregistry wants at least two characters)
    const imgRef = ref('image.toolkit.fluxcd.io/v1', 'ImageRepository', 'unreachable');
    const img = await cluster.kube.waitForCondition(imgRef, 'Ready', 'False', WAIT_MS);
    expect(readyCondition(img)?.message).toMatch(/127\.0\.0\.1:1/);

    // kustomize-, helm- and image-automation-controller: a not-ready condition about the missing source
    for (const r of [
      ref('kustomize.toolkit.fluxcd.io/v1', 'Kustomization', 'missing-source'),
      ref('helm.toolkit.fluxcd.io/v2', 'HelmRelease', 'missing-source'),
      ref('image.toolkit.fluxcd.io/v1', 'ImageUpdateAutomation', 'missing-source'),
    ]) {
      const obj = await cluster.kube.waitForCondition(r, 'Ready', 'False', WAIT_MS);
      expect(readyCondition(obj)?.message).toMatch(/does-not-exist|not found/i);
    }

    // notification-controller: the Receiver gets a webhook path that accepts a POST
    const receiver = await cluster.kube.waitForCondition<KubeObject & { status?: { webhookPath?: string } }>(
      ref('notification.toolkit.fluxcd.io/v1', 'Receiver', 'generic'),
      'Ready',
      'True',
      WAIT_MS,
    );
    const webhookPath = receiver.status?.webhookPath;
    expect(webhookPath).toMatch(/^\/hook\/[0-9a-f]+$/);
    const res = await httpRequest(`${cluster.receiverUrl}${webhookPath}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(200);
    // ... and notification-controller asked for a reconcile of the Receiver's resource
    await cluster.kube.waitFor(
      gitRef,
      'to be annotated by the Receiver',
      (o) => {
        const annotations = (o.metadata as { annotations?: Record<string, string> }).annotations ?? {};
        return 'reconcile.fluxcd.io/requestedAt' in annotations;
      },
      WAIT_MS,
    );

    cluster.assertHealthy();
  });

  it('stops every process group', async () => {
    const pids = cluster.processes.map((p) => p.pid);
    expect(pids.length).toBe(11);
    await cluster.stop();
    await cluster.stop(); // idempotent
    expect(pids.filter((pid) => processGroupAlive(pid))).toEqual([]);
  });
});
