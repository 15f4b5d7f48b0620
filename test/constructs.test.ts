import { ApiObject, App, Chart, Testing } from 'cdk8s';
import { AppImagePolicy } from '../src/flux/app-image-policy';
import { AppRelease } from '../src/flux/app-release';
import { ManifestFile } from '../src/flux/manifest-file';
import { markersOf } from '../src/flux/markers';
import { TierDeployer } from '../src/flux/tier-deployer';
import { TierImageAutomation } from '../src/flux/tier-image-automation';
import { TierSource } from '../src/flux/tier-source';
import { TierTenant } from '../src/flux/tier-tenant';
import { TierReceiver } from '../src/flux/tier-receiver';
import { TierChat, TierCommitStatus } from '../src/flux/tier-notifications';
import { ImageRepository } from '../src/flux/imports/image.toolkit.fluxcd.io';
import { parseEnvironment } from '../src/model/load';
import { resolveEnvironment, type AppTier, type Tier } from '../src/model/tiers';
import { sampleEnvironment } from './support/tree';

const env = resolveEnvironment(parseEnvironment(sampleEnvironment(), 'test.yaml'));
const tier = (name: string): Tier => env.tiers.find((t) => t.name === name)!;
const chart = () => Testing.chart();

describe('TierSource', () => {
  test('GitRepository in the tier namespace on the branch the cluster follows, GitHub App, chart-only artifact', () => {
    const c = chart();
    new TierSource(c, 'S', { tier: tier('staging'), repositoryUrl: 'https://github.com/acme/gitops' });
    const [git] = Testing.synth(c);
    expect(git).toMatchObject({
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'GitRepository',
      metadata: { name: 'gitops', namespace: 'staging' },
      spec: { provider: 'github', secretRef: { name: 'tagflow-github-app' }, ref: { branch: 'main' }, url: 'https://github.com/acme/gitops', ignore: '/*\n!/charts/app/\n' },
    });
    expect(git.spec.verify).toBeUndefined();
  });

  test('basic auth: no provider; commit verification when the tier asks for it', () => {
    const e = resolveEnvironment(
      parseEnvironment(
        sampleEnvironment({
          gitops: { url: 'https://gitea.example/acme/gitops', basicAuth: {} },
          tiers: { dev: { verifyCommits: { secretName: 'trusted-keys' } } },
        }),
        't.yaml',
      ),
    );
    const c = chart();
    new TierSource(c, 'S', { tier: e.tiers[0]!, repositoryUrl: 'https://gitea.example/acme/gitops' });
    const [git] = Testing.synth(c);
    expect(git.spec.provider).toBeUndefined();
    expect(git.spec.secretRef).toEqual({ name: 'tagflow-git' });
    expect(git.spec.verify).toEqual({ mode: 'head', secretRef: { name: 'trusted-keys' } }); // the CRD's spelling of HEAD
  });

  test('rejects an scp-style or ssh URL with GitHub App credentials, quoting prop and value', () => {
    expect(() => new TierSource(chart(), 'S', { tier: tier('dev'), repositoryUrl: 'git@github.com:acme/gitops' })).toThrow(
      /prop 'repositoryUrl' is 'git@github.com:acme\/gitops': provider github needs an https:\/\/ URL/,
    );
  });
});

describe('TierTenant', () => {
  test('namespace, applier account in flux-system bound in the tier namespace only, Kustomization of the tier folder', () => {
    const c = chart();
    const t = new TierTenant(c, 'T', { tier: tier('staging') });
    const repo = new ImageRepository(c, 'R', { metadata: { name: 'x' }, spec: { image: 'r.example/x', interval: '1m' } });
    t.allowKinds([repo]);
    const [ns, sa, role, rb, ks] = Testing.synth(c);
    expect(ns).toMatchObject({ kind: 'Namespace', metadata: { name: 'staging' } });
    expect(sa).toMatchObject({ kind: 'ServiceAccount', metadata: { name: 'tagflow-test-staging', namespace: 'flux-system' } });
    expect(role).toMatchObject({ kind: 'Role', metadata: { namespace: 'staging' } });
    expect(role.rules).toEqual([
      { apiGroups: ['image.toolkit.fluxcd.io'], resources: ['imagerepositories'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
    ]);
    expect(rb).toMatchObject({ kind: 'RoleBinding', metadata: { namespace: 'staging' }, roleRef: { kind: 'Role' }, subjects: [{ kind: 'ServiceAccount', name: 'tagflow-test-staging', namespace: 'flux-system' }] });
    expect(ks).toMatchObject({
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      metadata: { namespace: 'flux-system' },
      spec: {
        path: './environments/test/staging',
        prune: true,
        serviceAccountName: 'tagflow-test-staging',
        targetNamespace: 'staging',
        sourceRef: { kind: 'GitRepository', name: 'flux-system' },
      },
    });
    expect(ks.spec.sourceRef.namespace).toBeUndefined();
  });

  test('refuses a kind the applier is not meant to manage', () => {
    const c = chart();
    const t = new TierTenant(c, 'T', { tier: tier('dev') });
    const role = new ApiObject(c, 'CR', { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'x' } });
    expect(() => t.allowKinds([role])).toThrow(/holds a ClusterRole, which the tier's applier account is not meant to manage/);
  });
});

describe('TierImageAutomation', () => {
  test('checks out the branch the cluster follows, pushes release updates to a review branch per environment, updates only its releases folder', () => {
    const c = chart();
    new TierImageAutomation(c, 'A', { tier: tier('release'), author: { name: 'bot', email: 'bot@example.com' } });
    const [iua] = Testing.synth(c);
    expect(iua).toMatchObject({
      apiVersion: 'image.toolkit.fluxcd.io/v1',
      kind: 'ImageUpdateAutomation',
      metadata: { namespace: 'release' },
      spec: {
        sourceRef: { kind: 'GitRepository', name: 'gitops' },
        git: { checkout: { ref: { branch: 'main' } }, push: { branch: 'tagflow/test/release' }, commit: { author: { email: 'bot@example.com' } } },
        update: { path: './environments/test/release/releases', strategy: 'Setters' },
        policySelector: { matchLabels: { 'tagflow.io/tier': 'release' } },
      },
    });
    expect(iua.spec.sourceRef.namespace).toBeUndefined();
    expect(iua.spec.git.commit.messageTemplate).toMatch(/\.Changed/);
    expect(iua.spec.git.commit.signingKey).toBeUndefined();
  });

  test('dev pushes straight to the branch the cluster follows; commit signing when the tier has a key', () => {
    const e = resolveEnvironment(parseEnvironment(sampleEnvironment({ tiers: { dev: { commitSigningKey: { secretName: 'bot-gpg' } } } }), 't.yaml'));
    const c = chart();
    new TierImageAutomation(c, 'A', { tier: e.tiers[0]!, author: { name: 'b', email: 'b@x.io' } });
    const [iua] = Testing.synth(c);
    expect(iua.spec.git.push).toEqual({ branch: 'main' });
    expect(iua.spec.git.commit.signingKey).toEqual({ secretRef: { name: 'bot-gpg' } });
  });

  test('rejects a message template with the removed .Updated field', () => {
    expect(
      () => new TierImageAutomation(chart(), 'A', { tier: tier('dev'), author: { name: 'b', email: 'b@x.io' }, messageTemplate: '{{ .Updated.Images }}' }),
    ).toThrow(/prop 'messageTemplate' uses '\.Updated'/);
  });
});

describe('TierReceiver', () => {
  test('a generic Receiver in the tier namespace selecting the tier\'s ImageRepositories by label', () => {
    const c = chart();
    new TierReceiver(c, 'R', { tier: tier('dev') });
    const [r] = Testing.synth(c);
    expect(r).toMatchObject({ kind: 'Receiver', metadata: { name: 'tagflow-image-push', namespace: 'dev' }, spec: { type: 'generic', secretRef: { name: 'tagflow-image-push-token' } } });
    expect(r.spec.resources).toEqual([{ apiVersion: 'image.toolkit.fluxcd.io/v1', kind: 'ImageRepository', name: '*', matchLabels: { 'tagflow.io/tier': 'dev' } }]);
  });
});

describe('TierDeployer', () => {
  test('a ServiceAccount with a Role of workload kinds in its namespace only: no Flux kind, no RBAC', () => {
    const c = chart();
    new TierDeployer(c, 'D', { tier: tier('dev') });
    const [sa, role, rb] = Testing.synth(c);
    expect(sa).toMatchObject({ kind: 'ServiceAccount', metadata: { name: 'tagflow-deployer', namespace: 'dev' }, automountServiceAccountToken: false });
    expect(role).toMatchObject({ kind: 'Role', metadata: { name: 'tagflow-deployer', namespace: 'dev' } });
    const groups = new Set<string>(role.rules.flatMap((r: { apiGroups: string[] }) => r.apiGroups));
    expect([...groups].filter((g) => g.endsWith('fluxcd.io') || g.startsWith('rbac'))).toEqual([]);
    expect(role.rules.flatMap((r: { verbs: string[] }) => r.verbs)).not.toContain('*');
    expect(rb).toMatchObject({
      kind: 'RoleBinding',
      metadata: { namespace: 'dev' },
      roleRef: { kind: 'Role', name: 'tagflow-deployer' },
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

  test('generic registry: provider generic, its pull Secret and plain HTTP when configured insecure', () => {
    const e = resolveEnvironment(
      parseEnvironment(
        sampleEnvironment({ registry: { provider: 'generic', host: '127.0.0.1:5000', insecure: true, secretName: 'pull' }, aws: undefined, cluster: { name: 'c' } }),
        't.yaml',
      ),
    );
    const c = chart();
    new AppImagePolicy(c, 'P', { appTier: e.tiers[0]!.apps[1]! });
    const [repo] = Testing.synth(c);
    expect(repo.spec).toMatchObject({ image: '127.0.0.1:5000/team/worker', provider: 'generic', secretRef: { name: 'pull' }, insecure: true });
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
        chart: { spec: { chart: './charts/app', sourceRef: { kind: 'GitRepository', name: 'tagflow-test-release' } } },
        install: { remediation: { retries: 3 } },
        upgrade: { remediation: { retries: 3, strategy: 'rollback' } },
        driftDetection: { mode: 'enabled' },
        values: { image: { repository: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/api', tag: '', digest: '' } },
      },
    });
    // Flux's default ChartVersion strategy: a commit that does not change the chart's version upgrades nothing.
    expect(hr.spec.chart.spec.reconcileStrategy).toBeUndefined();
    expect(hr.spec.chart.spec.sourceRef.namespace).toBeUndefined();
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

describe('TierChat and TierCommitStatus', () => {
  const e = resolveEnvironment(
    parseEnvironment(
      sampleEnvironment({
        notifications: { chat: { type: 'slack' }, commitStatus: {} },
        tiers: { dev: {}, staging: { notifications: false }, release: { notifications: { chat: { type: 'generic', secretName: 'hook' } } } },
      }),
      't.yaml',
    ),
  );
  const t = (n: string) => e.tiers.find((x) => x.name === n)!;

  test('the environment default applies, a tier may replace it or turn it off', () => {
    expect(t('dev').notifications).toEqual({ chat: { type: 'slack', secretName: 'tagflow-chat-webhook' }, commitStatus: { provider: 'github', secretName: 'tagflow-commit-status' } });
    expect(t('staging').notifications).toBeUndefined();
    expect(t('release').notifications).toEqual({ chat: { type: 'generic', secretName: 'hook' } });
  });

  test('chat: Provider and Alert in the tier namespace on its automation and releases, the URL in a Secret', () => {
    const c = chart();
    new TierChat(c, 'C', { tier: t('dev'), chat: t('dev').notifications!.chat! });
    const [provider, alert] = Testing.synth(c);
    expect(provider).toMatchObject({ kind: 'Provider', metadata: { name: 'tagflow-chat', namespace: 'dev' }, spec: { type: 'slack', secretRef: { name: 'tagflow-chat-webhook' } } });
    expect(provider.spec.address).toBeUndefined();
    expect(alert).toMatchObject({ kind: 'Alert', metadata: { namespace: 'dev' }, spec: { providerRef: { name: 'tagflow-chat' }, eventSeverity: 'info' } });
    expect(alert.spec.eventSources).toEqual([
      { kind: 'ImageUpdateAutomation', name: '*' },
      { kind: 'HelmRelease', name: '*' },
    ]);
  });

  test('commit statuses: next to the tier Kustomization in flux-system, for exactly that Kustomization', () => {
    const c = chart();
    new TierCommitStatus(c, 'S', { tier: t('dev'), commitStatus: t('dev').notifications!.commitStatus!, repositoryUrl: 'https://github.com/acme/gitops.git' });
    const [provider, alert] = Testing.synth(c);
    expect(provider).toMatchObject({ metadata: { namespace: 'flux-system' }, spec: { type: 'github', address: 'https://github.com/acme/gitops', secretRef: { name: 'tagflow-commit-status' } } });
    expect(alert.spec.eventSources).toEqual([{ kind: 'Kustomization', name: 'tagflow-test-dev' }]);
    expect(() => new TierCommitStatus(chart(), 'S', { tier: t('dev'), commitStatus: t('dev').notifications!.commitStatus!, repositoryUrl: 'ssh://git@github.com/acme/gitops' })).toThrow(
      /prop 'repositoryUrl' is 'ssh:\/\/git@github.com\/acme\/gitops': commit statuses need the https:\/\/ URL/,
    );
    // Plain http only with the model's gitops.insecure (the end-to-end run's git server).
    const http = { tier: t('dev'), commitStatus: t('dev').notifications!.commitStatus!, repositoryUrl: 'http://127.0.0.1:8080/acme/gitops.git' };
    expect(() => new TierCommitStatus(chart(), 'S', http)).toThrow(/commit statuses need the https:\/\/ URL/);
    const insecure = chart();
    new TierCommitStatus(insecure, 'S', { ...http, insecure: true });
    expect(Testing.synth(insecure)[0].spec.address).toBe('http://127.0.0.1:8080/acme/gitops');
  });
});
