// runUnsafeSimulation loads the resource policy without a name and then reads its name; give it one.
jest.mock('@cloud-copilot/iam-policy', () => {
  const actual = jest.requireActual('@cloud-copilot/iam-policy');
  return { ...actual, loadPolicy: (p: unknown, meta?: { name: string }) => actual.loadPolicy(p, meta ?? { name: 'resource-policy' }) };
});
import {
  ciPushPolicy,
  ciTrustPolicy,
  crossAccountPullPolicy,
  deadLetterQueuePolicy,
  eventBridgeTrustPolicy,
  fluxReadPolicy,
  invokeApiDestinationPolicy,
  irsaTrustPolicy,
  nodePullPolicy,
  podIdentityTrustPolicy,
  type PolicyDocument,
} from '../src/aws/iam-documents';
import { ciSources, clusterPullRepositoryArns, repositoryReaders } from '../src/aws/identities';
import { loadStack } from '../src/model/load';
import { REPO_ROOT } from './support/tree';
import { decide } from './support/iam';
import { tierRepositoryArns } from '../src/aws/tier';
import { parseEnvironment } from '../src/model/load';
import { resolveEnvironment } from '../src/model/tiers';
import { ecrRepositoryArn } from '../src/model/aws-names';
import { sampleEnvironment } from './support/tree';

/**
 * The IAM documents checked with an IAM policy simulator (@cloud-copilot/iam-simulate, AGPL: tests only).
 */
const ACCOUNT = '123456789012'; // the sample environment's account
const OTHER = '999988887777';
const REGION = 'eu-west-1';
const repo = (name: string, account = ACCOUNT) => ecrRepositoryArn(account, REGION, name);

const env = resolveEnvironment(parseEnvironment(sampleEnvironment(), 'test.yaml'));
const devArns = tierRepositoryArns(env.tiers.find((t) => t.name === 'dev')!);
const role = `arn:aws:iam::${ACCOUNT}:role/tagflow-test-flux-image-reader`;

describe('Flux image-reflector-controller policy', () => {
  const policy = fluxReadPolicy(devArns);

  test.each(['ecr:ListImages', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'])('%s on its repositories: allowed', async (action) => {
    for (const arn of devArns) expect(await decide({ principal: role, action, resource: arn, identity: policy })).toBe('Allowed');
  });

  test('logs in (GetAuthorizationToken on *)', async () => {
    expect(await decide({ principal: role, action: 'ecr:GetAuthorizationToken', resource: '*', identity: policy })).toBe('Allowed');
  });

  test.each(['ecr:PutImage', 'ecr:InitiateLayerUpload', 'ecr:BatchDeleteImage', 'ecr:DeleteRepository', 'ecr:SetRepositoryPolicy', 'ecr:PutLifecyclePolicy'])(
    '%s: denied (no write of any kind)',
    async (action) => {
      expect(await decide({ principal: role, action, resource: devArns[0], identity: policy })).not.toBe('Allowed');
    },
  );

  test('no other repository, no other account', async () => {
    expect(await decide({ principal: role, action: 'ecr:BatchGetImage', resource: repo('someone-else'), identity: policy })).not.toBe('Allowed');
    expect(await decide({ principal: role, action: 'ecr:BatchGetImage', resource: repo('api', OTHER), identity: policy })).not.toBe('Allowed');
  });

  test('no ecr:* and no wildcard resource except the login', () => {
    for (const s of policy.Statement) {
      expect([s.Action].flat()).not.toContain('ecr:*');
      if ([s.Resource].flat().includes('*')) expect(s.Action).toEqual(['ecr:GetAuthorizationToken']);
    }
  });
});

describe('CI push roles: one per source, pushing only the apps it builds (dev example stack)', () => {
  const dev = loadStack(REPO_ROOT, 'dev');
  const sources = ciSources(dev);
  const devRepo = (name: string) => ecrRepositoryArn('111122223333', REGION, name);
  const all = [devRepo('checkout-api'), devRepo('payments/worker')];

  test('acme/checkout-api builds checkout-api, acme/payments builds payments-worker', () => {
    expect(sources.map((s) => [s.source, s.repositoryArns])).toEqual([
      ['acme/checkout-api', [devRepo('checkout-api')]],
      ['acme/payments', [devRepo('payments/worker')]],
    ]);
  });

  test.each(['ecr:PutImage', 'ecr:InitiateLayerUpload', 'ecr:UploadLayerPart', 'ecr:CompleteLayerUpload', 'ecr:BatchCheckLayerAvailability'])(
    "%s: each source's role on its own repository only",
    async (action) => {
      for (const source of sources) {
        const policy = ciPushPolicy(source.repositoryArns);
        const principal = `arn:aws:iam::111122223333:role/tagflow-dev-ci-${source.source.replace('/', '-')}`;
        for (const arn of all) {
          const expected = source.repositoryArns.includes(arn) ? 'Allowed' : 'ImplicitlyDenied';
          expect({ source: source.source, arn, result: await decide({ principal, action, resource: arn, identity: policy }) }).toEqual({ source: source.source, arn, result: expected });
        }
      }
    },
  );

  test('cannot push to other accounts, delete images or change repositories', async () => {
    const policy = ciPushPolicy(sources[0]!.repositoryArns);
    const ci = 'arn:aws:iam::111122223333:role/tagflow-dev-ci-acme-checkout-api';
    expect(await decide({ principal: ci, action: 'ecr:PutImage', resource: ecrRepositoryArn(OTHER, REGION, 'checkout-api'), identity: policy })).not.toBe('Allowed');
    for (const action of ['ecr:BatchDeleteImage', 'ecr:DeleteRepository', 'ecr:PutImageTagMutability', 'ecr:DeleteLifecyclePolicy', 'ecr:SetRepositoryPolicy']) {
      expect(await decide({ principal: ci, action, resource: devRepo('checkout-api'), identity: policy })).not.toBe('Allowed');
    }
  });
});

describe('trust policies: only the pinned sub and aud may assume', () => {
  const host = 'oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF';
  const issuer = `https://${host}`;
  const provider = `arn:aws:iam::${ACCOUNT}:oidc-provider/${host}`;
  const trust = irsaTrustPolicy(ACCOUNT, REGION, issuer);
  const assume = (trustDoc: PolicyDocument, principal: string, context: Record<string, string>) =>
    decide({ principal, action: 'sts:AssumeRoleWithWebIdentity', resource: role, resourcePolicy: trustDoc, context, trust: true });

  test('IRSA: image-reflector-controller with audience sts.amazonaws.com', async () => {
    expect(await assume(trust, provider, { [`${host}:sub`]: 'system:serviceaccount:flux-system:image-reflector-controller', [`${host}:aud`]: 'sts.amazonaws.com' })).toBe('Allowed');
  });

  test.each([
    [{ [`${host}:sub`]: 'system:serviceaccount:flux-system:source-controller', [`${host}:aud`]: 'sts.amazonaws.com' }],
    [{ [`${host}:sub`]: 'system:serviceaccount:default:image-reflector-controller', [`${host}:aud`]: 'sts.amazonaws.com' }],
    [{ [`${host}:sub`]: 'system:serviceaccount:flux-system:image-reflector-controller', [`${host}:aud`]: 'other' }],
    [{ [`${host}:sub`]: 'system:serviceaccount:flux-system:image-reflector-controller' }],
  ])('IRSA denied for %j', async (context) => {
    expect(await assume(trust, provider, context)).not.toBe('Allowed');
  });

  test("IRSA denied for another cluster's OIDC provider with the same claims", async () => {
    const other = `arn:aws:iam::${ACCOUNT}:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/OTHER`;
    expect(await assume(trust, other, { [`${host}:sub`]: 'system:serviceaccount:flux-system:image-reflector-controller', [`${host}:aud`]: 'sts.amazonaws.com' })).not.toBe('Allowed');
  });

  test('IRSA with the EKS issuer pins sub and aud on the issuer host and path', () => {
    const t = irsaTrustPolicy(ACCOUNT, REGION, 'https://oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF');
    expect(t.Statement).toEqual([
      {
        Effect: 'Allow',
        Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF` },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: {
          StringEquals: {
            'oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF:sub': 'system:serviceaccount:flux-system:image-reflector-controller',
            'oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF:aud': 'sts.amazonaws.com',
          },
        },
      },
    ]);
  });

  test('GitHub Actions: the source repository on its branches and environments, audience sts.amazonaws.com', async () => {
    const gh = ciTrustPolicy(ACCOUNT, REGION, { system: 'githubActions', source: 'acme/api', branches: ['main'], environments: ['staging'], apps: [0] });
    const p = `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com`;
    const ctx = (sub: string, aud = 'sts.amazonaws.com') => ({ 'token.actions.githubusercontent.com:sub': sub, 'token.actions.githubusercontent.com:aud': aud });
    expect(await assume(gh, p, ctx('repo:acme/api:ref:refs/heads/main'))).toBe('Allowed');
    expect(await assume(gh, p, ctx('repo:acme/api:environment:staging'))).toBe('Allowed');
    expect(await assume(gh, p, ctx('repo:acme/api:environment:production'))).not.toBe('Allowed');
    expect(await assume(gh, p, ctx('repo:acme/api:ref:refs/heads/feature'))).not.toBe('Allowed');
    expect(await assume(gh, p, ctx('repo:acme/other:ref:refs/heads/main'))).not.toBe('Allowed');
    expect(await assume(gh, p, ctx('repo:evil/api:environment:staging'))).not.toBe('Allowed');
    expect(await assume(gh, p, ctx('repo:acme/api:pull_request'))).not.toBe('Allowed');
    expect(await assume(gh, p, ctx('repo:acme/api:ref:refs/heads/main', 'other'))).not.toBe('Allowed');
  });

  describe('Buildkite: organization, pipeline and branch pinned in sub and in the session tags', () => {
    const bk = ciTrustPolicy(ACCOUNT, REGION, { system: 'buildkite', source: 'api', organization: 'acme', branches: ['main'], environments: [], apps: [0] });
    const p = `arn:aws:iam::${ACCOUNT}:oidc-provider/agent.buildkite.com`;
    const claims = (sub: string, tags: Record<string, string> = { organization_slug: 'acme', pipeline_slug: 'api', build_branch: 'main' }) => ({
      'agent.buildkite.com:sub': sub,
      'agent.buildkite.com:aud': 'sts.amazonaws.com',
      ...Object.fromEntries(Object.entries(tags).map(([k, v]) => [`aws:RequestTag/${k}`, v])),
      'aws:TagKeys': Object.keys(tags) as unknown as string,
    });
    const sub = (org = 'acme', pipeline = 'api', branch = 'main') => `organization:${org}:pipeline:${pipeline}:ref:refs/heads/${branch}:commit:abc:step:build`;

    test.each(['sts:AssumeRoleWithWebIdentity', 'sts:TagSession'])('%s with the pipeline\'s own claims and tags: allowed', async (action) => {
      expect(await decide({ principal: p, action, resource: role, resourcePolicy: bk, context: claims(sub()), trust: true })).toBe('Allowed');
    });

    test('another branch, organization or pipeline, in sub or in the tags: denied', async () => {
      const ask = (c: Record<string, string>) => decide({ principal: p, action: 'sts:TagSession', resource: role, resourcePolicy: bk, context: c, trust: true });
      expect(await ask(claims(sub('acme', 'api', 'dev')))).not.toBe('Allowed');
      expect(await ask(claims(sub('evil')))).not.toBe('Allowed');
      expect(await ask(claims(sub('acme', 'other')))).not.toBe('Allowed');
      expect(await ask(claims(sub(), { organization_slug: 'acme', pipeline_slug: 'other', build_branch: 'main' }))).not.toBe('Allowed');
      expect(await ask(claims(sub(), { organization_slug: 'acme', pipeline_slug: 'api', build_branch: 'dev' }))).not.toBe('Allowed');
      expect(await ask(claims(sub(), { organization_slug: 'acme', pipeline_slug: 'api', build_branch: 'main', team: 'x' }))).not.toBe('Allowed');
    });

    test('the trust names both actions and pins every tag key', () => {
      expect(bk.Statement[0]!.Action).toEqual(['sts:AssumeRoleWithWebIdentity', 'sts:TagSession']);
      expect(bk.Statement[0]!.Condition!['ForAllValues:StringEquals']).toEqual({ 'aws:TagKeys': ['organization_slug', 'pipeline_slug', 'build_branch'] });
    });
  });

  test('Pod Identity: only the EKS pods service, for this account and this cluster', async () => {
    const cluster = `arn:aws:eks:${REGION}:${ACCOUNT}:cluster/test-cluster`;
    const t = podIdentityTrustPolicy(ACCOUNT, cluster);
    expect(t.Statement[0]).toMatchObject({ Principal: { Service: 'pods.eks.amazonaws.com' }, Action: ['sts:AssumeRole', 'sts:TagSession'] });
    const assumeAs = (principal: string, context: Record<string, string>, action = 'sts:AssumeRole') =>
      decide({ principal, action, resource: role, resourcePolicy: t, context, trust: true });
    const good = { 'aws:SourceAccount': ACCOUNT, 'aws:SourceArn': cluster };
    expect(await assumeAs('pods.eks.amazonaws.com', good)).toBe('Allowed');
    expect(await assumeAs('pods.eks.amazonaws.com', good, 'sts:TagSession')).toBe('Allowed');
    expect(await assumeAs('pods.eks.amazonaws.com', { ...good, 'aws:SourceAccount': OTHER })).not.toBe('Allowed');
    expect(await assumeAs('pods.eks.amazonaws.com', { ...good, 'aws:SourceArn': `arn:aws:eks:${REGION}:${ACCOUNT}:cluster/other` })).not.toBe('Allowed');
    expect(await assumeAs('pods.eks.amazonaws.com', { 'aws:SourceAccount': ACCOUNT })).not.toBe('Allowed');
    expect(await assumeAs('ec2.amazonaws.com', good)).not.toBe('Allowed');
  });
});

describe('cross-account reads: exact principals on both sides (example stacks)', () => {
  const dev = loadStack(REPO_ROOT, 'dev');
  const prod = loadStack(REPO_ROOT, 'prod');
  const repoArn = ecrRepositoryArn('111122223333', REGION, 'checkout-api');
  const repositoryPolicy = crossAccountPullPolicy(repositoryReaders(dev, ['444455556666']));
  const fluxReader = 'arn:aws:iam::444455556666:role/tagflow-prod-flux-image-reader';
  const node = 'arn:aws:iam::444455556666:role/prod-eu-west-1-node';
  // The prod stack's identity policies: its release tier's read grant and its node role's pull policy.
  const prodFluxPolicy = fluxReadPolicy(tierRepositoryArns(prod.tiers[0]!));
  const prodNodePolicy = nodePullPolicy(clusterPullRepositoryArns(prod));
  const ask = (principal: string, action: string, identity: PolicyDocument) =>
    decide({ principal, action, resource: repoArn, resourcePolicy: repositoryPolicy, identity, context: { 'aws:PrincipalArn': principal } });

  test('the repository policy names the exact roles, never an account root or a pattern', () => {
    const principals = repositoryPolicy.Statement.flatMap((s) => [s.Principal!.AWS].flat());
    expect(principals.sort()).toEqual([node, fluxReader]);
    expect(JSON.stringify(repositoryPolicy)).not.toMatch(/:root|\*|ArnLike/);
  });

  test.each(['ecr:ListImages', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'])("prod's Flux image reader: %s allowed", async (action) => {
    expect(await ask(fluxReader, action, prodFluxPolicy)).toBe('Allowed');
  });

  test.each(['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'])("prod's node role pulls for pods: %s allowed (both sides grant it)", async (action) => {
    expect(await ask(node, action, prodNodePolicy)).toBe('Allowed');
  });

  test('the node role only pulls: no listing, no writes; without its identity policy (the prod side) it cannot pull', async () => {
    for (const action of ['ecr:ListImages', 'ecr:PutImage', 'ecr:BatchDeleteImage']) expect(await ask(node, action, prodNodePolicy)).not.toBe('Allowed');
    expect(await ask(node, 'ecr:BatchGetImage', { Version: '2012-10-17', Statement: [] as never[] } as PolicyDocument)).not.toBe('Allowed');
  });

  test('a same-named role in a third account, and other roles of the prod account, are denied', async () => {
    const lookAlikePolicy = fluxReadPolicy([repoArn]); // whatever its own account grants it
    expect(await ask('arn:aws:iam::777777777777:role/tagflow-prod-flux-image-reader', 'ecr:BatchGetImage', lookAlikePolicy)).not.toBe('Allowed');
    expect(await ask('arn:aws:iam::777777777777:role/prod-eu-west-1-node', 'ecr:BatchGetImage', lookAlikePolicy)).not.toBe('Allowed');
    expect(await ask('arn:aws:iam::444455556666:role/tagflow-staging-flux-image-reader', 'ecr:BatchGetImage', lookAlikePolicy)).not.toBe('Allowed');
    expect(await ask('arn:aws:iam::444455556666:role/admin', 'ecr:BatchGetImage', lookAlikePolicy)).not.toBe('Allowed');
  });

  test('object-level readers: one exact role per listed tier', () => {
    const env = { ...dev, model: { ...dev.model, aws: { ...dev.model.aws!, readers: [{ accountId: '444455556666', environment: 'prod', objectLevelTiers: ['release' as const], nodeRoles: [] }] } } };
    expect(repositoryReaders(env, ['444455556666'])).toEqual({ readerRoleArns: ['arn:aws:iam::444455556666:role/tagflow-prod-release-image-reader'], nodeRoleArns: [] });
  });
});

describe('EventBridge webhook path', () => {
  const rule = `arn:aws:events:${REGION}:${ACCOUNT}:rule/tagflow-test-dev-ecr-push`;
  const otherRule = `arn:aws:events:${REGION}:${ACCOUNT}:rule/someone-elses-rule`;
  const eventsRole = `arn:aws:iam::${ACCOUNT}:role/tagflow-test-dev-ecr-push-events`;
  const destination = `arn:aws:events:${REGION}:${ACCOUNT}:api-destination/tagflow-test-dev-ecr-push/0a1b2c3d`;
  const queue = `arn:aws:sqs:${REGION}:${ACCOUNT}:tagflow-test-dev-ecr-push-dlq`;

  test('the events service may assume the role only for this rule of this account', async () => {
    const trust = eventBridgeTrustPolicy(ACCOUNT, rule);
    const assume = (context: Record<string, string>) =>
      decide({ principal: 'events.amazonaws.com', action: 'sts:AssumeRole', resource: eventsRole, resourcePolicy: trust, context, trust: true });
    expect(await assume({ 'aws:SourceAccount': ACCOUNT, 'aws:SourceArn': rule })).toBe('Allowed');
    expect(await assume({ 'aws:SourceAccount': ACCOUNT, 'aws:SourceArn': otherRule })).not.toBe('Allowed');
    expect(await assume({ 'aws:SourceAccount': OTHER, 'aws:SourceArn': rule })).not.toBe('Allowed');
    expect(await assume({})).not.toBe('Allowed');
    expect(
      await decide({ principal: `arn:aws:iam::${ACCOUNT}:role/anyone`, action: 'sts:AssumeRole', resource: eventsRole, resourcePolicy: trust, context: { 'aws:SourceAccount': ACCOUNT, 'aws:SourceArn': rule }, trust: true }),
    ).not.toBe('Allowed');
  });

  test('the role invokes its own API destination and nothing else', async () => {
    const policy = invokeApiDestinationPolicy(destination);
    expect(await decide({ principal: eventsRole, action: 'events:InvokeApiDestination', resource: destination, identity: policy })).toBe('Allowed');
    expect(await decide({ principal: eventsRole, action: 'events:InvokeApiDestination', resource: destination.replace('dev-ecr-push', 'prod-ecr-push'), identity: policy })).not.toBe('Allowed');
    expect(await decide({ principal: eventsRole, action: 'events:PutEvents', resource: `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/default`, identity: policy })).not.toBe('Allowed');
  });

  test('only this rule may drop undelivered events into the dead-letter queue', async () => {
    const policy = deadLetterQueuePolicy(queue, rule);
    const send = (sourceArn: string) =>
      decide({ principal: 'events.amazonaws.com', action: 'sqs:SendMessage', resource: queue, resourcePolicy: policy, context: { 'aws:SourceArn': sourceArn }, trust: true });
    expect(await send(rule)).toBe('Allowed');
    expect(await send(otherRule)).not.toBe('Allowed');
    expect(
      await decide({ principal: 'events.amazonaws.com', action: 'sqs:ReceiveMessage', resource: queue, resourcePolicy: policy, context: { 'aws:SourceArn': rule }, trust: true }),
    ).not.toBe('Allowed');
  });
});
