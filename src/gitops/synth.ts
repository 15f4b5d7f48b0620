import * as path from 'node:path';
import { App } from 'cdk8s';
import { EnvironmentGitOps } from '../flux/environment-gitops';
import { loadStack, listStacks } from '../model/load';
import type { ResolvedEnvironment } from '../model/tiers';
import { markerValues } from '../engines/markers/marker';
import { apiObjectsOf, manifestFilesOf, renderManifestFile } from './render';
import type { ManifestFile } from '../flux/manifest-file';
import { markersOf } from '../flux/markers';
import { readIndex, withTree, type TreeWriteResult } from './tree-writer';
import { readTreeFile } from './tree-paths';
import type { Recovery } from './tree-journal';
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
    // Read through the tree's containment rules: a link standing in for the file is refused, not followed.
    const bytes = readTreeFile(outDir!, file.path);
    return bytes ? markerValues(bytes.toString('utf8')) : undefined;
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
  /** What was done to an earlier run found unfinished in the tree (killed, power cut). */
  readonly recovered: Recovery;
}

/**
 * Renders the stacks and writes them. Every stack is loaded and validated before the tree is opened, then,
 * under the tree's lock and after any unfinished earlier run is completed, rendered (keeping the marker
 * values in the tree) and written as one transaction: bad input changes nothing on disk.
 */
export function synth(opts: SynthOptions): SynthResult {
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
  return withTree(opts.outDir, (tree) => {
    const outputs = environments.map(({ stack, environment }) => synthesizeEnvironment(environment, stack, tree.root));
    const results = tree.write(outputs.map((o) => ({ owner: o.stack, files: o.files })));
    return { outputs, results, recovered: tree.recovered };
  });
}
