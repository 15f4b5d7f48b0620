import * as fs from 'node:fs';
import * as path from 'node:path';
import { App } from 'cdk8s';
import { EnvironmentGitOps } from '../flux/environment-gitops';
import { loadStack, listStacks } from '../model/load';
import type { ResolvedEnvironment } from '../model/tiers';
import { markerValues } from '../engines/markers/marker';
import { apiObjectsOf, manifestFilesOf, renderManifestFile } from './render';
import type { ManifestFile } from '../flux/manifest-file';
import { markersOf } from '../flux/markers';
import { checkTree, readIndex, writeTree, type TreeWriteResult } from './tree-writer';
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
}


/**
 * Marker values of the files tagflow wrote earlier in `outDir` (what Flux set there is kept). The index is
 * read once per stack; only files that carry markers are read and parsed.
 */
function preservedMarkerReader(outDir: string | undefined, stack: string): (file: ManifestFile) => Map<string, string> | undefined {
  const owned = outDir ? new Set(readIndex(outDir, stack)?.files.map((f) => f.path)) : new Set<string>();
  return (file) => {
    if (!owned.has(file.path) || !apiObjectsOf(file).some((o) => markersOf(o).length > 0)) return undefined;
    const full = path.join(outDir!, file.path);
    return fs.existsSync(full) ? markerValues(fs.readFileSync(full, 'utf8')) : undefined;
  };
}

/** Builds the cdk8s constructs of one environment and renders every file of its GitOps tree. */
export function synthesizeEnvironment(environment: ResolvedEnvironment, stack: string, outDir?: string): StackOutput {
  const source = `Pulumi.${stack}.yaml`;
  validateBundledChartValues(environment, source);
  // The App is only the construct root: tagflow renders its charts itself and never calls app.synth().
  const app = new App();
  const root = new EnvironmentGitOps(app, stack, { environment });
  const files = new Map<string, string | Buffer>();
  const preserved = preservedMarkerReader(outDir, stack);
  for (const f of manifestFilesOf(root)) files.set(f.path, renderManifestFile(f, source, preserved(f)));
  if (root.usesBundledChart) for (const [p, content] of bundledChartFiles()) files.set(p, content);
  if (root.hasReviewedTier && opensPullRequestsOnGitHub(environment)) files.set(RELEASE_PR_WORKFLOW_PATH, releasePullRequestWorkflow());
  return { stack, environment, files };
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
}

export interface SynthResult {
  readonly outputs: readonly StackOutput[];
  readonly results: ReadonlyMap<string, TreeWriteResult>;
}

/**
 * Renders the stacks and writes them. Every stack is loaded, validated and rendered, and every target path
 * checked, before the first byte is written: bad input changes nothing on disk.
 */
export function synth(opts: SynthOptions): SynthResult {
  const stacks = opts.stacks?.length ? [...opts.stacks] : listStacks(opts.configDir);
  if (stacks.length === 0) {
    throw new ConfigError(path.join(opts.configDir, 'Pulumi.<stack>.yaml'), [{ path: [], message: 'no stack files found' }]);
  }
  const outputs = stacks.map((s) => synthesizeEnvironment(withInitialRefs(loadStack(opts.configDir, s), opts.initialRefs?.get(s)), s, opts.outDir));
  const envNames = new Map<string, string>();
  for (const o of outputs) {
    const prev = envNames.get(o.environment.name);
    if (prev) {
      throw new ConfigError(`Pulumi.${o.stack}.yaml`, [
        { path: ['name'], value: o.environment.name, message: `is also the environment name of stack '${prev}'; each stack renders its own clusters/<name>` },
      ]);
    }
    envNames.set(o.environment.name, o.stack);
  }
  for (const o of outputs) checkTree(opts.outDir, o.files);
  const results = new Map<string, TreeWriteResult>();
  for (const o of outputs) results.set(o.stack, writeTree(opts.outDir, o.stack, o.files));
  return { outputs, results };
}
