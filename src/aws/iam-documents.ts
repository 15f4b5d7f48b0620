/**
 * IAM and ECR policy documents as plain objects. They are pure functions of the model, serialized by the
 * components with `pulumi.jsonStringify`, and tested directly with an IAM policy simulator.
 */
import type { CiSource } from '../model/environment';
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

/** What a kubelet (node role or pull identity) needs to pull an image for a pod: no listing, no writes. */
export const NODE_PULL_ACTIONS = {
  'ecr:BatchGetImage': 'read the image manifest the pod names (tag or digest)',
  'ecr:GetDownloadUrlForLayer': 'download its layers and config',
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

/**
 * EKS Pod Identity trust: the EKS pods service, only on behalf of this account and this cluster
 * (aws:SourceAccount, aws:SourceArn: the confused-deputy guard); the PodIdentityAssociation pins the
 * namespace and ServiceAccount. Pod Identity tags the session, hence sts:TagSession.
 */
export function podIdentityTrustPolicy(accountId: string, clusterArn: string): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Service: 'pods.eks.amazonaws.com' },
        Action: ['sts:AssumeRole', 'sts:TagSession'],
        Condition: { StringEquals: { 'aws:SourceAccount': accountId }, ArnEquals: { 'aws:SourceArn': clusterArn } },
      },
    ],
  };
}

export const GITHUB_OIDC_HOST = 'token.actions.githubusercontent.com';
export const BUILDKITE_OIDC_HOST = 'agent.buildkite.com';

/** The OIDC host of a CI system. */
export function ciOidcHost(source: Pick<CiSource, 'system'>): string {
  return source.system === 'githubActions' ? GITHUB_OIDC_HOST : BUILDKITE_OIDC_HOST;
}

/** The Buildkite session tags the trust requires (`session-tags` of the assume-role plugin), and their values. */
export const BUILDKITE_SESSION_TAGS = ['organization_slug', 'pipeline_slug', 'build_branch'] as const;

/**
 * `sub` claims a CI source's role trusts. GitHub: `repo:<owner/repo>:ref:refs/heads/<branch>` per branch and
 * `repo:<owner/repo>:environment:<name>` per environment (a job with `environment:` gets that form, whatever
 * its branch: the environment's deployment-branch rule is what limits branches there). Buildkite:
 * `organization:<org>:pipeline:<slug>:ref:refs/heads/<branch>:commit:*:step:*` (commit and step vary per build).
 */
export function ciSubjects(source: CiSource): { exact: string[]; like: string[] } {
  if (source.system === 'githubActions') {
    return {
      exact: [...source.branches.map((b) => `repo:${source.source}:ref:refs/heads/${b}`), ...source.environments.map((e) => `repo:${source.source}:environment:${e}`)].sort(),
      like: [],
    };
  }
  return { exact: [], like: source.branches.map((b) => `organization:${source.organization}:pipeline:${source.source}:ref:refs/heads/${b}:commit:*:step:*`).sort() };
}

/**
 * Trust of a CI source's push role: the CI's OIDC provider, audience sts.amazonaws.com, the source's `sub`
 * claims. Buildkite passes session tags (organization, pipeline, branch), so its trust also allows
 * sts:TagSession, and only with exactly those tag keys carrying this source's values.
 */
export function ciTrustPolicy(accountId: string, region: string, source: CiSource): PolicyDocument {
  const host = ciOidcHost(source);
  const subs = ciSubjects(source);
  const condition: Record<string, Record<string, string | string[]>> = { StringEquals: { [`${host}:aud`]: 'sts.amazonaws.com' } };
  if (subs.exact.length) condition.StringEquals[`${host}:sub`] = subs.exact;
  if (subs.like.length) condition.StringLike = { [`${host}:sub`]: subs.like };
  const buildkite = source.system === 'buildkite';
  if (buildkite) {
    Object.assign(condition.StringEquals, {
      'aws:RequestTag/organization_slug': source.organization!,
      'aws:RequestTag/pipeline_slug': source.source,
      'aws:RequestTag/build_branch': [...source.branches].sort(),
    });
    condition['ForAllValues:StringEquals'] = { 'aws:TagKeys': [...BUILDKITE_SESSION_TAGS] };
  }
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: `arn:${partitionOf(region)}:iam::${accountId}:oidc-provider/${host}` },
        Action: buildkite ? ['sts:AssumeRoleWithWebIdentity', 'sts:TagSession'] : 'sts:AssumeRoleWithWebIdentity',
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

/** The exact roles of other accounts that read one repository. */
export interface RepositoryReaders {
  /** Flux image-reader roles (list and pull). */
  readonly readerRoleArns: readonly string[];
  /** Roles that pull for the reading cluster's pods (pull only). */
  readonly nodeRoleArns: readonly string[];
}

/**
 * Repository policy for images read from other accounts: exactly the named roles, never an account root.
 * IAM resolves each role ARN when the policy is saved, so a role deleted and re-created by the same name
 * does not inherit the grant (re-apply the stack), and a role that does not exist yet is refused.
 */
export function crossAccountPullPolicy(readers: RepositoryReaders): PolicyDocument {
  const statements: Statement[] = [];
  if (readers.readerRoleArns.length) {
    statements.push({ Sid: 'TagflowImageReaders', Effect: 'Allow', Principal: { AWS: [...new Set(readers.readerRoleArns)].sort() }, Action: sorted(FLUX_READ_ACTIONS) });
  }
  if (readers.nodeRoleArns.length) {
    statements.push({ Sid: 'ClusterImagePull', Effect: 'Allow', Principal: { AWS: [...new Set(readers.nodeRoleArns)].sort() }, Action: sorted(NODE_PULL_ACTIONS) });
  }
  if (!statements.length) throw new Error('crossAccountPullPolicy: no readers');
  return { Version: '2012-10-17', Statement: statements };
}

/** Identity policy of the roles that pull for a cluster's pods: log in, pull the apps' repositories. */
export function nodePullPolicy(repositoryArns: readonly string[]): PolicyDocument {
  if (repositoryArns.length === 0) throw new Error('nodePullPolicy: no repositories');
  return {
    Version: '2012-10-17',
    Statement: [
      { Sid: 'Login', Effect: 'Allow', Action: sorted(AUTH_TOKEN_ACTION), Resource: '*' },
      { Sid: 'PullAppImages', Effect: 'Allow', Action: sorted(NODE_PULL_ACTIONS), Resource: [...new Set(repositoryArns)].sort() },
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
