// etcd, kube-apiserver, kube-controller-manager and kube-scheduler on 127.0.0.1.
import { mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { BuildManifest } from './build-manifest';
import { writeKubeconfig } from './kubeconfig';
import type { Pki, TokenUser } from './pki';
import type { ProcessSupervisor } from './process-supervisor';
import { httpOkProbe } from './wait';

export interface ControlPlanePorts {
  readonly etcdClient: number;
  readonly etcdPeer: number;
  readonly apiServer: number;
  readonly controllerManager: number;
  readonly scheduler: number;
}

export interface ControlPlaneContext {
  readonly sup: ProcessSupervisor;
  readonly manifest: BuildManifest;
  readonly pki: Pki;
  readonly stateDir: string;
  readonly ports: ControlPlanePorts;
  readonly timeoutMs: number;
}

export interface ControlPlane {
  readonly apiServerUrl: string;
  readonly adminKubeconfig: string;
}

/** Process tiers: stop() stops higher tiers first (clients before the API server before etcd). */
export const TIER = { etcd: 0, apiServer: 1, controlPlane: 2, node: 3, flux: 4 } as const;

const bin = (ctx: ControlPlaneContext, name: keyof BuildManifest['components']): string =>
  ctx.manifest.components[name].path;

function kubeconfigFor(ctx: ControlPlaneContext, server: string, name: string, user: TokenUser): string {
  return writeKubeconfig(path.join(ctx.stateDir, `${name}.kubeconfig`), {
    server,
    caCertFile: ctx.pki.caCert,
    token: user.token,
    user: user.user,
  });
}

export async function startEtcd(ctx: ControlPlaneContext): Promise<string> {
  const dataDir = path.join(ctx.stateDir, 'etcd');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const client = `http://127.0.0.1:${ctx.ports.etcdClient}`;
  const peer = `http://127.0.0.1:${ctx.ports.etcdPeer}`;
  ctx.sup.start({
    name: 'etcd',
    tier: TIER.etcd,
    command: bin(ctx, 'etcd'),
    args: [
      '--name=e2e',
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=e2e=${peer}`,
      '--initial-cluster-state=new',
      '--unsafe-no-fsync=true', // throwaway data: skip fsync, much faster on slow disks
      '--log-level=warn',
    ],
  });
  await ctx.sup.waitHealthy('etcd', httpOkProbe(`${client}/health`), ctx.timeoutMs);
  return client;
}

export async function startApiServer(ctx: ControlPlaneContext, etcdUrl: string): Promise<ControlPlane> {
  const url = `https://127.0.0.1:${ctx.ports.apiServer}`;
  ctx.sup.start({
    name: 'kube-apiserver',
    tier: TIER.apiServer,
    command: bin(ctx, 'kube-apiserver'),
    args: [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      // The default reconciler would publish 127.0.0.1 as the `kubernetes` Service's endpoint, which
      // validation rejects (loopback) every 10 s; nothing here runs in-cluster, so publish none.
      '--endpoint-reconciler-type=none',
      `--secure-port=${ctx.ports.apiServer}`,
      `--tls-cert-file=${ctx.pki.servingCert}`,
      `--tls-private-key-file=${ctx.pki.servingKey}`,
      `--client-ca-file=${ctx.pki.caCert}`,
      `--token-auth-file=${ctx.pki.tokenFile}`,
      // Fills kube-system/extension-apiserver-authentication, which kube-controller-manager and
      // kube-scheduler read for delegated authentication (else they log errors continuously). No
      // certificate with this CN is ever issued, so no front proxy can authenticate.
      `--requestheader-client-ca-file=${ctx.pki.caCert}`,
      '--requestheader-allowed-names=tagflow-e2e-front-proxy',
      '--requestheader-username-headers=X-Remote-User',
      '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-extra-headers-prefix=X-Remote-Extra-',
      '--authorization-mode=Node,RBAC',
      '--anonymous-auth=false',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${ctx.pki.serviceAccountPub}`,
      `--service-account-signing-key-file=${ctx.pki.serviceAccountKey}`,
      '--service-cluster-ip-range=10.96.0.0/16',
      '--allow-privileged=true',
      '--profiling=false',
      `--cert-dir=${path.join(ctx.stateDir, 'kube-apiserver')}`,
      '--v=1',
    ],
  });
  const admin = kubeconfigFor(ctx, url, 'admin', ctx.pki.users.admin);
  await ctx.sup.waitHealthy(
    'kube-apiserver',
    httpOkProbe(`${url}/readyz`, { ca: readFileSync(ctx.pki.caCert), headers: { Authorization: `Bearer ${ctx.pki.users.admin.token}` } }),
    ctx.timeoutMs,
    'ready (/readyz)',
  );
  return { apiServerUrl: url, adminKubeconfig: admin };
}

export async function startControllerManagerAndScheduler(ctx: ControlPlaneContext, cp: ControlPlane): Promise<void> {
  const kcm = kubeconfigFor(ctx, cp.apiServerUrl, 'kube-controller-manager', ctx.pki.users.controllerManager);
  const sched = kubeconfigFor(ctx, cp.apiServerUrl, 'kube-scheduler', ctx.pki.users.scheduler);
  const common = (kubeconfig: string, port: number, name: string): string[] => [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${port}`,
    `--cert-dir=${path.join(ctx.stateDir, name)}`,
    '--leader-elect=false',
    '--v=1',
  ];
  ctx.sup.start({
    name: 'kube-controller-manager',
    tier: TIER.controlPlane,
    command: bin(ctx, 'kube-controller-manager'),
    args: [
      ...common(kcm, ctx.ports.controllerManager, 'kube-controller-manager'),
      `--service-account-private-key-file=${ctx.pki.serviceAccountKey}`,
      `--root-ca-file=${ctx.pki.caCert}`,
      '--use-service-account-credentials=true',
      '--cluster-name=tagflow-e2e',
    ],
  });
  ctx.sup.start({
    name: 'kube-scheduler',
    tier: TIER.controlPlane,
    command: bin(ctx, 'kube-scheduler'),
    args: common(sched, ctx.ports.scheduler, 'kube-scheduler'),
  });
  await Promise.all([
    ctx.sup.waitHealthy(
      'kube-controller-manager',
      httpOkProbe(`https://127.0.0.1:${ctx.ports.controllerManager}/healthz`, { insecure: true }),
      ctx.timeoutMs,
    ),
    ctx.sup.waitHealthy(
      'kube-scheduler',
      httpOkProbe(`https://127.0.0.1:${ctx.ports.scheduler}/healthz`, { insecure: true }),
      ctx.timeoutMs,
    ),
  ]);
}
