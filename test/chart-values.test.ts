import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import Ajv from 'ajv';
import { parse, parseAllDocuments } from 'yaml';
import { bundledChartFiles } from '../src/gitops/bundled-chart';
import { kubeTools } from './support/kube-tools';
import { synth } from '../src/gitops/synth';
import { REPO_ROOT, objectsOf, tmpDir } from './support/tree';

const schema = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'charts/app/values.schema.json'), 'utf8'));
const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

describe('charts/app values', () => {
  const out = tmpDir();
  synth({ configDir: REPO_ROOT, outDir: out });
  const releases = objectsOf(out).filter((o) => o.obj.kind === 'HelmRelease');

  test('every HelmRelease of the example stacks passes values.schema.json', () => {
    expect(releases.length).toBe(6);
    for (const { file, obj } of releases) {
      validate(obj.spec.values);
      expect({ file, errors: validate.errors ?? null }).toEqual({ file, errors: null });
    }
  });

  test('chart defaults pass the schema once tagflow sets the image', () => {
    const defaults = parse(fs.readFileSync(path.join(REPO_ROOT, 'charts/app/values.yaml'), 'utf8'));
    defaults.image = { ...defaults.image, repository: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/app', tag: 'release-1.0.0' };
    expect(validate(defaults)).toBe(true);
  });

  test('the schema rejects what the chart cannot render', () => {
    const v = structuredClone(releases[0].obj.spec.values);
    expect(validate({ ...v, image: { ...v.image, tag: 'has space' } })).toBe(false);
    expect(validate({ ...v, replicaCount: 'two' })).toBe(false);
    expect(validate({ ...v, unknownKey: 1 })).toBe(false);
    expect(validate({ ...v, image: { ...v.image, digest: 'md5:abc' } })).toBe(false);
  });

  test('the bundled chart is written into the tree the HelmReleases reference', () => {
    for (const { obj } of releases) {
      const chartPath = obj.spec.chart.spec.chart.replace(/^\.\//, '');
      expect(fs.existsSync(path.join(out, chartPath, 'Chart.yaml'))).toBe(true);
      expect(fs.existsSync(path.join(out, chartPath, 'values.schema.json'))).toBe(true);
    }
  });
});

/** Kubernetes label values: at most 63 characters, alphanumerics with '-', '_' or '.' inside (no '+'). */
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

describe('charts/app rendered by real helm with the synthesized HelmReleases', () => {
  const { helm } = kubeTools();
  const out = tmpDir();
  synth({ configDir: REPO_ROOT, outDir: out });
  const releases = objectsOf(out).filter((o) => o.obj.kind === 'HelmRelease');
  const render = (values: unknown, release = 'app') => {
    const f = path.join(tmpDir(), 'values.json');
    fs.writeFileSync(f, JSON.stringify(values));
    return parseAllDocuments(execFileSync(helm, ['template', release, path.join(out, 'charts/app'), '-f', f], { encoding: 'utf8' }))
      .map((d) => d.toJS())
      .filter(Boolean);
  };

  test('the chart in the tree carries its content hash as build metadata, and every label value is one the API server accepts', () => {
    const chart = parse(fs.readFileSync(path.join(out, 'charts/app/Chart.yaml'), 'utf8'));
    expect(chart.version).toMatch(/^0\.1\.0\+[0-9a-f]{12}$/);
    for (const { obj } of releases) {
      for (const o of render({ ...obj.spec.values, image: { ...obj.spec.values.image, tag: 'branch-dev-1700000000-abc1234' } }, obj.spec.releaseName)) {
        const labels = { ...o.metadata.labels, ...(o.spec?.template?.metadata?.labels ?? {}) };
        for (const [k, v] of Object.entries(labels)) expect({ kind: o.kind, k, v, ok: LABEL_VALUE.test(String(v)) && String(v).length <= 63 }).toEqual({ kind: o.kind, k, v, ok: true });
      }
    }
  });

  test('with no image selected yet the Deployment runs no pods; with one, replicaCount pods of it, probed on the container port', () => {
    const { obj } = releases.find((r) => r.obj.metadata.namespace === 'staging' && r.obj.metadata.name === 'checkout-api')!;
    const before = render(obj.spec.values).find((o) => o.kind === 'Deployment');
    expect(before.spec.replicas).toBe(0);
    const after = render({ ...obj.spec.values, image: { ...obj.spec.values.image, tag: 'branch-staging-1700000000-abc1234' } }).find((o) => o.kind === 'Deployment');
    expect(after.spec.replicas).toBe(2);
    const c = after.spec.template.spec.containers[0];
    expect(c.image).toBe('111122223333.dkr.ecr.eu-west-1.amazonaws.com/checkout-api:branch-staging-1700000000-abc1234');
    expect(c.readinessProbe.tcpSocket).toEqual({ port: 'http' });
    expect(c.livenessProbe.tcpSocket).toEqual({ port: 'http' });
    const http = render({ ...obj.spec.values, image: { ...obj.spec.values.image, tag: 'x1' }, probes: { httpPath: '/healthz' } }).find((o) => o.kind === 'Deployment');
    expect(http.spec.template.spec.containers[0].readinessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
  });

  test('a changed chart file changes the stamped version; the same chart gives the same version', () => {
    const copy = path.join(tmpDir(), 'app');
    fs.cpSync(path.join(REPO_ROOT, 'charts/app'), copy, { recursive: true });
    const version = (dir: string) => parse(bundledChartFiles(dir).get('charts/app/Chart.yaml')!.toString()).version;
    expect(version(copy)).toBe(parse(fs.readFileSync(path.join(out, 'charts/app/Chart.yaml'), 'utf8')).version);
    fs.appendFileSync(path.join(copy, 'templates/service.yaml'), '\n');
    expect(version(copy)).not.toBe(parse(fs.readFileSync(path.join(out, 'charts/app/Chart.yaml'), 'utf8')).version);
  });
});
