import { runSimulation, runUnsafeSimulation } from '@cloud-copilot/iam-simulate';

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
  podIdentityTrustPolicy,
  type PolicyDocument,
} from '../src/aws/iam-documents';
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

async function decide(opts: {
  principal: string;
  action: string;
  resource: string;
  identity?: PolicyDocument;
  resourcePolicy?: PolicyDocument;
  context?: Record<string, string>;
  /**
   * Trust policies: OIDC claims (`<issuer>:sub`, `<issuer>:aud`) are not in the simulator's key list for
   * sts:AssumeRoleWithWebIdentity, so the checked runSimulation drops them; the unsafe variant evaluates
   * the context as given.
   */
  trust?: boolean;
}): Promise<string> {
  const account = /:(\d{12}):/.exec(opts.resource)?.[1] ?? ACCOUNT;
  if (opts.trust) {
    return runUnsafeSimulation(
      {
        request: { principal: opts.principal, action: opts.action, resource: { resource: opts.resource, accountId: account }, contextVariables: opts.context ?? {} },
        identityPolicies: [],
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        resourcePolicy: opts.resourcePolicy,
      },
      {},
    );
  }
  const r = await runSimulation(
    {
      request: { principal: opts.principal, action: opts.action, resource: { resource: opts.resource, accountId: account }, contextVariables: opts.context ?? {} },
      identityPolicies: opts.identity ? [{ name: 'p', policy: opts.identity }] : [],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(opts.resourcePolicy ? { resourcePolicy: opts.resourcePolicy } : {}),
    },
    {},
  );
  if (r.resultType === 'error') throw new Error(JSON.stringify(r.errors));
  return r.overallResult;
}

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

describe('CI push role', () => {
  const owned = [repo('api'), repo('team/worker')];
  const policy = ciPushPolicy(owned);
  const ci = `arn:aws:iam::${ACCOUNT}:role/tagflow-test-ci-push`;

  test.each(['ecr:PutImage', 'ecr:InitiateLayerUpload', 'ecr:UploadLayerPart', 'ecr:CompleteLayerUpload', 'ecr:BatchCheckLayerAvailability'])('%s to the app repositories: allowed', async (action) => {
    for (const arn of owned) expect(await decide({ principal: ci, action, resource: arn, identity: policy })).toBe('Allowed');
  });

  test('cannot push elsewhere, delete images or change repositories', async () => {
    expect(await decide({ principal: ci, action: 'ecr:PutImage', resource: repo('other'), identity: policy })).not.toBe('Allowed');
    expect(await decide({ principal: ci, action: 'ecr:PutImage', resource: repo('api', OTHER), identity: policy })).not.toBe('Allowed');
    for (const action of ['ecr:BatchDeleteImage', 'ecr:DeleteRepository', 'ecr:PutImageTagMutability', 'ecr:DeleteLifecyclePolicy']) {
      expect(await decide({ principal: ci, action, resource: owned[0], identity: policy })).not.toBe('Allowed');
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

  test('GitHub Actions: only the pinned repositories on the pinned branch, audience sts.amazonaws.com', async () => {
    const gh = ciTrustPolicy(ACCOUNT, REGION, { githubActions: { repositories: ['acme/api'], branches: ['main'] } });
    const p = `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com`;
    const ctx = (sub: string, aud = 'sts.amazonaws.com') => ({ 'token.actions.githubusercontent.com:sub': sub, 'token.actions.githubusercontent.com:aud': aud });
    expect(await assume(gh, p, ctx('repo:acme/api:ref:refs/heads/main'))).toBe('Allowed');
    expect(await assume(gh, p, ctx('repo:acme/api:ref:refs/heads/feature'))).not.toBe('Allowed');
    expect(await assume(gh, p, ctx('repo:evil/api:ref:refs/heads/main'))).not.toBe('Allowed');
    expect(await assume(gh, p, ctx('repo:acme/api:pull_request'))).not.toBe('Allowed');
    expect(await assume(gh, p, ctx('repo:acme/api:ref:refs/heads/main', 'other'))).not.toBe('Allowed');
  });

  test('Buildkite: organization, pipeline and branch pinned', async () => {
    const bk = ciTrustPolicy(ACCOUNT, REGION, { buildkite: { organization: 'acme', pipelines: ['api'], branches: ['main'] } });
    const p = `arn:aws:iam::${ACCOUNT}:oidc-provider/agent.buildkite.com`;
    const ctx = (sub: string) => ({ 'agent.buildkite.com:sub': sub, 'agent.buildkite.com:aud': 'sts.amazonaws.com' });
    expect(await assume(bk, p, ctx('organization:acme:pipeline:api:ref:refs/heads/main:commit:abc:step:build'))).toBe('Allowed');
    expect(await assume(bk, p, ctx('organization:acme:pipeline:api:ref:refs/heads/dev:commit:abc:step:build'))).not.toBe('Allowed');
    expect(await assume(bk, p, ctx('organization:evil:pipeline:api:ref:refs/heads/main:commit:abc:step:build'))).not.toBe('Allowed');
  });

  test('Pod Identity: only the EKS pods service, in this account', async () => {
    const t = podIdentityTrustPolicy(ACCOUNT);
    expect(t.Statement[0]).toMatchObject({ Principal: { Service: 'pods.eks.amazonaws.com' }, Action: ['sts:AssumeRole', 'sts:TagSession'] });
    const assumeAs = (principal: string, source: string) =>
      decide({ principal, action: 'sts:AssumeRole', resource: role, resourcePolicy: t, context: { 'aws:SourceAccount': source } });
    expect(await assumeAs('pods.eks.amazonaws.com', ACCOUNT)).toBe('Allowed');
    expect(await assumeAs('pods.eks.amazonaws.com', OTHER)).not.toBe('Allowed');
    expect(await assumeAs('ec2.amazonaws.com', ACCOUNT)).not.toBe('Allowed');
  });
});

describe('cross-account repository policy', () => {
  const policy = crossAccountPullPolicy(['444455556666'], REGION);
  const reader = 'arn:aws:iam::444455556666:role/tagflow-prod-flux-image-reader';

  test('the other account tagflow image reader may pull; its other roles and other accounts may not', async () => {
    const ask = (principal: string, action = 'ecr:BatchGetImage') =>
      decide({ principal, action, resource: repo('api'), resourcePolicy: policy, identity: fluxReadPolicy([repo('api')]), context: { 'aws:PrincipalArn': principal } });
    expect(await ask(reader)).toBe('Allowed');
    expect(await ask(reader, 'ecr:PutImage')).not.toBe('Allowed');
    expect(await ask('arn:aws:iam::444455556666:role/admin')).not.toBe('Allowed');
    expect(await ask('arn:aws:iam::777777777777:role/tagflow-prod-flux-image-reader')).not.toBe('Allowed');
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
