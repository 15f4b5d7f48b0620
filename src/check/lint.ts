import * as fs from 'node:fs';
import * as path from 'node:path';
import { isMap, parseAllDocuments, type Document } from 'yaml';
import { compileGoRegex, expandGoTemplate, goRegexError, templateRefs } from '../engines/policy/go-regex';
import { semverRangeError } from '../engines/policy/masterminds-semver';
import { findMarkedValues, isTooDeep, lineFinder, markersByLine, parseMarkerComment, UNTRUSTED_YAML, type ImagePolicyMarker, type ParsedDocument } from '../engines/markers/marker';
import { isScannedFile, resolveUpdatePath } from '../engines/markers/setters';
import { TIER_NAMES } from '../model/environment';
import { LIMITS } from '../limits';
import { TIER_PRESETS, type ResolvedEnvironment } from '../model/tiers';
import { renderTag } from '../model/tag-scheme';

/**
 * `tagflow check`: lints a GitOps tree (tagflow's output or any Flux repository) for the mistakes Flux
 * image automation only shows after the fact, if at all.
 */
export interface Finding {
  readonly file: string;
  readonly line: number;
  readonly rule: string;
  readonly message: string;
  /** A warning is reported but does not fail check or synth (absent: an error). */
  readonly severity?: 'warning';
}

/**
 * What only the stack knows: the stacks that wrote the tree. With them, check also warns about release
 * tiers promoted without a signature gate (rule release-without-signature-gate).
 */
export interface LintContext {
  readonly stacks?: readonly ResolvedEnvironment[];
}

export class UnreadableTreeError extends Error {
  public readonly exitCode = 2;
}

/**
 * What the rules read: Flux image.toolkit objects and the markers of a tree, each able to tell its line.
 * `tagflow check` builds them from the files it parses; `tagflow synth` from the documents it renders
 * (before anything is written), so both run the same rules and nothing is parsed twice. Lines are asked
 * for only when a rule reports something.
 */
export interface LintObject {
  readonly file: string;
  readonly obj: any;
  /** 1-based line of a key path of the object (its document's first line for []). */
  lineAt(keyPath: readonly string[]): number;
}

export interface LintMarker {
  readonly file: string;
  readonly marker: ImagePolicyMarker;
  /** 1-based line of the marked value. */
  line(): number;
}

export interface LintDocuments {
  readonly objects: readonly LintObject[];
  readonly markers: readonly LintMarker[];
}

/** Line of a key path inside a document, or the document's first line. */
function lineIn(line: (offset: number) => number, doc: Document, keyPath: readonly string[]): number {
  const node = (keyPath.length ? doc.getIn(keyPath, true) : undefined) as { range?: [number, number, number] } | undefined;
  const fallback = (doc.contents as { range?: [number, number, number] } | null)?.range?.[0] ?? 0;
  return line(node?.range?.[0] ?? fallback);
}

const IMAGE_API = 'image.toolkit.fluxcd.io/';

/** Is this (rendered or parsed) object one the rules read? */
export function isImageAutomationObject(obj: unknown): boolean {
  const o = obj as { apiVersion?: unknown; kind?: unknown } | null;
  return typeof o?.apiVersion === 'string' && o.apiVersion.startsWith(IMAGE_API) && typeof o.kind === 'string';
}

function walk(root: string, dir: string, out: string[]): void {
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (e.name === '.git' || e.name === 'node_modules' || e.name === '.tagflow') continue;
    const full = path.join(dir, e.name);
    if (e.isDirectory()) {
      // Helm chart templates are not YAML; a chart folder is not scanned.
      if (fs.existsSync(path.join(full, 'Chart.yaml'))) continue;
      walk(root, full, out);
    } else if (e.isFile() && isScannedFile(e.name)) out.push(path.relative(root, full).split(path.sep).join('/'));
  }
}

/** The YAML files `tagflow check` reads in a tree (relative paths, sorted). */
export function treeFiles(root: string): string[] {
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) throw new UnreadableTreeError(`${root}: not a folder`);
  const rels: string[] = [];
  walk(root, root, rels);
  return rels;
}

/** Reads and parses a tree's files (each once, and only those with a marker or an image.toolkit object). */
export function loadTree(root: string, onFile?: (done: number, total: number) => void): LintDocuments {
  const rels = treeFiles(root);
  const objects: LintObject[] = [];
  const markers: LintMarker[] = [];
  rels.forEach((rel, i) => {
    onFile?.(i, rels.length);
    const full = path.join(root, rel);
    const size = fs.statSync(full).size;
    if (size > LIMITS.treeFileBytes) throw new UnreadableTreeError(`${full}: is ${size} bytes; check reads YAML files of at most ${LIMITS.treeFileBytes} bytes (16 MiB)`);
    const text = fs.readFileSync(full, 'utf8');
    try {
      loadFile(rel, full, text, objects, markers);
    } catch (e) {
      if (isTooDeep(e)) throw new UnreadableTreeError(`${full}: the YAML nests too deeply to parse`);
      throw e;
    }
  });
  return { objects, markers };
}

function loadFile(rel: string, full: string, text: string, objects: LintObject[], markers: LintMarker[]): void {
  // Only files that hold a marker or an image.toolkit object need parsing (each is parsed once).
  const hasMarker = text.includes('"$imagepolicy"');
  const hasObjects = text.includes(IMAGE_API);
  if (!hasMarker && !hasObjects) return;
  if (!hasObjects) {
    // Markers only (a HelmRelease): read by lines when every line is simple, as the parse would find them.
    const byLine = markersByLine(text);
    if (byLine) {
      for (const m of byLine) markers.push({ file: rel, marker: m.marker, line: () => m.line });
      return;
    }
  }
  const docs = parseAllDocuments(text, UNTRUSTED_YAML);
  const line = lineFinder(text);
  if (hasMarker) {
    for (const mv of findMarkedValues(text, docs)) {
      const at = mv.line; // the number only: holding the value's node would keep the whole AST alive
      markers.push({ file: rel, marker: mv.marker, line: () => at });
    }
  }
  // The documents are not kept: a key's line (asked only for a finding) comes from parsing the text again.
  let reparsed: ParsedDocument[] | undefined;
  const keyLine = (i: number, keyPath: readonly string[]) => lineIn(line, (reparsed ??= parseAllDocuments(text, UNTRUSTED_YAML))[i] as Document, keyPath);
  for (const [i, doc] of docs.entries()) {
    if (!('errors' in doc) || doc.errors.length || !isMap(doc.contents)) continue;
    const apiVersion = doc.get('apiVersion');
    if (typeof apiVersion !== 'string' || !apiVersion.startsWith(IMAGE_API) || typeof doc.get('kind') !== 'string') continue;
    let obj: unknown;
    try {
      obj = doc.toJS({ maxAliasCount: LIMITS.yamlAliases });
    } catch (e) {
      if (!(e instanceof ReferenceError)) throw e;
      throw new UnreadableTreeError(`${full}:${lineIn(line, doc, [])}: uses YAML aliases more than ${LIMITS.yamlAliases} times (an alias bomb?)`);
    }
    const first = lineIn(line, doc, []);
    objects.push({ file: rel, obj, lineAt: (keyPath) => (keyPath.length ? keyLine(i, keyPath) : first) });
  }
}

/**
 * The lint documents of a file tagflow renders, from its objects and their markers as built (no parse).
 * A line is found by parsing the rendered text, once per file, only when a rule reports something there.
 */
export function renderedLintDocuments(
  file: string,
  text: () => string,
  docs: readonly { readonly obj?: unknown; readonly firstLine?: number; readonly markers: readonly { readonly path: readonly string[]; readonly comment: string }[] }[],
): LintDocuments {
  let parsed: { docs: ParsedDocument[]; line: (offset: number) => number } | undefined;
  const parse = () => {
    if (!parsed) {
      const t = text();
      parsed = { docs: parseAllDocuments(t), line: lineFinder(t) };
    }
    return parsed;
  };
  const objects: LintObject[] = [];
  const markers: LintMarker[] = [];
  docs.forEach((d, i) => {
    for (const m of d.markers) {
      const marker = parseMarkerComment(m.comment);
      if (!marker) throw new Error(`rendered marker ${m.comment} in ${file} does not parse`);
      markers.push({ file, marker, line: () => lineIn(parse().line, parse().docs[i] as Document, m.path) });
    }
    // The document's first line is known from rendering; a key's line needs the parse.
    const lineAt = (keyPath: readonly string[]) => (keyPath.length === 0 && d.firstLine !== undefined ? d.firstLine : lineIn(parse().line, parse().docs[i] as Document, keyPath));
    if (isImageAutomationObject(d.obj)) objects.push({ file, obj: d.obj, lineAt });
  });
  return { objects, markers };
}

const ECR_HOST = /^(\d{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.(amazonaws\.com(\.cn)?|c2s\.ic\.gov|sc2s\.sgov\.gov)|public\.ecr\.aws)$/;

/** Can the policy's candidates (after extract) be something Go's ParseFloat rejects? */
function numericalMayFail(filter: { pattern?: string; extract?: string } | undefined): boolean {
  const pattern = filter?.pattern;
  if (!pattern) return true;
  const numericGroup = /^(\[0-9\]|\\d)(\+|\*|\{\d+(,\d*)?\})?$/;
  if (!filter?.extract) return !/^\^(\[0-9\]|\\d)(\+|\{\d+(,\d*)?\})\$$/.test(pattern);
  // Every piece of the template must be a group whose body is digits only, and no literal text.
  // The template expanded with every group empty is its literal text (Go's own parse of `$name`, `${name}`).
  const literal = expandGoTemplate(filter.extract, { groups: [], names: {} });
  if (literal.length > 0) return true;
  const groups = groupBodies(pattern);
  return templateRefs(filter.extract).some((r) => {
    const body = r.num >= 0 ? groups.byIndex[r.num] : groups.byName[r.name];
    return body === undefined || !numericGroup.test(body);
  });
}

/** A named group's opening at a given index (sticky: no copy of the pattern's tail per `(`). */
const NAMED_GROUP = /\(\?P?<([A-Za-z0-9_]+)>/y;

/** Source text of each capture group of a pattern, by index and by name. */
function groupBodies(pattern: string): { byIndex: Record<number, string>; byName: Record<string, string> } {
  const byIndex: Record<number, string> = {};
  const byName: Record<string, string> = {};
  const stack: { start: number; index?: number; name?: string }[] = [];
  let n = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '[') {
      while (i < pattern.length && pattern[i] !== ']') i++;
      continue;
    }
    if (c === '(') {
      NAMED_GROUP.lastIndex = i;
      const named = NAMED_GROUP.exec(pattern);
      if (named) {
        stack.push({ start: i + named[0].length, index: ++n, name: named[1] });
        i += named[0].length - 1;
      } else if (pattern[i + 1] === '?') stack.push({ start: i });
      else stack.push({ start: i + 1, index: ++n });
    } else if (c === ')') {
      const g = stack.pop();
      if (g?.index !== undefined) {
        byIndex[g.index] = pattern.slice(g.start, i);
        if (g.name) byName[g.name] = pattern.slice(g.start, i);
      }
    }
  }
  return { byIndex, byName };
}

/** Sample tags of each tier scheme, to detect patterns that accept another tier's tags. */
function schemeSamples(): { tier: string; tag: string }[] {
  return TIER_NAMES.map((tier) => ({ tier, tag: renderTag(TIER_PRESETS[tier].tagScheme, { time: 1700000000, sha: 'a1b2c3d', version: '1.2.3' }) }));
}

/** `tagflow check` on a tree: its files read and parsed, every rule, sorted. */
export function lint(root: string, context: LintContext = {}, onFile?: (done: number, total: number) => void): Finding[] {
  return sortFindings([...lintDocuments(root, loadTree(root, onFile), context), ...irsaFindings(root)]);
}

/** irsa-patch-unlisted: tagflow's image-reflector-controller patches that bootstrap's kustomization.yaml does not list with their target. */
export function irsaFindings(root: string, patchesOf?: (env: string) => readonly string[]): Finding[] {
  return irsaPatchProblems(root, patchesOf).map((f) => ({ ...f, rule: 'irsa-patch-unlisted', severity: 'warning' as const }));
}

export function sortFindings(findings: Finding[]): Finding[] {
  return findings.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0)));
}

/**
 * The rules over documents (a tree's or synth's). `root` is where update paths resolve: the tree's folder,
 * which need not exist (synth checks before it writes).
 */
export function lintDocuments(root: string, { objects, markers }: LintDocuments, context: LintContext = {}): Finding[] {
  const findings: Finding[] = [];
  const add = (file: string, line: number, rule: string, message: string) => findings.push({ file, line, rule, message });
  const ofKind = (kind: string) => objects.filter((o) => o.obj.kind === kind);
  const nsOf = (o: LintObject) => o.obj.metadata?.namespace ?? 'default';
  const byNsName = <T extends LintObject>(list: T[]) => new Map(list.map((o) => [`${nsOf(o)}/${o.obj.metadata?.name}`, o]));
  const policies = ofKind('ImagePolicy');
  const policyIndex = byNsName([...policies].reverse()); // the first of duplicates wins, as with find()
  const automations = ofKind('ImageUpdateAutomation');
  const usedPolicies = new Set<string>();

  // Markers.
  for (const mv of markers) {
    const file = mv.file;
    {
      const { namespace, policy, ref } = mv.marker;
      usedPolicies.add(`${namespace}/${policy}`);
      const pol = policyIndex.get(`${namespace}/${policy}`);
      if (!pol) {
        const elsewhere = policies.filter((p) => p.obj.metadata?.name === policy).map(nsOf);
        add(file, mv.line(), 'marker-unknown-policy', `marker "${ref}" names no ImagePolicy '${policy}' in namespace '${namespace}'${elsewhere.length ? ` (there is one in ${elsewhere.join(', ')}); Flux ignores it` : '; Flux ignores it'}`);
      }
      const inNs = automations.filter((a) => nsOf(a) === namespace);
      if (inNs.length === 0) {
        add(file, mv.line(), 'marker-no-automation', `marker "${ref}": no ImageUpdateAutomation in namespace '${namespace}', so nothing ever updates it`);
        continue;
      }
      const covering = inNs.filter((a) => {
        const up = resolveUpdatePath(root, a.obj.spec?.update?.path);
        const full = path.join(root, file);
        return full === up || full.startsWith(up.endsWith(path.sep) ? up : up + path.sep);
      });
      if (covering.length === 0) {
        add(file, mv.line(), 'marker-outside-update-path', `marker "${ref}" is outside the update.path of every ImageUpdateAutomation in '${namespace}' (${inNs.map((a) => a.obj.spec?.update?.path ?? '/').join(', ')}), so Flux never updates it`);
      } else if (pol) {
        const labels = pol.obj.metadata?.labels ?? {};
        const selected = covering.some((a) => Object.entries(a.obj.spec?.policySelector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v));
        if (!selected) add(file, mv.line(), 'marker-policy-not-selected', `marker "${ref}": ImagePolicy ${namespace}/${policy} is not selected by the policySelector of the automation covering this file`);
      }
    }
  }

  const repositories = ofKind('ImageRepository');
  const repositoryIndex = byNsName(repositories);
  const samples = schemeSamples();
  const regexes = new Map<string, ReturnType<typeof compileGoRegex>>();
  const compiled = (pattern: string) => {
    let re = regexes.get(pattern);
    if (!re) regexes.set(pattern, (re = compileGoRegex(pattern)));
    return re;
  };
  for (const p of policies) {
    const { obj, file } = p;
    const ns = nsOf(p);
    const name = obj.metadata?.name;
    const spec = obj.spec ?? {};
    const at = (...k: string[]) => p.lineAt(['spec', ...k]);
    if (!usedPolicies.has(`${ns}/${name}`)) add(file, p.lineAt([]), 'policy-unused', `ImagePolicy ${ns}/${name} is used by no marker`);
    const pattern = spec.filterTags?.pattern;
    let patternOk = true;
    if (typeof pattern === 'string' && pattern !== '') {
      const err = goRegexError(pattern);
      if (err) {
        patternOk = false;
        add(file, at('filterTags', 'pattern'), 'regex-invalid', `filterTags.pattern '${pattern}' does not compile under Go RE2 (${err}); the policy stalls`);
      }
    }
    if (patternOk && pattern && spec.filterTags?.extract) {
      const re = compiled(pattern);
      for (const ref of templateRefs(spec.filterTags.extract)) {
        const ok = ref.num >= 0 ? ref.num <= re.groupCount : re.groupNames.includes(ref.name);
        if (!ok) add(file, at('filterTags', 'extract'), 'extract-unknown-group', `filterTags.extract '${spec.filterTags.extract}' names group '${ref.name}', which the pattern does not define; it expands to ''`);
      }
    }
    const pol = spec.policy ?? {};
    if (pol.semver) {
      const err = semverRangeError(String(pol.semver.range ?? ''));
      if (err) add(file, at('policy', 'semver', 'range'), 'semver-range-invalid', `semver range '${pol.semver.range}' does not parse (${err}); the policy stalls`);
    } else if (pol.numerical && patternOk && numericalMayFail(spec.filterTags)) {
      add(file, at('policy', 'numerical'), 'numerical-non-number', `numerical policy: filterTags ${pattern ? `'${pattern}'${spec.filterTags?.extract ? ` extract '${spec.filterTags.extract}'` : ''}` : '(none)'} can yield a non-number, and one such tag fails the whole policy`);
    }
    if (spec.interval !== undefined && spec.digestReflectionPolicy !== 'Always') {
      add(file, at('interval'), 'interval-without-always', `interval is only allowed with digestReflectionPolicy: Always (the API server rejects it)`);
    }
    if (patternOk && pattern) {
      const re = compiled(pattern);
      const accepted = samples.filter((s) => re.test(s.tag));
      const own = obj.metadata?.labels?.['tagflow.io/tier'];
      const foreign = accepted.filter((s) => s.tier !== own);
      if ((own && foreign.length > 0) || (!own && accepted.length > 1)) {
        add(file, at('filterTags', 'pattern'), 'tier-overlap', `filterTags.pattern '${pattern}' accepts tags of the ${foreign.map((s) => `${s.tier} scheme (e.g. ${s.tag})`).join(' and ')}${own ? ` although the policy belongs to tier ${own}` : ''}`);
      }
    }
    const repoRef = spec.imageRepositoryRef ?? {};
    if (!repositoryIndex.has(`${repoRef.namespace ?? ns}/${repoRef.name}`)) {
      add(file, at('imageRepositoryRef'), 'policy-unknown-repository', `imageRepositoryRef ${repoRef.namespace ?? ns}/${repoRef.name} names no ImageRepository in this tree`);
    }
  }

  for (const r of repositories) {
    const spec = r.obj.spec ?? {};
    const image = String(spec.image ?? '');
    const at = (k: string) => r.lineAt(['spec', k]);
    const host = image.split('/')[0];
    if (image.includes('://') || image.slice(host.length).includes(':') || image.includes('@')) {
      add(r.file, at('image'), 'image-url-invalid', `image '${image}' must have no scheme, tag or digest (the controller stalls with ImageURLInvalid)`);
    }
    const provider = spec.provider ?? 'generic';
    if (provider === 'aws' && !ECR_HOST.test(host)) add(r.file, at('image'), 'aws-provider-non-ecr', `provider aws with registry '${host}', which is not ECR: login fails with 'invalid AWS registry'`);
    if (spec.secretRef && provider !== 'generic') add(r.file, at('secretRef'), 'secretref-ignored', `secretRef is ignored because provider is '${provider}' (only generic uses it)`);
    for (const [i, x] of (spec.exclusionList ?? []).entries()) {
      const err = goRegexError(String(x));
      if (err) add(r.file, at('exclusionList'), 'regex-invalid', `exclusionList[${i}] '${x}' does not compile under Go RE2 (${err})`);
    }
  }

  // release-without-signature-gate: the ImagePolicy of an app whose stack promotes it into release unsigned.
  // The release ImagePolicies by environment and app (the first of duplicates wins, as with find()).
  const releasePolicies = new Map<string, LintObject>();
  for (const o of policies) {
    const l = o.obj.metadata?.labels ?? {};
    const key = `${l['tagflow.io/environment']}/${l['tagflow.io/app']}`;
    if (l['tagflow.io/tier'] === 'release' && !releasePolicies.has(key)) releasePolicies.set(key, o);
  }
  for (const env of context.stacks ?? []) {
    for (const app of env.tiers.find((t) => t.name === 'release')?.apps ?? []) {
      if (app.promotion?.signature) continue;
      const p = releasePolicies.get(`${env.name}/${app.app}`);
      if (!p) continue;
      findings.push({
        file: p.file,
        line: p.lineAt([]),
        rule: 'release-without-signature-gate',
        severity: 'warning',
        message: `stack '${env.name}' promotes '${app.app}' into its release tier without a signature gate: any image staging ran can become a release; set promotion.gates.signature.keys (your CI's cosign public key)`,
      });
    }
  }
  return sortFindings(findings);
}

const IRSA_PATCH = /^tagflow-image-reflector-[a-z]+\.yaml$/;

/** The targets tagflow's IRSA patches need in bootstrap's kustomization.yaml, by file name suffix. */
const IRSA_TARGETS: Readonly<Record<string, string>> = { irsa: 'ServiceAccount', restart: 'Deployment' };

/** Each `clusters/<env>/flux-system/` whose kustomization.yaml does not list tagflow's patches with their target. */
function irsaPatchProblems(root: string, patchesOf?: (env: string) => readonly string[]): Omit<Finding, 'rule' | 'severity'>[] {
  const clusters = path.join(root, 'clusters');
  if (!fs.existsSync(clusters) || !fs.statSync(clusters).isDirectory()) return [];
  const out: Omit<Finding, 'rule' | 'severity'>[] = [];
  for (const env of fs.readdirSync(clusters).sort()) {
    const dir = path.join(clusters, env, 'flux-system');
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) continue;
    // The patches in the folder, or (synth, before writing) the ones it is about to write there.
    const patches = (patchesOf ? [...patchesOf(env)] : fs.readdirSync(dir)).filter((f) => IRSA_PATCH.test(f)).sort();
    if (patches.length === 0) continue;
    const rel = (f: string) => `clusters/${env}/flux-system/${f}`;
    const kfile = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'].find((f) => fs.existsSync(path.join(dir, f)));
    // Not bootstrapped yet: `flux bootstrap --path clusters/<env>` writes the kustomization.yaml later.
    if (!kfile) continue;
    let listed: { path?: unknown; target?: { kind?: unknown; name?: unknown } }[] = [];
    try {
      listed = ((parseAllDocuments(fs.readFileSync(path.join(dir, kfile), 'utf8'))[0]?.toJS() as { patches?: typeof listed } | null)?.patches ?? []) as typeof listed;
    } catch {
      continue; // not ours to lint
    }
    for (const p of patches) {
      const kind = IRSA_TARGETS[/-([a-z]+)\.yaml$/.exec(p)![1]!];
      const entry = listed.find((e) => typeof e?.path === 'string' && path.posix.normalize(e.path) === p);
      if (!entry) out.push({ file: rel(kfile), line: 1, message: `does not list ${p} under patches: add { path: ${p}, target: { kind: ${kind}, name: image-reflector-controller } } (without it the controller has no AWS role)` });
      else if (entry.target?.kind !== kind || entry.target?.name !== 'image-reflector-controller') {
        out.push({ file: rel(kfile), line: 1, message: `lists ${p} without target { kind: ${kind}, name: image-reflector-controller }: without a target the patch fails the flux-system Kustomization whenever the controller is not installed` });
      }
    }
  }
  return out;
}

/** Errors (what fails check and synth) and warnings. */
export function bySeverity(findings: readonly Finding[]): { errors: Finding[]; warnings: Finding[] } {
  return { errors: findings.filter((f) => f.severity !== 'warning'), warnings: findings.filter((f) => f.severity === 'warning') };
}

/**
 * The stacks that wrote a tree (its `.tagflow/<stack>.json` indexes) whose stack files are in `configDir`:
 * the context `tagflow check` runs with when started from the folder of the stack files.
 */
export function stacksOfTree(root: string, configDir: string, load: (dir: string, stack: string) => ResolvedEnvironment): ResolvedEnvironment[] {
  const index = path.join(root, '.tagflow');
  if (!fs.existsSync(index) || !fs.lstatSync(index).isDirectory()) return [];
  return fs
    .readdirSync(index)
    .filter((f) => /^[A-Za-z0-9][A-Za-z0-9._-]*\.json$/.test(f))
    .map((f) => f.slice(0, -'.json'.length))
    .filter((stack) => fs.existsSync(path.join(configDir, `Pulumi.${stack}.yaml`)))
    .sort()
    .map((stack) => load(configDir, stack));
}

export function formatFindings(findings: readonly Finding[]): string {
  return findings.map((f) => `${f.file}:${f.line}: ${f.severity === 'warning' ? 'warning: ' : ''}${f.rule}: ${f.message}`).join('\n');
}
