import { createHash } from 'node:crypto';
/**
 * Names and ARNs that both the GitOps tree and the Pulumi program need. They are deterministic, so synth
 * never waits for Pulumi outputs (e.g. the role ARN in the image-reflector-controller IRSA patch).
 */
export const FLUX_READER_SERVICE_ACCOUNT = { namespace: 'flux-system', name: 'image-reflector-controller' } as const;
/** ServiceAccount of a tier's ImageRepositories with object-level identity. */
export const TIER_READER_SERVICE_ACCOUNT = 'tagflow-image-reader';

export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

export function fluxReaderRoleName(environment: string): string {
  return `tagflow-${environment}-flux-image-reader`;
}

export function tierReaderRoleName(environment: string, tier: string): string {
  return `tagflow-${environment}-${tier}-image-reader`;
}

/**
 * The push role of one CI source (GitHub `owner/repo` or Buildkite pipeline): `tagflow-<env>-ci-<source>`, with
 * `/` as `-`; a name past IAM's 64 characters keeps its start and ends in a hash of the whole name.
 */
export function ciRoleName(environment: string, source: string): string {
  const name = `tagflow-${environment}-ci-${source.replace(/[^\w+=,.@-]/g, '-')}`;
  if (name.length <= 64) return name;
  return `${name.slice(0, 55)}-${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
}

export function eksClusterArn(accountId: string, region: string, cluster: string): string {
  return `arn:${partitionOf(region)}:eks:${region}:${accountId}:cluster/${cluster}`;
}

export function roleArn(accountId: string, region: string, roleName: string): string {
  return `arn:${partitionOf(region)}:iam::${accountId}:role/${roleName}`;
}

export function ecrRepositoryArn(accountId: string, region: string, repository: string): string {
  return `arn:${partitionOf(region)}:ecr:${region}:${accountId}:repository/${repository}`;
}

/** `oidc.eks.<region>.amazonaws.com/id/<ID>`: the issuer without scheme, as IAM condition keys spell it. */
export function oidcIssuerHost(issuerUrl: string): string {
  return issuerUrl.replace(/^https:\/\//, '').replace(/\/$/, '');
}

export function oidcProviderArn(accountId: string, region: string, issuerUrl: string): string {
  return `arn:${partitionOf(region)}:iam::${accountId}:oidc-provider/${oidcIssuerHost(issuerUrl)}`;
}

/** EventBridge names of a tier's webhook path (rule, role, queue, connection and API destination share it). */
export function webhookResourceName(environment: string, tier: string): string {
  return `tagflow-${environment}-${tier}-ecr-push`;
}

export function eventRuleArn(accountId: string, region: string, ruleName: string): string {
  return `arn:${partitionOf(region)}:events:${region}:${accountId}:rule/${ruleName}`;
}
