import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { synth } from '../src/gitops/synth';
import { findMarkedValues } from '../src/engines/markers/marker';
import { loadCrdValidators } from './support/crd-validator';
import { REPO_ROOT, listTree, objectsOf, tmpDir, type TreeObject } from './support/tree';
import { fluxCrds } from './support/flux-sources';

/** The two bundled example stacks, rendered once. */
const out = tmpDir();
let objects: TreeObject[];

beforeAll(() => {
  synth({ configDir: REPO_ROOT, outDir: out });
  objects = objectsOf(out);
});

const ofKind = (kind: string) => objects.filter((o) => o.obj.kind === kind);

describe('GitOps tree of the bundled stacks', () => {
  test('has the documented layout', () => {
    const files = listTree(out);
    expect(files).toEqual(
      expect.arrayContaining([
        '.tagflow/dev.json',
        '.tagflow/prod.json',
        'charts/app/Chart.yaml',
        'charts/app/values.schema.json',
        'clusters/dev/tagflow-dev.yaml',
        'clusters/dev/tagflow-staging.yaml',
        'clusters/prod/tagflow-release.yaml',
        'environments/dev/dev/automation.yaml',
        'environments/dev/dev/images/checkout-api.yaml',
        'environments/dev/dev/releases/checkout-api.yaml',
        'environments/dev/staging/releases/payments-worker.yaml',
        'environments/prod/release/releases/payments-worker.yaml',
      ]),
    );
    // Nothing of the tiers the stacks do not run.
    expect(files.filter((f) => f.startsWith('environments/dev/release') || f.startsWith('environments/prod/dev'))).toEqual([]);
  });

  test('every object validates against the Flux and Kubernetes API schemas (registry packages)', () => {
    const script = path.join(REPO_ROOT, 'test', 'support', 'validate-k8s.mjs');
    // Kustomize patches (next to flux bootstrap's kustomization.yaml) are partial objects: checked with kustomize below.
    const whole = objects.filter((o) => !/^clusters\/[^/]+\/flux-system\//.test(o.file));
    const failures = JSON.parse(execFileSync(process.execPath, [script], { input: JSON.stringify(whole.map((o) => o.obj)), cwd: REPO_ROOT, encoding: 'utf8' }));
    expect(failures).toEqual([]);
    expect(new Set(whole.map((o) => o.obj.kind))).toEqual(
      new Set(['Namespace', 'GitRepository', 'Kustomization', 'Receiver', 'ImageUpdateAutomation', 'ServiceAccount', 'Role', 'RoleBinding', 'ImageRepository', 'ImagePolicy', 'HelmRelease']),
    );
  });

  test('the validator rejects an invalid object (the schema check can fail)', () => {
    const script = path.join(REPO_ROOT, 'test', 'support', 'validate-k8s.mjs');
    const bad = structuredClone(ofKind('ImagePolicy')[0].obj);
    bad.spec.policy = { numerical: { order: 'sideways' } };
    const failures = JSON.parse(execFileSync(process.execPath, [script], { input: JSON.stringify([bad]), cwd: REPO_ROOT, encoding: 'utf8' }));
    expect(failures).toHaveLength(1);
    expect(failures[0].error).toMatch(/order/);
  });

  test('no hand-written Flux apiVersion/kind literals outside the generated imports', () => {
    const src = listTree(path.join(REPO_ROOT, 'src')).filter((f) => f.endsWith('.ts') && !f.startsWith('flux/imports/'));
    for (const f of src) {
      const text = fs.readFileSync(path.join(REPO_ROOT, 'src', f), 'utf8');
      expect({ f, hit: /['"`][a-z]+\.toolkit\.fluxcd\.io\/v\d/.test(text) }).toEqual({ f, hit: false });
    }
  });

  test('every marker names an ImagePolicy in the namespace of an automation whose update.path covers the file', () => {
    const automations = ofKind('ImageUpdateAutomation').map((a) => ({
      ns: a.obj.metadata.namespace as string,
      path: (a.obj.spec.update.path as string).replace(/^\.\//, ''),
      selector: a.obj.spec.policySelector?.matchLabels ?? {},
    }));
    const policies = ofKind('ImagePolicy').map((p) => p.obj);
    let markers = 0;
    for (const file of listTree(out).filter((f) => f.endsWith('.yaml') && !f.startsWith('charts/'))) {
      for (const mv of findMarkedValues(fs.readFileSync(path.join(out, file), 'utf8'))) {
        markers++;
        const auto = automations.find((a) => a.ns === mv.marker.namespace && file.startsWith(a.path + '/'));
        expect({ file, ref: mv.marker.ref, automation: !!auto }).toEqual({ file, ref: mv.marker.ref, automation: true });
        const policy = policies.find((p) => p.metadata.namespace === mv.marker.namespace && p.metadata.name === mv.marker.policy);
        expect({ ref: mv.marker.ref, policy: !!policy }).toEqual({ ref: mv.marker.ref, policy: true });
        for (const [k, v] of Object.entries(auto!.selector)) expect(policy.metadata.labels[k]).toBe(v);
      }
    }
    // 2 apps x 3 tier instances x (name + tag) + 1 digest (payments-worker staging) + 2 digests (release).
    expect(markers).toBe(2 * 3 * 2 + 1 + 2);
  });

  test('markers sit on the same line as the value they set; no image until Flux selects one', () => {
    const text = fs.readFileSync(path.join(out, 'environments/dev/dev/releases/checkout-api.yaml'), 'utf8');
    expect(text).toMatch(/^ {6}tag: "" # \{"\$imagepolicy": "dev:checkout-api:tag"\}$/m);
    expect(text).toMatch(/^ {6}repository: 111122223333\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/checkout-api # \{"\$imagepolicy": "dev:checkout-api:name"\}$/m);
  });

  test('every HelmRelease impersonates its tier deployer and uses a chart from its tier source, in its own namespace', () => {
    const sas = ofKind('ServiceAccount').map((s) => `${s.obj.metadata.namespace}/${s.obj.metadata.name}`);
    const bindings = ofKind('RoleBinding').map((b) => b.obj);
    const repos = ofKind('GitRepository').map((g) => `${g.obj.metadata.namespace}/${g.obj.metadata.name}`);
    for (const { obj } of ofKind('HelmRelease')) {
      const ns = obj.metadata.namespace;
      expect(sas).toContain(`${ns}/${obj.spec.serviceAccountName}`);
      expect(bindings.some((b) => b.metadata.namespace === ns && b.subjects.some((s: any) => s.name === obj.spec.serviceAccountName))).toBe(true);
      expect(repos).toContain(`${ns}/${obj.spec.chart.spec.sourceRef.name}`);
      expect(obj.spec.chart.spec.sourceRef.namespace).toBeUndefined();
      expect(obj.spec.install.remediation.retries).toBeGreaterThan(0);
      expect(obj.spec.upgrade.remediation.retries).toBeGreaterThan(0);
      expect(obj.spec.driftDetection.mode).toBe('enabled');
    }
  });

  test('each tier Kustomization applies, into the tier namespace as its own account, the tier folder that holds its automation and releases', () => {
    for (const { obj: k } of ofKind('Kustomization')) {
      const folder = k.spec.path.replace(/^\.\//, '');
      const inFolder = objects.filter((o) => o.file.startsWith(folder + '/'));
      expect(inFolder.map((o) => o.obj.kind)).toEqual(expect.arrayContaining(['ImageUpdateAutomation', 'HelmRelease', 'ImagePolicy', 'GitRepository']));
      expect(new Set(inFolder.map((o) => o.obj.metadata.namespace))).toEqual(new Set([k.spec.targetNamespace]));
      expect(k.spec.serviceAccountName).toBe(k.metadata.name);
      expect(k.spec.sourceRef).toEqual({ kind: 'GitRepository', name: 'flux-system' });
      const git = inFolder.find((o) => o.obj.kind === 'GitRepository')!.obj;
      const auto = inFolder.find((o) => o.obj.kind === 'ImageUpdateAutomation')!.obj;
      expect(auto.spec.sourceRef).toEqual({ kind: 'GitRepository', name: git.metadata.name });
      // The automation checks out the branch the tier's source follows.
      expect(auto.spec.git.checkout.ref.branch).toBe(git.spec.ref.branch);
    }
  });

  test('nothing refers across namespaces', () => {
    const refs = (o: any): (string | undefined)[] => [
      o.spec?.sourceRef?.namespace,
      o.spec?.chart?.spec?.sourceRef?.namespace,
      o.spec?.imageRepositoryRef?.namespace,
      ...(o.spec?.resources ?? []).map((r: any) => r.namespace),
      ...(o.spec?.dependsOn ?? []).map((d: any) => d.namespace),
    ];
    for (const { file, obj } of objects) expect({ file, kind: obj.kind, refs: refs(obj).filter((r) => r !== undefined && r !== obj.metadata.namespace) }).toEqual({ file, kind: obj.kind, refs: [] });
  });

  const crds = fluxCrds();
  (crds.dir ? test : test.skip)(`every Flux object validates strictly against the upstream Flux 2.9 CRD schemas (${crds.source})`, () => {
    const validators = loadCrdValidators(crds.dir!);
    const flux = objects.filter((o) => o.obj.apiVersion.includes('.fluxcd.io/'));
    expect(flux.length).toBeGreaterThan(20);
    for (const { file, obj } of flux) {
      const validate = validators.get(`${obj.apiVersion}/${obj.kind}`);
      expect({ file, kind: obj.kind, known: !!validate }).toEqual({ file, kind: obj.kind, known: true });
      validate!(obj);
      expect({ file, kind: obj.kind, errors: validate!.errors ?? null }).toEqual({ file, kind: obj.kind, errors: null });
    }
    // A misspelt field is caught (the check can fail).
    const bad = structuredClone(ofKind('ImageRepository')[0].obj);
    bad.spec.exclusionlist = ['x'];
    expect(validators.get('image.toolkit.fluxcd.io/v1/ImageRepository')!(bad)).toBe(false);
  });

  test('no secret material is written', () => {
    for (const file of listTree(out)) {
      const text = fs.readFileSync(path.join(out, file), 'utf8');
      expect(text).not.toMatch(/BEGIN [A-Z ]*PRIVATE KEY|githubAppPrivateKey|kind: Secret/);
    }
  });

  test('re-running synth is byte-identical and rewrites nothing', () => {
    const before = new Map(listTree(out).map((f) => [f, fs.readFileSync(path.join(out, f))]));
    const mtimes = new Map(listTree(out).map((f) => [f, fs.statSync(path.join(out, f)).mtimeMs]));
    const { results } = synth({ configDir: REPO_ROOT, outDir: out });
    for (const r of results!.values()) expect(r.written).toEqual([]);
    for (const [f, b] of before) {
      expect(fs.readFileSync(path.join(out, f)).equals(b)).toBe(true);
      expect(fs.statSync(path.join(out, f)).mtimeMs).toBe(mtimes.get(f));
    }
    // A fresh folder renders the same bytes too.
    const other = tmpDir();
    synth({ configDir: REPO_ROOT, outDir: other });
    for (const [f, b] of before) expect({ f, same: fs.readFileSync(path.join(other, f)).equals(b) }).toEqual({ f, same: true });
  });
});

describe('webhook Receivers in the synthesized tree', () => {
  const out = tmpDir();
  synth({ configDir: REPO_ROOT, outDir: out });
  const objs = objectsOf(out);
  const receivers = objs.filter((o) => o.obj.kind === 'Receiver');

  test('one generic Receiver per webhook tier (dev, staging), none for release', () => {
    expect(receivers.map((r) => `${r.file} ${r.obj.metadata.namespace}/${r.obj.metadata.name}`).sort()).toEqual([
      'environments/dev/dev/automation.yaml dev/tagflow-image-push',
      'environments/dev/staging/automation.yaml staging/tagflow-image-push',
    ]);
    for (const r of receivers) expect(r.obj.spec).toMatchObject({ type: 'generic', secretRef: { name: `${r.obj.metadata.name}-token` } });
  });

  test("its resources select exactly the tier's ImageRepositories, by label", () => {
    for (const r of receivers) {
      const tier = r.obj.metadata.labels['tagflow.io/tier'];
      const [sel] = r.obj.spec.resources;
      expect(r.obj.spec.resources).toHaveLength(1);
      expect(sel).toMatchObject({ kind: 'ImageRepository', name: '*' });
      const selected = objs.filter((o) => o.obj.kind === 'ImageRepository' && o.obj.metadata.namespace === r.obj.metadata.namespace && Object.entries(sel.matchLabels).every(([k, v]) => o.obj.metadata.labels[k] === v));
      const tierRepos = objs.filter((o) => o.obj.kind === 'ImageRepository' && o.obj.metadata.labels['tagflow.io/tier'] === tier && o.file.startsWith('environments/dev/'));
      expect(selected.map((o) => o.file)).toEqual(tierRepos.map((o) => o.file));
    }
  });

  test('no token Secret and no webhook path are written to Git', () => {
    expect(objs.filter((o) => o.obj.kind === 'Secret')).toEqual([]);
    for (const f of listTree(out)) expect({ f, hook: /\/hook\/[0-9a-f]{64}|tagflow-image-push-token[\s\S]*token:/.test(fs.readFileSync(path.join(out, f), 'latin1')) }).toEqual({ f, hook: false });
  });
});
