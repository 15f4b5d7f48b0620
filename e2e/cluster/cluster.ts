// startCluster: etcd + kube-apiserver + kube-controller-manager + kube-scheduler + kwok + the Flux CRDs
// + the six Flux controllers, all on 127.0.0.1 with ports chosen at run time, all state under workDir.
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { loadBuildManifest } from './build-manifest';
import { startApiServer, startControllerManagerAndScheduler, startEtcd, type ControlPlaneContext } from './control-plane';
import { installCrds } from './crds';
import { FLUX_CONTROLLERS, FLUX_NAMESPACE, startFluxControllers, type FluxControllerName, type FluxOptions } from './flux-controllers';
import { freePorts } from './free-ports';
import { Kube } from './kube-client';
import { startKwok } from './kwok-node';
import { createPki } from './pki';
import { ProcessSupervisor, type ProcessInfo } from './process-supervisor';

export interface ClusterOptions {
  /** All state, certificates, kubeconfigs and logs go under here. */
  readonly workDir: string;
  /** Build manifest written by e2e/build/build.sh (default: the cache's manifest.json). */
  readonly manifestPath?: string;
  readonly flux?: FluxOptions;
  /** Names of the fake kwok nodes (default: one, `kwok-node-0`). */
  readonly nodeNames?: readonly string[];
  /** Bound for each single wait (process healthy, CRDs established, node ready); default 120 s. */
  readonly stepTimeoutMs?: number;
  /** Hard bound on every process's lifetime, should stop() never be called; default 3600 s. */
  readonly maxLifetimeSeconds?: number;
}

export interface Cluster {
  /** Admin kubeconfig (system:masters, static token) for https://127.0.0.1:PORT. */
  readonly kubeconfigPath: string;
  readonly apiServerUrl: string;
  /** notification-controller's webhook receiver base URL, e.g. http://127.0.0.1:PORT. */
  readonly receiverUrl: string;
  /** notification-controller's event receiver (the controllers' --events-addr). */
  readonly eventsUrl: string;
  /** source-controller's artifact server. */
  readonly storageUrl: string;
  /** PEM file of the CA that signed the API server's serving certificate. */
  readonly caCertPath: string;
  readonly logsDir: string;
  readonly nodeNames: readonly string[];
  readonly processes: ReadonlyArray<ProcessInfo>;
  /** A client with the admin kubeconfig. */
  readonly kube: Kube;
  /** Throws (with log tails) if any process has exited since the start. */
  assertHealthy(): void;
  /** SIGTERM every process group, SIGKILL after a grace period; idempotent, never throws; logs stay. */
  stop(): Promise<void>;
}

export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  const workDir = path.resolve(opts.workDir);
  const logsDir = path.join(workDir, 'logs');
  const stateDir = path.join(workDir, 'state');
  mkdirSync(logsDir, { recursive: true });
  mkdirSync(stateDir, { recursive: true });
  const timeoutMs = opts.stepTimeoutMs ?? 120_000;
  const nodeNames = opts.nodeNames ?? ['kwok-node-0'];
  const manifest = loadBuildManifest(opts.manifestPath);
  const sup = new ProcessSupervisor(logsDir, opts.maxLifetimeSeconds ?? 3600);

  try {
    const n = FLUX_CONTROLLERS.length;
    const p = await freePorts(6 + 2 * n + 3);
    const byController = (offset: number): Record<FluxControllerName, number> =>
      Object.fromEntries(FLUX_CONTROLLERS.map((c, i) => [c, p[offset + i]])) as Record<FluxControllerName, number>;
    const pki = await createPki(path.join(stateDir, 'pki'));
    const ctx: ControlPlaneContext = {
      sup,
      manifest,
      pki,
      stateDir,
      timeoutMs,
      ports: { etcdClient: p[0], etcdPeer: p[1], apiServer: p[2], controllerManager: p[3], scheduler: p[4] },
    };

    const etcdUrl = await startEtcd(ctx);
    const cp = await startApiServer(ctx, etcdUrl);
    const kube = Kube.fromKubeconfig(cp.adminKubeconfig);
    await startControllerManagerAndScheduler(ctx, cp);
    await startKwok({
      sup,
      manifest,
      kube,
      stateDir,
      adminKubeconfig: cp.adminKubeconfig,
      port: p[5],
      nodeNames,
      timeoutMs,
    });
    await installCrds(kube, manifest.crdDir, timeoutMs);
    await kube.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: FLUX_NAMESPACE } }]);
    const flux = await startFluxControllers({
      sup,
      manifest,
      stateDir,
      adminKubeconfig: cp.adminKubeconfig,
      options: opts.flux ?? {},
      timeoutMs,
      ports: {
        metrics: byController(6),
        health: byController(6 + n),
        storage: p[6 + 2 * n],
        events: p[6 + 2 * n + 1],
        receiver: p[6 + 2 * n + 2],
      },
    });
    sup.assertAllRunning();

    return {
      kubeconfigPath: cp.adminKubeconfig,
      apiServerUrl: cp.apiServerUrl,
      receiverUrl: flux.receiverUrl,
      eventsUrl: flux.eventsUrl,
      storageUrl: flux.storageUrl,
      caCertPath: pki.caCert,
      logsDir,
      nodeNames,
      processes: sup.processes,
      kube,
      assertHealthy: () => sup.assertAllRunning(),
      stop: () => sup.stop(),
    };
  } catch (e) {
    await sup.stop();
    if (e instanceof Error) e.message = `startCluster failed (logs in ${logsDir}): ${e.message}`;
    throw e;
  }
}
