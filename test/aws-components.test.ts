import * as pulumi from '@pulumi/pulumi';
import { parseEnvironment } from '../src/model/load';
import { resolveEnvironment, type ResolvedEnvironment } from '../src/model/tiers';
import { PULUMI_SECRET_SIG, PULUMI_SIG_KEY } from '../src/aws/plan';
import { sampleEnvironment } from './support/tree';

/** Resources the mock monitor saw, by type. */
const created: { type: string; name: string; inputs: any }[] = [];
let Environment: typeof import('../src/aws/environment').Environment;

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        created.push({ type: args.type, name: args.name, inputs: args.inputs });
        const arn = args.type === 'aws:iam/role:Role' ? `arn:aws:iam::123456789012:role/${args.inputs.name}` : `${args.name}-arn`;
        const extra = args.type === 'random:index/randomPassword:RandomPassword' ? { result: `token-of-${args.name}` } : {};
        return { id: `${args.name}-id`, state: { ...args.inputs, arn, repositoryUrl: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/${args.inputs.name}`, ...extra } };
      },
      call: () => ({}),
    },
    'tagflow',
    'test',
    false,
  );
  ({ Environment } = await import('../src/aws/environment'));
});

const resolve = (overrides: Record<string, unknown> = {}): ResolvedEnvironment => resolveEnvironment(parseEnvironment(sampleEnvironment(overrides), 'test.yaml'));
const out = <T>(o: pulumi.Output<T>) => new Promise<T>((r) => o.apply(r));

/** Builds an Environment and waits until the mock monitor has seen every resource. */
async function build(env: ResolvedEnvironment, name = 'tagflow', secrets: Record<string, pulumi.Input<string>> = {}) {
  created.length = 0;
  let count = 0;
  const e = new Environment(name, { environment: env, githubAppPrivateKey: pulumi.secret('PEM'), ...secrets }, { transformations: [() => void count++] });
  await out(e.urn);
  for (let i = 0; i < 400 && created.length < count; i++) await new Promise((r) => setTimeout(r, 5));
  const of = (type: string) => created.filter((c) => c.type === type);
  return { e, of, created: [...created] };
}

describe('notification secrets (mock monitor)', () => {
  const unsecret = (v: any) => (v && v[PULUMI_SIG_KEY] === PULUMI_SECRET_SIG ? v.value : v);

  test('chat: the webhook URL in each notifying tier\'s namespace; commit statuses: one token Secret in flux-system', async () => {
    const env = resolve({ notifications: { chat: { type: 'slack' }, commitStatus: {} }, tiers: { dev: {}, staging: { notifications: false }, release: {} } });
    const { of } = await build(env, 'tagflow', { chatWebhookUrl: pulumi.secret('https://hooks.slack.example/T/B/x'), commitStatusToken: pulumi.secret('ghp_x') });
    const secrets = of('kubernetes:core/v1:Secret').map((x) => x.inputs);
    const chat = secrets.filter((x) => x.metadata.name === 'tagflow-chat-webhook');
    expect(chat.map((x) => x.metadata.namespace).sort()).toEqual(['dev', 'release']);
    expect(chat[0].stringData[PULUMI_SIG_KEY]).toBe(PULUMI_SECRET_SIG);
    expect(unsecret(chat[0].stringData).address).toBe('https://hooks.slack.example/T/B/x');
    const status = secrets.filter((x) => x.metadata.name === 'tagflow-commit-status');
    expect(status.map((x) => x.metadata.namespace)).toEqual(['flux-system']);
    expect(unsecret(status[0].stringData).token).toBe('ghp_x');
  });

  test('a notification configured without its secret is an error naming the config key', async () => {
    const env = resolve({ notifications: { chat: { type: 'msteams' } } });
    await expect(build(env)).rejects.toThrow(/tagflow:chatWebhookUrl is not set: pulumi config set --secret tagflow:chatWebhookUrl/);
  });
});

describe('Environment and Tier components (mock monitor)', () => {
  test('component tokens and parent/child structure', async () => {
    const { of } = await build(resolve());
    expect(of('tagflow:aws:Environment').map((c) => c.name)).toEqual(['tagflow']);
    expect(of('tagflow:aws:Tier').map((c) => c.name).sort()).toEqual(['tagflow-dev', 'tagflow-release', 'tagflow-staging']);
  });

  test('ECR repositories: tags immutable except the cache tag, scan on push, KMS (AWS managed key) by default', async () => {
    let { of } = await build(resolve());
    const repos = of('aws:ecr/repository:Repository');
    expect(repos.map((r) => r.inputs.name).sort()).toEqual(['api', 'team/worker']);
    for (const r of repos) {
      expect(r.inputs.imageTagMutability).toBe('IMMUTABLE_WITH_EXCLUSION');
      expect(r.inputs.imageTagMutabilityExclusionFilters).toEqual([{ filter: 'buildcache', filterType: 'WILDCARD' }]);
      expect(r.inputs.imageScanningConfiguration).toEqual({ scanOnPush: true });
      expect(r.inputs.encryptionConfigurations).toEqual([{ encryptionType: 'KMS' }]);
    }
    const kms = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    ({ of } = await build(resolve({ aws: { accountId: '123456789012', region: 'eu-west-1', kmsKeyArn: kms } })));
    expect(of('aws:ecr/repository:Repository')[0].inputs.encryptionConfigurations).toEqual([{ encryptionType: 'KMS', kmsKey: kms }]);
    ({ of } = await build(resolve({ aws: { accountId: '123456789012', region: 'eu-west-1', encryption: 'AES256' } })));
    expect(of('aws:ecr/repository:Repository')[0].inputs.encryptionConfigurations).toEqual([{ encryptionType: 'AES256' }]);
  });

  test('cacheTag: false keeps every tag immutable', async () => {
    const { of } = await build(resolve({ apps: [{ name: 'api', ecr: { cacheTag: false } }] }));
    expect(of('aws:ecr/repository:Repository')[0].inputs).toMatchObject({ imageTagMutability: 'IMMUTABLE' });
    expect(of('aws:ecr/repository:Repository')[0].inputs.imageTagMutabilityExclusionFilters).toBeUndefined();
  });

  test('adopted repositories (create: false) are not created', async () => {
    const { of } = await build(resolve({ apps: [{ name: 'api', ecr: { create: false } }, { name: 'web' }] }));
    expect(of('aws:ecr/repository:Repository').map((r) => r.inputs.name)).toEqual(['web']);
  });

  test('lifecycle: keep release tags first, then staging before dev, untagged last (see ecr-lifecycle.test.ts)', async () => {
    const { of } = await build(resolve());
    const lc = of('aws:ecr/lifecyclePolicy:LifecyclePolicy');
    expect(lc).toHaveLength(2);
    const rules = JSON.parse(lc[0].inputs.policy).rules;
    expect(rules.map((r: any) => [r.rulePriority, r.selection.tagStatus, r.selection.tagPatternList?.[0] ?? null, r.selection.countNumber])).toEqual([
      [1, 'tagged', 'release-*', 10000],
      [2, 'tagged', 'branch-staging-*-*', 30],
      [3, 'tagged', 'branch-dev-*-*', 30],
      [4, 'untagged', null, 7],
    ]);
  });

  test('IRSA: one Flux role, and each Tier owns an inline grant on exactly its repositories', async () => {
    const { of } = await build(resolve());
    const roles = of('aws:iam/role:Role');
    const flux = roles.find((r) => r.inputs.name === 'tagflow-test-flux-image-reader')!;
    const trust = JSON.parse(flux.inputs.assumeRolePolicy);
    expect(trust.Statement[0].Condition.StringEquals).toEqual({
      'oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF:sub': 'system:serviceaccount:flux-system:image-reflector-controller',
      'oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF:aud': 'sts.amazonaws.com',
    });
    const grants = of('aws:iam/rolePolicy:RolePolicy').filter((p) => p.name.endsWith('-ecr-read'));
    expect(grants.map((g) => g.inputs.name).sort()).toEqual(['tier-dev-ecr-read', 'tier-release-ecr-read', 'tier-staging-ecr-read']);
    expect(grants.every((g) => g.inputs.role === 'tagflow-test-flux-image-reader')).toBe(true);
    expect(of('aws:eks/podIdentityAssociation:PodIdentityAssociation')).toEqual([]);
  });

  test('removing a tier removes exactly its grant', async () => {
    const all = (await build(resolve())).of('aws:iam/rolePolicy:RolePolicy');
    const fewer = (await build(resolve({ tiers: { dev: {}, release: {} } }))).of('aws:iam/rolePolicy:RolePolicy');
    const names = (l: typeof all) => l.map((p) => p.inputs.name).sort();
    expect(names(all).filter((n) => !names(fewer).includes(n))).toEqual(['tier-staging-ecr-read']);
    for (const p of fewer) expect(p.inputs.policy).toBe(all.find((a) => a.inputs.name === p.inputs.name)!.inputs.policy);
  });

  test('pod identity: trust pods.eks.amazonaws.com and associate flux-system/image-reflector-controller', async () => {
    const { of } = await build(resolve({ cluster: { name: 'c1', identity: 'pod-identity', webhookUrl: 'https://hooks.example' } }));
    const role = of('aws:iam/role:Role')[0];
    expect(JSON.parse(role.inputs.assumeRolePolicy).Statement[0]).toMatchObject({
      Principal: { Service: 'pods.eks.amazonaws.com' },
      Action: ['sts:AssumeRole', 'sts:TagSession'],
      Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' }, ArnEquals: { 'aws:SourceArn': 'arn:aws:eks:eu-west-1:123456789012:cluster/c1' } },
    });
    expect(of('aws:eks/podIdentityAssociation:PodIdentityAssociation')[0].inputs).toMatchObject({
      clusterName: 'c1',
      namespace: 'flux-system',
      serviceAccount: 'image-reflector-controller',
      roleArn: 'arn:aws:iam::123456789012:role/tagflow-test-flux-image-reader',
    });
  });

  test('object-level identity: one role per tier trusting its own ServiceAccount, no controller role', async () => {
    const { of, e } = await build(resolve({ cluster: { name: 'c', oidcIssuerUrl: 'https://oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF', objectLevelIdentity: true, webhookUrl: 'https://hooks.example' } }));
    const roles = of('aws:iam/role:Role').filter((r) => r.inputs.name.endsWith('-image-reader'));
    expect(roles.map((r) => r.inputs.name).sort()).toEqual(['tagflow-test-dev-image-reader', 'tagflow-test-release-image-reader', 'tagflow-test-staging-image-reader']);
    const dev = roles.find((r) => r.inputs.name === 'tagflow-test-dev-image-reader')!;
    expect(Object.values(JSON.parse(dev.inputs.assumeRolePolicy).Statement[0].Condition.StringEquals)).toContain('system:serviceaccount:dev:tagflow-image-reader');
    expect(await out(e.tiers.dev.roleArn!)).toBe('arn:aws:iam::123456789012:role/tagflow-test-dev-image-reader');
  });

  test('one CI role per source repository, trusting its sub only, pushing only the apps it builds', async () => {
    const { of, e } = await build(resolve({ ci: { githubActions: { repositories: ['acme/api', 'acme/worker'], environments: ['staging'] } } }));
    const roles = of('aws:iam/role:Role').filter((r) => r.inputs.name.includes('-ci-'));
    expect(roles.map((r) => r.inputs.name).sort()).toEqual(['tagflow-test-ci-acme-api', 'tagflow-test-ci-acme-worker']);
    const api = roles.find((r) => r.inputs.name === 'tagflow-test-ci-acme-api')!;
    expect(JSON.parse(api.inputs.assumeRolePolicy).Statement[0].Condition.StringEquals).toEqual({
      'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
      'token.actions.githubusercontent.com:sub': ['repo:acme/api:environment:staging', 'repo:acme/api:ref:refs/heads/main'],
    });
    const pushes = of('aws:iam/rolePolicy:RolePolicy').filter((p) => p.inputs.name === 'ecr-push');
    expect(pushes.map((p) => [p.inputs.role, JSON.parse(p.inputs.policy).Statement[1].Resource])).toEqual([
      ['tagflow-test-ci-acme-api', ['arn:aws:ecr:eu-west-1:123456789012:repository/api']],
      ['tagflow-test-ci-acme-worker', ['arn:aws:ecr:eu-west-1:123456789012:repository/team/worker']],
    ]);
    expect(await out(e.ciRoleArns['acme/worker']!)).toBe('arn:aws:iam::123456789012:role/tagflow-test-ci-acme-worker');
  });

  test('Buildkite: one role per pipeline; sts:TagSession with pinned session tags', async () => {
    const { of } = await build(resolve({ ci: { buildkite: { organization: 'acme', pipelines: ['api'] } }, apps: [{ name: 'api' }, { name: 'worker', ci: { pipeline: 'api' } }] }));
    const roles = of('aws:iam/role:Role').filter((r) => r.inputs.name.includes('-ci-'));
    expect(roles.map((r) => r.inputs.name)).toEqual(['tagflow-test-ci-api']);
    const st = JSON.parse(roles[0].inputs.assumeRolePolicy).Statement[0];
    expect(st.Action).toEqual(['sts:AssumeRoleWithWebIdentity', 'sts:TagSession']);
    expect(st.Condition.StringEquals['aws:RequestTag/pipeline_slug']).toBe('api');
    expect(JSON.parse(of('aws:iam/rolePolicy:RolePolicy').find((p) => p.inputs.name === 'ecr-push')!.inputs.policy).Statement[1].Resource).toEqual([
      'arn:aws:ecr:eu-west-1:123456789012:repository/api',
      'arn:aws:ecr:eu-west-1:123456789012:repository/worker',
    ]);
  });

  test('cross-account readers get a repository policy naming their exact roles', async () => {
    const { of } = await build(
      resolve({
        aws: { accountId: '123456789012', region: 'eu-west-1', readers: [{ accountId: '444455556666', environment: 'prod', nodeRoles: ['prod-node'] }] },
        apps: [{ name: 'api', ecr: { pullAccounts: ['444455556666'] } }],
      }),
    );
    const rp = JSON.parse(of('aws:ecr/repositoryPolicy:RepositoryPolicy')[0].inputs.policy);
    expect(rp.Statement.map((s: any) => [s.Sid, s.Principal.AWS])).toEqual([
      ['TagflowImageReaders', ['arn:aws:iam::444455556666:role/tagflow-prod-flux-image-reader']],
      ['ClusterImagePull', ['arn:aws:iam::444455556666:role/prod-node']],
    ]);
  });

  test('cluster.imagePullRoles: an inline pull policy on each named role, for every repository the apps use (any account)', async () => {
    const { of } = await build(resolve({ cluster: { ...sampleEnvironment().cluster, imagePullRoles: ['node-a'] }, apps: [{ name: 'api' }, { name: 'ext', ecr: { accountId: '999988887777', create: false } }] }));
    const pull = of('aws:iam/rolePolicy:RolePolicy').filter((p) => p.inputs.name === 'tagflow-test-ecr-pull');
    expect(pull.map((p) => p.inputs.role)).toEqual(['node-a']);
    expect(JSON.parse(pull[0].inputs.policy).Statement[1]).toEqual({
      Sid: 'PullAppImages',
      Effect: 'Allow',
      Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
      Resource: ['arn:aws:ecr:eu-west-1:123456789012:repository/api', 'arn:aws:ecr:eu-west-1:999988887777:repository/ext'],
    });
  });

  test('each tier namespace gets the GitHub App Secret, as a secret, with exactly one installation key', async () => {
    const { of } = await build(resolve());
    const secrets = of('kubernetes:core/v1:Secret').filter((x) => x.inputs.metadata.name === 'tagflow-github-app');
    expect(secrets.map((x) => x.inputs.metadata.namespace).sort()).toEqual(['dev', 'release', 'staging']);
    const secret = secrets[0]!.inputs;
    // The private key makes the whole stringData a Pulumi secret (encrypted in state, never printed).
    expect(secret.stringData[PULUMI_SIG_KEY]).toBe(PULUMI_SECRET_SIG);
    expect(Object.keys(secret.stringData.value).sort()).toEqual(['githubAppID', 'githubAppInstallationOwner', 'githubAppPrivateKey']);
    expect(secret.stringData.value.githubAppInstallationOwner).toBe('acme');
  });

  test('outputs: repository URLs and role ARNs', async () => {
    const { e } = await build(resolve());
    expect(await out(e.repositoryUrls['team/worker'])).toBe('123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/worker');
    expect(await out(e.fluxRoleArn!)).toBe('arn:aws:iam::123456789012:role/tagflow-test-flux-image-reader');
  });
});

describe('webhook path: ECR push -> EventBridge -> Receiver (mock monitor)', () => {
  const unsecret = (v: any) => (v && v[PULUMI_SIG_KEY] === PULUMI_SECRET_SIG ? v.value : v);

  test('dev and staging get one each, release none; names, pattern, retries, DLQ and alarm', async () => {
    const { of } = await build(resolve());
    expect(of('tagflow:aws:TierWebhook').map((c) => c.name).sort()).toEqual(['tagflow-dev-webhook', 'tagflow-staging-webhook']);
    const rules = of('aws:cloudwatch/eventRule:EventRule');
    const dev = rules.find((r) => r.inputs.name === 'tagflow-test-dev-ecr-push')!;
    expect(JSON.parse(dev.inputs.eventPattern)).toEqual({
      source: ['aws.ecr'],
      'detail-type': ['ECR Image Action'],
      detail: { 'action-type': ['PUSH'], result: ['SUCCESS'], 'repository-name': ['api', 'team/worker'], 'image-tag': [{ prefix: 'branch-dev-' }] },
    });
    const targets = of('aws:cloudwatch/eventTarget:EventTarget');
    expect(targets).toHaveLength(2);
    for (const t of targets) {
      expect(t.inputs.retryPolicy).toEqual({ maximumEventAgeInSeconds: 86400, maximumRetryAttempts: 185 });
      expect(t.inputs.deadLetterConfig.arn).toMatch(/-dlq-arn$/);
    }
    expect(of('aws:sqs/queue:Queue').map((q) => q.inputs.name).sort()).toEqual(['tagflow-test-dev-ecr-push-dlq', 'tagflow-test-staging-ecr-push-dlq']);
    expect(of('aws:cloudwatch/metricAlarm:MetricAlarm').map((a) => [a.inputs.metricName, a.inputs.threshold, a.inputs.comparisonOperator])).toEqual([
      ['ApproximateNumberOfMessagesVisible', 0, 'GreaterThanThreshold'],
      ['ApproximateNumberOfMessagesVisible', 0, 'GreaterThanThreshold'],
    ]);
  });

  test("the API destination POSTs to the Receiver's path sha256(token + name + namespace), kept secret", async () => {
    const { of } = await build(resolve());
    const { createHash } = await import('node:crypto');
    const dest = of('aws:cloudwatch/eventApiDestination:EventApiDestination').find((d) => d.inputs.name === 'tagflow-test-dev-ecr-push')!;
    expect(dest.inputs.httpMethod).toBe('POST');
    expect(dest.inputs.invocationEndpoint[PULUMI_SIG_KEY]).toBe(PULUMI_SECRET_SIG);
    const hash = createHash('sha256').update('token-of-tagflow-dev-token' + 'tagflow-image-push' + 'dev').digest('hex');
    expect(unsecret(dest.inputs.invocationEndpoint)).toBe(`https://flux-webhook.test.example/hook/${hash}`);
    const secret = of('kubernetes:core/v1:Secret').find((x) => x.inputs.metadata.name === 'tagflow-image-push-token' && x.inputs.metadata.namespace === 'dev')!;
    expect(secret.inputs.metadata).toMatchObject({ namespace: 'dev', labels: { 'reconcile.fluxcd.io/watch': 'Enabled' } });
    // @pulumi/kubernetes marks a Secret's whole stringData secret.
    expect(secret.inputs.stringData[PULUMI_SIG_KEY]).toBe(PULUMI_SECRET_SIG);
    expect(unsecret(secret.inputs.stringData).token).toBe('token-of-tagflow-dev-token');
  });

  test('the EventBridge role: trust pinned to the rule, invoke only its destination', async () => {
    const { of } = await build(resolve());
    const role = of('aws:iam/role:Role').find((r) => r.inputs.name === 'tagflow-test-dev-ecr-push-events')!;
    expect(JSON.parse(role.inputs.assumeRolePolicy).Statement[0].Condition).toEqual({
      StringEquals: { 'aws:SourceAccount': '123456789012', 'aws:SourceArn': 'arn:aws:events:eu-west-1:123456789012:rule/tagflow-test-dev-ecr-push' },
    });
    const invoke = of('aws:iam/rolePolicy:RolePolicy').find((p) => p.name === 'tagflow-dev-webhook-invoke')!;
    expect(JSON.parse(invoke.inputs.policy).Statement).toEqual([
      { Sid: 'InvokeReceiver', Effect: 'Allow', Action: ['events:InvokeApiDestination'], Resource: 'tagflow-dev-webhook-destination-arn' },
    ]);
    const dlqPolicy = of('aws:sqs/queuePolicy:QueuePolicy').find((p) => p.name === 'tagflow-dev-webhook-dlq')!;
    expect(JSON.parse(dlqPolicy.inputs.policy).Statement[0].Condition).toEqual({ ArnEquals: { 'aws:SourceArn': 'arn:aws:events:eu-west-1:123456789012:rule/tagflow-test-dev-ecr-push' } });
  });

  test('webhook: false turns it off; repositories of another account get none (their events are elsewhere)', async () => {
    let { of } = await build(resolve({ tiers: { dev: { webhook: false }, staging: {}, release: {} } }));
    expect(of('tagflow:aws:TierWebhook').map((c) => c.name)).toEqual(['tagflow-staging-webhook']);
    ({ of } = await build(resolve({ apps: [{ name: 'api', ecr: { accountId: '999988887777', create: false } }] })));
    expect(of('tagflow:aws:TierWebhook')).toEqual([]);
  });
});
