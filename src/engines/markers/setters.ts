import * as fs from 'node:fs';
import * as path from 'node:path';
import { isSeq, parseAllDocuments, visit, type Scalar } from 'yaml';
import { isTooDeep, lineFinder, parseMarkerComment, UNTRUSTED_YAML, type ImagePolicyMarker } from './marker';

/**
 * image-automation-controller's Setters strategy: rewrites the scalars marked with
 * `# {"$imagepolicy": "<ns>:<name>[:tag|:name|:digest]"}` to the policy's latest image.
 *
 * Unlike kyaml, which re-serializes the file, this replaces only the bytes of each changed scalar, so
 * comments, indentation and every other byte stay as they were; on Flux's own fixtures the result is
 * byte-identical to the controller's.
 */
export interface LatestRef {
  /** Image name, e.g. `123456789012.dkr.ecr.eu-west-1.amazonaws.com/app`. */
  readonly name: string;
  readonly tag: string;
  readonly digest?: string;
}

export interface SetterChange {
  readonly file: string;
  readonly line: number;
  readonly marker: ImagePolicyMarker;
  readonly oldValue: string;
  readonly newValue: string;
}

export interface SetterContext {
  /** Namespace of the ImageUpdateAutomation: markers naming another namespace are ignored, as Flux does. */
  readonly namespace: string;
  /** Latest refs of the policies the automation selects, by policy name (policies without a latestRef are absent). */
  readonly policies: ReadonlyMap<string, LatestRef>;
}

/** The value a marker writes, by its field. */
export function setterValue(marker: ImagePolicyMarker, ref: LatestRef): string {
  switch (marker.field) {
    case 'name':
      return ref.name;
    case 'tag':
      return ref.tag;
    case 'digest':
      return ref.digest ?? '';
    case 'full':
      return `${ref.name}:${ref.tag}${ref.digest ? `@${ref.digest}` : ''}`;
  }
}

const YAML11_NON_STRING = [
  /^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/,
  /^(~|null|Null|NULL|)$/,
  /^[-+]?(0b[0-1_]+|0[0-7_]+|(0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+|[1-9][0-9_]*(:[0-5]?[0-9])+)$/,
  /^[-+]?(([0-9][0-9_]*)?\.[0-9.]*([eE][-+][0-9]+)?|[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*|\.(inf|Inf|INF))$/,
  /^\.(nan|NaN|NAN)$/,
];

/** True when a plain scalar with this text would not read as a string in YAML 1.1 (or 1.2). */
export function isYaml11NonString(s: string): boolean {
  return YAML11_NON_STRING.some((r) => r.test(s)) || /^[-+]?[0-9]+([eE][-+]?[0-9]+)?$/.test(s);
}

const SAFE_PLAIN = /^[A-Za-z0-9_./][^\s#]*$/;

function renderScalar(node: Scalar, value: string): string {
  const dq = () => JSON.stringify(value);
  switch (node.type) {
    case 'QUOTE_SINGLE':
      return `'${value.replace(/'/g, "''")}'`;
    case 'QUOTE_DOUBLE':
      return dq();
    case 'PLAIN':
      return isYaml11NonString(value) || !SAFE_PLAIN.test(value) || value.includes(': ') || value.endsWith(':') ? dq() : value;
    default:
      return dq();
  }
}


/** The marker that applies to a scalar, by Flux's placement rules, if any. */
function markerOf(node: Scalar, parent: unknown, index: unknown): ImagePolicyMarker | undefined {
  if (node.comment) return parseMarkerComment(node.comment);
  if (isSeq(parent)) {
    // A head comment on the line above a plain item of a sequence is honoured too. The yaml library
    // attaches the head comment of a sequence's first item to the sequence itself.
    const head = node.commentBefore ?? (index === 0 ? parent.commentBefore : undefined);
    if (head) return parseMarkerComment(head.split('\n').pop() ?? '');
  }
  return undefined;
}

/** Applies the setters to one file's text. Returns the new text and the changes (none: text unchanged). */
export function applySetters(text: string, ctx: SetterContext, file = ''): { text: string; changes: SetterChange[] } {
  try {
    return settersOn(text, ctx, file);
  } catch (e) {
    if (isTooDeep(e)) return { text, changes: [] }; // Flux skips files it cannot parse
    throw e;
  }
}

function settersOn(text: string, ctx: SetterContext, file: string): { text: string; changes: SetterChange[] } {
  const changes: SetterChange[] = [];
  if (!text.includes('"$imagepolicy"')) return { text, changes };
  const docs = parseAllDocuments(text, UNTRUSTED_YAML);
  const line = lineFinder(text);
  if (!Array.isArray(docs) || docs.some((d) => d.errors.length > 0)) return { text, changes }; // Flux skips files it cannot parse
  const edits: { start: number; end: number; replacement: string }[] = [];
  for (const doc of docs) {
    visit(doc, {
      Scalar(key, node, p) {
        if (key === 'key') return;
        const parent = p[p.length - 1];
        const marker = markerOf(node, parent, key);
        if (!marker || marker.namespace !== ctx.namespace) return;
        const ref = ctx.policies.get(marker.policy);
        if (!ref || !node.range) return;
        const oldValue = String(node.value ?? '');
        const newValue = setterValue(marker, ref);
        if (newValue === oldValue) return;
        edits.push({ start: node.range[0], end: node.range[1], replacement: renderScalar(node, newValue) });
        changes.push({ file, line: line(node.range[0]), marker, oldValue, newValue });
      },
    });
  }
  let out = text;
  for (const e of edits.sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.replacement + out.slice(e.end);
  return { text: out, changes };
}

/** Whether Flux's setters scan a file of this name. */
export function isScannedFile(name: string): boolean {
  return name.endsWith('.yaml') || name.endsWith('.yml') || name === 'Kustomization';
}

/** Resolves `update.path` inside the checkout as Flux does: `..` cannot escape the root. */
export function resolveUpdatePath(root: string, updatePath = ''): string {
  const clean = path.posix.normalize('/' + updatePath.replace(/\\/g, '/')).replace(/^\/+/, '');
  return path.join(root, clean);
}

function walk(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .flatMap((e) => {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) return e.name === '.git' ? [] : walk(full);
      return e.isFile() && isScannedFile(e.name) ? [full] : [];
    });
}

export interface TreeSetterResult {
  /** Changed files (path relative to the root, posix separators) and their new text. */
  readonly files: ReadonlyMap<string, string>;
  readonly changes: readonly SetterChange[];
}

/** Runs the setters over every scanned file under `update.path`; writes nothing. */
export function applySettersToTree(root: string, updatePath: string | undefined, ctx: SetterContext): TreeSetterResult {
  const texts = new Map<string, string>();
  for (const full of walk(resolveUpdatePath(root, updatePath))) {
    texts.set(path.relative(root, full).split(path.sep).join('/'), fs.readFileSync(full, 'utf8'));
  }
  return applySettersToFiles(texts, '', ctx);
}

/**
 * The same over an in-memory tree (relative posix path → text): only the files under `update.path`
 * whose names Flux scans are considered.
 */
export function applySettersToFiles(tree: ReadonlyMap<string, string>, updatePath: string | undefined, ctx: SetterContext): TreeSetterResult {
  const prefix = path.posix.normalize('/' + (updatePath ?? '').replace(/\\/g, '/')).replace(/^\/+|\/+$/g, '');
  const files = new Map<string, string>();
  const changes: SetterChange[] = [];
  for (const rel of [...tree.keys()].sort()) {
    if (prefix && rel !== prefix && !rel.startsWith(`${prefix}/`)) continue;
    if (!isScannedFile(path.posix.basename(rel)) || rel.split('/').includes('.git')) continue;
    const r = applySetters(tree.get(rel)!, ctx, rel);
    if (r.changes.length === 0) continue;
    files.set(rel, r.text);
    changes.push(...r.changes);
  }
  return { files, changes };
}
