import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { loadStack } from '../src/model/load';
import * as fs from 'node:fs';
import { listTree, objectsOf, REPO_ROOT, tmpDir } from './support/tree';

// The benchmark is a script (timings belong to a machine, not to a test); this only checks that what it
// measures is real: its generated model is a valid stack, and its workers compute what they claim.
const { writeModel } = require(path.join(REPO_ROOT, 'scripts', 'bench.js')) as { writeModel: (dir: string, n: number) => void };
const worker = (...args: string[]) => {
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'bench-worker.js'), ...args], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout);
};

describe('npm run bench', () => {
  it('generates a valid stack of n apps in the three tiers', () => {
    const dir = tmpDir();
    writeModel(dir, 12);
    const env = loadStack(dir, 'bench');
    expect(env.tiers.map((t) => [t.name, t.apps.length])).toEqual([
      ['dev', 12],
      ['staging', 12],
      ['release', 12],
    ]);
  });

  it('its floors read, parse and serialize the tree tagflow synth wrote: the same documents, the same YAML', () => {
    const dir = tmpDir();
    writeModel(dir, 3);
    const out = path.join(dir, 'out');
    const synth = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin/tagflow.js'), 'synth', '--stack', 'bench', '--out', out, '--config-dir', dir], { encoding: 'utf8' });
    expect(synth.status).toBe(0);
    const docs = objectsOf(out).length;
    const floor = worker('floor-synth', out, path.join(dir, 'floor'));
    expect(floor).toMatchObject({ pulumiLoaded: false });
    expect(worker('floor-check', out).docs).toBe(floor.docs);
    // The floor writes what it parsed: every YAML file of the tree but the chart's templates, equal as data.
    const yamlFiles = listTree(out).filter((f) => /\.ya?ml$/.test(f) && !f.startsWith('charts/'));
    expect(listTree(path.join(dir, 'floor')).sort()).toEqual(yamlFiles.sort());
    expect(objectsOf(path.join(dir, 'floor')).map((o) => o.obj)).toEqual(objectsOf(out).map((o) => o.obj));
    expect(floor.docs).toBeGreaterThanOrEqual(docs);
  });

  it('times tagflow as a whole process: the preload reports its peak RSS and that synth loads no @pulumi', () => {
    const dir = tmpDir();
    writeModel(dir, 2);
    const rss = path.join(dir, 'rss.json');
    const r = spawnSync(process.execPath, ['--require', path.join(REPO_ROOT, 'scripts/bench-rss.js'), path.join(REPO_ROOT, 'bin/tagflow.js'), 'synth', '--stack', 'bench', '--out', path.join(dir, 'out'), '--config-dir', dir], { encoding: 'utf8', env: { ...process.env, TAGFLOW_BENCH_RSS: rss } });
    expect(r.status).toBe(0);
    const report = JSON.parse(fs.readFileSync(rss, 'utf8'));
    expect(report.pulumiLoaded).toBe(false);
    expect(report.maxRssMB).toBeGreaterThan(20);
  });

  it('its policy eval worker selects the newest tag of each kind', () => {
    const r = worker('eval', '500');
    expect(r.kinds.numerical.latest).toBe(`branch-dev-${1700000000 + 499 * 7}-${((499 * 2654435761) % 0xfffffff).toString(16).padStart(7, '0')}`);
    expect(r.kinds.semver.latest).toBe('release-1.4.19');
  });
});
