import { RegistryClient, normalizeRegistryUrl, type RegistryCredentials } from './oci-client';
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
 * hosts), so a command talking to several repositories logs in once per registry.
 */
export function registryClients(opts: { pageSize?: number; timeoutMs?: number } = {}): (url: string) => RegistryClient {
  const clients = new Map<string, RegistryClient>();
  return (url) => {
    const origin = normalizeRegistryUrl(url);
    let c = clients.get(origin);
    if (!c) clients.set(origin, (c = new RegistryClient({ baseUrl: origin, credentials: credentialsFor(origin), ...opts })));
    return c;
  };
}
