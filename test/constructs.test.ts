import { App, Chart, Testing } from 'cdk8s';
import { AppImagePolicy } from '../src/flux/app-image-policy';
import { AppRelease } from '../src/flux/app-release';
import { ManifestFile } from '../src/flux/manifest-file';
import { markersOf } from '../src/flux/markers';
import { TierDeployer } from '../src/flux/tier-deployer';
import { TierImageAutomation } from '../src/flux/tier-image-automation';
import { TierSource } from '../src/flux/tier-source';
import { parseEnvironment } from '../src/model/load';
import { resolveEnvironment, type AppTier, type Tier } from '../src/model/tiers';
import { sampleEnvironment } from './support/tree';

const env = resolveEnvironment(parseEnvironment(sampleEnvironment(), 'test.yaml'));
const tier = (name: string): Tier => env.tiers.find((t) => t.name === name)!;
const chart = () => Testing.chart();

describe('TierSource', () => {
  test('namespace, GitHub App GitRepository on the tier branch, Kustomization of the tier folder', () => {
    const c = chart();
    new TierSource(c, 'S', { tier: tier('staging'), repositoryUrl: 'https://github.com/acme/gitops', githubAppSecretName: 'gh' });
    const [ns, git, ks] = Testing.synth(c);
    expect(ns).toMatchObject({ kind: 'Namespace', metadata: { name: 'staging' } });
    expect(git).toMatchObject({
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'GitRepository',
      metadata: { name: 'tagflow-test-staging', namespace: 'flux-system' },
      spec: { provider: 'github', secretRef: { name: 'gh' }, ref: { branch: 'staging' }, url: 'https://github.com/acme/gitops' },
    });
    expect(ks).toMatchObject({
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      spec: { path: './environments/test/staging', prune: true, sourceRef: { kind: 'GitRepository', name: 'tagflow-test-staging' } },
    });
  });

  test('rejects an scp-style or ssh URL, quoting prop and value', () => {
    expect(() => new TierSource(chart(), 'S', { tier: tier('dev'), repositoryUrl: 'git@github.com:acme/gitops', githubAppSecretName: 'gh' })).toThrow(
      /prop 'repositoryUrl' is 'git@github.com:acme\/gitops': provider github needs an https:\/\/ URL/,
    );
  });
});

describe('TierImageAutomation', () => {
  test('checks out the tier branch, pushes to its push branch, updates only the releases folder', () => {
    const c = chart();
    new TierImageAutomation(c, 'A', { tier: tier('release'), author: { name: 'bot', email: 'bot@example.com' } });
    const [iua] = Testing.synth(c);
    expect(iua).toMatchObject({
      apiVersion: 'image.toolkit.fluxcd.io/v1',
      kind: 'ImageUpdateAutomation',
      metadata: { namespace: 'release' },
      spec: {
        sourceRef: { kind: 'GitRepository', name: 'tagflow-test-release', namespace: 'flux-system' },
        git: { checkout: { ref: { branch: 'main' } }, push: { branch: 'tagflow/release-updates' }, commit: { author: { email: 'bot@example.com' } } },
        update: { path: './environments/test/release/releases', strategy: 'Setters' },
        policySelector: { matchLabels: { 'tagflow.io/tier': 'release' } },
      },
    });
    expect(iua.spec.git.commit.messageTemplate).toMatch(/\.Changed/);
  });

  test('rejects a message template with the removed .Updated field', () => {
    expect(
      () => new TierImageAutomation(chart(), 'A', { tier: tier('dev'), author: { name: 'b', email: 'b@x.io' }, messageTemplate: '{{ .Updated.Images }}' }),
    ).toThrow(/prop 'messageTemplate' uses '\.Updated'/);
  });
});

describe('TierDeployer', () => {
  test('a ServiceAccount bound to admin in its namespace only', () => {
    const c = chart();
    new TierDeployer(c, 'D', { tier: tier('dev') });
    const [sa, rb] = Testing.synth(c);
    expect(sa).toMatchObject({ kind: 'ServiceAccount', metadata: { name: 'tagflow-deployer', namespace: 'dev' }, automountServiceAccountToken: false });
    expect(rb).toMatchObject({
      kind: 'RoleBinding',
      metadata: { namespace: 'dev' },
      roleRef: { kind: 'ClusterRole', name: 'admin' },
      subjects: [{ kind: 'ServiceAccount', name: 'tagflow-deployer', namespace: 'dev' }],
    });
  });
});

describe('AppImagePolicy', () => {
  const appTier = (t: string, app = 'api'): AppTier => tier(t).apps.find((a) => a.app === app)!;

  test('ECR ImageRepository with AWS login and signature exclusions; policy of the tier preset', () => {
    const c = chart();
    new AppImagePolicy(c, 'P', { appTier: appTier('dev') });
    const [repo, pol] = Testing.synth(c);
    expect(repo).toMatchObject({
      kind: 'ImageRepository',
      metadata: { name: 'api', namespace: 'dev' },
      spec: { image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/api', provider: 'aws', interval: '1m' },
    });
    expect(repo.spec.exclusionList).toContain('^.*\\.sig$');
    expect(repo.spec.secretRef).toBeUndefined();
    expect(pol).toMatchObject({
      kind: 'ImagePolicy',
      metadata: { name: 'api', namespace: 'dev', labels: { 'tagflow.io/tier': 'dev' } },
      spec: { imageRepositoryRef: { name: 'api' }, filterTags: { extract: '$ts' }, policy: { numerical: { order: 'asc' } } },
    });
    expect(pol.spec.digestReflectionPolicy).toBeUndefined();
    expect(pol.spec.interval).toBeUndefined();
  });

  test('release: semver range and digest reflection without an interval', () => {
    const c = chart();
    new AppImagePolicy(c, 'P', { appTier: appTier('release', 'worker') });
    const [repo, pol] = Testing.synth(c);
    expect(repo.spec.image).toBe('123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/worker');
    expect(pol.spec).toMatchObject({ policy: { semver: { range: '>=1.0.0' } }, digestReflectionPolicy: 'IfNotPresent' });
    expect(pol.spec.interval).toBeUndefined();
  });

  test('rejects an image that is not private ECR', () => {
    const bad = { ...appTier('dev'), image: 'ghcr.io/acme/api:1.0' };
    expect(() => new AppImagePolicy(chart(), 'P', { appTier: bad })).toThrow(/prop 'appTier.image' is 'ghcr.io\/acme\/api:1.0'/);
  });
});

describe('AppRelease', () => {
  const appTier = tier('release').apps[0];

  test('HelmRelease with remediation, impersonation, drift detection and image markers', () => {
    const c = chart();
    const r = new AppRelease(c, 'R', { appTier, serviceAccountName: 'deployer', gitRepositoryName: 'tagflow-test-release' });
    const [hr] = Testing.synth(c);
    expect(hr).toMatchObject({
      apiVersion: 'helm.toolkit.fluxcd.io/v2',
      kind: 'HelmRelease',
      metadata: { name: 'api', namespace: 'release' },
      spec: {
        serviceAccountName: 'deployer',
        chart: { spec: { chart: './charts/app', sourceRef: { kind: 'GitRepository', name: 'tagflow-test-release', namespace: 'flux-system' } } },
        install: { remediation: { retries: 3 } },
        upgrade: { remediation: { retries: 3, strategy: 'rollback' } },
        driftDetection: { mode: 'enabled' },
        values: { image: { repository: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/api', tag: 'release-0.0.0', digest: '' } },
      },
    });
    expect(markersOf(r.helmRelease).map((m) => `${m.path.join('.')}=${m.namespace}:${m.policy}:${m.field}`)).toEqual([
      'spec.values.image.repository=release:api:name',
      'spec.values.image.tag=release:api:tag',
      'spec.values.image.digest=release:api:digest',
    ]);
  });

  test('an OCI chart gets an OCIRepository and chartRef', () => {
    const c = chart();
    new AppRelease(c, 'R', { appTier: { ...appTier, chart: { kind: 'oci', url: 'oci://ghcr.io/acme/charts/api', semver: '1.x' } }, serviceAccountName: 'd', gitRepositoryName: 'g' });
    const [oci, hr] = Testing.synth(c);
    expect(oci).toMatchObject({ kind: 'OCIRepository', spec: { url: 'oci://ghcr.io/acme/charts/api', ref: { semver: '1.x' } } });
    expect(hr.spec.chartRef).toEqual({ kind: 'OCIRepository', name: oci.metadata.name });
    expect(hr.spec.chart).toBeUndefined();
  });

  test('rejects negative retries', () => {
    expect(() => new AppRelease(chart(), 'R', { appTier, serviceAccountName: 'd', gitRepositoryName: 'g', retries: -1 })).toThrow(/prop 'retries' is -1/);
  });
});

describe('ManifestFile', () => {
  test('rejects paths outside the tree', () => {
    expect(() => new ManifestFile(new App(), 'F', { path: '../x.yaml' })).toThrow(/prop 'path' is '..\/x.yaml'/);
    expect(() => new ManifestFile(new App(), 'F', { path: 'x.json' })).toThrow(/ending in .yaml/);
    expect(new ManifestFile(new App(), 'F', { path: 'a/b.yaml' })).toBeInstanceOf(Chart);
  });
});
