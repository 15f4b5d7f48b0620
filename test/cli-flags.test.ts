import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildProgram } from '../src/cli/main';
import { cliAsync } from './support/cli';
import { CLI_OUTPUT_COMMANDS, expectCliOutput } from './support/cli-output';
import { inTerminal } from './support/terminal';
import { REPO_ROOT, sampleEnvironment, tmpDir, writeStack } from './support/tree';

const BIN = path.join(REPO_ROOT, 'bin/tagflow.js');
const pkgVersion = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).version as string;

/** Every command of the CLI by its full name (`policy eval`), with its options. */
function commands(): { name: string; options: string[] }[] {
  const out: { name: string; options: string[] }[] = [];
  const visit = (c: ReturnType<typeof buildProgram>, prefix: string) => {
    for (const sub of c.commands) {
      const name = `${prefix}${sub.name()}`;
      if (sub.commands.length) visit(sub, `${name} `);
      else out.push({ name, options: sub.options.map((o) => o.long ?? '') });
    }
  };
  visit(buildProgram(() => undefined), '');
  return out;
}

describe('--version', () => {
  test("prints package.json's version, and {version} with --json; `tag --version` stays tag's own option", async () => {
    expect(await cliAsync(['--version'])).toEqual({ code: 0, out: `${pkgVersion}\n`, err: '' });
    expect(await cliAsync(['-V'])).toEqual({ code: 0, out: `${pkgVersion}\n`, err: '' });
    expect(expectCliOutput('version', (await cliAsync(['--version', '--json'])).out)).toEqual({ version: pkgVersion });
    expect((await cliAsync(['tag', '--tier', 'release', '--version', '3.1.4'])).out).toBe('release-3.1.4\n');
    expect((await cliAsync(['--help'])).out).toMatch(/tagflow --version/);
  });
});

describe('--json on every command, one documented shape each', () => {
  test('every command takes --json and has its shape in schema/cli-output.schema.json', () => {
    const all = commands();
    expect(all.map((c) => c.name).sort()).toEqual(['check', 'diff', 'init', 'latency', 'plan', 'policy eval', 'promote', 'schema', 'simulate', 'status', 'synth', 'tag']);
    for (const c of all) {
      expect({ command: c.name, json: c.options.includes('--json') }).toEqual({ command: c.name, json: true });
      expect(CLI_OUTPUT_COMMANDS).toContain(c.name.replace(' ', '-'));
    }
  });

  test('tag, synth, policy eval and schema print their shapes', async () => {
    expect(expectCliOutput('tag', (await cliAsync(['tag', '--tier', 'dev', '--sha', 'abcdef1', '--time', '7', '--json'])).out)).toEqual({ tag: 'branch-dev-7-abcdef1' });
    const dir = tmpDir();
    writeStack(dir, 'test', sampleEnvironment());
    const out = path.join(dir, 'gitops');
    const s = await cliAsync(['synth', '--config-dir', dir, '--out', out, '--json']);
    expect(s.code).toBe(0);
    const synth = expectCliOutput('synth', s.out);
    expect(synth).toMatchObject({ written: true, stacks: [{ stack: 'test', environment: 'test', unchanged: 0, pruned: [] }] });
    expect(synth.stacks[0].written).toHaveLength(synth.stacks[0].files); // every file is new
    expect(synth.findings.every((f: { severity?: string }) => f.severity === 'warning')).toBe(true);
    const again = expectCliOutput('synth', (await cliAsync(['synth', '--config-dir', dir, '--out', out, '--json'])).out);
    expect(again.stacks[0]).toMatchObject({ written: [], unchanged: synth.stacks[0].files });
    const pe = spawnSync(process.execPath, [BIN, 'policy', 'eval', '--json'], { input: JSON.stringify({ tags: ['release-1.2.0', 'release-1.10.0'], policy: { semver: { range: '>=1.0.0' } }, filterTags: { pattern: '^release-(?P<v>.*)$', extract: '$v' } }), encoding: 'utf8' });
    expect(expectCliOutput('policy-eval', pe.stdout)).toMatchObject({ latest: 'release-1.10.0' });
    expect(expectCliOutput('schema', (await cliAsync(['schema', '--json'])).out).title).toBe('tagflow:environment');
    const file = path.join(dir, 'cli.json');
    expect(expectCliOutput('schema', (await cliAsync(['schema', '--cli-output', '--out', file, '--json'])).out)).toEqual({ written: file });
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual(JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'schema/cli-output.schema.json'), 'utf8')));
  });
});

describe('--app and --tier', () => {
  let tree: string;
  beforeAll(async () => {
    const dir = tmpDir();
    writeStack(dir, 'test', sampleEnvironment());
    tree = path.join(dir, 'gitops');
    expect((await cliAsync(['synth', '--config-dir', dir, '--out', tree])).code).toBe(0);
    // Two findings: one in dev/api's file, one in staging/worker's.
    for (const [tier, app] of [['dev', 'api'], ['staging', 'worker']]) {
      const f = path.join(tree, `environments/test/${tier}/images/${app}.yaml`);
      fs.writeFileSync(f, fs.readFileSync(f, 'utf8').replace('provider: aws', 'provider: aws\n  secretRef:\n    name: creds'));
    }
  });

  test('check keeps the findings of the tiers and apps named', async () => {
    const rules = async (...args: string[]) => {
      const r = await cliAsync(['check', tree, ...args, '--json']);
      return expectCliOutput('check', r.out).map((f: { file: string; rule: string }) => `${f.file} ${f.rule}`);
    };
    expect(await rules()).toEqual(['environments/test/dev/images/api.yaml secretref-ignored', 'environments/test/staging/images/worker.yaml secretref-ignored']);
    expect(await rules('--tier', 'staging')).toEqual(['environments/test/staging/images/worker.yaml secretref-ignored']);
    expect(await rules('--app', 'api')).toEqual(['environments/test/dev/images/api.yaml secretref-ignored']);
    expect(await rules('--tier', 'staging', '--app', 'api')).toEqual([]);
    const clean = await cliAsync(['check', tree, '--tier', 'release']);
    expect(clean.code).toBe(0);
  });

  test('a name the tree (check) or the stack (latency) does not have is exit 2, listing the names there are', async () => {
    const typo = await cliAsync(['check', tree, '--app', 'apii']);
    expect(typo).toEqual({ code: 2, out: '', err: `tagflow: --app 'apii': the tree ${tree} has apps api, worker\n` });
    const tier = await cliAsync(['latency', '--stack', 'prod', '--tier', 'dev']);
    expect(tier).toEqual({ code: 2, out: '', err: "tagflow: --tier 'dev': environment 'prod' has tiers release\n" });
  });

  test('latency: only the tiers named', async () => {
    const all = expectCliOutput('latency', (await cliAsync(['latency', '--stack', 'dev', '--json'])).out);
    expect([...new Set(all.tiers.map((t: { tier: string }) => t.tier))]).toEqual(['dev', 'staging']);
    const staging = expectCliOutput('latency', (await cliAsync(['latency', '--stack', 'dev', '--tier', 'staging', '--json'])).out);
    expect([...new Set(staging.tiers.map((t: { tier: string }) => t.tier))]).toEqual(['staging']);
    expect(staging.tiers).toEqual(all.tiers.filter((t: { tier: string }) => t.tier === 'staging'));
  });
});

describe('progress on stderr, in a terminal only, for work over a second', () => {
  const big = () => {
    const dir = tmpDir();
    writeStack(dir, 'big', sampleEnvironment({ name: 'big', apps: Array.from({ length: 800 }, (_, i) => ({ name: `svc-${i}` })) }));
    return dir;
  };

  test('a terminal sees what synth is doing, erased at the end; a pipe sees nothing of it', async () => {
    const dir = big();
    const out = path.join(dir, 'gitops');
    const t = await inTerminal(['synth', '--config-dir', dir, '--out', out], [], dir);
    expect(t.code).toBe(0);
    expect(t.screen).toMatch(/\r\x1b\[Ktagflow: (rendering big: \d+\/\d+ files|checking|writing) \(\d+\.\ds\)/);
    // The last progress line is erased (an erase not followed by another progress line) before the output goes on.
    expect(t.screen).toMatch(/\(\d+\.\ds\)\r\x1b\[K(?!tagflow: )/);
    expect(t.screen.slice(t.screen.lastIndexOf('\x1b[K'))).not.toMatch(/tagflow: (rendering|checking|writing)/);
    expect(t.screen).toMatch(/^big: \d+ files in gitops/m);
    const piped = await cliAsync(['synth', '--config-dir', dir, '--out', path.join(dir, 'piped')]);
    expect(piped.code).toBe(0);
    expect(piped.err).not.toMatch(/rendering|\x1b/);
  }, 120_000);

  test('short work shows no progress line, even in a terminal', async () => {
    const dir = tmpDir();
    writeStack(dir, 'small', sampleEnvironment({ name: 'small', apps: [{ name: 'api' }] }));
    const t = await inTerminal(['synth', '--config-dir', dir, '--out', path.join(dir, 'o')], [], dir);
    expect(t.code).toBe(0);
    expect(t.screen).not.toMatch(/\x1b\[K/);
  });
});

describe('the progress line itself', () => {
  /** A terminal stand-in that records what is written, with a clock the test moves. */
  const fakeTerminal = (isTTY: boolean) => {
    const written: string[] = [];
    return { stream: { isTTY, columns: 40, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream, written };
  };

  test('nothing in the first second; then at most every 100 ms, cut to the width; erased by done()', () => {
    const { progress } = require('../src/cli/progress') as typeof import('../src/cli/progress');
    let t = 0;
    const term = fakeTerminal(true);
    const p = progress(term.stream, () => t);
    p.step('checking gitops: 1/6000 files');
    t = 999;
    p.step('checking gitops: 2/6000 files');
    expect(term.written).toEqual([]);
    t = 1000;
    p.step('checking gitops: 3/6000 files');
    t = 1050;
    p.step('checking gitops: 4/6000 files'); // too soon to redraw
    t = 1100;
    p.step('checking gitops: a very long name of a tree that does not fit: 5/6000 files');
    p.done();
    expect(term.written).toEqual([`\r\x1b[K${'tagflow: checking gitops: 3/6000 files (1.0s)'.slice(0, 39)}`, `\r\x1b[K${'tagflow: checking gitops: a very long name of a tree that does not fit: 5/6000 files (1.1s)'.slice(0, 39)}`, '\r\x1b[K']);
  });

  test('not a terminal: never writes', () => {
    const { progress } = require('../src/cli/progress') as typeof import('../src/cli/progress');
    let t = 0;
    const term = fakeTerminal(false);
    const p = progress(term.stream, () => t);
    t = 5000;
    p.step('x');
    p.done();
    expect(term.written).toEqual([]);
  });
});
