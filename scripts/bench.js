#!/usr/bin/env node
// npm run bench: tagflow's speed and memory against its floors, on generated models of 10, 100 and 1,000
// apps across the three tiers. Every measurement runs in a fresh process (peak memory is its own); each is
// repeated and the median reported. Prints a table, writes bench/results.json, exits 1 when a target is missed.
// A script, not a test: timings belong to the machine they ran on.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const { stringify } = require('yaml');

const ROOT = path.resolve(__dirname, '..');
const WORKER = path.join(__dirname, 'bench-worker.js');
const SIZES = (process.env.BENCH_SIZES ?? '10,100,1000').split(',').map(Number);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const RESULTS = path.join(ROOT, 'bench', 'results.json');

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
  const all = Array.from({ length: runs }, () => worker(...args));
  const out = { ...all[0] };
  for (const k of Object.keys(out)) if (typeof out[k] === 'number') out[k] = median(all.map((r) => r[k]));
  out.pulumiLoaded = all.some((r) => r.pulumiLoaded);
  return out;
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
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'tagflow.js'), ...args], { cwd: ROOT, encoding: 'utf8' });
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
  const results = { date: new Date().toISOString(), machine: machine(), runs: RUNS, sizes: {}, targets: [] };
  try {
    for (const n of SIZES) {
      const dir = path.join(work, `n${n}`);
      fs.mkdirSync(dir);
      writeModel(dir, n);
      const runs = n >= 1000 ? Math.min(RUNS, 3) : RUNS;
      const synth = measure(runs, 'synth', dir, 'bench', path.join(dir, 'out'));
      const dump = path.join(dir, 'objects.json');
      worker('objects', dir, 'bench', dump);
      const floor = measure(runs, 'floor', dump, path.join(dir, 'floor'));
      const check = measure(runs, 'check', path.join(dir, 'out'));
      const readParse = measure(runs, 'read-parse', path.join(dir, 'out'));
      const simulate = measure(runs, 'simulate', dir, 'bench', path.join(dir, 'tags.json'));
      const row = {
        apps: n,
        objects: synth.objects,
        files: synth.files,
        synthMs: synth.ms,
        synthMaxRssMB: synth.maxRssMB,
        objectsPerSecond: Math.round((synth.objects / synth.ms) * 1000),
        floorMs: floor.ms,
        synthOverFloor: synth.ms / floor.ms,
        checkMs: check.ms,
        readParseMs: readParse.ms,
        checkOverReadParse: check.ms / readParse.ms,
        checkMaxRssMB: check.maxRssMB,
        simulateMs: simulate.ms,
        simulateMaxRssMB: simulate.maxRssMB,
        findings: synth.findings,
        pulumiLoaded: { synth: synth.pulumiLoaded, check: check.pulumiLoaded, simulate: simulate.pulumiLoaded },
      };
      results.sizes[n] = row;
      process.stderr.write(`bench: ${n} apps done (synth ${row.synthMs.toFixed(0)} ms)\n`);
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
    t('synth 1,000 apps / floor', +big.synthOverFloor.toFixed(2), '<= 3', big.synthOverFloor <= 3);
    t('synth peak memory, 1,000 apps (MB)', big.synthMaxRssMB, '< 512', big.synthMaxRssMB < 512);
    t('check 1,000 apps / read+parse', +big.checkOverReadParse.toFixed(2), '<= 2', big.checkOverReadParse <= 2);
    t('check peak memory, 1,000 apps (MB)', big.checkMaxRssMB, '< 512', big.checkMaxRssMB < 512);
  }
  if (big && mid) t('synth time 1,000 / 100 apps', +(big.synthMs / mid.synthMs).toFixed(2), '<= 12', big.synthMs / mid.synthMs <= 12);
  for (const [kind, v] of Object.entries(r.eval10k)) t(`policy eval 10,000 tags, ${kind} (ms)`, +v.ms.toFixed(1), '< 100', v.ms < 100);
  t('tagflow --help cold start (ms)', Math.round(r.coldStart.helpMs), '< 300', r.coldStart.helpMs < 300);
  const loaded = Object.values(r.sizes).some((s) => s.pulumiLoaded.synth || s.pulumiLoaded.check || s.pulumiLoaded.simulate);
  t('synth, check, simulate load @pulumi/*', loaded ? 'yes' : 'no', 'no', !loaded);
}

function formatTable(r) {
  const fmt = (x, d = 0) => (typeof x === 'number' ? x.toFixed(d) : String(x));
  const rows = [['apps x 3 tiers', 'objects', 'synth ms', 'floor ms', 'synth/floor', 'obj/s', 'synth MB', 'check ms', 'read+parse ms', 'check/read', 'simulate ms']];
  for (const s of Object.values(r.sizes)) {
    rows.push([fmt(s.apps), fmt(s.objects), fmt(s.synthMs), fmt(s.floorMs), fmt(s.synthOverFloor, 2), fmt(s.objectsPerSecond), fmt(s.synthMaxRssMB), fmt(s.checkMs), fmt(s.readParseMs), fmt(s.checkOverReadParse, 2), fmt(s.simulateMs)]);
  }
  const table = (rs) => {
    const w = rs[0].map((_, i) => Math.max(...rs.map((x) => String(x[i]).length)));
    return rs.map((x) => '| ' + x.map((c, i) => String(c).padEnd(w[i])).join(' | ') + ' |').join('\n').replace(/\n/, `\n|${w.map((n) => '-'.repeat(n + 2)).join('|')}|\n`);
  };
  const m = r.machine;
  const lines = [`Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGB} GB, Node ${m.node} (${r.date.slice(0, 10)}, median of ${r.runs} runs; 3 at 1,000 apps)`, '', table(rows), ''];
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
  return lines.join('\n');
}

if (require.main === module) process.exitCode = main();
module.exports = { writeModel };
