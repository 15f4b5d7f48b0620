import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { loadStack } from '../src/model/load';
import { ConfigError } from '../src/model/errors';
import { synth } from '../src/gitops/synth';
import { kubeTools } from './support/kube-tools';
import { objectsOf, sampleEnvironment, tmpDir, writeStack } from './support/tree';

/** A stack folder with a config file next to the stack file. */
function stackWith(config: unknown, tiers: unknown = { dev: {}, staging: {} }) {
  const dir = tmpDir();
  fs.mkdirSync(path.join(dir, 'config'));
  fs.writeFileSync(path.join(dir, 'config', 'app.yaml'), 'greeting: hello\nlimit: 10\n');
  fs.writeFileSync(path.join(dir, 'config', 'big.txt'), 'x'.repeat(1024 * 1024));
  writeStack(dir, 'test', sampleEnvironment({ tiers, apps: [{ name: 'api', config }] }));
  return dir;
}

const issuesOf = (dir: string) => {
  try {
    loadStack(dir, 'test');
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  return '';
};

describe('config files', () => {
  test('inline and from a file next to the stack; a tier overrides by name; the default mount path', () => {
    const dir = stackWith({ files: { 'app.yaml': { path: 'config/app.yaml' }, 'flags.json': { content: '{"beta":false}' } } });
    const raw = fs.readFileSync(path.join(dir, 'Pulumi.test.yaml'), 'utf8');
    fs.writeFileSync(
      path.join(dir, 'Pulumi.test.yaml'),
      raw.replace('        config:', '        tiers:\n          staging:\n            config:\n              files:\n                flags.json:\n                  content: \'{"beta":true}\'\n        config:'),
    );
    const env = loadStack(dir, 'test');
    const dev = env.tiers[0]!.apps[0]!;
    const staging = env.tiers[1]!.apps[0]!;
    expect(dev.config).toEqual({ mountPath: '/etc/api', files: { 'app.yaml': 'greeting: hello\nlimit: 10\n', 'flags.json': '{"beta":false}' } });
    expect(staging.config!.files['flags.json']).toBe('{"beta":true}');
  });

  test.each([
    ['a path outside the stack folder', { files: { 'a.yaml': { path: '../etc/passwd' } } }, /apps\[0\]\.config\.files\.a\.yaml\.path: "\.\.\/etc\/passwd" must be a path inside the stack file's folder/],
    ['a missing file', { files: { 'a.yaml': { path: 'config/nope.yaml' } } }, /apps\[0\]\.config\.files\.a\.yaml\.path: "config\/nope\.yaml" does not exist/],
    ['a key Kubernetes refuses', { files: { 'my file.yaml': { content: 'x' } } }, /must be a ConfigMap key/],
    ['more than a ConfigMap holds', { files: { 'big.txt': { path: 'config/big.txt' }, 'more.txt': { content: 'x' } } }, /add up to 1048592 bytes in tier 'dev'; a ConfigMap holds at most 1048576 bytes/],
    ['an inline file over the inline bound', { files: { 'big.txt': { content: 'x'.repeat(256 * 1024 + 1) } } }, /big\.txt\.content: .* is 262145 characters; a string in Helm values or an inline config file may be at most 262144/],
    ['a relative mount path', { mountPath: 'etc/api', files: { 'a.yaml': { content: 'x' } } }, /config\.mountPath: "etc\/api" must be an absolute path/],
  ])('rejects %s', (_n, config, message) => {
    expect(issuesOf(stackWith(config))).toMatch(message);
  });

  test('a symbolic link that leaves the stack folder is refused', () => {
    const dir = stackWith({ files: { 'a.yaml': { path: 'config/link.yaml' } } });
    fs.symlinkSync('/etc/hostname', path.join(dir, 'config', 'link.yaml'));
    expect(issuesOf(dir)).toMatch(/config\/link\.yaml" resolves to \/etc\/hostname, outside the stack file's folder/);
  });

  test('the HelmRelease carries the files; real helm renders a ConfigMap, the mount and a checksum that changes with the content', () => {
    const { helm } = kubeTools();
    const dir = stackWith({ mountPath: '/etc/api', files: { 'app.yaml': { path: 'config/app.yaml' } } }, { dev: {} });
    const out = path.join(dir, 'out');
    synth({ configDir: dir, outDir: out });
    const hr = objectsOf(out).find((o) => o.obj.kind === 'HelmRelease')!.obj;
    expect(hr.spec.values.config).toEqual({ mountPath: '/etc/api', files: { 'app.yaml': 'greeting: hello\nlimit: 10\n' } });
    // Multi-line content is a YAML block in Git, so a change reads as a change of those lines in a diff.
    expect(fs.readFileSync(path.join(out, 'environments/test/dev/releases/api.yaml'), 'utf8')).toMatch(/app\.yaml: \|\n\s+greeting: hello\n\s+limit: 10\n/);
    const render = (values: unknown) => {
      const f = path.join(tmpDir(), 'v.json');
      fs.writeFileSync(f, JSON.stringify(values));
      return parseAllDocuments(execFileSync(helm, ['template', 'api', path.join(out, 'charts/app'), '-f', f], { encoding: 'utf8' })).map((d) => d.toJS()).filter(Boolean);
    };
    const values = { ...hr.spec.values, image: { ...hr.spec.values.image, tag: 'v1' } };
    const a = render(values);
    const cm = a.find((o) => o.kind === 'ConfigMap');
    expect(cm.data).toEqual({ 'app.yaml': 'greeting: hello\nlimit: 10\n' });
    const dep = a.find((o) => o.kind === 'Deployment');
    expect(dep.spec.template.spec.containers[0].volumeMounts).toContainEqual({ name: 'config', mountPath: '/etc/api', readOnly: true });
    expect(dep.spec.template.spec.volumes).toContainEqual({ name: 'config', configMap: { name: cm.metadata.name } });
    const b = render({ ...values, config: { ...values.config, files: { 'app.yaml': 'greeting: hi\nlimit: 10\n' } } });
    const sum = (objs: any[]) => objs.find((o) => o.kind === 'Deployment').spec.template.metadata.annotations['checksum/config'];
    expect(sum(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(sum(b)).not.toBe(sum(a));
  });
});
