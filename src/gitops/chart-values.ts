import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import type { Environment } from '../model/environment';
import { ConfigError, type ConfigIssue } from '../model/errors';
import type { ResolvedEnvironment } from '../model/tiers';
import { BUNDLED_CHART_DIR } from './bundled-chart';

let validator: ValidateFunction | undefined;

/** The bundled chart's values.schema.json, compiled once (Helm checks values against it too, but only in the cluster). */
function bundledValidator(): ValidateFunction {
  if (!validator) {
    const schema = JSON.parse(fs.readFileSync(path.join(BUNDLED_CHART_DIR, 'values.schema.json'), 'utf8'));
    validator = new Ajv({ allErrors: true, strict: false }).compile(schema);
  }
  return validator;
}

function valueAt(root: unknown, keys: readonly string[]): unknown {
  let cur = root;
  for (const k of keys) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/** The stack field a bad value came from: the most specific of the three sources that sets it. */
function sourceOf(model: Environment, appIndex: number, tier: string, keys: readonly string[]): (string | number)[] {
  const app = model.apps[appIndex]!;
  const candidates: [(string | number)[], unknown][] = [
    [['apps', appIndex, 'tiers', tier, 'values'], (app.tiers as Record<string, { values?: unknown } | undefined>)[tier]?.values],
    [['tiers', tier, 'values'], model.tiers[tier]?.values],
    [['apps', appIndex, 'values'], app.values],
  ];
  for (let n = keys.length; n >= 0; n--) {
    for (const [where, values] of candidates) if (values !== undefined && valueAt(values, keys.slice(0, n)) !== undefined) return [...where, ...keys.slice(0, n)];
  }
  return ['apps', appIndex, 'values'];
}

function describe(e: ErrorObject): string {
  if (e.keyword === 'additionalProperties') return `has unknown key '${(e.params as { additionalProperty: string }).additionalProperty}' (charts/app/values.schema.json)`;
  return `${e.message ?? 'is invalid'} (charts/app/values.schema.json)`;
}

/**
 * Checks every HelmRelease's values for the bundled chart against its values.schema.json, with the image
 * tagflow sets, before anything is written; an error names the stack field the bad value came from.
 */
export function validateBundledChartValues(environment: ResolvedEnvironment, file: string): void {
  const validate = bundledValidator();
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  for (const tier of environment.tiers) {
    for (const a of tier.apps) {
      if (a.chart.kind !== 'bundled') continue;
      const values = {
        ...a.values,
        image: { ...(a.values.image as object | undefined), repository: a.image, tag: a.initialTag, ...(a.digestPinning ? { digest: a.initialDigest ?? '' } : {}) },
        ...(a.config ? { config: a.config } : {}),
      };
      if (validate(values)) continue;
      const appIndex = environment.model.apps.findIndex((x) => x.name === a.app);
      for (const e of validate.errors ?? []) {
        const keys = e.instancePath.split('/').filter(Boolean).map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
        if (e.keyword === 'additionalProperties') keys.push((e.params as { additionalProperty: string }).additionalProperty);
        const where = sourceOf(environment.model, appIndex, tier.name, keys);
        const key = `${where.join('.')}:${e.message}`;
        if (seen.has(key)) continue;
        seen.add(key);
        issues.push({ path: where, value: valueAt(values, keys), message: `${describe(e)}, for app '${a.app}' in tier '${tier.name}'` });
      }
    }
  }
  if (issues.length) throw new ConfigError(file, issues);
}
