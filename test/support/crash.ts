import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { REPO_ROOT } from './tree';

/** Every entry below dir: folders as `dir/`, files with their bytes (latin1), links as `-> target`. */
export function fullSnapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      const full = path.join(dir, r);
      if (e.isSymbolicLink()) out.set(r, `-> ${fs.readlinkSync(full)}`);
      else if (e.isDirectory()) {
        out.set(`${r}/`, '');
        walk(r);
      } else out.set(r, fs.readFileSync(full, 'latin1'));
    }
  };
  walk('');
  return out;
}

/** The first difference between two snapshots, for failure messages (undefined when equal). */
export function firstDifference(a: Map<string, string>, b: Map<string, string>): string | undefined {
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    if (!a.has(k)) return `only in the second: ${k}`;
    if (!b.has(k)) return `only in the first: ${k}`;
    if (a.get(k) !== b.get(k)) return `differs: ${k}`;
  }
  return undefined;
}

/**
 * A stack of `apps` apps in the three tiers; `version` changes every app's Helm values (so every release
 * file changes between versions), and `offset` shifts which apps exist (so some are pruned, some added).
 */
export function writeCrashStack(dir: string, apps: number, version: number, offset = 0): void {
  fs.mkdirSync(dir, { recursive: true });
  const environment = {
    name: 'crash',
    aws: { accountId: '123456789012', region: 'eu-west-1' },
    cluster: { name: 'c', oidcIssuerUrl: 'https://oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF', webhookUrl: 'https://flux-webhook.example' },
    gitops: { url: 'https://github.com/acme/gitops', githubApp: { appId: 1, installationOwner: 'acme' } },
    tiers: { dev: {}, staging: {}, release: {} },
    apps: Array.from({ length: apps }, (_, i) => ({ name: `app-${i + offset}`, values: { replicaCount: version, env: { VERSION: `v${version}` } } })),
  };
  fs.writeFileSync(path.join(dir, 'Pulumi.crash.yaml'), stringify({ config: { 'tagflow:environment': environment } }));
}

/** Runs `tagflow synth`; with `killAfterMs`, sends SIGKILL then (unless it ended before). */
export function synthProcess(configDir: string, out: string, opts: { killAfterMs?: number; env?: NodeJS.ProcessEnv } = {}) {
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number; stderr: string }>((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/tagflow.js'), 'synth', '--config-dir', configDir, '--out', out], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...opts.env },
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const timer = opts.killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs);
    child.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, ms: Date.now() - t0, stderr });
    });
  });
}
