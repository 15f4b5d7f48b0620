import { RegistryClient, RegistryRun, normalizeRegistryUrl, type RegistryCredentials, type RegistryLimits } from './oci-client';
import { ecrCredentials, parseEcrHost } from './ecr-auth';
import type { AppTier } from '../model/tiers';

/** The distribution API origin of an app's own registry (plain HTTP only for a registry configured insecure). */
export function appRegistryUrl(app: Pick<AppTier, 'registry'>): string {
  return `${app.registry.insecure ? 'http' : 'https'}://${app.registry.host}`;
}

/** Credentials for any registry: ECR hosts through the AWS SDK, others from TAGFLOW_REGISTRY_USERNAME/PASSWORD when set. */
export function credentialsFor(baseUrl: string, env: NodeJS.ProcessEnv = process.env): () => Promise<RegistryCredentials | undefined> {
  const ecr = parseEcrHost(new URL(baseUrl).host);
  if (ecr) return () => ecrCredentials(ecr);
  const username = env.TAGFLOW_REGISTRY_USERNAME;
  const password = env.TAGFLOW_REGISTRY_PASSWORD;
  return async () => (username && password !== undefined ? { username, password } : undefined);
}

/**
 * One client per registry origin, each with the credentials `credentialsFor` picks (ECR tokens for ECR
 * hosts), so a command talking to several repositories logs in once per registry. `insecure` allows
 * plain HTTP for one registry (one the stack declares `insecure`), on top of the pool's own setting.
 */
export function registryClients(opts: RegistryPoolOptions = {}): (url: string, insecure?: boolean) => RegistryClient {
  const clients = new Map<string, RegistryClient>();
  // One budget (bytes, deadline) for everything the command reads, whichever registry it comes from.
  const run = new RegistryRun(opts.limits);
  return (url, insecureRegistry = false) => {
    const insecure = opts.insecure === true || insecureRegistry;
    const origin = normalizeRegistryUrl(url, insecure);
    let c = clients.get(origin);
    if (!c) {
      c = new RegistryClient({ baseUrl: origin, credentials: credentialsFor(origin), pageSize: opts.pageSize, insecure, allowedRealms: opts.allowedRealms, run });
      clients.set(origin, c);
    }
    return c;
  };
}

/** The client of an app's own registry (plain HTTP exactly when the stack declares the registry insecure). */
export function appRegistryClient(pool: ReturnType<typeof registryClients>, app: Pick<AppTier, 'registry'>): RegistryClient {
  return pool(appRegistryUrl(app), app.registry.insecure);
}

/** How a command talks to registries: plain HTTP allowed, extra token realms trusted with credentials, limits. */
export interface RegistryPoolOptions {
  readonly pageSize?: number;
  readonly insecure?: boolean;
  readonly allowedRealms?: readonly string[];
  readonly limits?: Partial<RegistryLimits>;
}
