// Reads the manifest that e2e/build/build.sh writes next to the binaries it builds.
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FLUX_CONTROLLERS } from './flux-controllers';

/** Every program startCluster runs; build.sh builds each of them. */
export const REQUIRED_COMPONENTS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok', ...FLUX_CONTROLLERS] as const;
export type ComponentName = (typeof REQUIRED_COMPONENTS)[number];

export interface BuiltComponent {
  readonly module: string;
  readonly version: string;
  readonly path: string;
  readonly cached: boolean;
  readonly buildSeconds: number;
  readonly log: string;
  readonly overrides: readonly string[];
}

export interface BuildManifest {
  readonly schemaVersion: 1;
  readonly cacheDir: string;
  readonly crdDir: string;
  readonly kwokStagesDir: string;
  readonly fluxVersion: string;
  readonly components: Readonly<Record<ComponentName, BuiltComponent>>;
}

/** `${TAGFLOW_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tagflow-e2e}`, as in build.sh. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TAGFLOW_E2E_CACHE) return path.resolve(env.TAGFLOW_E2E_CACHE);
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'tagflow-e2e');
}

export function defaultManifestPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(defaultCacheDir(env), 'manifest.json');
}

/** Loads and checks the manifest: every required binary is executable and the CRD/stage dirs exist. */
export function loadBuildManifest(manifestPath: string = defaultManifestPath()): BuildManifest {
  const hint = 'run `bash e2e/build/build.sh` first';
  if (!existsSync(manifestPath)) throw new Error(`build manifest ${manifestPath} not found: ${hint}`);
  const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as BuildManifest;
  if (m.schemaVersion !== 1) throw new Error(`${manifestPath}: unsupported schemaVersion ${String(m.schemaVersion)}`);
  for (const name of REQUIRED_COMPONENTS) {
    const c = m.components?.[name];
    if (!c) throw new Error(`${manifestPath}: no component '${name}': ${hint}`);
    try {
      accessSync(c.path, constants.X_OK);
    } catch {
      throw new Error(`${manifestPath}: ${name} binary ${c.path} is missing or not executable: ${hint}`);
    }
  }
  for (const dir of [m.crdDir, m.kwokStagesDir]) {
    if (!dir || !existsSync(dir)) throw new Error(`${manifestPath}: directory ${String(dir)} is missing: ${hint}`);
  }
  return m;
}
