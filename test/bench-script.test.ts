import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { loadStack } from '../src/model/load';
import { REPO_ROOT, tmpDir } from './support/tree';

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

  it('its synth and floor workers write the same files, and synth loads no @pulumi', () => {
    const dir = tmpDir();
    writeModel(dir, 3);
    const synth = worker('synth', dir, 'bench', path.join(dir, 'out'));
    expect(synth).toMatchObject({ findings: 0, pulumiLoaded: false });
    const dump = worker('objects', dir, 'bench', path.join(dir, 'objects.json'));
    expect(dump.objects).toBe(synth.objects);
    expect(worker('floor', path.join(dir, 'objects.json'), path.join(dir, 'floor')).ms).toBeGreaterThan(0);
  });

  it('its policy eval worker selects the newest tag of each kind', () => {
    const r = worker('eval', '500');
    expect(r.kinds.numerical.latest).toBe(`branch-dev-${1700000000 + 499 * 7}-${((499 * 2654435761) % 0xfffffff).toString(16).padStart(7, '0')}`);
    expect(r.kinds.semver.latest).toBe('release-1.4.19');
  });
});
