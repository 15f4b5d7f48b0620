import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv';
import { parse } from 'yaml';
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
