import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { checkOutputs, hasErrors, synthesizeEnvironment } from '../src/gitops/synth';
import { loadStackText } from '../src/model/load';
import { pushImage, REGISTRY_SKIP_REASON, startRegistry, type TestRegistry } from './support/registry';
import { REPO_ROOT, tmpDir } from './support/tree';

/**
 * The README is executed: every shell snippet runs (bash -euo pipefail) in a temporary copy of the project,
 * against a local docker-registry where it names one ($REGISTRY), with `../gitops` a git clone of a local
 * bare repository; a snippet whose first line is `# needs: <things>` (the cloud, a cluster, GitHub) is only
 * checked for syntax with `bash -n`. Every YAML snippet that is a stack, or a part of one, is validated by
 * the model, rendered and checked as synth would.
 */
const README = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');

interface Block {
  readonly lang: string;
  readonly line: number;
  readonly body: string;
}

const blocks: Block[] = [...README.matchAll(/^```(\w*)\n([\s\S]*?)^```/gm)].map((m) => ({ lang: m[1]!, line: README.slice(0, m.index).split('\n').length, body: m[2]! }));
const shell = blocks.filter((b) => b.lang === 'sh');
const NEEDS = /^# needs: ([a-z][a-z ,-]*[a-z])(?: \(.+\))?$/;
/** What a snippet may need that a test here cannot have. */
const KNOWN_NEEDS = new Set(['aws', 'pulumi', 'github', 'cluster', 'registry', 'the npm registry', 'go', 'root']);

/**
 * A copy of the project as a user has it after `npm ci`: sources, lib/ built, node_modules (hard links:
 * no space, and `npx tagflow` finds the project's own bin as in a clone). One copy serves every snippet,
 * reset before each (files the previous one added removed, `../gitops` made anew).
 */
function projectCopy(): { root: string; project: string; reset: () => void } {
  const root = tmpDir('tagflow-readme-');
  const project = path.join(root, 'tagflow');
  fs.mkdirSync(project);
  for (const f of ['package.json', 'package-lock.json', 'Pulumi.yaml', 'Pulumi.dev.yaml', 'Pulumi.prod.yaml', 'cosign.pub', 'cdk8s.yaml', 'README.md', 'tsconfig.json', 'tsconfig.build.json']) fs.copyFileSync(path.join(REPO_ROOT, f), path.join(project, f));
  for (const d of ['bin', 'lib', 'src', 'charts', 'schema', 'examples']) fs.cpSync(path.join(REPO_ROOT, d), path.join(project, d), { recursive: true });
  execFileSync('cp', ['-al', path.join(REPO_ROOT, 'node_modules'), path.join(project, 'node_modules')]);
  const initial = new Set(fs.readdirSync(project));
  const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, stdio: 'pipe' });
  const reset = () => {
    for (const f of fs.readdirSync(project)) if (!initial.has(f)) fs.rmSync(path.join(project, f), { recursive: true, force: true });
    for (const f of fs.readdirSync(root)) if (f !== 'tagflow') fs.rmSync(path.join(root, f), { recursive: true, force: true });
    // ../gitops: a checkout whose `git push` reaches a bare repository next to it.
    git(root, 'init', '-q', '--bare', '-b', 'main', 'gitops.git');
    git(root, 'clone', '-q', 'gitops.git', 'gitops');
    const gitops = path.join(root, 'gitops');
    git(gitops, 'config', 'user.name', 'readme');
    git(gitops, 'config', 'user.email', 'readme@example.com');
    fs.writeFileSync(path.join(gitops, 'README.md'), 'gitops\n');
    git(gitops, 'add', '-A');
    git(gitops, 'commit', '-qm', 'init');
    git(gitops, 'push', '-q', 'origin', 'HEAD:main');
  };
  return { root, project, reset };
}

/** npx keeps a link to the project it ran in ~/.npm/_npx/<hash>; the test's own is removed afterwards. */
function forgetNpxLinks(project: string): void {
  const cache = path.join(process.env.npm_config_cache ?? path.join(require('node:os').homedir(), '.npm'), '_npx');
  if (!fs.existsSync(cache)) return;
  for (const d of fs.readdirSync(cache)) {
    const link = path.join(cache, d, 'node_modules', 'tagflow');
    try {
      if (fs.lstatSync(link).isSymbolicLink() && path.resolve(path.dirname(link), fs.readlinkSync(link)) === project) fs.rmSync(path.join(cache, d), { recursive: true, force: true });
    } catch {
      /* not ours */
    }
  }
}

describe('README shell snippets', () => {
  let registry: TestRegistry | undefined;
  let copy: ReturnType<typeof projectCopy>;
  beforeAll(async () => {
    copy = projectCopy();
    if (REGISTRY_SKIP_REASON) return;
    registry = await startRegistry();
    // The dev stack's repositories, with tags of its tiers (what CI would have pushed).
    for (const [repo, tags] of [
      ['checkout-api', ['branch-dev-1700000900-def5678', 'branch-staging-1700000500-abc1234']],
      ['payments/worker', ['branch-dev-1700000100-0a1b2c3', 'branch-staging-1700000200-0a1b2c3']],
    ] as const) {
      for (const t of tags) await pushImage(registry, repo, t);
    }
  }, 60_000);
  afterAll(async () => {
    await registry?.stop();
    forgetNpxLinks(copy.project);
    fs.rmSync(copy.root, { recursive: true, force: true });
  });

  test('every snippet either runs here or says what it needs', () => {
    expect(shell.length).toBeGreaterThanOrEqual(10);
    for (const b of shell) {
      const first = b.body.split('\n')[0]!;
      if (!first.startsWith('# needs:')) continue;
      const m = NEEDS.exec(first);
      expect({ line: b.line, first, marker: m !== null }).toEqual({ line: b.line, first, marker: true });
      for (const need of m![1]!.split(/, */)) expect({ line: b.line, need, known: KNOWN_NEEDS.has(need) }).toEqual({ line: b.line, need, known: true });
    }
  });

  test.each(shell.filter((b) => b.body.startsWith('# needs:')).map((b) => [b.line, b] as const))('line %i (needs the cloud): bash -n accepts it', (_line, b) => {
    const r = spawnSync('bash', ['-n'], { input: b.body, encoding: 'utf8' });
    expect({ stderr: r.stderr, status: r.status }).toEqual({ stderr: '', status: 0 });
  });

  test('the fresh-machine block is what CI runs (.ci/run: npm ci, then npm test)', () => {
    const ci = fs.readFileSync(path.join(REPO_ROOT, '.ci', 'run'), 'utf8');
    expect(ci).toMatch(/^\s*npm ci\b/m);
    expect(ci).toMatch(/^npm test\b/m);
  });

  test.each(shell.filter((b) => !b.body.startsWith('# needs:')).map((b) => [b.line, b] as const))(
    'line %i runs as written in a copy of the project',
    (_line, b) => {
      if (b.body.includes('REGISTRY') && !registry) return console.warn(REGISTRY_SKIP_REASON);
      copy.reset();
      const r = spawnSync('bash', ['-euo', 'pipefail', '-c', b.body], {
        cwd: copy.project,
        encoding: 'utf8',
        timeout: 240_000,
        env: { ...process.env, GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567', REGISTRY: registry?.url ?? '', npm_config_update_notifier: 'false' },
      });
      expect({ line: b.line, status: r.status, stderr: r.status === 0 ? '' : r.stderr.slice(-3000) }).toEqual({ line: b.line, status: 0, stderr: '' });
    },
    300_000,
  );
});

describe('README YAML snippets that are stacks, or parts of one', () => {
  const simplest = parse(/```yaml\n(# Pulumi\.dev\.yaml[\s\S]*?)```/.exec(README)![1]!).config['tagflow:environment'];
  /** Objects merged key by key; anything else (lists, scalars) replaced. */
  const merge = (a: any, b: any): any =>
    a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b) ? Object.fromEntries([...new Set([...Object.keys(a), ...Object.keys(b)])].map((k) => [k, k in b ? merge(a[k], b[k]) : a[k]])) : b;
  const yamlBlocks = blocks.filter((b) => b.lang === 'yaml');
  const files = (b: Block) => /^# (clusters|\.github)\//.test(b.body);

  test('the YAML snippets are the stack parts below and the files that are not stacks (kustomization, workflow)', () => {
    expect(yamlBlocks.filter(files).map((b) => b.body.split('\n')[0])).toEqual(['# clusters/<env>/flux-system/kustomization.yaml', '# .github/workflows/gitops-drift.yml', '# clusters/<env>/flux-system/kustomization.yaml']);
    for (const b of yamlBlocks.filter(files)) expect(() => parse(b.body)).not.toThrow();
  });

  test('the drift workflow runs tagflow synth --check, and its run steps are valid bash', () => {
    const wf = parse(yamlBlocks.find((b) => b.body.startsWith('# .github/workflows/gitops-drift.yml'))!.body);
    const runs = wf.jobs.drift.steps.filter((st: { run?: string }) => st.run).map((st: { run: string }) => st.run);
    expect(runs[0]).toMatch(/tagflow synth --out gitops --check$/);
    for (const r of runs) expect(spawnSync('bash', ['-n'], { input: r, encoding: 'utf8' }).status).toBe(0);
  });

  test.each(yamlBlocks.filter((b) => !files(b)).map((b) => [b.line, b] as const))('line %i: the example stack with this snippet is valid, renders and passes the check', (_line, b) => {
    const doc = parse(b.body.startsWith('    ') ? b.body.replace(/^ {4}/gm, '') : b.body);
    const part = doc?.config?.['tagflow:environment'] ?? doc;
    // A snippet's fields replace the example's (its gitops, its apps), but aws and cluster add to them.
    const env = { ...simplest, ...part, aws: merge(simplest.aws, part.aws ?? {}), cluster: merge(simplest.cluster, part.cluster ?? {}) };
    const dir = tmpDir();
    // Files the snippets name next to the stack file: a config file, and the CI's cosign public key.
    fs.mkdirSync(path.join(dir, 'config'));
    fs.writeFileSync(path.join(dir, 'config', 'search.yaml'), 'pageSize: 20\n');
    fs.writeFileSync(path.join(dir, 'cosign.pub'), execFileSync('openssl', ['ec', '-pubout'], { input: execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout']), stdio: ['pipe', 'pipe', 'ignore'] }));
    const { stringify } = require('yaml') as typeof import('yaml');
    const environment = loadStackText(stringify({ config: { 'tagflow:environment': env } }), 'Pulumi.readme.yaml', dir);
    const findings = checkOutputs(path.join(dir, 'gitops'), [synthesizeEnvironment(environment, 'readme')]);
    expect(hasErrors(findings)).toBe(false);
  });
});

describe('README blocks that show output', () => {
  test('the latency table is what `tagflow latency --stack dev` prints', () => {
    const block = /\*\*`tagflow latency --stack dev`\*\*[\s\S]*?```text\n([\s\S]*?)```/.exec(README)![1]!;
    const out = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin/tagflow.js'), 'latency', '--stack', 'dev'], { cwd: REPO_ROOT, encoding: 'utf8' }).stdout;
    expect(block.trimEnd()).toBe(out.split('\n\n')[0]!.trimEnd());
  });
});

test('the simulate output is what the README\'s tags.yaml gives `tagflow simulate --stack dev`', () => {
  const tags = /cat > tags\.yaml <<'EOF'\n([\s\S]*?)EOF\n/.exec(README)![1]!;
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'tags.yaml'), tags);
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin/tagflow.js'), 'simulate', '--stack', 'dev', '--tags', path.join(dir, 'tags.yaml'), '--out', path.join(dir, 'none')], { cwd: REPO_ROOT, encoding: 'utf8' });
  expect(r.status).toBe(0);
  const shown = /```text\n(TIER +APP +SELECTED[\s\S]*?)\n\.\.\.\n```/.exec(README)![1]!;
  // The table, and the first file of the diff, as printed.
  expect(r.stdout.startsWith(`${shown}\n`)).toBe(true);
});
