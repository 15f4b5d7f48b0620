import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT, SHARED, tmpDir } from './tree';

/**
 * Upstream Flux data the tests check against: `../shared` when it is there (the CRDs and the
 * image-automation-controller's setter fixtures), otherwise the same files from the controllers' Go modules
 * at the versions the end-to-end run pins (e2e/build/versions.env), through the Go module proxy.
 */
function pinned(): Record<string, string> {
  const text = fs.readFileSync(path.join(REPO_ROOT, 'e2e', 'build', 'versions.env'), 'utf8');
  return Object.fromEntries([...text.matchAll(/^([A-Z_]+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!.replace(/^"|"$/g, '')]));
}

const moduleDirs = new Map<string, string | undefined>();

/** The extracted Go module (module cache), or undefined when Go or the proxy is not available. */
function goModule(module: string, version: string): string | undefined {
  const key = `${module}@${version}`;
  if (!moduleDirs.has(key)) {
    try {
      const json = execFileSync('go', ['mod', 'download', '-json', key], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' } });
      moduleDirs.set(key, (JSON.parse(json) as { Dir?: string }).Dir);
    } catch {
      moduleDirs.set(key, undefined);
    }
  }
  return moduleDirs.get(key);
}

/** Folder with `update-setters/{original,expected}` and `policy-testdata/`, or undefined (with why). */
export function setterFixtures(): { dir?: string; source: string } {
  const shared = path.join(SHARED, 'flux-fixtures', 'setters');
  if (fs.existsSync(shared)) return { dir: shared, source: shared };
  const v = pinned().IMAGE_AUTOMATION_CONTROLLER_VERSION!;
  const mod = goModule('github.com/fluxcd/image-automation-controller', v);
  if (!mod) return { source: `neither ${shared} nor the Go module image-automation-controller@${v} (go mod download failed)` };
  const dir = tmpDir('tagflow-flux-fixtures-');
  fs.cpSync(path.join(mod, 'internal', 'update', 'testdata', 'setters'), path.join(dir, 'update-setters'), { recursive: true });
  fs.cpSync(path.join(mod, 'internal', 'policy', 'testdata'), path.join(dir, 'policy-testdata'), { recursive: true });
  return { dir, source: `image-automation-controller@${v} (Go module)` };
}

/** Folder with the Flux CRD YAML files, or undefined (with why). */
export function fluxCrds(): { dir?: string; source: string } {
  const shared = path.join(SHARED, 'flux-crds');
  if (fs.existsSync(shared)) return { dir: shared, source: shared };
  const v = pinned();
  const controllers: [string, string][] = [
    ['source-controller', v.SOURCE_CONTROLLER_VERSION!],
    ['kustomize-controller', v.KUSTOMIZE_CONTROLLER_VERSION!],
    ['helm-controller', v.HELM_CONTROLLER_VERSION!],
    ['notification-controller', v.NOTIFICATION_CONTROLLER_VERSION!],
    ['image-reflector-controller', v.IMAGE_REFLECTOR_CONTROLLER_VERSION!],
    ['image-automation-controller', v.IMAGE_AUTOMATION_CONTROLLER_VERSION!],
  ];
  const dir = tmpDir('tagflow-flux-crds-');
  for (const [name, version] of controllers) {
    const mod = goModule(`github.com/fluxcd/${name}`, version);
    if (!mod) return { source: `neither ${shared} nor the Go module ${name}@${version} (go mod download failed)` };
    const bases = path.join(mod, 'config', 'crd', 'bases');
    for (const f of fs.readdirSync(bases).filter((n) => n.endsWith('.yaml'))) fs.copyFileSync(path.join(bases, f), path.join(dir, f));
  }
  return { dir, source: 'the Flux 2.9 controller Go modules' };
}
