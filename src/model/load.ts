import type { z } from 'zod';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isCollection, isScalar, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import { clip, LIMITS } from '../limits';
import { isTooDeep } from '../engines/markers/marker';
import { EnvironmentSchema, type Environment } from './environment';
import { ConfigError, type ConfigIssue } from './errors';
import { AWS_REGION_CONFIG, checkProviderRegion } from './provider-region';
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
  const issues: ConfigIssue[] = gateBranchIssues(result.error.issues).map((i) => {
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

/**
 * A promotion gate is `false` or its settings: when the settings are what failed, their own issues (with
 * their field paths) say more than "does not match any allowed form".
 */
function gateBranchIssues(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  return issues.flatMap((i) => {
    const p = i.path as (string | number)[];
    if (i.code !== 'invalid_union' || p[p.length - 2] !== 'gates') return [i];
    const branches = (i as { errors?: z.core.$ZodIssue[][] }).errors ?? [];
    const settings = branches.filter((b) => b.some((x) => x.path.length > 0 || x.code === 'unrecognized_keys' || x.code === 'custom'));
    if (settings.length !== 1) return [i];
    return settings[0]!.map((x) => ({ ...x, path: [...p, ...x.path] }) as z.core.$ZodIssue);
  });
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
    .map((f) => STACK_FILE.exec(f)?.[1])
    .filter((s): s is string => !!s && s !== '.' && s !== '..')
    .sort();
}

const STACK_FILE = /^Pulumi\.([A-Za-z0-9_.-]+)\.yaml$/;
const STACK_NAME = /^[A-Za-z0-9_.-]+$/;

/** YAML tags whose values are JSON (what a Pulumi config holds); anything else is refused. */
const JSON_TAGS = new Set(['tag:yaml.org,2002:str', 'tag:yaml.org,2002:int', 'tag:yaml.org,2002:float', 'tag:yaml.org,2002:bool', 'tag:yaml.org,2002:null', 'tag:yaml.org,2002:map', 'tag:yaml.org,2002:seq']);

/** Reads a stack file, refusing one above the size bound before reading it. */
function readStackFile(dir: string, stack: string): { file: string; text: string } {
  const file = `Pulumi.${stack}.yaml`;
  if (!STACK_NAME.test(stack) || stack === '.' || stack === '..') {
    throw new ConfigError(file, [{ path: [], message: `stack name '${clip(stack)}' must be letters, digits, '_', '.' and '-'` }]);
  }
  const full = path.join(dir, file);
  if (!fs.existsSync(full)) {
    const known = fs.existsSync(dir) ? listStacks(dir) : [];
    throw new ConfigError(file, [{ path: [], message: `stack file not found in ${dir} (stacks here: ${known.join(', ') || 'none'})` }]);
  }
  const fd = fs.openSync(full, 'r');
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new ConfigError(file, [{ path: [], message: `is not a file` }]);
    if (st.size > LIMITS.stackFileBytes) {
      throw new ConfigError(file, [{ path: [], message: `is ${st.size} bytes; a stack file may be at most ${LIMITS.stackFileBytes} bytes (4 MiB)` }]);
    }
    return { file, text: fs.readFileSync(fd, 'utf8') };
  } finally {
    fs.closeSync(fd);
  }
}

/** 1-based line and column of an offset. */
function position(lineCounter: LineCounter, offset: number): { line: number; col: number } {
  return lineCounter.linePos(offset);
}

/**
 * The innermost quoted scalar or flow collection whose range holds an offset: the construct an
 * "unterminated" error (reported where the file ends) is about.
 */
function openedAt(doc: Document.Parsed, offset: number): Node | undefined {
  let found: Node | undefined;
  visit(doc, (_key, node) => {
    const n = node as (Node & { flow?: boolean; type?: string }) | null;
    if (!n) return;
    const r = n.range;
    const opens = (isCollection(n) && n.flow) || (isScalar(n) && (n.type === 'QUOTE_DOUBLE' || n.type === 'QUOTE_SINGLE'));
    if (opens && r && r[0] < offset && offset <= r[1]) found = n;
  });
  return found;
}

/**
 * Parses the text of a stack file into plain JSON values, refusing what a Pulumi config cannot hold or what
 * would make the engines work without bound: YAML errors (the first, with its line and column), tags other
 * than JSON's (`!!set`, `!!binary`, `!custom`), more alias uses than LIMITS.yamlAliases, and a document
 * that expands to more than LIMITS.yamlExpandedNodes nodes.
 */
export function parseStackYaml(text: string, file: string): unknown {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, merge: true, uniqueKeys: true, prettyErrors: false, strict: true, stringKeys: false });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) {
    let offset = problem.pos[0];
    // An unterminated quote or flow collection is reported where the file ends; name where it starts.
    if (problem.code === 'MISSING_CHAR' || (problem.code === 'BAD_INDENT' && /^Flow (sequence|map)/.test(problem.message))) {
      offset = openedAt(doc, offset)?.range?.[0] ?? offset;
    }
    const at = position(lineCounter, offset);
    const message = problem.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw new ConfigError(file, [{ path: [], at, message: `is not valid YAML: ${message}` }]);
  }
  let badTag: { tag: string; offset: number } | undefined;
  visit(doc, (_key, node) => {
    const tag = (node as Node | null)?.tag;
    if (tag && !JSON_TAGS.has(tag)) {
      badTag = { tag, offset: (node as Node).range?.[0] ?? 0 };
      return visit.BREAK;
    }
    return undefined;
  });
  if (badTag) {
    const shown = badTag.tag.replace(/^tag:yaml\.org,2002:/, '!!');
    // The node's range starts at its value; the tag stands before it (on the key's line for a collection).
    const tagAt = text.lastIndexOf(shown, badTag.offset);
    throw new ConfigError(file, [{ path: [], at: position(lineCounter, tagAt >= 0 ? tagAt : badTag.offset), message: `YAML tag ${shown} is not allowed: a stack file holds JSON values (strings, numbers, booleans, null, maps, lists)` }]);
  }
  let content: unknown;
  try {
    content = doc.toJS({ maxAliasCount: LIMITS.yamlAliases });
  } catch (e) {
    if (e instanceof ReferenceError) {
      throw new ConfigError(file, [{ path: [], message: `uses YAML aliases more than ${LIMITS.yamlAliases} times (an alias bomb?): ${e.message}` }]);
    }
    throw e;
  }
  let nodes = 0;
  const count = (v: unknown): void => {
    if (++nodes > LIMITS.yamlExpandedNodes) {
      throw new ConfigError(file, [{ path: [], message: `expands to more than ${LIMITS.yamlExpandedNodes} values once its aliases are resolved (an alias bomb?)` }]);
    }
    if (Array.isArray(v)) v.forEach(count);
    else if (v !== null && typeof v === 'object') Object.values(v).forEach(count);
  };
  count(content);
  return content;
}

/** Refuses strings above the length bounds, naming the field: long values reach regular expressions. */
function checkLengths(v: unknown, p: (string | number)[], inValues: boolean, file: string): void {
  if (typeof v === 'string') {
    const max = inValues ? LIMITS.valuesStringLength : LIMITS.fieldLength;
    if (v.length > max) {
      throw new ConfigError(file, [{ path: p, value: v.slice(0, 40), message: `is ${v.length} characters; ${inValues ? 'a string in Helm values or an inline config file' : 'a field'} may be at most ${max}` }]);
    }
  } else if (Array.isArray(v)) v.forEach((x, i) => checkLengths(x, [...p, i], inValues, file));
  else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (k.length > LIMITS.fieldLength) throw new ConfigError(file, [{ path: p, message: `has a key of ${k.length} characters; keys may be at most ${LIMITS.fieldLength}` }]);
      // Helm values and inline config files (both rendered by the chart) may hold long strings.
      checkLengths(x, [...p, k], inValues || k === 'values' || (k === 'files' && p[p.length - 1] === 'config'), file);
    }
  }
}

/** The `config:` map of a stack file's text, checked as parseStackYaml does. */
export function stackConfigOf(text: string, file: string): Record<string, unknown> {
  const content = parseStackYaml(text, file);
  const config = (content as { config?: unknown } | null)?.config ?? {};
  if (typeof config !== 'object' || Array.isArray(config)) {
    throw new ConfigError(file, [{ path: [], message: `has no config: map; put the environment under config: ${CONFIG_KEY}:` }]);
  }
  return config as Record<string, unknown>;
}

/** The resolved environment of a stack file's text: what loadStack returns, for callers that hold the text. */
export function loadStackText(text: string, file: string, baseDir?: string): ResolvedEnvironment {
  try {
    const config = stackConfigOf(text, file);
    const raw = config[CONFIG_KEY];
    if (raw === undefined) {
      throw new ConfigError(file, [{ path: [], message: `is missing: put the environment under config: ${CONFIG_KEY}:` }]);
    }
    checkLengths(raw, [], false, file);
    const env = resolveEnvironment(parseEnvironment(raw, file), file, baseDir);
    // synth and the Pulumi program read one file: a stack whose AWS provider region differs from the
    // model's would create the repositories and roles elsewhere than the tree points Flux at.
    const providerRegion = config[AWS_REGION_CONFIG];
    if (providerRegion !== undefined) checkProviderRegion(env, typeof providerRegion === 'string' ? providerRegion : JSON.stringify(providerRegion), file);
    return env;
  } catch (e) {
    // The YAML parser, its visitors and the schema recurse per nesting level.
    if (isTooDeep(e)) throw new ConfigError(file, [{ path: [], message: 'nests too deeply to be read (thousands of levels)' }]);
    throw e;
  }
}

/**
 * The whole `config:` map of `Pulumi.<stack>.yaml` (every key, not only tagflow's), read and checked by the
 * same loader as synth: the offline plan needs the other keys too.
 */
export function readStackConfig(dir: string, stack: string): Record<string, unknown> {
  const { file, text } = readStackFile(dir, stack);
  loadStackText(text, file, dir);
  return stackConfigOf(text, file);
}

/** Reads `Pulumi.<stack>.yaml` and returns the resolved environment (presets and overrides applied). */
export function loadStack(dir: string, stack: string): ResolvedEnvironment {
  const { file, text } = readStackFile(dir, stack);
  return loadStackText(text, file, dir);
}
