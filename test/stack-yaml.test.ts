import * as fs from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { loadStack, loadStackText } from '../src/model/load';
import { ConfigError } from '../src/model/errors';
import { LIMITS } from '../src/limits';
import { cliAsync } from './support/cli';
import { sampleEnvironment, snapshotTree, tmpDir } from './support/tree';

/** A stack file's text: the sample environment as YAML, with `apps:` replaced by the given block. */
function stackText(appsBlock: string, prefix = ''): string {
  const { apps: _apps, ...env } = sampleEnvironment();
  const head = stringify({ config: { 'tagflow:environment': env } })
    .split('\n')
    .map((l) => l)
    .join('\n');
  return `${prefix}${head}    apps:\n${appsBlock}`;
}

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('no error');
}

describe('stack files: YAML aliases, tags and errors', () => {
  test('hundreds of apps sharing anchors (alias and merge key) load', () => {
    const prefix = 'x-common: &common { replicaCount: 2, resources: { limits: { memory: 256Mi } } }\nx-app: &app { chart: { bundled: true } }\n';
    const apps = Array.from({ length: 500 }, (_, i) => `      - <<: *app\n        name: app-${i}\n        values: *common\n`).join('');
    const env = loadStackText(stackText(apps, prefix), 'Pulumi.many.yaml');
    const dev = env.tiers.find((t) => t.name === 'dev')!;
    expect(dev.apps).toHaveLength(500);
    expect(dev.apps[499]!.values).toEqual({ replicaCount: 2, resources: { limits: { memory: '256Mi' } } });
  });

  test('an alias bomb fails fast with a clear error', () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    const text = `${levels.join('\n')}\nconfig:\n  tagflow:environment: *i\n`;
    const t0 = Date.now();
    expect(errorOf(() => loadStackText(text, 'Pulumi.bomb.yaml'))).toMatch(/^Pulumi\.bomb\.yaml: tagflow:environment: (uses YAML aliases more than 10000 times|expands to more than 1000000 values)/);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  test.each([
    ['!!set', 'x: !!set\n  ? a\n  ? b\n', /^Pulumi\.t\.yaml:1:4: YAML tag !!set is not allowed: a stack file holds JSON values/],
    ['!!binary', 'x: !!binary aGVsbG8=\n', /^Pulumi\.t\.yaml:1:4: YAML tag !!binary is not allowed/],
    ['!!omap', 'x: !!omap\n  - a: 1\n', /^Pulumi\.t\.yaml:1:4: YAML tag !!omap is not allowed/],
    ['a custom tag', 'x: !vault secret/db\n', /^Pulumi\.t\.yaml:1:4: is not valid YAML: Unresolved tag: !vault/],
    ['!!timestamp', 'x: !!timestamp 2001-12-14\n', /^Pulumi\.t\.yaml:1:4: YAML tag !!timestamp is not allowed/],
  ])('a non-JSON tag (%s) is a one-line error with its line and column', (_name, yamlText, message) => {
    const msg = errorOf(() => loadStackText(yamlText, 'Pulumi.t.yaml'));
    expect(msg).toMatch(message);
    expect(msg).not.toContain('\n');
  });

  test.each([
    // The quote opens on line 3 and the file ends on line 6: the error names where the string starts.
    ['an unterminated quote', 'config:\n  tagflow:environment:\n    name: "dev\n    aws: {}\n    tiers: {}\n', 3, 11, /Missing closing "quote/],
    ['a bad indentation', 'config:\n  tagflow:environment:\n    name: dev\n     aws: {}\n', 3, 11, /mappings are not allowed in compact mappings/],
    ['a duplicate key', 'config:\n  tagflow:environment:\n    name: dev\n    name: prod\n', 4, 5, /Map keys must be unique/],
    ['a tab as indentation', 'config:\n\ttagflow:environment: {}\n', 2, 1, /Tabs are not allowed as indentation/],
    ['an unclosed flow sequence', 'config:\n  tagflow:environment:\n    apps: [\n      {name: a},\n', 3, 11, /Missing , or ]|Flow sequence|must be sufficiently indented|Missing closing/],
  ])('%s: one line naming the line and column', (_name, text, line, col, message) => {
    const msg = errorOf(() => loadStackText(text, 'Pulumi.y.yaml'));
    expect(msg.startsWith(`Pulumi.y.yaml:${line}:${col}: is not valid YAML: `)).toBe(true);
    expect(msg).toMatch(message);
    expect(msg).not.toContain('\n');
  });

  test('a file above the size bound is refused before it is read or parsed', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'Pulumi.huge.yaml');
    // 50 MB: one long value, as in the report (19 s and 2.4 GB before).
    const fd = fs.openSync(file, 'w');
    fs.writeSync(fd, 'config:\n  tagflow:environment:\n    name: "');
    const chunk = Buffer.alloc(1 << 20, 'a');
    for (let i = 0; i < 50; i++) fs.writeSync(fd, chunk);
    fs.writeSync(fd, '"\n');
    fs.closeSync(fd);
    const t0 = Date.now();
    expect(errorOf(() => loadStack(dir, 'huge'))).toMatch(/^Pulumi\.huge\.yaml: tagflow:environment: is 52428\d\d\d bytes; a stack file may be at most 4194304 bytes \(4 MiB\)$/);
    expect(Date.now() - t0).toBeLessThan(500);
  });

  test('long fields and long Helm values are bounded separately, naming the field', () => {
    const long = 'a'.repeat(LIMITS.fieldLength + 1);
    const env = { ...sampleEnvironment(), gitops: { ...sampleEnvironment().gitops, url: `https://github.com/acme/${long}` } };
    const text = stringify({ config: { 'tagflow:environment': env } });
    expect(errorOf(() => loadStackText(text, 'Pulumi.l.yaml'))).toMatch(/^Pulumi\.l\.yaml: tagflow:environment\.gitops\.url: "https:\/\/github\.com\/acme\/a+" is 2073 characters; a field may be at most 2048$/);
    // A certificate-sized string is fine in values, a 300 KB one is not.
    const ok = sampleEnvironment({ apps: [{ name: 'api', values: { ca: 'c'.repeat(10_000) } }] });
    expect(() => loadStackText(stringify({ config: { 'tagflow:environment': ok } }), 'Pulumi.l.yaml')).not.toThrow();
    const big = sampleEnvironment({ apps: [{ name: 'api', values: { ca: 'c'.repeat(LIMITS.valuesStringLength + 1) } }] });
    expect(errorOf(() => loadStackText(stringify({ config: { 'tagflow:environment': big } }), 'Pulumi.l.yaml'))).toMatch(
      /tagflow:environment\.apps\[0\]\.values\.ca: "c+" is 262145 characters; a string in Helm values or an inline config file may be at most 262144$/,
    );
  });

  test('a stack name cannot leave the config folder', () => {
    expect(errorOf(() => loadStack(tmpDir(), '../etc/passwd'))).toMatch(/stack name '\.\.\/etc\/passwd' must be letters, digits/);
  });

  test('plan and synth reject the same YAML error with the same line, and write nothing', async () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'Pulumi.bad.yaml'), 'config:\n  tagflow:environment:\n    name: "bad\n    tiers: {}\n');
    const out = path.join(dir, 'out');
    fs.mkdirSync(out);
    const before = snapshotTree(out);
    const synth = await cliAsync(['synth', '--stack', 'bad', '--config-dir', dir, '--out', out]);
    const plan = await cliAsync(['plan', '--stack', 'bad', '--config-dir', dir]);
    expect(synth.code).toBe(2);
    expect(plan.code).toBe(2);
    expect(synth.err).toBe('tagflow: Pulumi.bad.yaml:3:11: is not valid YAML: Missing closing "quote\n');
    expect(plan.err).toBe(synth.err);
    expect(snapshotTree(out)).toEqual(before);
  });
});
