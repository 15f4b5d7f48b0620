import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { synth } from '../src/gitops/synth';
import { irsaPatchPaths } from '../src/flux/environment-gitops';
import { IDENTITY_ANNOTATION } from '../src/flux/controller-restart-patch';
import { kubeTools } from './support/kube-tools';
import { lint } from '../src/check/lint';
import { REPO_ROOT, tmpDir } from './support/tree';

/**
 * The IRSA wiring for image-reflector-controller, run through real kustomize (kubectl 1.34) the way
 * kustomize-controller builds flux bootstrap's `clusters/<env>/flux-system/kustomization.yaml`.
 */
const { kubectl } = kubeTools();
const out = tmpDir();
synth({ configDir: REPO_ROOT, outDir: out, stacks: ['dev'] });
const paths = irsaPatchPaths('dev');
const dir = path.join(out, path.dirname(paths.serviceAccount));

/** What the README tells users to add to bootstrap's kustomization.yaml. */
const kustomization = {
  apiVersion: 'kustomize.config.k8s.io/v1beta1',
  kind: 'Kustomization',
  resources: ['gotk-components.yaml'],
  patches: [
    { path: path.basename(paths.serviceAccount), target: { kind: 'ServiceAccount', name: 'image-reflector-controller' } },
    { path: path.basename(paths.restart), target: { kind: 'Deployment', name: 'image-reflector-controller' } },
  ],
};

const deployment = (name: string) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: 'flux-system' },
  spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'manager', image: `ghcr.io/fluxcd/${name}:v1` }] } } },
});
const serviceAccount = (name: string) => ({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: 'flux-system' } });

function build(components: object[]): any[] {
  fs.writeFileSync(path.join(dir, 'gotk-components.yaml'), components.map((c) => stringify(c)).join('---\n'));
  fs.writeFileSync(path.join(dir, 'kustomization.yaml'), stringify(kustomization));
  const yaml = execFileSync(kubectl, ['kustomize', dir], { encoding: 'utf8' });
  return parseAllDocuments(yaml).map((d) => d.toJS());
}

describe('IRSA patches for flux bootstrap', () => {
  test('with the image controllers installed: the ServiceAccount gets the role, the pods an identity annotation that rolls them', () => {
    const objs = build([serviceAccount('source-controller'), serviceAccount('image-reflector-controller'), deployment('source-controller'), deployment('image-reflector-controller')]);
    const sa = objs.find((o) => o.kind === 'ServiceAccount' && o.metadata.name === 'image-reflector-controller');
    expect(sa.metadata.annotations).toEqual({ 'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/tagflow-dev-flux-image-reader' });
    const dep = objs.find((o) => o.kind === 'Deployment' && o.metadata.name === 'image-reflector-controller');
    expect(dep.spec.template.metadata.annotations[IDENTITY_ANNOTATION]).toBe('irsa arn:aws:iam::111122223333:role/tagflow-dev-flux-image-reader');
    // The patch merges: the controller keeps its containers and selector.
    expect(dep.spec.template.spec.containers[0].name).toBe('manager');
    // Nothing else is touched.
    expect(objs.find((o) => o.metadata.name === 'source-controller' && o.kind === 'ServiceAccount').metadata.annotations).toBeUndefined();
  });

  test('a plain bootstrap without the image controllers still builds (the patches match nothing)', () => {
    const objs = build([serviceAccount('source-controller'), deployment('source-controller')]);
    expect(objs.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(['Deployment/source-controller', 'ServiceAccount/source-controller']);
  });

  test('the same patch listed without a target does break the build (why the README gives targets)', () => {
    fs.writeFileSync(path.join(dir, 'gotk-components.yaml'), stringify(serviceAccount('source-controller')));
    fs.writeFileSync(path.join(dir, 'kustomization.yaml'), stringify({ ...kustomization, patches: [{ path: path.basename(paths.serviceAccount) }] }));
    expect(() => execFileSync(kubectl, ['kustomize', dir], { encoding: 'utf8', stdio: 'pipe' })).toThrow(/image-reflector-controller/);
  });
});

describe('tagflow check: the IRSA patches listed in bootstrap\'s kustomization.yaml', () => {
  const irsa = (tree: string) => lint(tree).filter((f) => f.rule === 'irsa-patch-unlisted');
  const fresh = () => {
    const o = tmpDir();
    synth({ configDir: REPO_ROOT, outDir: o, stacks: ['dev'] });
    return { o, dir: path.join(o, 'clusters/dev/flux-system') };
  };

  test('no kustomization.yaml yet (bootstrap writes it later): nothing to report', () => {
    expect(irsa(fresh().o)).toEqual([]);
  });

  test('bootstrap\'s kustomization.yaml without the patches, or without their targets: one warning each, naming what to add', () => {
    const { o, dir } = fresh();
    fs.writeFileSync(path.join(dir, 'kustomization.yaml'), stringify({ ...kustomization, patches: [{ path: 'tagflow-image-reflector-irsa.yaml' }] }));
    const f = irsa(o);
    expect(f.every((x) => x.severity === 'warning' && x.file === 'clusters/dev/flux-system/kustomization.yaml')).toBe(true);
    expect(f.map((x) => x.message)).toEqual([
      expect.stringMatching(/lists tagflow-image-reflector-irsa\.yaml without target \{ kind: ServiceAccount, name: image-reflector-controller \}/),
      expect.stringMatching(/does not list tagflow-image-reflector-restart\.yaml under patches: add \{ path: tagflow-image-reflector-restart\.yaml, target: \{ kind: Deployment/),
    ]);
  });

  test('listed as the README says: no warning', () => {
    const { o, dir } = fresh();
    fs.writeFileSync(path.join(dir, 'kustomization.yaml'), stringify(kustomization));
    expect(irsa(o)).toEqual([]);
  });
});
