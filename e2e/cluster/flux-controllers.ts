// The six Flux controllers, run out of the cluster (as their `make run` does) with the admin kubeconfig
// and the flags `flux install` gives them, on 127.0.0.1 ports.
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import type { BuildManifest } from './build-manifest';
import { TIER } from './control-plane';
import type { ProcessSupervisor } from './process-supervisor';
import { httpOkProbe, httpRequest } from './wait';

export const FLUX_CONTROLLERS = [
  'source-controller',
  'kustomize-controller',
  'helm-controller',
  'notification-controller',
  'image-reflector-controller',
  'image-automation-controller',
] as const;
export type FluxControllerName = (typeof FLUX_CONTROLLERS)[number];

export const FLUX_NAMESPACE = 'flux-system';

export interface FluxOptions {
  /**
   * The Flux multi-tenancy lockdown: --no-cross-namespace-refs=true on every controller that has it
   * (all but source-controller), --default-service-account=default on kustomize- and helm-controller,
   * --no-remote-bases=true on kustomize-controller.
   */
  readonly lockdown?: boolean;
  /** Extra flags per controller, appended last (pflag: a later scalar flag wins). */
  readonly extraArgs?: Readonly<Partial<Record<FluxControllerName, readonly string[]>>>;
}

export interface FluxPorts {
  readonly metrics: Readonly<Record<FluxControllerName, number>>;
  readonly health: Readonly<Record<FluxControllerName, number>>;
  /** source-controller's artifact server. */
  readonly storage: number;
  /** notification-controller's event receiver (the other controllers' --events-addr). */
  readonly events: number;
  /** notification-controller's webhook receiver. */
  readonly receiver: number;
}

export interface FluxContext {
  readonly sup: ProcessSupervisor;
  readonly manifest: BuildManifest;
  readonly stateDir: string;
  readonly adminKubeconfig: string;
  readonly ports: FluxPorts;
  readonly options: FluxOptions;
  readonly timeoutMs: number;
}

export interface FluxEndpoints {
  readonly receiverUrl: string;
  readonly eventsUrl: string;
  readonly storageUrl: string;
}

const LOCKDOWN: Readonly<Record<FluxControllerName, readonly string[]>> = {
  'source-controller': [],
  'kustomize-controller': [
    '--no-cross-namespace-refs=true',
    '--default-service-account=default',
    '--no-remote-bases=true',
  ],
  'helm-controller': ['--no-cross-namespace-refs=true', '--default-service-account=default'],
  'notification-controller': ['--no-cross-namespace-refs=true'],
  'image-reflector-controller': ['--no-cross-namespace-refs=true'],
  'image-automation-controller': ['--no-cross-namespace-refs=true'],
};

/**
 * The command-line flags of one controller. `flux install` also passes --enable-leader-election;
 * out of the cluster controller-runtime then fails ("not running in-cluster, please specify
 * LeaderElectionNamespace") because it reads the lease namespace from the in-cluster service-account
 * mount, so it is left out (one instance each: no election needed).
 */
export function fluxControllerArgs(name: FluxControllerName, ctx: Pick<FluxContext, 'stateDir' | 'ports' | 'options'>): string[] {
  const { ports } = ctx;
  const args = [
    '--watch-all-namespaces=true',
    '--log-level=info',
    '--log-encoding=json',
    `--metrics-addr=127.0.0.1:${ports.metrics[name]}`,
    `--health-addr=127.0.0.1:${ports.health[name]}`,
  ];
  const data = path.join(ctx.stateDir, 'data', name);
  switch (name) {
    case 'notification-controller':
      args.push(`--events-addr=127.0.0.1:${ports.events}`, `--receiverAddr=127.0.0.1:${ports.receiver}`);
      break;
    case 'source-controller':
      args.push(
        `--events-addr=http://127.0.0.1:${ports.events}/`,
        `--storage-path=${data}`,
        `--storage-addr=127.0.0.1:${ports.storage}`,
        `--storage-adv-addr=127.0.0.1:${ports.storage}`,
      );
      break;
    case 'image-reflector-controller':
      args.push(`--events-addr=http://127.0.0.1:${ports.events}/`, `--storage-path=${data}`);
      break;
    default:
      args.push(`--events-addr=http://127.0.0.1:${ports.events}/`);
  }
  if (ctx.options.lockdown) args.push(...LOCKDOWN[name]);
  args.push(...(ctx.options.extraArgs?.[name] ?? []));
  return args;
}

/** Starts all six controllers and waits until each answers /readyz (source-controller: also its artifact server). */
export async function startFluxControllers(ctx: FluxContext): Promise<FluxEndpoints> {
  for (const name of FLUX_CONTROLLERS) {
    const home = path.join(ctx.stateDir, 'home', name);
    const tmp = path.join(ctx.stateDir, 'tmp', name);
    mkdirSync(home, { recursive: true });
    mkdirSync(tmp, { recursive: true });
    mkdirSync(path.join(ctx.stateDir, 'data', name), { recursive: true });
    ctx.sup.start({
      name,
      tier: TIER.flux,
      command: ctx.manifest.components[name].path,
      args: fluxControllerArgs(name, ctx),
      cwd: home,
      env: {
        KUBECONFIG: ctx.adminKubeconfig,
        RUNTIME_NAMESPACE: FLUX_NAMESPACE,
        HOME: home,
        TMPDIR: tmp,
      },
    });
  }
  await Promise.all(
    FLUX_CONTROLLERS.map((name) =>
      ctx.sup.waitHealthy(
        name,
        httpOkProbe(`http://127.0.0.1:${ctx.ports.health[name]}/readyz`),
        ctx.timeoutMs,
        'ready (/readyz)',
      ),
    ),
  );
  const storageUrl = `http://127.0.0.1:${ctx.ports.storage}`;
  // The artifact server answers 404 for "/" until something is stored; any HTTP answer means it is up.
  await ctx.sup.waitHealthy(
    'source-controller',
    async () => {
      try {
        await httpRequest(`${storageUrl}/`, { timeoutMs: 2000 });
        return true;
      } catch {
        return false;
      }
    },
    ctx.timeoutMs,
    'serving artifacts',
  );
  return {
    receiverUrl: `http://127.0.0.1:${ctx.ports.receiver}`,
    eventsUrl: `http://127.0.0.1:${ctx.ports.events}/`,
    storageUrl,
  };
}
