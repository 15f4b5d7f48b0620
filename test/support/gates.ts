import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cliAsync } from './cli';
import { COSIGN, ensureGoTool } from './go-tools';
import { listTree, tmpDir, writeStack } from './tree';
import type { TestRegistry } from './registry';

/** Runs the real cosign binary (built from its Go module) with a password for its keys and a docker config of its own. */
export function cosign(bin: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      bin,
      args,
      { cwd, env: { PATH: process.env.PATH, HOME: cwd, DOCKER_CONFIG: path.join(cwd, '.docker'), COSIGN_PASSWORD: 'tagflow-test-password', ...env }, timeout: 120_000 },
      (e, out, err) => resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out: String(out), err: String(err) }),
    );
  });
}

/** Two cosign key pairs made by `cosign generate-key-pair`: the team's CI key and a stranger's. */
export async function cosignKeys(bin: string): Promise<{ team: string; stranger: string }> {
  const out: Record<string, string> = {};
  for (const who of ['team', 'stranger']) {
    const dir = tmpDir(`tagflow-cosign-${who}-`);
    const r = await cosign(bin, ['generate-key-pair'], dir);
    if (r.code !== 0) throw new Error(`cosign generate-key-pair: ${r.err}`);
    out[who] = dir;
  }
  return { team: out.team!, stranger: out.stranger! };
}

export async function cosignBinary(): Promise<string> {
  return (await ensureGoTool(COSIGN)).path;
}

/** `cosign sign --key` of host/repository@digest, without the transparency log; `referrers` uses the OCI 1.1 referrers form. */
export async function sign(bin: string, keyDir: string, reg: TestRegistry, repository: string, digest: string, form: 'tag' | 'referrers' = 'tag'): Promise<void> {
  const host = new URL(reg.url).host;
  const args = ['sign', '--key', 'cosign.key', '--tlog-upload=false', '--allow-insecure-registry', '--allow-http-registry', '-y'];
  if (form === 'referrers') args.push('--registry-referrers-mode=oci-1-1');
  const r = await cosign(bin, [...args, `${host}/${repository}@${digest}`], keyDir, form === 'referrers' ? { COSIGN_EXPERIMENTAL: '1' } : {});
  if (r.code !== 0) throw new Error(`cosign sign: ${r.err}`);
}

/** A Trivy JSON report with one vulnerability per severity given, as `trivy --format cosign-vuln` wraps it. */
export function vulnPredicate(severities: string[], finishedOn = new Date().toISOString()): unknown {
  return {
    invocation: { parameters: null, uri: '', event_id: '', 'builder.id': '' },
    scanner: {
      uri: 'pkg:github/aquasecurity/trivy@v0.58.0',
      version: '0.58.0',
      db: { uri: '', version: '' },
      result: {
        SchemaVersion: 2,
        ArtifactName: 'test-image',
        ArtifactType: 'container_image',
        Results: [{ Target: 'test-image (debian 12.8)', Class: 'os-pkgs', Type: 'debian', Vulnerabilities: severities.map((s, i) => ({ VulnerabilityID: `CVE-2026-${1000 + i}`, PkgName: 'libexample', Severity: s })) }],
      },
    },
    metadata: { scanStartedOn: finishedOn, scanFinishedOn: finishedOn },
  };
}

/** `cosign attest --type vuln --key` of host/repository@digest with the predicate. */
export async function attest(bin: string, keyDir: string, reg: TestRegistry, repository: string, digest: string, predicate: unknown): Promise<void> {
  const host = new URL(reg.url).host;
  const file = path.join(keyDir, `vuln-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(file, JSON.stringify(predicate));
  const r = await cosign(bin, ['attest', '--key', 'cosign.key', '--tlog-upload=false', '--allow-insecure-registry', '--allow-http-registry', '-y', '--type', 'vuln', '--predicate', file, `${host}/${repository}@${digest}`], keyDir);
  if (r.code !== 0) throw new Error(`cosign attest: ${r.err}`);
}

/** Every file of the registry's storage with the sha256 of its bytes: what a refused promotion must leave unchanged. */
export function registrySnapshot(reg: TestRegistry): string[] {
  return listTree(reg.dataDir).map((f) => `${f} ${createHash('sha256').update(fs.readFileSync(path.join(reg.dataDir, f))).digest('hex')}`);
}

/** A GitOps tree synthesized from configDir and committed to git (committer time `at`). */
export async function gitTree(configDir: string, at: Date): Promise<string> {
  const tree = tmpDir('tagflow-gitops-');
  const r = await cliAsync(['synth', '--out', tree, '--config-dir', configDir]);
  if (r.code !== 0) throw new Error(r.err);
  git(tree, ['init', '-q', '-b', 'main']);
  git(tree, ['add', '-A']);
  commit(tree, 'tagflow synth', at);
  return tree;
}

export function git(tree: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  return execFileSync('git', args, { cwd: tree, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 'fluxcdbot', GIT_AUTHOR_EMAIL: 'flux@example.com', GIT_COMMITTER_NAME: 'fluxcdbot', GIT_COMMITTER_EMAIL: 'flux@example.com', ...env } });
}

export function commit(tree: string, message: string, at: Date): void {
  const date = `${Math.floor(at.getTime() / 1000)} +0000`;
  git(tree, ['commit', '-q', '--allow-empty', '-m', message], { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date });
}

/** Sets a marker's value in a release file as Flux's setter does (the value on the marker's line). */
export function setMarker(tree: string, file: string, ref: string, value: string): void {
  const full = path.join(tree, file);
  const text = fs.readFileSync(full, 'utf8');
  const re = new RegExp(`^(\\s*[a-z]+:) .*( # \\{"\\$imagepolicy": "${ref.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"\\})$`, 'm');
  if (!re.test(text)) throw new Error(`no marker ${ref} in ${file}`);
  fs.writeFileSync(full, text.replace(re, `$1 ${value}$2`));
}

export { writeStack };
