#!/usr/bin/env node
// npm run bench: tagflow's speed and memory against its floors, on generated models of 10, 100 and 1,000
// apps across the three tiers. synth and check are timed as users run them: the whole `tagflow` process,
// from spawn to exit (Node's start, module loading, synth's check, the crash-safe write), beside floors
// that are whole processes too (read, parse and serialize the same YAML with the `yaml` library). Each
// measurement is repeated and the median reported; peak RSS is each process's own. Prints a table, writes
// bench/results.json, exits 1 when a target is missed. A script, not a test: timings belong to the machine.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const { stringify } = require('yaml');

const ROOT = path.resolve(__dirname, '..');
const WORKER = path.join(__dirname, 'bench-worker.js');
const RSS_HOOK = path.join(__dirname, 'bench-rss.js');
/** The tagflow to measure (BENCH_BIN: another checkout's bin/tagflow.js, to compare before and after). */
const BIN = path.resolve(process.env.BENCH_BIN ?? path.join(ROOT, 'bin', 'tagflow.js'));
const SIZES = (process.env.BENCH_SIZES ?? '10,100,1000').split(',').map(Number);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const RESULTS = path.resolve(process.env.BENCH_RESULTS ?? path.join(ROOT, 'bench', 'results.json'));

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function worker(...args) {
  const r = spawnSync(process.execPath, [WORKER, ...args.map(String)], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`bench-worker ${args[0]} failed (${r.status}):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

/** Runs a measurement `runs` times; the median of every numeric field. */
function measure(runs, ...args) {
  return medians(Array.from({ length: runs }, () => worker(...args)));
}

function medians(all) {
  const out = { ...all[0] };
  for (const k of Object.keys(out)) if (typeof out[k] === 'number') out[k] = median(all.map((r) => r[k]));
  out.pulumiLoaded = all.some((r) => r.pulumiLoaded);
  return out;
}

/**
 * One whole process, timed from spawn to exit, its peak RSS from inside (bench-rss.js, preloaded).
 * `before` runs untimed first (e.g. removing the output folder).
 */
function processRun(script, args, { cwd, before } = {}) {
  before?.();
  const rss = path.join(os.tmpdir(), `tagflow-bench-rss-${process.pid}.json`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--require', RSS_HOOK, script, ...args], { cwd, encoding: 'utf8', maxBuffer: 256 << 20, env: { ...process.env, TAGFLOW_BENCH_RSS: rss } });
  const ms = performance.now() - t0;
  if (r.status !== 0 && r.status !== 1) throw new Error(`${path.basename(script)} ${args.join(' ')} exited ${r.status}:\n${r.stderr.slice(-2000)}`);
  const { maxRssMB, pulumiLoaded } = JSON.parse(fs.readFileSync(rss, 'utf8'));
  fs.rmSync(rss, { force: true });
  return { ms, maxRssMB, pulumiLoaded, exit: r.status, stderrLines: r.stderr ? r.stderr.trimEnd().split('\n').length : 0 };
}


/** A stack of n apps in all three tiers, shaped like the bundled examples (overrides included). */
function writeModel(dir, n) {
  const apps = Array.from({ length: n }, (_, i) => {
    const name = `svc-${String(i).padStart(4, '0')}`;
    return {
      name,
      repository: `team-${i % 20}/${name}`,
      ecr: { pullAccounts: ['444455556666'] },
      values: { service: { port: 8080 }, resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } } },
      ...(i % 10 === 0 ? { tiers: { release: { policy: { semver: { range: '>=2.0.0 <3.0.0' } } }, staging: { digestPinning: true } } } : {}),
    };
  });
  const environment = {
    name: 'bench',
    aws: { accountId: '111122223333', region: 'eu-west-1', readers: [{ accountId: '444455556666', environment: 'prod', nodeRoles: ['prod-node'] }] },
    cluster: { name: 'bench', oidcIssuerUrl: 'https://oidc.eks.eu-west-1.amazonaws.com/id/5C6B1D4E9A0F2B3C4D5E6F7A8B9C0D1E', identity: 'irsa', webhookUrl: 'https://flux-webhook.bench.example' },
    ci: { githubActions: { repositories: ['acme/monorepo'], branches: ['main'] } },
    gitops: { url: 'https://github.com/acme/gitops', githubApp: { appId: 123456, installationOwner: 'acme' } },
    tiers: { dev: {}, staging: { values: { replicaCount: 2 } }, release: { namespace: 'production' } },
    apps,
  };
  fs.writeFileSync(path.join(dir, `Pulumi.bench.yaml`), stringify({ config: { 'aws:region': 'eu-west-1', 'tagflow:environment': environment } }));
  const tags = Object.fromEntries(apps.map((a, i) => [a.repository, [`branch-dev-${1700000000 + i}-abcdef0`, `branch-staging-${1700000000 + i}-abcdef1`, { tag: `release-2.${i % 7}.0`, digest: `sha256:${'ab'.repeat(32)}` }, { tag: `branch-staging-${1700000001 + i}-abcdef2`, digest: `sha256:${'cd'.repeat(32)}` }]]));
  fs.writeFileSync(path.join(dir, 'tags.json'), JSON.stringify(tags));
}

function coldStart(args, runs = 7) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8' });
    times.push(performance.now() - t0);
    if (r.status !== 0) throw new Error(`tagflow ${args.join(' ')} failed: ${r.stderr}`);
  }
  return median(times);
}

function machine() {
  const cpus = os.cpus();
  return { cpu: cpus[0]?.model.trim() ?? 'unknown', cores: cpus.length, memoryGB: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}` };
}

function main() {
  if (!fs.existsSync(path.join(ROOT, 'lib', 'gitops', 'synth.js'))) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tagflow-bench-'));
  const results = { date: new Date().toISOString(), machine: machine(), runs: RUNS, bin: path.relative(ROOT, BIN), sizes: {}, targets: [], notes: NOTES };
  try {
    for (const n of SIZES) {
      const dir = path.join(work, `n${n}`);
      fs.mkdirSync(dir);
      writeModel(dir, n);
      const runs = RUNS;
      const out = path.join(dir, 'out');
      const floorOut = path.join(dir, 'floor');
      // Each run measures everything once, in turn, so that a change of the machine's load (shared, two
      // cores) falls on tagflow and its floors alike; the medians are taken per measurement.
      const all = { synth: [], resynth: [], check: [], floor: [], readParse: [] };
      for (let i = 0; i < runs; i++) {
        // tagflow synth into an empty folder (every file written, journal and syncfs), as a first synth is.
        all.synth.push(processRun(BIN, ['synth', '--stack', 'bench', '--out', out, '--config-dir', dir], { cwd: dir, before: () => fs.rmSync(out, { recursive: true, force: true }) }));
        if (all.synth[i].exit !== 0) throw new Error(`tagflow synth of ${n} apps exited ${all.synth[i].exit}`);
        // tagflow synth again on the tree it wrote: nothing changes, nothing is written.
        all.resynth.push(processRun(BIN, ['synth', '--stack', 'bench', '--out', out, '--config-dir', dir], { cwd: dir }));
        // tagflow check from the folder of the stack files (so it reads the stacks, as users run it).
        all.check.push(processRun(BIN, ['check', out], { cwd: dir }));
        all.floor.push(processRun(WORKER, ['floor-synth', out, floorOut], { before: () => fs.rmSync(floorOut, { recursive: true, force: true }) }));
        all.readParse.push(processRun(WORKER, ['floor-check', out]));
      }
      const [synth, resynth, check, floor, readParse] = [all.synth, all.resynth, all.check, all.floor, all.readParse].map(medians);
      const simulate = measure(runs, 'simulate', dir, 'bench', path.join(dir, 'tags.json'));
      const files = listFiles(out).filter((f) => !f.startsWith('.tagflow/'));
      const objects = files.filter((f) => /\.ya?ml$/.test(f) && !f.startsWith('charts/')).reduce((k, f) => k + (fs.readFileSync(path.join(out, f), 'utf8').match(/^kind: /gm) ?? []).length, 0);
      const row = {
        apps: n,
        objects,
        files: files.length,
        synthMs: synth.ms,
        synthMaxRssMB: synth.maxRssMB,
        synthExit: synth.exit,
        resynthMs: resynth.ms,
        floorMs: floor.ms,
        synthOverFloor: synth.ms / floor.ms,
        checkMs: check.ms,
        checkMaxRssMB: check.maxRssMB,
        checkExit: check.exit,
        readParseMs: readParse.ms,
        checkOverReadParse: check.ms / readParse.ms,
        simulateMs: simulate.ms,
        simulateMaxRssMB: simulate.maxRssMB,
        pulumiLoaded: { synth: synth.pulumiLoaded, check: check.pulumiLoaded, simulate: simulate.pulumiLoaded },
      };
      results.sizes[n] = row;
      process.stderr.write(`bench: ${n} apps done (synth ${row.synthMs.toFixed(0)} ms, check ${row.checkMs.toFixed(0)} ms)\n`);
    }
    const planDir = path.join(work, 'plan');
    fs.mkdirSync(planDir);
    writeModel(planDir, 100);
    results.plan100 = measure(3, 'plan', planDir, 'bench');
    results.eval10k = worker('eval', 10000).kinds;
    results.coldStart = { helpMs: coldStart(['--help']), synthOneAppMs: coldStart(['synth', '--stack', 'dev', '--out', path.join(work, 'cold'), '--config-dir', writeOneApp(work)]) };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  evaluateTargets(results);
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  fs.writeFileSync(RESULTS, JSON.stringify(results, null, 2) + '\n');
  process.stdout.write(formatTable(results) + '\n');
  process.stdout.write(`\nresults: ${path.relative(process.cwd(), RESULTS)}\n`);
  return results.targets.every((t) => t.met) ? 0 : 1;
}

function listFiles(dir, prefix = '') {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listFiles(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]));
}

/** What changed for these figures and what each change bought (measured before and after, this machine). */
const NOTES = require('../bench/notes.json');

function writeOneApp(work) {
  const dir = path.join(work, 'one');
  fs.mkdirSync(dir);
  writeModel(dir, 1);
  fs.renameSync(path.join(dir, 'Pulumi.bench.yaml'), path.join(dir, 'Pulumi.dev.yaml'));
  return dir;
}

function evaluateTargets(r) {
  const t = (name, value, limit, met) => r.targets.push({ name, value, limit, met });
  const big = r.sizes[1000];
  const mid = r.sizes[100];
  if (big) {
    t('synth process 1,000 apps / floor', +big.synthOverFloor.toFixed(2), '<= 2', big.synthOverFloor <= 2);
    t('check process 1,000 apps / read+parse floor', +big.checkOverReadParse.toFixed(2), '<= 1.3', big.checkOverReadParse <= 1.3);
    t('synth peak RSS, 1,000 apps (MB)', big.synthMaxRssMB, '<= 400', big.synthMaxRssMB <= 400);
    t('check peak RSS, 1,000 apps (MB)', big.checkMaxRssMB, '<= 400', big.checkMaxRssMB <= 400);
  }
  if (big && mid) {
    t('synth time 1,000 / 100 apps', +(big.synthMs / mid.synthMs).toFixed(2), '<= 11', big.synthMs / mid.synthMs <= 11);
    t('check time 1,000 / 100 apps', +(big.checkMs / mid.checkMs).toFixed(2), '<= 11', big.checkMs / mid.checkMs <= 11);
  }
  for (const [kind, v] of Object.entries(r.eval10k)) t(`policy eval 10,000 tags, ${kind} (ms)`, +v.ms.toFixed(1), '< 100', v.ms < 100);
  t('tagflow --help cold start (ms)', Math.round(r.coldStart.helpMs), '< 300', r.coldStart.helpMs < 300);
  const loaded = Object.values(r.sizes).some((s) => s.pulumiLoaded.synth || s.pulumiLoaded.check || s.pulumiLoaded.simulate);
  t('synth, check, simulate load @pulumi/*', loaded ? 'yes' : 'no', 'no', !loaded);
}

function formatTable(r) {
  const fmt = (x, d = 0) => (typeof x === 'number' ? x.toFixed(d) : String(x));
  const rows = [['apps x 3 tiers', 'objects', 'synth ms', 'floor ms', 'synth/floor', 'synth MB', 're-synth ms', 'check ms', 'read+parse ms', 'check/read', 'check MB', 'simulate ms']];
  for (const s of Object.values(r.sizes)) {
    rows.push([fmt(s.apps), fmt(s.objects), fmt(s.synthMs), fmt(s.floorMs), fmt(s.synthOverFloor, 2), fmt(s.synthMaxRssMB), fmt(s.resynthMs), fmt(s.checkMs), fmt(s.readParseMs), fmt(s.checkOverReadParse, 2), fmt(s.checkMaxRssMB), fmt(s.simulateMs)]);
  }
  const table = (rs) => {
    const w = rs[0].map((_, i) => Math.max(...rs.map((x) => String(x[i]).length)));
    return rs.map((x) => '| ' + x.map((c, i) => String(c).padEnd(w[i])).join(' | ') + ' |').join('\n').replace(/\n/, `\n|${w.map((n) => '-'.repeat(n + 2)).join('|')}|\n`);
  };
  const m = r.machine;
  const lines = [`Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGB} GB, Node ${m.node} (${r.date.slice(0, 10)}, median of ${r.runs} runs; whole processes: synth into an empty folder, re-synth on the current tree, check from the stack folder)`, '', table(rows), ''];
  lines.push(
    table([
      ['other', 'median'],
      ...Object.entries(r.eval10k).map(([k, v]) => [`policy eval, 10,000 tags, ${k}`, `${fmt(v.ms, 1)} ms (first run ${fmt(v.first, 1)} ms)`]),
      [`tagflow plan, 100 apps (${r.plan100.resources} resources)`, `${fmt(r.plan100.ms)} ms, ${r.plan100.maxRssMB} MB`],
      ['cold start: tagflow --help', `${fmt(r.coldStart.helpMs)} ms`],
      ['cold start: tagflow synth, 1 app', `${fmt(r.coldStart.synthOneAppMs)} ms`],
    ]),
  );
  lines.push('', table([['target', 'value', 'limit', 'met'], ...r.targets.map((x) => [x.name, String(x.value), x.limit, x.met ? 'yes' : 'NO'])]));
  if (r.notes?.length) lines.push('', 'Notes (profiled with node --cpu-prof; whole-process figures, 1,000 apps):', ...r.notes.map((n) => `- ${n}`));
  return lines.join('\n');
}

if (require.main === module) process.exitCode = main();
module.exports = { writeModel };
