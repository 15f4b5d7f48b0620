import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseDocument } from 'yaml';
import { EnvironmentSchema, type Environment } from './environment';
import { ConfigError, type ConfigIssue } from './errors';
import { resolveEnvironment, type ResolvedEnvironment } from './tiers';

export const CONFIG_KEY = 'tagflow:environment';

function valueAt(root: unknown, p: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const k of p) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}

/** Validates raw config (the value of `tagflow:environment`); throws ConfigError naming every bad field. */
export function parseEnvironment(raw: unknown, file: string): Environment {
  const result = EnvironmentSchema.safeParse(raw);
  if (result.success) return result.data;
  const issues: ConfigIssue[] = result.error.issues.map((i) => {
    const p = i.path as (string | number)[];
    let message = i.message;
    if (i.code === 'unrecognized_keys') message = `has unknown field(s) ${i.keys.map((k) => `'${k}'`).join(', ')}`;
    else if (i.code === 'invalid_type' && valueAt(raw, p) === undefined) message = 'is required';
    else if (i.code === 'invalid_union') message = `does not match any allowed form: ${unionHint(p)}`;
    else if (i.code === 'invalid_key') {
      // A record key broke its rule: name the key, not the value under it.
      const nested = (i as { issues?: { message: string }[] }).issues?.[0]?.message;
      return { path: p, value: p[p.length - 1], message: `key ${nested ?? message}` };
    }
    return { path: p, value: i.code === 'unrecognized_keys' ? undefined : valueAt(raw, p), message };
  });
  throw new ConfigError(file, issues);
}

function unionHint(p: readonly (string | number)[]): string {
  const last = p[p.length - 1];
  if (last === 'policy') return "one of {semver: {range}}, {numerical: {order}}, {alphabetical: {order}}";
  if (last === 'chart') return "one of {bundled: true}, {oci: {url, tag|semver}}, {helmRepository: {url, chart, version}}";
  return 'see schema/environment.schema.json';
}

/** The stack names bundled in a project folder (`Pulumi.<stack>.yaml`), sorted. */
export function listStacks(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .map((f) => /^Pulumi\.([A-Za-z0-9_.-]+)\.yaml$/.exec(f)?.[1])
    .filter((s): s is string => !!s)
    .sort();
}

/** Reads `Pulumi.<stack>.yaml` and returns the resolved environment (presets and overrides applied). */
export function loadStack(dir: string, stack: string): ResolvedEnvironment {
  const file = `Pulumi.${stack}.yaml`;
  const full = path.join(dir, file);
  if (!fs.existsSync(full)) {
    const known = fs.existsSync(dir) ? listStacks(dir) : [];
    throw new ConfigError(file, [{ path: [], message: `stack file not found in ${dir} (stacks here: ${known.join(', ') || 'none'})` }]);
  }
  const doc = parseDocument(fs.readFileSync(full, 'utf8'));
  if (doc.errors.length) {
    throw new ConfigError(file, doc.errors.map((e) => ({ path: [], message: `is not valid YAML: ${e.message}` })));
  }
  const content = doc.toJS() as { config?: Record<string, unknown> } | null;
  const raw = content?.config?.[CONFIG_KEY];
  if (raw === undefined) {
    throw new ConfigError(file, [{ path: [], message: `is missing: put the environment under config: ${CONFIG_KEY}:` }]);
  }
  return resolveEnvironment(parseEnvironment(raw, file), file, dir);
}
