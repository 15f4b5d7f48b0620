/**
 * IAM and ECR policy documents as plain objects. They are pure functions of the model, serialized by the
 * components with `pulumi.jsonStringify`, and tested directly with an IAM policy simulator.
 */
import type { Ci } from '../model/environment';
import { FLUX_READER_SERVICE_ACCOUNT, oidcIssuerHost, oidcProviderArn, partitionOf } from '../model/aws-names';

export interface Statement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Principal?: Record<string, string | string[]>;
  readonly Action: string | string[];
  readonly Resource?: string | string[];
  readonly Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  readonly Version: '2012-10-17';
  readonly Statement: Statement[];
}

/** Why each permission is granted: the README table is generated from the same list. */
export const FLUX_READ_ACTIONS = {
  'ecr:ListImages': 'list the tags of a repository (ImageRepository scan: the registry tags/list call)',
  'ecr:BatchGetImage': 'read image manifests (digest reflection, tag to digest)',
  'ecr:BatchCheckLayerAvailability': 'check layers while pulling an image or manifest',
  'ecr:GetDownloadUrlForLayer': 'pull layers and config blobs',
} as const;

export const CI_PUSH_ACTIONS = {
  'ecr:BatchCheckLayerAvailability': 'skip uploading layers the repository already has',
  'ecr:InitiateLayerUpload': 'start a layer upload',
  'ecr:UploadLayerPart': 'upload layer data',
  'ecr:CompleteLayerUpload': 'finish a layer upload',
  'ecr:PutImage': 'push the manifest under its tag (tags are immutable: a tag cannot be moved)',
  'ecr:BatchGetImage': 'read manifests for layer caching (--cache-from)',
  'ecr:GetDownloadUrlForLayer': 'pull cached layers',
} as const;

export const AUTH_TOKEN_ACTION = {
  'ecr:GetAuthorizationToken': 'log in to the registry (account-level: AWS allows only Resource "*")',
} as const;

const sorted = (o: Record<string, string>) => Object.keys(o).sort();

/** Identity policy of Flux's image-reflector-controller for a set of repositories: list and pull only. */
export function fluxReadPolicy(repositoryArns: readonly string[], sid = 'ReadImages'): PolicyDocument {
  if (repositoryArns.length === 0) throw new Error('fluxReadPolicy: no repositories');
  return {
    Version: '2012-10-17',
    Statement: [
      { Sid: 'Login', Effect: 'Allow', Action: sorted(AUTH_TOKEN_ACTION), Resource: '*' },
      { Sid: sid, Effect: 'Allow', Action: sorted(FLUX_READ_ACTIONS), Resource: [...new Set(repositoryArns)].sort() },
    ],
  };
}

/** IRSA trust: only this ServiceAccount of this cluster, only for STS. */
export function irsaTrustPolicy(
  accountId: string,
  region: string,
  issuerUrl: string,
  serviceAccount: { namespace: string; name: string } = FLUX_READER_SERVICE_ACCOUNT,
): PolicyDocument {
  const host = oidcIssuerHost(issuerUrl);
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: oidcProviderArn(accountId, region, issuerUrl) },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: {
          StringEquals: {
            [`${host}:sub`]: `system:serviceaccount:${serviceAccount.namespace}:${serviceAccount.name}`,
            [`${host}:aud`]: 'sts.amazonaws.com',
          },
        },
      },
    ],
  };
}

/** EKS Pod Identity trust; the PodIdentityAssociation pins the cluster, namespace and ServiceAccount. */
export function podIdentityTrustPolicy(accountId: string): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Service: 'pods.eks.amazonaws.com' },
        Action: ['sts:AssumeRole', 'sts:TagSession'],
        Condition: { StringEquals: { 'aws:SourceAccount': accountId } },
      },
    ],
  };
}

export const GITHUB_OIDC_HOST = 'token.actions.githubusercontent.com';
export const BUILDKITE_OIDC_HOST = 'agent.buildkite.com';

/** The OIDC host of a CI system. */
export function ciOidcHost(ci: Ci): string {
  return 'githubActions' in ci ? GITHUB_OIDC_HOST : BUILDKITE_OIDC_HOST;
}

/** `sub` claims the CI role trusts: repository (or pipeline) and branch pinned. */
export function ciSubjects(ci: Ci): { exact: string[]; like: string[] } {
  if ('githubActions' in ci) {
    const { repositories, branches } = ci.githubActions;
    return { exact: repositories.flatMap((r) => branches.map((b) => `repo:${r}:ref:refs/heads/${b}`)).sort(), like: [] };
  }
  const { organization, pipelines, branches } = ci.buildkite;
  // Buildkite's sub ends in :commit:<sha>:step:<key>, which vary per build.
  return { exact: [], like: pipelines.flatMap((p) => branches.map((b) => `organization:${organization}:pipeline:${p}:ref:refs/heads/${b}:commit:*:step:*`)).sort() };
}

/** Trust of the CI push role: the CI's OIDC provider, audience sts.amazonaws.com, pinned subjects. */
export function ciTrustPolicy(accountId: string, region: string, ci: Ci): PolicyDocument {
  const host = ciOidcHost(ci);
  const subs = ciSubjects(ci);
  const condition: Record<string, Record<string, string | string[]>> = { StringEquals: { [`${host}:aud`]: 'sts.amazonaws.com' } };
  if (subs.exact.length) condition.StringEquals[`${host}:sub`] = subs.exact;
  if (subs.like.length) condition.StringLike = { [`${host}:sub`]: subs.like };
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: `arn:${partitionOf(region)}:iam::${accountId}:oidc-provider/${host}` },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: condition,
      },
    ],
  };
}

/** Identity policy of the CI push role: push (and cache reads) to the app repositories only. */
export function ciPushPolicy(repositoryArns: readonly string[]): PolicyDocument {
  if (repositoryArns.length === 0) throw new Error('ciPushPolicy: no repositories');
  return {
    Version: '2012-10-17',
    Statement: [
      { Sid: 'Login', Effect: 'Allow', Action: sorted(AUTH_TOKEN_ACTION), Resource: '*' },
      { Sid: 'PushImages', Effect: 'Allow', Action: sorted(CI_PUSH_ACTIONS), Resource: [...new Set(repositoryArns)].sort() },
    ],
  };
}

/**
 * Repository policy for images read from other accounts: those accounts' tagflow image-reader roles (by
 * name pattern, so the policy is valid before they exist) may list and pull; nothing else.
 */
export function crossAccountPullPolicy(pullAccounts: readonly string[], region: string): PolicyDocument {
  const p = partitionOf(region);
  const accounts = [...new Set(pullAccounts)].sort();
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'TagflowImageReaders',
        Effect: 'Allow',
        Principal: { AWS: accounts.map((a) => `arn:${p}:iam::${a}:root`) },
        Action: sorted(FLUX_READ_ACTIONS),
        Condition: { ArnLike: { 'aws:PrincipalArn': accounts.map((a) => `arn:${p}:iam::${a}:role/tagflow-*-image-reader`) } },
      },
    ],
  };
}

export const EVENTBRIDGE_ACTIONS = {
  'events:InvokeApiDestination': "POST the push event to the tier's Receiver (only its own API destination)",
} as const;

/**
 * Trust of the role EventBridge assumes to call the API destination: the events service, only on behalf
 * of this account and this one rule (confused-deputy guard).
 */
export function eventBridgeTrustPolicy(accountId: string, ruleArn: string): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'EventBridgeRule',
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: 'sts:AssumeRole',
        Condition: { StringEquals: { 'aws:SourceAccount': accountId, 'aws:SourceArn': ruleArn } },
      },
    ],
  };
}

/** Identity policy of that role: invoke exactly the tier's API destination. */
export function invokeApiDestinationPolicy(apiDestinationArn: string): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [{ Sid: 'InvokeReceiver', Effect: 'Allow', Action: sorted(EVENTBRIDGE_ACTIONS), Resource: apiDestinationArn }],
  };
}

/** Queue policy of the dead-letter queue: only this rule may send the events it could not deliver. */
export function deadLetterQueuePolicy(queueArn: string, ruleArn: string): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'UndeliveredPushEvents',
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Resource: queueArn,
        Condition: { ArnEquals: { 'aws:SourceArn': ruleArn } },
      },
    ],
  };
}
