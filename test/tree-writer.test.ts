import * as fs from 'node:fs';
import * as path from 'node:path';
import { synth } from '../src/gitops/synth';
import { writeTree, TreeWriteError } from '../src/gitops/tree-writer';
import { listTree, sampleEnvironment, snapshotTree, tmpDir, writeStack } from './support/tree';

describe('tree writer', () => {
  test('writes, then prunes only what it wrote before and no longer produces', () => {
    const out = tmpDir();
    fs.writeFileSync(path.join(out, 'mine.yaml'), 'user: file\n');
    writeTree(out, 's', new Map([['a/one.yaml', '1\n'], ['a/b/two.yaml', '2\n'], ['three.yaml', '3\n']]));
    expect(listTree(out)).toEqual(['.tagflow/s.json', 'a/b/two.yaml', 'a/one.yaml', 'mine.yaml', 'three.yaml']);
    const r = writeTree(out, 's', new Map([['a/one.yaml', '1\n']]));
    expect([...r.pruned].sort()).toEqual(['a/b/two.yaml', 'three.yaml']);
    // Empty folders left by pruning go too; the user's file stays.
    expect(listTree(out)).toEqual(['.tagflow/s.json', 'a/one.yaml', 'mine.yaml']);
    expect(fs.existsSync(path.join(out, 'a', 'b'))).toBe(false);
  });

  test('never overwrites a file it did not write, and then writes nothing at all', () => {
    const out = tmpDir();
    fs.mkdirSync(path.join(out, 'a'));
    fs.writeFileSync(path.join(out, 'a', 'two.yaml'), 'user\n');
    const before = snapshotTree(out);
    expect(() => writeTree(out, 's', new Map([['a/one.yaml', '1\n'], ['a/two.yaml', '2\n']]))).toThrow(TreeWriteError);
    expect(snapshotTree(out)).toEqual(before);
  });

  test('a file shared by two stacks is pruned only when neither produces it', () => {
    const out = tmpDir();
    writeTree(out, 'dev', new Map([['charts/c.yaml', 'c\n'], ['d.yaml', 'd\n']]));
    writeTree(out, 'prod', new Map([['charts/c.yaml', 'c\n'], ['p.yaml', 'p\n']]));
    writeTree(out, 'dev', new Map([['d.yaml', 'd\n']]));
    expect(fs.existsSync(path.join(out, 'charts/c.yaml'))).toBe(true);
    writeTree(out, 'prod', new Map([['p.yaml', 'p\n']]));
    expect(fs.existsSync(path.join(out, 'charts/c.yaml'))).toBe(false);
  });

  test('refuses paths that escape the tree', () => {
    const out = tmpDir();
    expect(() => writeTree(out, 's', new Map([['../evil.yaml', 'x']]))).toThrow(/outside the tree/);
    expect(() => writeTree(out, 's', new Map([['/etc/evil.yaml', 'x']]))).toThrow(/outside the tree/);
  });

  test('a folder where a file must go stops the run before any change, and leaves no staging folder behind', () => {
    const out = tmpDir();
    writeTree(out, 's', new Map([['a.yaml', 'a\n'], ['blocked.yaml', 'b\n']]));
    fs.rmSync(path.join(out, 'blocked.yaml'));
    fs.mkdirSync(path.join(out, 'blocked.yaml'));
    const before = snapshotTree(out);
    expect(() => writeTree(out, 's', new Map([['a.yaml', 'a2\n'], ['blocked.yaml', 'b2\n']]))).toThrow(/a folder stands where a file must be \(EISDIR\)/);
    expect(snapshotTree(out)).toEqual(before);
    expect(fs.existsSync(path.join(out, '.tagflow', 'txn'))).toBe(false);
    expect(fs.existsSync(path.join(out, '.tagflow', 'lock'))).toBe(false);
  });

  test('each written file is complete: it is renamed into place, never written in place', () => {
    const out = tmpDir();
    writeTree(out, 's', new Map([['a.yaml', 'old\n']]));
    const inode = fs.statSync(path.join(out, 'a.yaml')).ino;
    writeTree(out, 's', new Map([['a.yaml', 'new\n']]));
    expect(fs.readFileSync(path.join(out, 'a.yaml'), 'utf8')).toBe('new\n');
    expect(fs.statSync(path.join(out, 'a.yaml')).ino).not.toBe(inode);
  });
});

describe('synth into a GitOps checkout', () => {
  test('keeps the image values Flux wrote at markers, and prunes files of removed apps', () => {
    const dir = tmpDir();
    writeStack(dir, 'test', sampleEnvironment({ tiers: { dev: {} } }));
    const out = path.join(dir, 'gitops');
    synth({ configDir: dir, outDir: out });
    const release = path.join(out, 'environments/test/dev/releases/api.yaml');
    // Flux's automation commits a new tag.
    const text = fs.readFileSync(release, 'utf8');
    const bumped = text.replace('tag: "" #', 'tag: branch-dev-1700000000-abc1234 #');
    expect(bumped).not.toBe(text);
    fs.writeFileSync(release, bumped);
    // The user adds a value and re-synthesizes: Flux's tag stays, the new value lands.
    writeStack(dir, 'test', sampleEnvironment({ tiers: { dev: {} }, apps: [{ name: 'api', values: { replicaCount: 4 } }] }));
    const { results } = synth({ configDir: dir, outDir: out });
    const after = fs.readFileSync(release, 'utf8');
    expect(after).toMatch(/tag: branch-dev-1700000000-abc1234 # \{"\$imagepolicy": "dev:api:tag"\}/);
    expect(after).toMatch(/replicaCount: 4/);
    // Flux's edit alone does not make the next synth rewrite tagflow's index (no noise in Git).
    expect(results!.get('test')!.written).toEqual(['environments/test/dev/releases/api.yaml']);
    // The worker app was removed from the stack: its files are pruned.
    expect([...results!.get('test')!.pruned].sort()).toEqual(['environments/test/dev/images/worker.yaml', 'environments/test/dev/releases/worker.yaml']);
  });

  test('--stack renders only that stack', () => {
    const dir = tmpDir();
    writeStack(dir, 'a', sampleEnvironment({ name: 'a' }));
    writeStack(dir, 'b', sampleEnvironment({ name: 'b' }));
    const out = path.join(dir, 'o');
    synth({ configDir: dir, outDir: out, stacks: ['b'] });
    expect(listTree(out).some((f) => f.startsWith('clusters/b/'))).toBe(true);
    expect(listTree(out).some((f) => f.startsWith('clusters/a/'))).toBe(false);
  });
});
