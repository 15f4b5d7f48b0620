#!/usr/bin/env node
// One measurement in a fresh process, so peak memory (maxRSS) belongs to that measurement alone: the floors
// (timed by scripts/bench.js as whole processes, like tagflow itself), and in-process figures (simulate,
// policy eval, plan). Prints one JSON line: {ms?, maxRssMB, ...}. Reads the built lib/.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { performance } = require('node:perf_hooks');

const lib = (p) => require(path.join(__dirname, '..', 'lib', p));
const pulumiLoaded = () => Object.keys(require.cache).some((k) => /[\\/]node_modules[\\/]@pulumi[\\/]/.test(k));
const maxRssMB = () => Math.round(process.resourceUsage().maxRSS / 1024);

/** The YAML files of a tree, as tagflow check finds them (Helm chart folders are templates, not YAML). */
function listYaml(dir, prefix = '') {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory()
        ? e.name === '.tagflow' || fs.existsSync(path.join(dir, e.name, 'Chart.yaml'))
          ? []
          : listYaml(path.join(dir, e.name), `${prefix}${e.name}/`)
        : /\.ya?ml$/.test(e.name)
          ? [`${prefix}${e.name}`]
          : [],
    );
}

async function main() {
  const [mode, ...args] = process.argv.slice(2);
  const out = { mode };
  switch (mode) {
    case 'floor-synth': {
      // synth's floor, as one process: read every YAML file of the tree synth wrote, parse it, serialize
      // the same documents and write them (the yaml library's own cost of producing that tree).
      const [tree, outDir] = args;
      const { parseAllDocuments } = require('yaml');
      let docs = 0;
      for (const rel of listYaml(tree)) {
        const parsed = parseAllDocuments(fs.readFileSync(path.join(tree, rel), 'utf8'));
        docs += parsed.length;
        const full = path.join(outDir, rel);
        fs.mkdirSync(path.dirname(full), { recursive: true });
        fs.writeFileSync(full, parsed.map((d) => d.toString({ lineWidth: 0 })).join('---\n'));
      }
      out.docs = docs;
      break;
    }
    case 'floor-check': {
      // check's floor, as one process: read every YAML file of the tree and parse it with the same library.
      const [tree] = args;
      const { parseAllDocuments } = require('yaml');
      let docs = 0;
      for (const rel of listYaml(tree)) docs += parseAllDocuments(fs.readFileSync(path.join(tree, rel), 'utf8')).length;
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

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

main().catch((e) => {
  process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});
