import { RegistryError, type RegistryCredentials } from './oci-client';

/** An ECR registry host: `<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]`. */
export interface EcrHost {
  readonly accountId: string;
  readonly region: string;
}

const ECR_HOST = /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/;

/** The account and region of an ECR registry host, or undefined for any other host. */
export function parseEcrHost(host: string): EcrHost | undefined {
  const m = ECR_HOST.exec(host.replace(/:\d+$/, ''));
  return m ? { accountId: m[1]!, region: m[2]! } : undefined;
}

/**
 * The ECR client of the AWS SDK, loaded only when an ECR registry is used. Its warning that later SDK
 * releases will need Node 22 is switched off (AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED, unless set):
 * it is not about this command, and tagflow's errors and refusals are one line on stderr.
 */
export async function loadEcrSdk(): Promise<typeof import('@aws-sdk/client-ecr')> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return import('@aws-sdk/client-ecr');
}

/**
 * Basic credentials for an ECR registry, as Flux's `provider: aws` gets them: `GetAuthorizationToken` for
 * the registry's account in its region, with the default AWS credential chain (env, profile, IRSA, …).
 * The SDK is loaded only here, so nothing else pays for it.
 */
export async function ecrCredentials(host: EcrHost): Promise<RegistryCredentials> {
  const { ECRClient, GetAuthorizationTokenCommand } = await loadEcrSdk();
  const client = new ECRClient({ region: host.region });
  try {
    const out = await client.send(new GetAuthorizationTokenCommand({ registryIds: [host.accountId] }));
    const token = out.authorizationData?.[0]?.authorizationToken;
    if (!token) throw new Error('the answer holds no authorizationToken');
    const decoded = Buffer.from(token, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new Error('the authorizationToken is not base64 of user:password');
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  } catch (e) {
    throw new RegistryError(`could not get an ECR token for account ${host.accountId} in ${host.region} (ecr:GetAuthorizationToken): ${(e as Error).message}`);
  } finally {
    client.destroy();
  }
}
