import { parseEnvironment } from '../src/model/load';
import { resolveEnvironment } from '../src/model/tiers';
import { sampleEnvironment } from './support/tree';
import { ciSources } from '../src/aws/identities';
import { ciRoleName } from '../src/model/aws-names';

/** The AWS and CI fields: each bad value is refused with the field path, the value and the rule. */
const load = (overrides: Record<string, unknown>) => resolveEnvironment(parseEnvironment(sampleEnvironment(overrides), 'Pulumi.t.yaml'), 'Pulumi.t.yaml');
const aws = { accountId: '123456789012', region: 'eu-west-1' };

describe('AWS and CI configuration errors', () => {
  test.each([
    [
      'a pull account without a readers entry',
      { apps: [{ name: 'api', ecr: { pullAccounts: ['444455556666'] } }] },
      /tagflow:environment\.apps\[0\]\.ecr\.pullAccounts\[0\]: "444455556666" has no aws\.readers entry: the repository policy names exact roles/,
    ],
    [
      'pullAccounts on an adopted repository',
      { aws: { ...aws, readers: [{ accountId: '444455556666', environment: 'prod' }] }, apps: [{ name: 'api', ecr: { create: false, pullAccounts: ['444455556666'] } }] },
      /apps\[0\]\.ecr\.pullAccounts\[0\]: "444455556666" is only for a repository this stack creates/,
    ],
    ['a reader that is this account', { aws: { ...aws, readers: [{ accountId: '123456789012', environment: 'x' }] } }, /aws\.readers\[0\]\.accountId: "123456789012" is this stack's own account/],
    ['a node role with a path', { aws: { ...aws, readers: [{ accountId: '444455556666', environment: 'prod', nodeRoles: ['eks/node'] }] } }, /aws\.readers\[0\]\.nodeRoles\[0\]: "eks\/node" must be an IAM role name/],
    ['AES256 with a KMS key', { aws: { ...aws, encryption: 'AES256', kmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab' } }, /aws\.encryption: "AES256" is AES256, which cannot use aws\.kmsKeyArn/],
    [
      'an app no CI source builds',
      { ci: { githubActions: { repositories: ['acme/api', 'acme/tools'] } }, apps: [{ name: 'api' }, { name: 'worker' }, { name: 'tools' }] },
      /apps\[1\]\.ci: app 'worker' has no CI source, so nothing could push its images: set apps\[1\]\.ci\.repository .* or list one named 'worker' in ci\.githubActions\.repositories/,
    ],
    ['a listed repository that builds no app', { ci: { githubActions: { repositories: ['acme/api', 'acme/worker', 'acme/extra'] } } }, /ci\.githubActions\.repositories\[2\]: "acme\/extra" builds no app of this stack/],
    ['a Buildkite field under GitHub Actions', { ci: { githubActions: { repositories: ['acme/api', 'acme/worker'] } }, apps: [{ name: 'api', ci: { pipeline: 'api' } }, { name: 'worker' }] }, /apps\[0\]\.ci\.pipeline: "api" is for Buildkite/],
    ['GitHub environments under Buildkite', { ci: { buildkite: { organization: 'acme', pipelines: ['api', 'worker'] } }, apps: [{ name: 'api', ci: { environments: ['staging'] } }, { name: 'worker' }] }, /apps\[0\]\.ci\.environments: \["staging"\] is for GitHub Actions/],
    ['apps[].ci without ci', { apps: [{ name: 'api', ci: { repository: 'acme/api' } }] }, /apps\[0\]\.ci: .* needs ci \(ci\.githubActions or ci\.buildkite\)/],
    ['a cache tag a tier would select', { apps: [{ name: 'api', ecr: { cacheTag: 'release-9.9.9' } }] }, /apps\[0\]\.ecr\.cacheTag: "release-9\.9\.9" is matched by filterTags\.pattern .* of tier 'release': a tag CI may rewrite must never be deployable/],
    ['a keepTags pattern with five wildcards', { apps: [{ name: 'api', ecr: { keepTags: ['a*b*c*d*e*f'] } }] }, /apps\[0\]\.ecr\.keepTags\[0\]: "a\*b\*c\*d\*e\*f" has more than the 4 wildcards ECR allows/],
    ['imagePullRoles with a generic registry', { aws: undefined, registry: { provider: 'generic', host: 'ghcr.io' }, cluster: { name: 'c', imagePullRoles: ['n'] } }, /cluster\.imagePullRoles: \["n"\] grants pull on ECR repositories, so it needs registry provider aws/],
  ])('%s', (_what, overrides, message) => {
    expect(() => load(overrides)).toThrow(message);
  });

  test('the common case stays short: a repository named like the app builds it; defaults for branches and environments', () => {
    expect(() => load({ ci: { githubActions: { repositories: ['acme/api'] } }, apps: [{ name: 'api' }] })).not.toThrow();
    expect(() => load({ ci: { githubActions: {} }, apps: [{ name: 'api', ci: { repository: 'acme/monorepo' } }] })).not.toThrow();
    // One repository listed: it builds every app (a monorepo).
    const env = load({ ci: { githubActions: { repositories: ['acme/monorepo'] } } });
    expect(ciSources(env).map((s) => [s.source, s.repositoryArns.length])).toEqual([['acme/monorepo', 2]]);
  });
});

describe('CI role names', () => {
  test('one per source, within IAM\'s 64 characters, distinct for long sources', () => {
    expect(ciRoleName('dev', 'acme/checkout-api')).toBe('tagflow-dev-ci-acme-checkout-api');
    const a = ciRoleName('production-eu', 'some-organization/a-very-long-repository-name-one');
    const b = ciRoleName('production-eu', 'some-organization/a-very-long-repository-name-two');
    expect([a.length <= 64, b.length <= 64, a !== b]).toEqual([true, true, true]);
    expect(a).toMatch(/^[\w+=,.@-]+$/);
  });
});

