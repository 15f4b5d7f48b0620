import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT, sampleEnvironment, tmpDir } from './support/tree';
import { packTagflow } from './support/pack';

/**
 * What the CI examples install: the tarball `npm pack` makes (prepare builds lib/ first). Installed into an
 * empty folder from npm's local cache (--prefer-offline: every dependency is cached by npm ci, only the
 * registry's metadata may be fetched), its `tagflow` binary runs there, with no checkout of this repository.
 */
describe('npm pack: the tarball installs into an empty folder and its tagflow runs there', () => {
  let tarball: string;
  let app: string;
  beforeAll(() => {
    tarball = packTagflow();
    app = tmpDir('tagflow-empty-');
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--no-update-notifier', tarball], { cwd: app, stdio: 'pipe', timeout: 480_000 });
  }, 600_000);

  const tagflow = (args: string[], cwd = app) => spawnSync(path.join(app, 'node_modules', '.bin', 'tagflow'), args, { cwd, encoding: 'utf8' });

  test('the tarball holds the built CLI, the bundled chart, the schemas and the lockfile it was tested with; no sources or tests', () => {
    const files = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean);
    for (const f of ['package/bin/tagflow.js', 'package/lib/cli/main.js', 'package/charts/app/Chart.yaml', 'package/schema/stack.schema.json', 'package/npm-shrinkwrap.json']) {
      expect({ f, present: files.includes(f) }).toEqual({ f, present: true });
    }
    expect(files.filter((f) => /^package\/(src|test|examples)\//.test(f))).toEqual([]);
  });

  test('`tagflow tag` prints the tag its tier selects, in a folder without this repository', () => {
    const r = tagflow(['tag', '--tier', 'dev', '--sha', '0123456789abcdef0123456789abcdef01234567', '--time', '1700000000']);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('branch-dev-1700000000-0123456789abcdef0123456789abcdef01234567');
    expect(fs.realpathSync(path.join(app, 'node_modules', 'tagflow'))).not.toContain(REPO_ROOT);
  });

  test('`tagflow synth` writes a tree with the bundled chart from the installed package', () => {
    const stacks = tmpDir('tagflow-stacks-');
    const { stringify } = require('yaml') as typeof import('yaml');
    fs.writeFileSync(path.join(stacks, 'Pulumi.t.yaml'), stringify({ config: { 'tagflow:environment': sampleEnvironment({ tiers: { dev: {} } }) } }));
    const out = path.join(stacks, 'out');
    const r = tagflow(['synth', '--stack', 't', '--out', out], stacks);
    expect(r.status).toBe(0);
    expect(fs.existsSync(path.join(out, 'charts', 'app', 'Chart.yaml'))).toBe(true);
  });
});

describe('a git dependency builds on install (prepare)', () => {
  test('npm install git+file://<this repository>#<HEAD> gets a built lib/ and a working tagflow', () => {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    const app = tmpDir('tagflow-git-');
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--no-update-notifier', `git+file://${REPO_ROOT}#${head}`], { cwd: app, stdio: 'pipe', timeout: 540_000 });
    expect(fs.existsSync(path.join(app, 'node_modules', 'tagflow', 'lib', 'cli', 'main.js'))).toBe(true);
    const r = spawnSync(path.join(app, 'node_modules', '.bin', 'tagflow'), ['tag', '--tier', 'staging', '--sha', 'abcdef0', '--time', '1700000000'], { cwd: app, encoding: 'utf8' });
    expect(r.stdout.trim()).toBe('branch-staging-1700000000-abcdef0');
  }, 600_000);
});

