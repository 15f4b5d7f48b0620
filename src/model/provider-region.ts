import { ConfigError } from './errors';
import type { ResolvedEnvironment } from './tiers';

/** The Pulumi config key of the AWS provider's region. */
export const AWS_REGION_CONFIG = 'aws:region';

/**
 * The AWS provider must create everything in the model's region: the region the GitOps tree points Flux
 * at (image URLs, role ARNs in the IRSA patch). Throws ConfigError (naming both values) when the stack's
 * `aws:region` is missing or different. Stacks without `aws` create nothing on AWS and are not checked.
 */
export function checkProviderRegion(env: ResolvedEnvironment, providerRegion: string | undefined, file: string): void {
  const region = env.model.aws?.region;
  if (!region || providerRegion === region) return;
  const message =
    providerRegion === undefined
      ? `is the region of this environment, but the stack sets no ${AWS_REGION_CONFIG}, so the AWS provider would pick one from the environment: add \`${AWS_REGION_CONFIG}: ${region}\` to the stack's config`
      : `is the region of this environment, but the stack's ${AWS_REGION_CONFIG} is ${JSON.stringify(providerRegion)}: the repositories and roles would be created in ${providerRegion} while the GitOps tree points Flux at ${region}; make them equal`;
  throw new ConfigError(file, [{ path: ['aws', 'region'], value: region, message }]);
}
