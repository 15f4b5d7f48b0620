import * as path from 'node:path';
import { App } from 'cdk8s';
import { EnvironmentGitOps } from '../flux/environment-gitops';
import { loadStack, listStacks } from '../model/load';
import type { ResolvedEnvironment } from '../model/tiers';
import { markerValues } from '../engines/markers/marker';
import { apiObjectsOf, manifestFilesOf, renderManifestFile, type RenderedDocument } from './render';
import type { ManifestFile } from '../flux/manifest-file';
import { markersOf } from '../flux/markers';
import { planOutputs, readIndex, withTree, type TreePlan, type TreeWriteResult } from './tree-writer';
import { INDEX_DIR, inspect, readTreeFile, withFolderCache } from './tree-paths';
import { TXN_DIR, type Recovery } from './tree-journal';
import { irsaFindings, lintDocuments, renderedLintDocuments, sortFindings, type Finding, type LintDocuments } from '../check/lint';
import { LocalIoError } from '../io-errors';
import * as fs from 'node:fs';
import { ConfigError } from '../model/errors';
import { bundledChartFiles } from './bundled-chart';
import { withInitialRefs, type InitialRefs } from './initial-tags';
import { validateBundledChartValues } from './chart-values';
import { releasePullRequestWorkflow, RELEASE_PR_WORKFLOW_PATH } from './release-pr-workflow';


export interface StackOutput {
  readonly stack: string;
  readonly environment: ResolvedEnvironment;
  /** Path in the GitOps tree → content. */
  readonly files: ReadonlyMap<string, string | Buffer>;
  /** What the check reads of the rendered files (objects and markers as built, lines on demand). */
  readonly documents: LintDocuments;
}


/**
 * Marker values of the files tagflow wrote earlier in `outDir` (what Flux set there is kept). The index is
 * read once per stack; only files that carry markers are read and parsed.
 */
function preservedMarkerReader(outDir: string | undefined, stack: string): (file: ManifestFile) => Map<string, string> | undefined {
  const owned = outDir ? new Set(readIndex(outDir, stack)?.files.map((f) => f.path)) : new Set<string>();
  return (file) => {
    if (!owned.has(file.path) || !apiObjectsOf(file).some((o) => markersOf(o).length > 0)) return undefined;
    // Read through the tree's containment rules: a link standing in for the file is refused, not followed.
    const bytes = readTreeFile(outDir!, file.path);
    return bytes ? markerValues(bytes.toString('utf8')) : undefined;
  };
}

/** Builds the cdk8s constructs of one environment and renders every file of its GitOps tree. */
export function synthesizeEnvironment(environment: ResolvedEnvironment, stack: string, outDir?: string, onFile?: (done: number, total: number) => void): StackOutput {
  const source = `Pulumi.${stack}.yaml`;
  validateBundledChartValues(environment, source);
  // The App is only the construct root: tagflow renders its charts itself and never calls app.synth().
  const app = new App();
  const root = new EnvironmentGitOps(app, stack, { environment });
  const files = new Map<string, string | Buffer>();
  const preserved = preservedMarkerReader(outDir, stack);
  const objects: LintDocuments['objects'][number][] = [];
  const markers: LintDocuments['markers'][number][] = [];
  const manifestFiles = manifestFilesOf(root);
  for (const [i, f] of manifestFiles.entries()) {
    onFile?.(i, manifestFiles.length);
    const rendered: RenderedDocument[] = [];
    const text = renderManifestFile(f, source, preserved(f), rendered);
    files.set(f.path, text);
    const lintDocs = renderedLintDocuments(f.path, () => text, rendered);
    objects.push(...lintDocs.objects);
    markers.push(...lintDocs.markers);
  }
  if (root.usesBundledChart) for (const [p, content] of bundledChartFiles()) files.set(p, content);
  if (root.hasReviewedTier && opensPullRequestsOnGitHub(environment)) files.set(RELEASE_PR_WORKFLOW_PATH, releasePullRequestWorkflow());
  return { stack, environment, files, documents: { objects, markers } };
}

/** GitHub repositories get the release pull request workflow (a GitHub App, or a github.com URL). */
function opensPullRequestsOnGitHub(environment: ResolvedEnvironment): boolean {
  const g = environment.model.gitops;
  return g.githubApp !== undefined || /^(https|ssh):\/\/([^@/]+@)?github\.com\//.test(g.url);
}

export interface SynthOptions {
  /** Folder with the `Pulumi.<stack>.yaml` files. */
  readonly configDir: string;
  /** Root of the GitOps tree to write. */
  readonly outDir: string;
  /** Stacks to render; default every `Pulumi.<stack>.yaml` in configDir. */
  readonly stacks?: readonly string[];
  /** Images new HelmReleases start from, by stack (see `resolveInitialRefs`); default: none (or initialTag). */
  readonly initialRefs?: ReadonlyMap<string, InitialRefs>;
  /** Told what synth is doing (for a progress line). */
  readonly progress?: (step: string) => void;
}

export interface SynthResult {
  readonly outputs: readonly StackOutput[];
  /** The check of the rendered documents: any error (not a warning) means nothing was written. */
  readonly findings: readonly Finding[];
  /** Per stack what was written, unchanged, pruned; undefined when the check failed (nothing written). */
  readonly results?: ReadonlyMap<string, TreeWriteResult>;
  /** What was done to an earlier run found unfinished in the tree (killed, power cut). */
  readonly recovered: Recovery;
}

interface LoadedStack {
  readonly stack: string;
  readonly environment: ResolvedEnvironment;
}

/** Every stack loaded and validated (an environment name used twice is refused) before the tree is opened. */
function loadStacks(opts: SynthOptions): LoadedStack[] {
  const stacks = opts.stacks?.length ? [...opts.stacks] : listStacks(opts.configDir);
  if (stacks.length === 0) {
    throw new ConfigError(path.join(opts.configDir, 'Pulumi.<stack>.yaml'), [{ path: [], message: 'no stack files found' }]);
  }
  const environments = stacks.map((s) => ({ stack: s, environment: withInitialRefs(loadStack(opts.configDir, s), opts.initialRefs?.get(s)) }));
  const envNames = new Map<string, string>();
  for (const { stack, environment } of environments) {
    const prev = envNames.get(environment.name);
    if (prev) {
      throw new ConfigError(`Pulumi.${stack}.yaml`, [
        { path: ['name'], value: environment.name, message: `is also the environment name of stack '${prev}'; each stack renders its own clusters/<name>` },
      ]);
    }
    envNames.set(environment.name, stack);
  }
  return environments;
}

function render(environments: readonly LoadedStack[], root: string, progress?: (step: string) => void): StackOutput[] {
  return environments.map(({ stack, environment }) => {
    progress?.(`building ${stack}`);
    return synthesizeEnvironment(environment, stack, root, progress && ((i, n) => progress(`rendering ${stack}: ${i}/${n} files`)));
  });
}

/**
 * The check synth runs on what it renders, in memory, before anything is written: every rule of
 * `tagflow check` over the rendered documents (with the stacks as context), and the IRSA patch rule
 * against bootstrap's kustomization.yaml in the tree.
 */
export function checkOutputs(root: string, outputs: readonly StackOutput[]): Finding[] {
  const documents: LintDocuments = { objects: outputs.flatMap((o) => o.documents.objects), markers: outputs.flatMap((o) => o.documents.markers) };
  const patches = (env: string) => {
    const prefix = `clusters/${env}/flux-system/`;
    return outputs.flatMap((o) => [...o.files.keys()]).filter((p) => p.startsWith(prefix) && !p.slice(prefix.length).includes('/')).map((p) => p.slice(prefix.length));
  };
  return sortFindings([...lintDocuments(root, documents, { stacks: outputs.map((o) => o.environment) }), ...irsaFindings(root, patches)]);
}

export const hasErrors = (findings: readonly Finding[]) => findings.some((f) => f.severity !== 'warning');

/**
 * Renders the stacks, checks what they render, and writes them only when the check passes. Every stack is
 * loaded and validated before the tree is opened, then, under the tree's lock and after any unfinished
 * earlier run is completed, rendered (keeping the marker values in the tree), checked, and written as one
 * transaction: bad input or a failing check changes nothing on disk.
 */
export function synth(opts: SynthOptions): SynthResult {
  opts.progress?.('loading stacks');
  const environments = loadStacks(opts);
  return withTree(opts.outDir, (tree) => {
    const outputs = render(environments, tree.root, opts.progress);
    opts.progress?.('checking');
    const findings = checkOutputs(tree.root, outputs);
    if (hasErrors(findings)) return { outputs, findings, recovered: tree.recovered };
    opts.progress?.('writing');
    const results = tree.write(outputs.map((o) => ({ owner: o.stack, files: o.files })));
    return { outputs, findings, results, recovered: tree.recovered };
  });
}

export interface SynthPreview {
  readonly outputs: readonly StackOutput[];
  readonly findings: readonly Finding[];
  /** What synth would change in the tree. */
  readonly plan: TreePlan;
  /** An earlier run left `.tagflow/txn/` behind: the next synth finishes it first, this preview does not. */
  readonly interrupted: boolean;
}

/**
 * What `synth` would do to the tree, without writing anything (no lock, no journal, no folder created):
 * the same rendering (Flux's marker values in the tree kept), the same check, the same plan of writes and
 * prunes. For `tagflow diff` and `tagflow synth --check`.
 */
export function previewSynth(opts: SynthOptions): SynthPreview {
  opts.progress?.('loading stacks');
  const environments = loadStacks(opts);
  const exists = fs.existsSync(opts.outDir);
  const root = exists ? fs.realpathSync(opts.outDir) : path.resolve(opts.outDir);
  if (exists) {
    if (!fs.statSync(root).isDirectory()) throw new LocalIoError(`cannot open the tree ${opts.outDir}: a file stands where a folder must be (ENOTDIR)`);
    const kind = inspect(root, INDEX_DIR);
    if (kind !== 'missing' && kind !== 'dir') throw new LocalIoError(`${path.join(root, INDEX_DIR)} must be a folder (tagflow keeps its indexes there)`);
  }
  const interrupted = exists && inspect(root, INDEX_DIR) === 'dir' && inspect(root, TXN_DIR) !== 'missing';
  return withFolderCache(() => {
    const outputs = render(environments, root, opts.progress);
    opts.progress?.('checking');
    const findings = checkOutputs(root, outputs);
    opts.progress?.('comparing with the tree');
    const plan = planOutputs(root, outputs.map((o) => ({ owner: o.stack, files: o.files })));
    return { outputs, findings, plan, interrupted };
  });
}
