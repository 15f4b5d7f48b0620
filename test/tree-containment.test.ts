import { withoutWarnings } from './support/cli';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { main } from '../src/cli/main';
import { readIndex, writeTree } from '../src/gitops/tree-writer';
import { fullSnapshot } from './support/crash';
import { sampleEnvironment, tmpDir, writeStack } from './support/tree';

/** `tagflow synth` in-process: exit code and stderr. */
async function synthCli(configDir: string, out: string, extra: string[] = []) {
  let stderr = '';
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation((s: any) => {
    stderr += String(s);
    return true;
  });
  try {
    const code = await main(['node', 'tagflow', 'synth', '--config-dir', configDir, '--out', out, ...extra], () => undefined);
    return { code, stderr };
  } finally {
    spy.mockRestore();
  }
}

/** A synthesized tree of the sample stack, and a folder outside it holding a file that must survive. */
async function setup() {
  const dir = tmpDir();
  writeStack(dir, 'test', sampleEnvironment());
  const out = path.join(dir, 'out');
  expect((await synthCli(dir, out)).code).toBe(0);
  const outside = tmpDir('tagflow-outside-');
  fs.writeFileSync(path.join(outside, 'precious.txt'), 'keep me\n');
  return { dir, out, outside, outsideBefore: fullSnapshot(outside) };
}

const index = (out: string) => path.join(out, '.tagflow', 'test.json');
const editIndex = (out: string, f: (files: { path: string; sha256: string }[]) => void) => {
  const idx = JSON.parse(fs.readFileSync(index(out), 'utf8'));
  f(idx.files);
  fs.writeFileSync(index(out), JSON.stringify(idx, null, 2));
};

describe('containment: nothing outside the output folder is ever written or deleted', () => {
  test.each([
    ['a relative path escaping the tree', (outside: string, out: string) => path.relative(out, path.join(outside, 'precious.txt')), /files\[\d+\]\.path: "\.\.\/.*precious\.txt" must be a path inside the tree of plain segments/],
    ['an absolute path', (outside: string) => path.join(outside, 'precious.txt'), /files\[\d+\]\.path: "\/.*precious\.txt" must be relative to the tree, not absolute/],
    ["a path into tagflow's own folder", () => '.tagflow/lock', /must not be inside \.tagflow\//],
  ])('an index listing %s is refused before anything is touched (exit 2)', async (_name, victim, message) => {
    const { dir, out, outside, outsideBefore } = await setup();
    // The stack drops the worker app, so synth would prune what the index lists for it.
    editIndex(out, (files) => files.push({ path: victim(outside, out), sha256: 'a'.repeat(64) }));
    writeStack(dir, 'test', sampleEnvironment({ apps: [{ name: 'api' }] }));
    const before = fullSnapshot(out);
    const r = await synthCli(dir, out);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/the index is not valid and nothing was changed: restore it from git\n$/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(fullSnapshot(out)).toEqual(before);
    expect(fullSnapshot(outside)).toEqual(outsideBefore);
  });

  test.each([
    ['not JSON', () => '{"version": 1, "files": [', /is not a tagflow index \(not JSON/],
    ['another version', () => JSON.stringify({ version: 3, owner: 'test', files: [] }), /version: 3 /],
    ['a bad digest', () => JSON.stringify({ version: 1, owner: 'test', files: [{ path: 'a.yaml', sha256: 'x' }] }), /files\[0\]\.sha256: "x" must be 64 lowercase hex digits/],
    ['another owner', () => JSON.stringify({ version: 1, owner: 'prod', files: [] }), /owner "prod" is not "test"/],
    ['a duplicate path', () => JSON.stringify({ version: 1, owner: 'test', files: [{ path: 'a.yaml', sha256: 'a'.repeat(64) }, { path: 'a.yaml', sha256: 'a'.repeat(64) }] }), /lists a\.yaml twice/],
  ])('an index that is %s is a one-line error naming it', async (_name, content, message) => {
    const { dir, out } = await setup();
    fs.writeFileSync(index(out), content());
    const before = fullSnapshot(out);
    const r = await synthCli(dir, out);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(index(out));
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(fullSnapshot(out)).toEqual(before);
  });

  test('a generated folder replaced by a link to another folder is refused, with the path (exit 4)', async () => {
    const { dir, out, outside, outsideBefore } = await setup();
    // What happened in the report: environments/ became a link, and 1,204 files were written through it.
    fs.renameSync(path.join(out, 'environments'), path.join(outside, 'environments'));
    fs.symlinkSync(path.join(outside, 'environments'), path.join(out, 'environments'));
    const outsideAfterMove = fullSnapshot(outside);
    writeStack(dir, 'test', sampleEnvironment({ apps: [{ name: 'api', values: { replicaCount: 3 } }] })); // changes and prunes there
    const before = fullSnapshot(out);
    const r = await synthCli(dir, out);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(new RegExp(`^tagflow: refusing to follow the symbolic link ${path.join(fs.realpathSync(out), 'environments')}`));
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(fullSnapshot(out)).toEqual(before);
    expect(fullSnapshot(outside)).toEqual(outsideAfterMove);
    expect(outsideAfterMove.get('precious.txt')).toBe(outsideBefore.get('precious.txt'));
  });

  test('a generated file replaced by a link is neither written through nor read (its target stays as it was)', async () => {
    const { dir, out, outside, outsideBefore } = await setup();
    const rel = 'environments/test/dev/releases/api.yaml';
    fs.rmSync(path.join(out, rel));
    fs.symlinkSync(path.join(outside, 'precious.txt'), path.join(out, rel));
    const r = await synthCli(dir, out);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`refusing to follow the symbolic link ${path.join(fs.realpathSync(out), rel)}`);
    expect(fullSnapshot(outside)).toEqual(outsideBefore);
  });

  test('a file to prune behind a linked folder is not deleted', async () => {
    const { dir, out, outside, outsideBefore } = await setup();
    const folder = 'environments/test/dev/images';
    for (const f of fs.readdirSync(path.join(out, folder))) fs.copyFileSync(path.join(out, folder, f), path.join(outside, f));
    fs.rmSync(path.join(out, folder), { recursive: true });
    fs.symlinkSync(outside, path.join(out, folder));
    writeStack(dir, 'test', sampleEnvironment({ apps: [{ name: 'api' }] })); // worker's files would be pruned
    const outsideWithCopies = fullSnapshot(outside);
    const r = await synthCli(dir, out);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('refusing to follow the symbolic link');
    expect(fullSnapshot(outside)).toEqual(outsideWithCopies);
    expect(outsideWithCopies.get('precious.txt')).toBe(outsideBefore.get('precious.txt'));
  });

  test(".tagflow as a link is refused too", async () => {
    const { dir, out, outside } = await setup();
    fs.renameSync(path.join(out, '.tagflow'), path.join(outside, 'idx'));
    fs.symlinkSync(path.join(outside, 'idx'), path.join(out, '.tagflow'));
    const r = await synthCli(dir, out);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`refusing to follow the symbolic link ${path.join(fs.realpathSync(out), '.tagflow')}`);
  });

  test('the output folder itself may be reached through a link (resolved once, nothing below it is followed)', async () => {
    const { dir, out } = await setup();
    const link = path.join(tmpDir(), 'gitops');
    fs.symlinkSync(out, link);
    writeStack(dir, 'test', sampleEnvironment({ apps: [{ name: 'api' }] }));
    const r = await synthCli(dir, link);
    expect({ ...r, stderr: withoutWarnings(r.stderr) }).toEqual({ code: 0, stderr: '' });
    expect(readIndex(out, 'test')!.files.some((f) => f.path.includes('worker'))).toBe(false);
  });

  test('the writer refuses paths outside the tree before touching anything', () => {
    const out = tmpDir();
    const before = fullSnapshot(out);
    for (const p of ['../evil.yaml', '/etc/evil.yaml', 'a/../../evil.yaml', 'a//b.yaml', './a.yaml', 'a\\..\\b.yaml', '.tagflow/x.json', 'a\u0000b']) {
      expect(() => writeTree(out, 's', new Map([[p, 'x']]))).toThrow(/refusing to write outside the tree or into \.tagflow\//);
    }
    expect(fullSnapshot(out)).toEqual(before);
  });
});
