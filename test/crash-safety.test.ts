import { withoutWarnings } from './support/cli';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { firstDifference, fullSnapshot, synthProcess, writeCrashStack } from './support/crash';
import { tmpDir } from './support/tree';
import { prng } from './support/prng';

/**
 * kill -9 at random points of a real `tagflow synth` process, then the next run: the tree must end
 * byte-identical (every file, every folder) to a clean run of the configuration the next run used. Every
 * trial also checks the killed tree itself: each file is either its old or its new version, never a mix.
 * CRASH_TRIALS (default 6) and CRASH_SEED choose how many and which delays; the delays are random over the
 * whole run, and each trial records where the kill landed (before writing, while staging, while applying,
 * after the end).
 */
const TRIALS = Number(process.env.CRASH_TRIALS ?? 6);
const SEED = Number(process.env.CRASH_SEED ?? 1414);
const APPS = 40;

type Phase = 'before writing' | 'staging' | 'applying' | 'ended';

function phaseOf(tree: string, oldSnap: Map<string, string>, ended: boolean): Phase {
  if (ended) return 'ended';
  const txn = path.join(tree, '.tagflow', 'txn');
  if (fs.existsSync(path.join(txn, 'journal.json'))) return 'applying';
  if (fs.existsSync(txn)) return 'staging';
  const snap = fullSnapshot(tree);
  snap.delete('.tagflow/lock');
  return firstDifference(snap, oldSnap) === undefined ? 'before writing' : 'applying';
}

describe(`kill -9 during synth, then the next run (${TRIALS} trials, seed ${SEED})`, () => {
  const work = tmpDir('tagflow-crash-');
  const configA = path.join(work, 'a');
  const configB = path.join(work, 'b');
  const oldTree = path.join(work, 'old');
  const newTree = path.join(work, 'new');
  let oldSnap: Map<string, string>;
  let newSnap: Map<string, string>;
  let fullRunMs = 0;
  let noWriteMs = 0;

  beforeAll(async () => {
    writeCrashStack(configA, APPS, 1, 0);
    writeCrashStack(configB, APPS, 2, 8); // every release changes, 8 apps pruned, 8 added
    expect((await synthProcess(configA, oldTree)).code).toBe(0);
    fs.writeFileSync(path.join(oldTree, 'README.md'), 'a file tagflow did not write\n');
    oldSnap = fullSnapshot(oldTree);
    fs.cpSync(oldTree, newTree, { recursive: true });
    const clean = await synthProcess(configB, newTree);
    expect(clean.code).toBe(0);
    fullRunMs = clean.ms;
    newSnap = fullSnapshot(newTree);
    // A run that writes nothing (same configuration again): everything but the write phase.
    const noop = await synthProcess(configB, newTree);
    expect(noop.code).toBe(0);
    noWriteMs = noop.ms;
    expect(firstDifference(oldSnap, newSnap)).toBeDefined();
  }, 120_000);

  test('every kill point recovers to the clean tree of the next run\'s configuration', async () => {
    const rnd = prng(SEED);
    const phases: Record<Phase, number> = { 'before writing': 0, staging: 0, applying: 0, ended: 0 };
    // At least TRIALS trials, and more (up to 3 x TRIALS) until 2 kills landed in the write phase: on a
    // loaded machine the reference timings drift, so each run that ended before its kill refines them.
    for (let i = 0; i < TRIALS || (phases.staging + phases.applying < 2 && i < 3 * TRIALS); i++) {
      const tree = path.join(work, `t${i}`);
      fs.cpSync(oldTree, tree, { recursive: true });
      // Uniform from a little before the write phase starts to a little after the run ends.
      const from = Math.min(noWriteMs, fullRunMs) * 0.7;
      const delay = Math.floor(from + rnd() * (fullRunMs * 1.1 - from));
      const killed = await synthProcess(configB, tree, { killAfterMs: delay });
      const phase = phaseOf(tree, oldSnap, killed.signal === null);
      if (killed.signal === null) fullRunMs = Math.min(fullRunMs, killed.ms);
      phases[phase]++;
      // Whatever the kill left: no file outside .tagflow/ is a mix, each is its old or its new version.
      for (const [rel, bytes] of fullSnapshot(tree)) {
        if (rel.startsWith('.tagflow/')) continue;
        const ok = bytes === oldSnap.get(rel) || bytes === newSnap.get(rel);
        expect({ trial: i, delay, phase, rel, ok }).toEqual({ trial: i, delay, phase, rel, ok: true });
      }
      // The next run: the new configuration (it completes), or the old one (the previous tree comes back).
      const back = i % 2 === 1;
      const config = back ? configA : configB;
      if (i % 3 === 2) await synthProcess(config, tree, { killAfterMs: Math.floor(rnd() * fullRunMs) }); // the recovery is killed too
      const next = await synthProcess(config, tree);
      expect({ trial: i, code: next.code, stderr: withoutWarnings(next.stderr).replace(/^tagflow: an earlier run .*\n/m, '') }).toEqual({ trial: i, code: 0, stderr: '' });
      const diff = firstDifference(fullSnapshot(tree), back ? oldSnap : newSnap);
      expect({ trial: i, delay, phase, back, diff }).toEqual({ trial: i, delay, phase, back, diff: undefined });
      fs.rmSync(tree, { recursive: true, force: true });
    }
    // Report where the kills landed; with random delays over the whole run most land in the write phase.
    process.stdout.write(`crash trials: ${Object.values(phases).reduce((a, b) => a + b, 0)}, full run ${fullRunMs} ms (${noWriteMs} ms when there is nothing to write), kills by phase ${JSON.stringify(phases)}\n`);
    expect(phases.staging + phases.applying).toBeGreaterThanOrEqual(2);
  }, 30_000 + 3 * TRIALS * 25_000);
});
