import { expectCliOutput } from './support/cli-output';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { lint } from '../src/check/lint';
import { checkOutputs, synthesizeEnvironment } from '../src/gitops/synth';
import { writeTree } from '../src/gitops/tree-writer';
import { loadStack } from '../src/model/load';
import { cliAsync, withoutWarnings } from './support/cli';
import { listTree, sampleEnvironment, tmpDir, writeStack } from './support/tree';

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', '-c', 'init.defaultBranch=main', '-c', 'core.autocrlf=false', ...args], { cwd, encoding: 'utf8' });

/** Every file and folder below dir with its bytes (folders as ''), .tagflow included: "nothing written" is exact. */
function fullSnapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (d: string, prefix: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const rel = `${prefix}${e.name}`;
      if (e.isDirectory()) {
        out.set(`${rel}/`, '');
        visit(path.join(d, e.name), `${rel}/`);
      } else out.set(rel, fs.readFileSync(path.join(d, e.name), 'latin1'));
    }
  };
  if (fs.existsSync(dir)) visit(dir, '');
  return out;
}

/** A stack folder with a config file of the api app (rendered into its HelmRelease values). */
function stackFolder(apps: unknown[] = [{ name: 'api', config: { files: { 'app.yaml': { path: 'config/app.yaml' } } } }, { name: 'worker' }]): string {
  const dir = tmpDir('tagflow-preview-stack-');
  fs.mkdirSync(path.join(dir, 'config'));
  fs.writeFileSync(path.join(dir, 'config', 'app.yaml'), 'greeting: hello\nlimit: 10\nmode: fast\n');
  writeStack(dir, 'test', sampleEnvironment({ apps }));
  return dir;
}

const tf = (configDir: string, ...args: string[]) => cliAsync([...args, '--config-dir', configDir]);

describe('tagflow diff / synth --dry-run: the change synth would make, as git prints it, writing nothing', () => {
  test('first synth into a git checkout: every file new, byte for byte what git diff --cached prints', async () => {
    const dir = stackFolder();
    const repo = tmpDir('tagflow-preview-repo-');
    git(repo, 'init', '-q');
    fs.writeFileSync(path.join(repo, 'README.md'), 'gitops\n');
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'init');
    const before = fullSnapshot(repo);
    const d = await tf(dir, 'diff', '--out', repo);
    expect(d.code).toBe(0);
    expect(fullSnapshot(repo)).toEqual(before); // nothing written: no lock, no journal, no .tagflow
    expect(d.out).toMatch(/^diff --git a\/\.github\/workflows\/tagflow-release-pr\.yml b\/\.github\/workflows\/tagflow-release-pr\.yml\nnew file mode 100644\nindex 0000000\.\.[0-9a-f]{7}\n--- \/dev\/null\n\+\+\+ b\//);
    const s = await tf(dir, 'synth', '--out', repo);
    expect(s.code).toBe(0);
    git(repo, 'add', '-A');
    expect(d.out).toBe(git(repo, 'diff', '--cached', '--no-color', '--no-renames'));
    // --dry-run is the same command.
    git(repo, 'reset', '-q');
    fs.rmSync(path.join(repo, '.tagflow'), { recursive: true });
    for (const f of listTree(repo)) if (!f.startsWith('.git/') && f !== 'README.md') fs.rmSync(path.join(repo, f));
    expect((await tf(dir, 'synth', '--dry-run', '--out', repo)).out).toBe(d.out);
  });

  test('a config file change shows as its changed lines, a removed app as deleted files, a new app as new files; Flux marker values kept', async () => {
    const dir = stackFolder();
    const repo = tmpDir('tagflow-preview-repo-');
    git(repo, 'init', '-q');
    expect((await tf(dir, 'synth', '--out', repo)).code).toBe(0);
    // Flux committed a tag at a marker: synth keeps it, so the diff must not show it.
    const release = path.join(repo, 'environments/test/dev/releases/api.yaml');
    const text = fs.readFileSync(release, 'utf8');
    const bumped = text.replace(/tag: "" (# \{"\$imagepolicy": "dev:api:tag"\})/, 'tag: branch-dev-1700000000-abc1234 $1');
    expect(bumped).not.toBe(text);
    fs.writeFileSync(release, bumped);
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'synth, then Flux');
    // The user edits the config file, removes worker, adds search.
    fs.writeFileSync(path.join(dir, 'config', 'app.yaml'), 'greeting: hello\nlimit: 20\nmode: fast\n');
    writeStack(dir, 'test', sampleEnvironment({ apps: [{ name: 'api', config: { files: { 'app.yaml': { path: 'config/app.yaml' } } } }, { name: 'search' }] }));
    const before = fullSnapshot(repo);
    const d = await tf(dir, 'diff', '--out', repo);
    expect(d.code).toBe(0);
    expect(fullSnapshot(repo)).toEqual(before);
    // The config change is the changed line of the block string, in each tier's release of api.
    expect(d.out).toMatch(/diff --git a\/environments\/test\/dev\/releases\/api\.yaml b\/environments\/test\/dev\/releases\/api\.yaml\nindex [0-9a-f]{7}\.\.[0-9a-f]{7} 100644\n[\s\S]*?\n-\s+limit: 10\n\+\s+limit: 20\n/);
    expect(d.out).toMatch(/diff --git a\/environments\/test\/dev\/releases\/worker\.yaml b\/environments\/test\/dev\/releases\/worker\.yaml\ndeleted file mode 100644\nindex [0-9a-f]{7}\.\.0000000\n--- a\/environments\/test\/dev\/releases\/worker\.yaml\n\+\+\+ \/dev\/null\n/);
    expect(d.out).toMatch(/diff --git a\/environments\/test\/dev\/releases\/search\.yaml b\/environments\/test\/dev\/releases\/search\.yaml\nnew file mode 100644\n/);
    expect(d.out).not.toMatch(/abc1234/); // Flux's marker value stays: not a change
    const json = expectCliOutput('diff', (await tf(dir, 'diff', '--out', repo, '--json')).out);
    expect(json.current).toBe(false);
    expect(json.diff).toBe(`${d.out.trimEnd()}\n`);
    expect(json.changes).toEqual(expect.arrayContaining([{ path: 'environments/test/dev/releases/api.yaml', status: 'modified' }, { path: 'environments/test/dev/releases/worker.yaml', status: 'deleted' }, { path: 'environments/test/dev/releases/search.yaml', status: 'added' }, { path: '.tagflow/test.json', status: 'modified' }]));
    // What synth then writes is exactly that diff, as git sees it.
    expect((await tf(dir, 'synth', '--out', repo)).code).toBe(0);
    git(repo, 'add', '-A');
    expect(d.out).toBe(git(repo, 'diff', '--cached', '--no-color', '--no-renames'));
    expect(fs.readFileSync(release, 'utf8')).toMatch(/tag: branch-dev-1700000000-abc1234 #/);
  });

  test('a tree that does not exist is not created', async () => {
    const dir = stackFolder();
    const out = path.join(tmpDir(), 'nope');
    const d = await tf(dir, 'diff', '--out', out);
    expect(d.code).toBe(0);
    expect(d.out).toMatch(/^diff --git /);
    expect(fs.existsSync(out)).toBe(false);
  });
});

describe('tagflow synth --check: the CI drift gate', () => {
  test('0 when current; 1 naming the files after a hand edit or a stack change; writes nothing', async () => {
    const dir = stackFolder();
    const out = tmpDir('tagflow-check-tree-');
    const fresh = await tf(dir, 'synth', '--check', '--out', path.join(out, 'none'));
    expect(fresh.code).toBe(1); // nothing synthesized yet: everything is missing
    expect(fs.existsSync(path.join(out, 'none'))).toBe(false);
    expect((await tf(dir, 'synth', '--out', out)).code).toBe(0);
    const current = await tf(dir, 'synth', '--check', '--out', out);
    expect({ code: current.code, out: current.out, err: withoutWarnings(current.err) }).toEqual({ code: 0, out: '', err: '' });
    // Someone edited generated YAML.
    const file = path.join(out, 'environments/test/staging/releases/worker.yaml');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('interval: 10m', 'interval: 1m'));
    const before = fullSnapshot(out);
    const edited = await tf(dir, 'synth', '--check', '--out', out);
    expect(edited.code).toBe(1);
    expect(edited.out).toBe('modified: environments/test/staging/releases/worker.yaml\n');
    expect(withoutWarnings(edited.err)).toMatch(/^tagflow: .* is not what synth writes from the stack files \(1 file differ\)/);
    expect(fullSnapshot(out)).toEqual(before);
    // Someone changed the stack and forgot to synth.
    writeStack(dir, 'test', sampleEnvironment({ apps: [{ name: 'api', config: { files: { 'app.yaml': { path: 'config/app.yaml' } } } }] }));
    const json = await tf(dir, 'synth', '--check', '--json', '--out', out);
    expect(json.code).toBe(1);
    const j = expectCliOutput('synth-check', json.out);
    expect(j.current).toBe(false);
    expect(j.changes.filter((c: { status: string }) => c.status === 'deleted').map((c: { path: string }) => c.path).sort()).toEqual(
      ['dev', 'release', 'staging'].flatMap((t) => [`environments/test/${t}/images/worker.yaml`, `environments/test/${t}/releases/worker.yaml`]).sort(),
    );
    expect(fullSnapshot(out)).toEqual(before);
    expect((await tf(dir, 'synth', '--check', '--dry-run', '--out', out)).code).toBe(2);
  });
});

describe('--tier and --app narrow diff and the drift gate to one team\'s files', () => {
  test('a hand edit in staging: the dev gate passes, the staging and worker gates fail, diff shows only what is asked; a typo is exit 2', async () => {
    const dir = stackFolder();
    const out = tmpDir('tagflow-scope-tree-');
    expect((await tf(dir, 'synth', '--out', out)).code).toBe(0);
    const file = path.join(out, 'environments/test/staging/releases/worker.yaml');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('interval: 10m', 'interval: 1m'));
    // The config file changes too: api's release in every tier.
    fs.writeFileSync(path.join(dir, 'config', 'app.yaml'), 'greeting: hello\nlimit: 20\nmode: fast\n');
    const before = fullSnapshot(out);
    const gate = async (...scope: string[]) => {
      const r = await tf(dir, 'synth', '--check', '--out', out, ...scope);
      return { code: r.code, out: r.out.trim().split('\n').filter(Boolean) };
    };
    expect(await gate('--tier', 'dev', '--app', 'worker')).toEqual({ code: 0, out: [] });
    expect(await gate('--tier', 'staging')).toEqual({ code: 1, out: ['modified: environments/test/staging/releases/api.yaml', 'modified: environments/test/staging/releases/worker.yaml'] });
    expect(await gate('--app', 'worker')).toEqual({ code: 1, out: ['modified: environments/test/staging/releases/worker.yaml'] });
    expect((await gate()).out).toHaveLength(4);
    const diff = await tf(dir, 'diff', '--out', out, '--tier', 'release', '--app', 'api');
    expect(diff.code).toBe(0);
    expect([...diff.out.matchAll(/^diff --git a\/(\S+) /gm)].map((m) => m[1])).toEqual(['environments/test/release/releases/api.yaml']);
    expect(diff.out).toMatch(/\n-\s+limit: 10\n\+\s+limit: 20\n/);
    const typo = await tf(dir, 'diff', '--out', out, '--tier', 'prod');
    expect({ code: typo.code, err: typo.err.trim() }).toEqual({ code: 2, err: "tagflow: --tier 'prod': the stacks compared have tiers dev, release, staging" });
    const app = await tf(dir, 'synth', '--check', '--out', out, '--app', 'web');
    expect({ code: app.code, err: app.err.trim() }).toEqual({ code: 2, err: "tagflow: --app 'web': the stacks compared have apps api, worker" });
    // synth itself writes whole stacks: a filter there is a usage error, and nothing is written.
    expect((await tf(dir, 'synth', '--out', out, '--tier', 'dev')).code).toBe(2);
    expect(fullSnapshot(out)).toEqual(before);
  });
});

describe('synth checks in memory before it writes', () => {
  const overlapping = { dev: { filterTags: { pattern: '^branch-(dev|staging)-(?P<ts>[0-9]+)-[0-9a-f]+$', extract: '$ts' } }, staging: {}, release: {} };

  test('a finding stops synth with exit 1 and nothing written, in a new folder and in an existing tree', async () => {
    const dir = tmpDir();
    writeStack(dir, 'test', sampleEnvironment({ tiers: overlapping }));
    const out = path.join(tmpDir(), 'gitops');
    const r = await tf(dir, 'synth', '--out', out);
    expect(r.code).toBe(1);
    expect(withoutWarnings(r.err)).toMatch(/^tagflow: check found problems in what synth renders; nothing was written:\nenvironments\/test\/dev\/images\/api\.yaml:\d+: tier-overlap: /);
    expect(fs.existsSync(out)).toBe(false);
    writeStack(dir, 'test', sampleEnvironment());
    expect((await tf(dir, 'synth', '--out', out)).code).toBe(0);
    const before = fullSnapshot(out);
    writeStack(dir, 'test', sampleEnvironment({ tiers: overlapping }));
    expect((await tf(dir, 'synth', '--out', out)).code).toBe(1);
    expect(fullSnapshot(out)).toEqual(before);
    const json = expectCliOutput('synth', (await tf(dir, 'synth', '--out', out, '--json')).out);
    expect(json.written).toBe(false);
    expect(json.findings.filter((f: { severity?: string }) => !f.severity).map((f: { rule: string }) => f.rule)).toEqual(['tier-overlap', 'tier-overlap']);
  });

  test("synth's in-memory check finds exactly what tagflow check finds in the written tree (files, lines, rules, messages)", () => {
    const dir = tmpDir();
    writeStack(dir, 'test', sampleEnvironment({ tiers: overlapping, apps: [{ name: 'api' }, { name: 'worker', repository: 'team/worker' }] }));
    const env = loadStack(dir, 'test');
    const out = tmpDir();
    const output = synthesizeEnvironment(env, 'test', out);
    const inMemory = checkOutputs(out, [output]);
    // Written as they are (the writer does not check), then read back by tagflow check.
    writeTree(out, 'test', output.files);
    const fromTree = lint(out, { stacks: [env] });
    expect(inMemory.length).toBeGreaterThanOrEqual(4); // errors (tier-overlap) and warnings (release without signature gate)
    expect(new Set(inMemory.map((f) => f.severity ?? 'error'))).toEqual(new Set(['error', 'warning']));
    expect(inMemory).toEqual(fromTree);
  });
});
