import { withoutWarnings } from './support/cli';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { main } from '../src/cli/main';
import { parseEnvironment } from '../src/model/load';
import { ConfigError } from '../src/model/errors';
import { resolveEnvironment } from '../src/model/tiers';
import { sampleEnvironment, snapshotTree, tmpDir, writeStack } from './support/tree';

/** Runs `tagflow synth` in-process on one stack file; returns exit code, stderr and the out folder. */
async function synthWith(environment: unknown) {
  const dir = tmpDir();
  writeStack(dir, 'test', environment);
  const out = path.join(dir, 'out');
  fs.mkdirSync(out);
  fs.writeFileSync(path.join(out, 'README.md'), 'hand-written\n');
  const before = snapshotTree(out);
  let stderr = '';
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation((s: any) => {
    stderr += String(s);
    return true;
  });
  try {
    const code = await main(['node', 'tagflow', 'synth', '--config-dir', dir, '--out', out], () => undefined);
    return { code, stderr, unchanged: JSON.stringify([...snapshotTree(out)]) === JSON.stringify([...before]) };
  } finally {
    spy.mockRestore();
  }
}

const cases: [string, any, RegExp][] = [
  ['unknown tier', sampleEnvironment({ tiers: { dev: {}, qa: {} } }), /Pulumi\.test\.yaml: tagflow:environment\.tiers\.qa: .*unknown tier; tiers are dev, staging, release/],
  [
    'name not a DNS-1123 label',
    sampleEnvironment({ apps: [{ name: 'Checkout_API' }] }),
    /tagflow:environment\.apps\[0\]\.name: "Checkout_API" app name must be a DNS-1123 label/,
  ],
  [
    'bad account id',
    sampleEnvironment({ aws: { accountId: '12345', region: 'eu-west-1' } }),
    /tagflow:environment\.aws\.accountId: "12345" must be a 12-digit AWS account id/,
  ],
  [
    'bad regex (lookahead, which Go rejects)',
    sampleEnvironment({ tiers: { dev: { filterTags: { pattern: '^branch-dev-(?=x)', extract: '' } } } }),
    /tagflow:environment\.tiers\.dev\.filterTags\.pattern: "\^branch-dev-\(\?=x\)" is not a valid Go \(RE2\) regular expression/,
  ],
  [
    'invalid semver range',
    sampleEnvironment({ tiers: { release: { policy: { semver: { range: '>=1.0.0p' } } } } }),
    /tagflow:environment\.tiers\.release\.policy\.semver\.range: ">=1\.0\.0p" is not a valid semver range/,
  ],
  [
    'duplicate app',
    sampleEnvironment({ apps: [{ name: 'api' }, { name: 'api' }] }),
    /tagflow:environment\.apps\[1\]\.name: "api" duplicate app name \(also apps\[0\]\.name\)/,
  ],
  [
    'extract names a group the pattern lacks',
    sampleEnvironment({ tiers: { dev: { filterTags: { pattern: '^branch-dev-(?P<ts>[0-9]+)-[0-9a-f]+$', extract: '$stamp' } } } }),
    /tiers\.dev\.filterTags\.extract: "\$stamp" names group 'stamp', which the pattern does not define/,
  ],
  [
    'tag scheme the pattern does not accept',
    sampleEnvironment({ tiers: { dev: { tagScheme: 'dev-{sha}' } } }),
    /tiers\.dev\.tagScheme: "dev-\{sha\}" tags of this scheme are not matched by filterTags\.pattern/,
  ],
  [
    'webhook on (the dev/staging default) without cluster.webhookUrl',
    sampleEnvironment({ cluster: { name: 'c', oidcIssuerUrl: 'https://oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF' } }),
    /cluster\.webhookUrl: is required because tier 'dev' has webhook on \(the default for dev and staging\): set the https:\/\/ origin of the webhook-receiver, or tiers\.dev\.webhook: false/,
  ],
  ['webhookUrl with a path', sampleEnvironment({ cluster: { name: 'c', oidcIssuerUrl: 'https://oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF', webhookUrl: 'https://h.example/hook' } }), /cluster\.webhookUrl: "https:\/\/h\.example\/hook" must be an https:\/\/ origin/],
  ['missing OIDC issuer for irsa', sampleEnvironment({ cluster: { name: 'c', identity: 'irsa' } }), /cluster\.oidcIssuerUrl: is required when cluster\.identity is irsa/],
  ['unknown field', sampleEnvironment({ colour: 'blue' }), /tagflow:environment: has unknown field\(s\) 'colour'/],
  [
    'two git credential kinds',
    sampleEnvironment({ gitops: { url: 'https://github.com/acme/gitops', githubApp: { appId: 1, installationOwner: 'acme' }, basicAuth: {} } }),
    /tagflow:environment\.gitops: .*must set exactly one of githubApp, basicAuth, sshKey .*; found githubApp, basicAuth/,
  ],
  [
    'plain http git without insecure',
    sampleEnvironment({ gitops: { url: 'http://git.internal/acme/gitops', basicAuth: {} } }),
    /gitops\.url: .*is plain http:\/\/, which sends the credentials unencrypted; use https:\/\/, or set gitops\.insecure: true/,
  ],
  [
    'ssh URL with basic auth',
    sampleEnvironment({ gitops: { url: 'ssh://git@gitea.example/acme/gitops', basicAuth: {} } }),
    /gitops\.url: .*is an ssh:\/\/ URL, which needs sshKey credentials \(not basicAuth\)/,
  ],
  [
    'generic registry host with a scheme',
    sampleEnvironment({ registry: { provider: 'generic', host: 'https://ghcr.io' } }),
    /registry\.host: "https:\/\/ghcr\.io" must be a registry host\[:port\] without scheme or path/,
  ],
  [
    'ECR settings with a generic registry',
    sampleEnvironment({ registry: { provider: 'generic', host: 'ghcr.io' }, apps: [{ name: 'api', ecr: { create: false } }] }),
    /apps\[0\]\.ecr: .*is for registry provider aws; this environment's registry is generic/,
  ],
  [
    'app name longer than a Helm release name',
    sampleEnvironment({ apps: [{ name: 'a'.repeat(54) }] }),
    /apps\[0\]\.name: "a{54}" must be at most 53 characters: it is the Helm release name/,
  ],
  [
    'chart values the bundled chart rejects (values.schema.json), named at the field that set them',
    sampleEnvironment({ tiers: { dev: { values: { replicaCount: 'two' } } } }),
    /tagflow:environment\.tiers\.dev\.values\.replicaCount: "two" must be integer \(charts\/app\/values\.schema\.json\), for app 'api' in tier 'dev'/,
  ],
  [
    'an unknown chart value',
    sampleEnvironment({ apps: [{ name: 'api', values: { probes: { path: '/healthz' } } }] }),
    /apps\[0\]\.values\.probes\.path: "\/healthz" has unknown key 'path' \(charts\/app\/values\.schema\.json\)/,
  ],
  [
    'commit statuses with an ssh:// repository URL (no API host to post them to)',
    sampleEnvironment({ gitops: { url: 'ssh://git@github.com/acme/gitops', sshKey: {} }, tiers: { dev: { notifications: { commitStatus: {} } } } }),
    /tagflow:environment\.gitops\.url: .*is 'ssh:\/\/git@github\.com\/acme\/gitops': tiers\.dev\.notifications\.commitStatus sets commit statuses through the API of the repository's host, which needs an https:\/\/ URL of <host>\/<owner>\/<repository>/,
  ],
  [
    'tier in the Flux namespace',
    sampleEnvironment({ tiers: { dev: { namespace: 'flux-system' } } }),
    /tiers\.dev\.namespace: "flux-system" is the Flux controllers' namespace; a tier is a tenant/,
  ],
];

describe('invalid config exits 2, names file, field path, value and rule, and writes nothing', () => {
  test.each(cases)('%s', async (_name, env, message) => {
    const r = await synthWith(env);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
    expect(r.unchanged).toBe(true);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  test('a valid environment synthesizes (the cases above fail only for their reason)', async () => {
    const r = await synthWith(sampleEnvironment());
    expect(withoutWarnings(r.stderr)).toBe('');
    expect(r.code).toBe(0);
  });
});

describe('model', () => {
  test('presets apply and overrides win per tier and per app', () => {
    const env = resolveEnvironment(
      parseEnvironment(
        sampleEnvironment({
          tiers: { dev: { scanInterval: '30s' }, release: {} },
          apps: [{ name: 'api', tiers: { dev: { digestPinning: true, values: { a: 1 } } } }, { name: 'web', values: { a: 0, b: { c: 1 } } }],
        }),
        'x.yaml',
      ),
    );
    const dev = env.tiers.find((t) => t.name === 'dev')!;
    expect(dev.apps.map((a) => [a.app, a.scanInterval, a.digestPinning])).toEqual([
      ['api', '30s', true],
      ['web', '30s', false],
    ]);
    expect(dev.apps[0].filterTags).toEqual({ pattern: '^branch-dev-(?P<ts>[0-9]+)-[0-9a-f]+$', extract: '$ts' });
    expect(dev.apps[0].values).toEqual({ a: 1 });
    // Tiers differ by folder, not by branch: dev writes straight to the branch the cluster follows.
    expect(dev.branch).toBe('main');
    expect(dev.pushBranch).toBe('main');
    expect(dev.reviewed).toBe(false);
    const rel = env.tiers.find((t) => t.name === 'release')!;
    expect(rel.branch).toBe('main');
    expect(rel.pushBranch).toBe('tagflow/test/release'); // a review branch per environment, never straight to production
    expect(rel.reviewed).toBe(true);
    expect(rel.apps[0].policy).toEqual({ semver: { range: '>=1.0.0' } });
    expect(rel.apps[0].exclusionList).toContain('^.*\\.sig$');
  });

  test('an app can leave a tier out', () => {
    const env = resolveEnvironment(parseEnvironment(sampleEnvironment({ apps: [{ name: 'api', tiers: { release: { enabled: false } } }] }), 'x'));
    expect(env.tiers.find((t) => t.name === 'release')!.apps).toEqual([]);
  });

  test('ConfigError lists every issue at once', () => {
    try {
      parseEnvironment(sampleEnvironment({ name: 'Bad Name', aws: { accountId: 'x', region: 'nowhere' } }), 'f.yaml');
      throw new Error('no error');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).issues.map((i) => i.path.join('.'))).toEqual(expect.arrayContaining(['name', 'aws.accountId', 'aws.region']));
    }
  });
});

describe('values git, Helm, registries and IAM would reject', () => {
  const fails = (overrides: Record<string, unknown>, message: RegExp) => {
    expect(() => resolveEnvironment(parseEnvironment(sampleEnvironment(overrides), 'f.yaml'))).toThrow(message);
  };
  test.each([
    ['a branch git rejects', { gitops: { url: 'https://github.com/acme/gitops', githubApp: { appId: 1, installationOwner: 'acme' }, mainBranch: 'main..x' } }, /gitops\.mainBranch: "main\.\.x"/],
    ['a control character in the commit author', { gitops: { url: 'https://github.com/acme/gitops', githubApp: { appId: 1, installationOwner: 'acme' }, commitAuthor: { name: 'bot\nEvil: x', email: 'b@x.io' } } }, /gitops\.commitAuthor\.name/],
    ['an OIDC issuer with a wildcard', { cluster: { name: 'c', oidcIssuerUrl: 'https://oidc.eks.eu-west-1.amazonaws.com/id/*', webhookUrl: 'https://h.example' } }, /cluster\.oidcIssuerUrl: "https:\/\/oidc\.eks\.eu-west-1\.amazonaws\.com\/id\/\*"/],
    ['a chart version that is not SemVer', { apps: [{ name: 'api', chart: { oci: { url: 'oci://ghcr.io/acme/charts/api', tag: 'latest' } } }] }, /apps\[0\]\.chart/],
    ['an OCI chart URL with a tag', { apps: [{ name: 'api', chart: { oci: { url: 'oci://ghcr.io/acme/charts/api:1.0.0' } } }] }, /apps\[0\]\.chart/],
    ['an initial tag that is not an OCI tag', { apps: [{ name: 'api', tiers: { dev: { initialTag: '-bad' } } }] }, /apps\[0\]\.tiers\.dev\.initialTag: "-bad"/],
    ["extract: ''", { tiers: { dev: { filterTags: { pattern: '^x-(?P<v>.*)$', extract: '' } } } }, /tiers\.dev\.filterTags\.extract: ""/],
  ])("%s", (_n, overrides, message) => fails(overrides, message));
});

describe('the stack file as Pulumi reads it', () => {
  test("aws:region different from the model's region: synth refuses too, naming both", async () => {
    const dir = tmpDir();
    const { stringify } = require('yaml') as typeof import('yaml');
    fs.writeFileSync(path.join(dir, 'Pulumi.test.yaml'), stringify({ config: { 'aws:region': 'us-east-1', 'tagflow:environment': sampleEnvironment() } }));
    const out = path.join(dir, 'out');
    let stderr = '';
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((s: any) => {
      stderr += String(s);
      return true;
    });
    try {
      expect(await main(['node', 'tagflow', 'synth', '--config-dir', dir, '--out', out], () => undefined)).toBe(2);
    } finally {
      spy.mockRestore();
    }
    expect(stderr).toMatch(/tagflow:environment\.aws\.region: "eu-west-1" is the region of this environment, but the stack's aws:region is "us-east-1"/);
    expect(fs.existsSync(out)).toBe(false);
  });
});
