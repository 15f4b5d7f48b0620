// runUnsafeSimulation loads the resource policy without a name and then reads its name; give it one.
jest.mock('@cloud-copilot/iam-policy', () => {
  const actual = jest.requireActual('@cloud-copilot/iam-policy');
  return { ...actual, loadPolicy: (p: unknown, meta?: { name: string }) => actual.loadPolicy(p, meta ?? { name: 'resource-policy' }) };
});
import { execFile, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse, stringify } from 'yaml';
import { loadStack } from '../src/model/load';
import { ecrRepositoryArn } from '../src/model/aws-names';
import { ciSources } from '../src/aws/identities';
import { evaluatePolicy } from '../src/engines/policy/evaluate';
import type { ResolvedEnvironment } from '../src/model/tiers';
import { REPO_ROOT, tmpDir } from './support/tree';
import { decide } from './support/iam';
import { buildxDockerConfig } from './support/buildx';
import { packTagflow } from './support/pack';
import { fetchManifest, pushImage, REGISTRY_SKIP_REASON, startRegistry, type TestRegistry } from './support/registry';
import { COSIGN, goToolSkipReason } from './support/go-tools';
import { cosignBinary, cosignKeys } from './support/gates';
import { RegistryClient } from '../src/registry/oci-client';
import { signatureGate } from '../src/promote/gates/signature';

const dir = path.join(REPO_ROOT, 'examples', 'ci');
const gha = parse(fs.readFileSync(path.join(dir, 'github-actions.yml'), 'utf8'));
const bk = parse(fs.readFileSync(path.join(dir, 'buildkite.yml'), 'utf8'));
const dev = loadStack(REPO_ROOT, 'dev');
const SHA = '0123456789abcdef0123456789abcdef01234567';

/** The dev stack with Buildkite as its CI (what buildkite.yml's header describes). */
function buildkiteStackDir(): string {
  const d = tmpDir('tagflow-bk-stack-');
  const doc = parse(fs.readFileSync(path.join(REPO_ROOT, 'Pulumi.dev.yaml'), 'utf8'));
  const env = doc.config['tagflow:environment'];
  env.ci = { buildkite: { organization: 'acme', pipelines: ['checkout-api'], branches: ['main'] } };
  for (const app of env.apps) if (app.ci) app.ci = { pipeline: 'payments' };
  fs.writeFileSync(path.join(d, 'Pulumi.dev.yaml'), stringify(doc));
  return d;
}

/** The program's resources for a stack, from `tagflow plan` (its own process: Pulumi's mocks are global). */
function planOf(configDir: string): { type: string; inputs: any }[] {
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin/tagflow.js'), 'plan', '--stack', 'dev', '--json', '--config-dir', configDir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

function roleOf(resources: { type: string; inputs: any }[], arn: string) {
  const name = arn.slice(arn.lastIndexOf('/') + 1);
  const role = resources.find((x) => x.type === 'aws:iam/role:Role' && x.inputs.name === name);
  const push = resources.find((x) => x.type === 'aws:iam/rolePolicy:RolePolicy' && x.inputs.role === name && x.inputs.name === 'ecr-push');
  return { role, trust: role?.inputs.assumeRolePolicy, push: push?.inputs.policy };
}

/** The source (GitHub repository or Buildkite pipeline) that builds the example's REPOSITORY, per the stack. */
const sourceOf = (env: ResolvedEnvironment, repository: string) =>
  ciSources(env).find((s) => s.repositoryArns.includes(ecrRepositoryArn(env.model.aws!.accountId, env.model.aws!.region, repository)))!;

describe('examples/ci: identity claims against the trust policy the Pulumi program creates', () => {
  const devPlan = planOf(REPO_ROOT);
  const otherRepo = ecrRepositoryArn('111122223333', 'eu-west-1', 'payments/worker');

  test('GitHub Actions: every job that assumes the role presents a sub its trust allows, and it pushes only its app', async () => {
    const { role, trust, push } = roleOf(devPlan, gha.env.CI_ROLE_ARN);
    expect(role).toBeDefined();
    const source = sourceOf(dev, gha.env.REPOSITORY);
    const provider = trust.Statement[0].Principal.Federated;
    const jobs = Object.entries(gha.jobs as Record<string, any>).filter(([, j]) => j.steps.some((s: any) => s.uses?.startsWith('aws-actions/configure-aws-credentials')));
    expect(jobs.map(([k]) => k)).toEqual(['build', 'staging']);
    for (const [name, job] of jobs) {
      const steps = job.steps.filter((s: any) => s.uses?.startsWith('aws-actions/configure-aws-credentials'));
      expect(steps.map((s: any) => s.with['role-to-assume'])).toEqual(['${{ env.CI_ROLE_ARN }}']);
      // GitHub's sub: the environment form for a job with `environment:`, else the pushed branch.
      const subs: string[] = job.environment ? [`repo:${source.source}:environment:${job.environment}`] : gha.on.push.branches.map((b: string) => `repo:${source.source}:ref:refs/heads/${b}`);
      for (const sub of subs) {
        const claims = { 'token.actions.githubusercontent.com:sub': sub, 'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com' };
        expect({ name, sub, result: await decide({ principal: provider, action: 'sts:AssumeRoleWithWebIdentity', resource: gha.env.CI_ROLE_ARN, resourcePolicy: trust, context: claims, trust: true }) }).toEqual({ name, sub, result: 'Allowed' });
      }
    }
    // The other repository's token does not get this role; this role pushes its own repository, not the other app's.
    const foreign = { 'token.actions.githubusercontent.com:sub': 'repo:acme/payments:ref:refs/heads/main', 'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com' };
    expect(await decide({ principal: provider, action: 'sts:AssumeRoleWithWebIdentity', resource: gha.env.CI_ROLE_ARN, resourcePolicy: trust, context: foreign, trust: true })).not.toBe('Allowed');
    const mine = ecrRepositoryArn('111122223333', 'eu-west-1', gha.env.REPOSITORY);
    expect(await decide({ principal: gha.env.CI_ROLE_ARN, action: 'ecr:PutImage', resource: mine, identity: push })).toBe('Allowed');
    expect(await decide({ principal: gha.env.CI_ROLE_ARN, action: 'ecr:PutImage', resource: otherRepo, identity: push })).not.toBe('Allowed');
    expect(`${gha.env.REGISTRY}/${gha.env.REPOSITORY}`).toBe(dev.tiers[0]!.apps.find((a) => a.repository === gha.env.REPOSITORY)!.image);
  });

  test('Buildkite: both steps present the pipeline sub and the session tags its trust pins; it pushes only its app', async () => {
    const stackDir = buildkiteStackDir();
    const env = loadStack(stackDir, 'dev');
    const { role, trust, push } = roleOf(planOf(stackDir), bk.env.CI_ROLE_ARN);
    expect(role).toBeDefined();
    const source = sourceOf(env, bk.env.REPOSITORY);
    const provider = trust.Statement[0].Principal.Federated;
    const assuming = bk.steps.filter((s: any) => (s.plugins ?? []).some((p: any) => p['aws-assume-role-with-web-identity#v1.4.0']));
    expect(assuming.map((s: any) => s.key)).toEqual(['build', 'staging']);
    for (const step of assuming) {
      const plugin = step.plugins.find((p: any) => p['aws-assume-role-with-web-identity#v1.4.0'])['aws-assume-role-with-web-identity#v1.4.0'];
      expect(plugin['role-arn']).toBe(bk.env.CI_ROLE_ARN);
      const values: Record<string, string> = { organization_slug: source.organization!, pipeline_slug: source.source, build_branch: step.branches };
      const tags = Object.fromEntries((plugin['session-tags'] as string[]).map((k) => [`aws:RequestTag/${k}`, values[k]!]));
      const claims = {
        'agent.buildkite.com:sub': `organization:${source.organization}:pipeline:${source.source}:ref:refs/heads/${step.branches}:commit:${SHA}:step:${step.key}`,
        'agent.buildkite.com:aud': 'sts.amazonaws.com',
        ...tags,
        'aws:TagKeys': plugin['session-tags'],
      };
      for (const action of ['sts:AssumeRoleWithWebIdentity', 'sts:TagSession']) {
        expect({ step: step.key, action, result: await decide({ principal: provider, action, resource: bk.env.CI_ROLE_ARN, resourcePolicy: trust, context: claims, trust: true }) }).toEqual({ step: step.key, action, result: 'Allowed' });
      }
    }
    const mine = ecrRepositoryArn('111122223333', 'eu-west-1', bk.env.REPOSITORY);
    expect(await decide({ principal: bk.env.CI_ROLE_ARN, action: 'ecr:PutImage', resource: mine, identity: push })).toBe('Allowed');
    expect(await decide({ principal: bk.env.CI_ROLE_ARN, action: 'ecr:PutImage', resource: otherRepo, identity: push })).not.toBe('Allowed');
  });

  test('the cache tag both examples rewrite is the one tag the repository leaves mutable', () => {
    const repo = devPlan.find((x) => x.type === 'aws:ecr/repository:Repository' && x.inputs.name === gha.env.REPOSITORY)!;
    const cacheTag = repo.inputs.imageTagMutabilityExclusionFilters[0].filter;
    const text = fs.readFileSync(path.join(dir, 'github-actions.yml'), 'utf8') + fs.readFileSync(path.join(dir, 'buildkite.yml'), 'utf8');
    const refs = [...text.matchAll(/\/\$\$?\{?\{? ?(?:env\.)?REPOSITORY ?\}?\}?:([A-Za-z0-9_.-]+)/g)].map((m) => m[1]);
    expect(refs.length).toBe(4);
    expect(new Set(refs)).toEqual(new Set([cacheTag]));
  });
});

/** Runs a shell script as a CI runner does, without blocking the event loop (the test registry serves from here). */
function sh(shell: string[], script: string, env: NodeJS.ProcessEnv, cwd: string): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(shell[0]!, [...shell.slice(1), script], { env, cwd, maxBuffer: 16 << 20 }, (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out: stdout, err: stderr }));
  });
}

/** GitHub's `${{ a.b.c }}` expressions (property access only; anything else fails the test). */
function expand(text: string, ctx: Record<string, any>): string {
  return text.replace(/\$\{\{\s*([^}]*?)\s*\}\}/g, (_m, expr: string) => {
    if (!/^[A-Za-z_][\w-]*(\.[\w-]+)*$/.test(expr)) throw new Error(`expression the test runner does not evaluate: ${expr}`);
    const v = expr.split('.').reduce<any>((o, k) => (o == null ? undefined : o[k]), ctx);
    if (v === undefined) throw new Error(`\${{ ${expr} }} is undefined`);
    return String(v);
  });
}

const buildx = buildxDockerConfig();
const skip = REGISTRY_SKIP_REASON || buildx.reason || goToolSkipReason(COSIGN);
const runSteps = skip ? test.skip : test;
if (skip) console.warn(`examples/ci steps not run: ${skip}`);

/** Tag → digest of a repository in the test registry. */
async function tagsOf(reg: TestRegistry, repository: string): Promise<Map<string, string>> {
  const { tags } = (await (await fetch(`${reg.url}/v2/${repository}/tags/list`)).json()) as { tags: string[] | null };
  const out = new Map<string, string>();
  for (const t of tags ?? []) out.set(t, (await fetchManifest(reg, repository, t))!.digest!);
  return out;
}

/** What the dev stack's dev and staging ImagePolicies select from these tags. */
function selected(tags: string[]) {
  const pick = (tier: string) => {
    const a = dev.tiers.find((t) => t.name === tier)!.apps.find((x) => x.repository === 'checkout-api')!;
    return evaluatePolicy(tags, { exclusionList: a.exclusionList, filterTags: a.filterTags, policy: a.policy }).latest;
  };
  return { dev: pick('dev'), staging: pick('staging') };
}

describe('examples/ci: every run/command step that needs no cloud, in a shell with the variables each CI sets, against a local registry', () => {
  let reg: TestRegistry;
  let tarball: string;
  /** The real cosign (built from its Go module), behind a shim that lets `cosign sign` use the plain-HTTP test registry. */
  let cosignShims: string;
  /** The CI's signing key pair, made by `cosign generate-key-pair`: the private key and password are the CI secrets. */
  let keyDir: string;
  const COSIGN_PASSWORD = 'tagflow-test-password';
  beforeAll(async () => {
    if (skip) return;
    reg = await startRegistry();
    tarball = packTagflow();
    const real = await cosignBinary();
    keyDir = (await cosignKeys(real)).team;
    cosignShims = tmpDir('tagflow-cosign-shim-');
    fs.writeFileSync(
      path.join(cosignShims, 'cosign'),
      `#!/usr/bin/env bash\nset -eu\nif [ "$1" = sign ]; then shift; exec "${real}" sign --allow-http-registry --allow-insecure-registry "$@"; fi\nexec "${real}" "$@"\n`,
      { mode: 0o755 },
    );
  }, 40 * 60_000);

  /** The cosign signature the example made on `digest` verifies with the CI's public key (tagflow's own signature gate). */
  async function expectSigned(repository: string, digest: string) {
    const client = new RegistryClient({ baseUrl: reg.url, insecure: true });
    const verdict = await signatureGate({ keys: [{ pem: fs.readFileSync(path.join(keyDir, 'cosign.pub'), 'utf8'), where: 'cosign.pub' }] }, { client, repository, digest, mediaType: '', manifest: Buffer.alloc(0), children: [] });
    expect(verdict).toMatchObject({ verdict: 'pass', evidence: { form: 'tag', key: 'cosign.pub' } });
  }
  afterAll(async () => reg?.stop());

  /** Variables both CIs get from the runner, plus the registry and package the test points them at. */
  const baseEnv = () => ({
    PATH: process.env.PATH!,
    HOME: process.env.HOME!,
    DOCKER_CONFIG: buildx.dockerConfig!,
    // npm's cache already holds every dependency (npm ci): the install of the packed tarball uses it first.
    npm_config_prefer_offline: 'true',
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
  });

  runSteps(
    'GitHub Actions: build job (dev tag) then staging job (staging tag on the same digest)',
    async () => {
      const host = reg.url.replace(/^http:\/\//, '');
      const work = tmpDir('tagflow-gha-');
      const workflowEnv = { ...gha.env, REGISTRY: host, TAGFLOW_PACKAGE: tarball };
      const secrets = { COSIGN_PRIVATE_KEY: fs.readFileSync(path.join(keyDir, 'cosign.key'), 'utf8'), COSIGN_PASSWORD };
      const ctx: Record<string, any> = { env: workflowEnv, github: { sha: SHA }, needs: {}, secrets };
      const ran: string[] = [];
      for (const [jobName, job] of Object.entries(gha.jobs as Record<string, any>)) {
        ctx.steps = {};
        for (const step of job.steps) {
          if (step.run) {
            const output = path.join(work, `${jobName}-${step.id ?? ran.length}.out`);
            fs.writeFileSync(output, '');
            // The step's own env (expressions expanded), and cosign on PATH as sigstore/cosign-installer puts it there.
            const stepEnv = Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, expand(String(v), ctx)]));
            const env = { ...baseEnv(), ...workflowEnv, ...stepEnv, PATH: `${cosignShims}:${process.env.PATH}`, GITHUB_SHA: SHA, GITHUB_REF: 'refs/heads/main', GITHUB_REPOSITORY: 'acme/checkout-api', GITHUB_OUTPUT: output, RUNNER_TEMP: work, CI: 'true', GITHUB_ACTIONS: 'true' };
            // GitHub's bash shell: bash --noprofile --norc -eo pipefail {0}
            const r = await sh(['bash', '--noprofile', '--norc', '-eo', 'pipefail', '-c'], expand(step.run, ctx), env, work);
            expect({ step: step.name, code: r.code, err: r.code ? r.err : '' }).toEqual({ step: step.name, code: 0, err: '' });
            if (step.id) ctx.steps[step.id] = { outputs: Object.fromEntries(fs.readFileSync(output, 'utf8').split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])) };
            ran.push(`${jobName}: ${step.name}`);
          } else if (step.uses?.startsWith('docker/build-push-action')) {
            // Stand-in for BuildKit (no daemon here): push an image under the action's `tags` input, output its digest.
            const [ref] = expand(step.with.tags, ctx).split(/[\n,]/);
            const tag = ref!.slice(ref!.lastIndexOf(':') + 1);
            expect(ref!.startsWith(`${host}/${gha.env.REPOSITORY}:`)).toBe(true);
            const img = await pushImage(reg, gha.env.REPOSITORY, tag);
            ctx.steps[step.id] = { outputs: { digest: img.digest } };
          }
        }
        ctx.needs[jobName] = { outputs: Object.fromEntries(Object.entries(job.outputs ?? {}).map(([k, v]) => [k, expand(String(v), ctx)])) };
      }
      expect(ran).toEqual(['build: Tag of the dev tier', 'build: Sign the pushed digest', 'staging: Tag of the staging tier', 'staging: Same digest, staging tag']);
      await expectSigned(gha.env.REPOSITORY, ctx.needs.build.outputs.digest);
      const tags = await tagsOf(reg, gha.env.REPOSITORY);
      const sel = selected([...tags.keys()]);
      expect(sel.dev).toMatch(new RegExp(`^branch-dev-\\d+-${SHA}$`));
      expect(sel.staging).toMatch(new RegExp(`^branch-staging-\\d+-${SHA}$`));
      expect(tags.get(sel.staging)).toBe(tags.get(sel.dev)); // the very same digest
      expect(tags.get(sel.dev)).toBe(ctx.needs.build.outputs.digest);
    },
    600_000,
  );

  runSteps(
    'Buildkite: build step (dev tag, digest into meta-data) then staging step (staging tag on that digest)',
    async () => {
      const host = reg.url.replace(/^http:\/\//, '');
      const repository = `bk/${bk.env.REPOSITORY}`; // its own repository in the registry, apart from the GitHub run
      const work = tmpDir('tagflow-bk-');
      const shims = path.join(work, 'shims');
      fs.mkdirSync(shims);
      // buildkite-agent meta-data set/get: a key-value store shared by the build's steps (here: files).
      fs.writeFileSync(
        path.join(shims, 'buildkite-agent'),
        `#!/usr/bin/env bash\nset -eu\nstore="${work}/meta-data"; mkdir -p "$store"\ncase "$1 $2" in\n  "meta-data set") printf %s "$4" > "$store/$3" ;;\n  "meta-data get") cat "$store/$3" ;;\n  "secret get") case "$3" in cosign_private_key) cat "${keyDir}/cosign.key" ;; cosign_password) printf %s "${COSIGN_PASSWORD}" ;; *) exit 1 ;; esac ;;\n  *) echo "buildkite-agent stand-in: $*" >&2; exit 2 ;;\nesac\n`,
        { mode: 0o755 },
      );
      // Stand-in for BuildKit (no daemon here) in \`docker buildx build\`: the image the test built is tagged as
      // --tag asks (with the real buildx) and its digest written to --metadata-file as buildx does. Every other
      // docker command is the real one.
      const built = await pushImage(reg, repository, 'prebuilt');
      const realDocker = ['/usr/local/bin/docker', '/usr/bin/docker'].find((p) => fs.existsSync(p))!;
      fs.writeFileSync(
        path.join(shims, 'docker'),
        `#!/usr/bin/env bash\nset -eu\nif [ "$1 $2" = "buildx build" ]; then\n  shift 2; tag=""; meta=""\n  while [ $# -gt 0 ]; do case "$1" in --tag) tag="$2"; shift 2;; --metadata-file) meta="$2"; shift 2;; --cache-from|--cache-to) shift 2;; *) shift;; esac; done\n  "${realDocker}" buildx imagetools create --prefer-index=false --tag "$tag" "${host}/${repository}@${built.digest}" >&2\n  printf '{"containerimage.digest": "%s"}' "${built.digest}" > "$meta"\n  exit 0\nfi\nexec "${realDocker}" "$@"\n`,
        { mode: 0o755 },
      );
      const pipelineEnv = { ...bk.env, REGISTRY: host, REPOSITORY: repository, TAGFLOW_PACKAGE: tarball };
      const ran: string[] = [];
      for (const step of bk.steps) {
        if (!step.command) continue;
        // Buildkite interpolates the pipeline at upload: `$$` is a literal `$`; the examples escape every variable.
        expect(step.command.replace(/\$\$/g, '')).not.toContain('$');
        const script = step.command.replace(/\$\$/g, '$');
        const env = {
          ...baseEnv(),
          ...pipelineEnv,
          PATH: `${shims}:${cosignShims}:${process.env.PATH}`,
          BUILDKITE: 'true',
          CI: 'true',
          BUILDKITE_COMMIT: SHA,
          BUILDKITE_BRANCH: 'main',
          BUILDKITE_ORGANIZATION_SLUG: 'acme',
          BUILDKITE_PIPELINE_SLUG: 'checkout-api',
          BUILDKITE_STEP_KEY: step.key,
        };
        // The agent runs a command with: /bin/bash -e -c
        const r = await sh(['/bin/bash', '-e', '-c'], script, env, work);
        expect({ step: step.label, code: r.code, err: r.code ? r.err : '' }).toEqual({ step: step.label, code: 0, err: '' });
        ran.push(step.key);
      }
      expect(ran).toEqual(['build', 'staging']);
      const tags = await tagsOf(reg, repository);
      const sel = selected([...tags.keys()]);
      expect(sel.dev).toMatch(new RegExp(`^branch-dev-\\d+-${SHA}$`));
      expect(sel.staging).toMatch(new RegExp(`^branch-staging-\\d+-${SHA}$`));
      expect(tags.get(sel.dev)).toBe(built.digest);
      expect(tags.get(sel.staging)).toBe(built.digest); // the digest handed over in meta-data
      expect(fs.readFileSync(path.join(work, 'meta-data', 'digest'), 'utf8')).toBe(built.digest);
      await expectSigned(repository, built.digest);
    },
    600_000,
  );
});

describe('examples/ci: the Dockerfile', () => {
  test('copies dependency manifests and installs before copying the source', () => {
    const lines = fs.readFileSync(path.join(dir, 'Dockerfile'), 'utf8').split('\n');
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    expect(at(/^COPY package\.json package-lock\.json/)).toBeGreaterThan(-1);
    expect(at(/^COPY package\.json/)).toBeLessThan(at(/^RUN npm ci/));
    expect(at(/^RUN npm ci/)).toBeLessThan(at(/^COPY \. \./));
  });
});
