import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { lint } from '../src/check/lint';
import { loadStack } from '../src/model/load';
import { cliAsync } from './support/cli';
import { REPO_ROOT, sampleEnvironment, tmpDir, writeStack } from './support/tree';

/** `tagflow check` run from `cwd` (the folder of the stack files, as a user runs it). */
function checkFrom(cwd: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(REPO_ROOT, 'bin/tagflow.js'), 'check', ...args], { cwd }, (e, out, err) =>
      resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out: String(out), err: String(err) }),
    );
  });
}

/** A real ECDSA P-256 public key (openssl), inline in the stack. */
const KEY = (() => {
  const dir = tmpDir();
  execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', path.join(dir, 'k.pem')]);
  return execFileSync('openssl', ['ec', '-in', path.join(dir, 'k.pem'), '-pubout'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
})();

describe('check: release-without-signature-gate (fed by the stacks that wrote the tree)', () => {
  let configDir: string;
  let tree: string;
  beforeAll(async () => {
    configDir = tmpDir('tagflow-check-gate-');
    // api is promoted without a signature gate; worker has one (its own, over the environment's scan gate).
    writeStack(
      configDir,
      'shop',
      sampleEnvironment({ name: 'shop', promotion: { gates: { scan: {} } }, apps: [{ name: 'api' }, { name: 'worker', promotion: { gates: { signature: { keys: [{ pem: KEY }] } } } }] }),
    );
    tree = tmpDir('tagflow-check-tree-');
    const r = await cliAsync(['synth', '--out', tree, '--config-dir', configDir]);
    // synth runs check's rules on what it renders: the warning prints (stderr), and does not fail it.
    expect(r.code).toBe(0);
    expect(r.err.trim().split('\n')).toEqual([expect.stringMatching(/^environments\/shop\/release\/images\/api\.yaml:\d+: warning: release-without-signature-gate: stack 'shop' promotes 'api'/)]);
  });

  it('warns (exit 0) at the ImagePolicy of each release app without a signature gate, run from the stack files', async () => {
    const r = await checkFrom(configDir, [tree]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out.trim().split('\n')).toEqual([
      expect.stringMatching(/^environments\/shop\/release\/images\/api\.yaml:\d+: warning: release-without-signature-gate: stack 'shop' promotes 'api' into its release tier without a signature gate: any image staging ran can become a release; set promotion\.gates\.signature\.keys/),
    ]);
    const line = Number(r.out.split(':')[1]);
    // The line where the ImagePolicy's document starts.
    expect(fs.readFileSync(path.join(tree, 'environments/shop/release/images/api.yaml'), 'utf8').split('\n').slice(line - 1, line + 1)).toEqual(['apiVersion: image.toolkit.fluxcd.io/v1', 'kind: ImagePolicy']);
    const json = await checkFrom(configDir, [tree, '--json']);
    expect(JSON.parse(json.out)).toEqual([expect.objectContaining({ rule: 'release-without-signature-gate', severity: 'warning', file: 'environments/shop/release/images/api.yaml' })]);
  });

  it('an environment-wide signature gate silences it; a tree checked away from its stack files cannot know', async () => {
    expect(lint(tree, { stacks: [loadStack(configDir, 'shop')] }).map((f) => f.rule)).toEqual(['release-without-signature-gate']);
    writeStack(configDir, 'gated', sampleEnvironment({ name: 'shop', promotion: { gates: { signature: { keys: [{ pem: KEY }] } } } }));
    expect(lint(tree, { stacks: [loadStack(configDir, 'gated')] })).toEqual([]);
    fs.rmSync(path.join(configDir, 'Pulumi.gated.yaml'));
    expect(await checkFrom(tmpDir(), [tree])).toEqual({ code: 0, out: '', err: '' });
  });

  it('errors still fail check (exit 1) next to warnings', async () => {
    const file = path.join(tree, 'environments/shop/dev/images/api.yaml');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('provider: aws', 'provider: aws\n  secretRef:\n    name: creds'));
    const r = await checkFrom(configDir, [tree]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/: secretref-ignored: /);
    expect(r.out).toMatch(/: warning: release-without-signature-gate: /);
  });
});
