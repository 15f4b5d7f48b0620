#!/usr/bin/env node
// One measurement in a fresh process, so peak memory (maxRSS) belongs to that measurement alone.
// Prints one JSON line: {ms, maxRssMB, ...}. Used by scripts/bench.js; reads the built lib/.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { performance } = require('node:perf_hooks');

const lib = (p) => require(path.join(__dirname, '..', 'lib', p));
const pulumiLoaded = () => Object.keys(require.cache).some((k) => /[\\/]node_modules[\\/]@pulumi[\\/]/.test(k));
const maxRssMB = () => Math.round(process.resourceUsage().maxRSS / 1024);

function listYaml(dir, prefix = '') {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listYaml(path.join(dir, e.name), `${prefix}${e.name}/`) : /\.ya?ml$/.test(e.name) ? [`${prefix}${e.name}`] : []));
}

async function main() {
  const [mode, ...args] = process.argv.slice(2);
  const out = { mode };
  switch (mode) {
    case 'synth': {
      // tagflow synth: load + validate the stack, build the constructs, render, write atomically, then check.
      const [configDir, stack, outDir] = args;
      const { synth } = lib('gitops/synth');
      const { lint } = lib('check/lint');
      const t0 = performance.now();
      const r = synth({ configDir, outDir, stacks: [stack] });
      out.ms = performance.now() - t0;
      const t1 = performance.now();
      out.findings = lint(outDir).length;
      out.checkMs = performance.now() - t1;
      out.files = r.outputs[0].files.size;
      out.objects = countObjects(outDir);
      break;
    }
    case 'objects': {
      // The floor's input: the very objects synth renders, as plain JSON per file (not timed).
      const [configDir, stack, dumpFile] = args;
      const { App } = require('cdk8s');
      const { loadStack } = lib('model/load');
      const { EnvironmentGitOps } = lib('flux/environment-gitops');
      const { manifestFilesOf, apiObjectsOf } = lib('gitops/render');
      const root = new EnvironmentGitOps(new App(), stack, { environment: loadStack(configDir, stack) });
      const files = manifestFilesOf(root).map((f) => ({ path: f.path, docs: apiObjectsOf(f).map((o) => o.toJson()) }));
      fs.writeFileSync(dumpFile, JSON.stringify(files));
      out.files = files.length;
      out.objects = files.reduce((n, f) => n + f.docs.length, 0);
      break;
    }
    case 'floor': {
      // The floor: the same objects serialized with the same library and written, without constructs.
      const [dumpFile, outDir] = args;
      const files = JSON.parse(fs.readFileSync(dumpFile, 'utf8'));
      const { Document } = require('yaml');
      const t0 = performance.now();
      for (const f of files) {
        const full = path.join(outDir, f.path);
        fs.mkdirSync(path.dirname(full), { recursive: true });
        fs.writeFileSync(full, f.docs.map((d) => new Document(d).toString({ lineWidth: 0 })).join('---\n'));
      }
      out.ms = performance.now() - t0;
      break;
    }
    case 'check': {
      const [dir] = args;
      const { lint } = lib('check/lint');
      const t0 = performance.now();
      out.findings = lint(dir).length;
      out.ms = performance.now() - t0;
      break;
    }
    case 'read-parse': {
      // check's floor: read every YAML file of the tree and parse it with the same library.
      const [dir] = args;
      const { parseAllDocuments } = require('yaml');
      const t0 = performance.now();
      let docs = 0;
      for (const rel of listYaml(dir)) docs += parseAllDocuments(fs.readFileSync(path.join(dir, rel), 'utf8')).length;
      out.ms = performance.now() - t0;
      out.docs = docs;
      break;
    }
    case 'simulate': {
      const [configDir, stack, tagsFile] = args;
      const { runSimulate } = lib('cli/commands/simulate');
      const t0 = performance.now();
      let lines = 0;
      out.exit = await runSimulate({ stack, tags: tagsFile, out: path.join(configDir, 'none'), configDir }, (s) => (lines += s.split('\n').length));
      out.ms = performance.now() - t0;
      out.lines = lines;
      break;
    }
    case 'eval': {
      // 10,000 tags per repository, one policy per kind; the median of 7 evaluations each.
      const { evaluatePolicy } = lib('engines/policy/evaluate');
      const n = Number(args[0] ?? 10000);
      const dev = Array.from({ length: n }, (_, i) => `branch-dev-${1700000000 + i * 7}-${(i * 2654435761 % 0xfffffff).toString(16).padStart(7, '0')}`);
      const rel = Array.from({ length: n }, (_, i) => `release-${Math.floor(i / 400)}.${Math.floor(i / 20) % 20}.${i % 20}`);
      const specs = {
        numerical: { tags: dev, spec: { filterTags: { pattern: '^branch-dev-(?P<ts>[0-9]+)-[0-9a-f]+$', extract: '$ts' }, policy: { numerical: { order: 'asc' } } } },
        semver: { tags: rel, spec: { filterTags: { pattern: '^release-(?P<v>[0-9]+\\.[0-9]+\\.[0-9]+)$', extract: '$v' }, policy: { semver: { range: '>=1.0.0' } } } },
        alphabetical: { tags: dev, spec: { filterTags: { pattern: '^branch-dev-(?P<ts>[0-9]+)-[0-9a-f]+$', extract: '$ts' }, policy: { alphabetical: { order: 'asc' } } } },
      };
      out.kinds = {};
      for (const [kind, { tags, spec }] of Object.entries(specs)) {
        const times = [];
        let latest;
        for (let i = 0; i < 7; i++) {
          const t0 = performance.now();
          latest = evaluatePolicy(tags, { exclusionList: ['^.*\\.sig$', '^.*\\.att$', '^.*\\.sbom$'], ...spec }).latest;
          times.push(performance.now() - t0);
        }
        out.kinds[kind] = { ms: median(times), first: times[0], latest };
      }
      break;
    }
    case 'plan': {
      const [configDir, stack] = args;
      const { offlinePlan } = lib('aws/plan');
      const t0 = performance.now();
      out.resources = (await offlinePlan(configDir, stack)).length;
      out.ms = performance.now() - t0;
      break;
    }
    default:
      throw new Error(`unknown mode ${mode}`);
  }
  out.maxRssMB = maxRssMB();
  out.pulumiLoaded = pulumiLoaded();
  process.stdout.write(JSON.stringify(out) + '\n');
}

function countObjects(dir) {
  let n = 0;
  for (const rel of listYaml(dir)) if (!rel.startsWith('charts/')) n += (fs.readFileSync(path.join(dir, rel), 'utf8').match(/^kind: /gm) ?? []).length;
  return n;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

main().catch((e) => {
  process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});
