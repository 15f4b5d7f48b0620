import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const SHARED = path.resolve(REPO_ROOT, '..', 'shared');

export function tmpDir(prefix = 'tagflow-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Every file below dir (relative paths, sorted), skipping nothing. */
export function listTree(dir: string, prefix = ''): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .flatMap((e) => (e.isDirectory() ? listTree(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]));
}

/** Map of relative path → bytes of every file below dir. */
export function snapshotTree(dir: string): Map<string, string> {
  return new Map(listTree(dir).map((p) => [p, fs.readFileSync(path.join(dir, p), 'latin1')]));
}

export interface TreeObject {
  readonly file: string;
  readonly obj: any;
}

/** Every Kubernetes object in the YAML files of a tree (outside charts/ and .tagflow/). */
export function objectsOf(dir: string): TreeObject[] {
  return listTree(dir)
    .filter((p) => /\.ya?ml$/.test(p) && !p.startsWith('charts/') && !p.startsWith('.tagflow/'))
    .flatMap((file) =>
      parseAllDocuments(fs.readFileSync(path.join(dir, file), 'utf8'))
        .map((d) => ('toJS' in d ? d.toJS() : undefined))
        .filter((o) => o && o.kind)
        .map((obj) => ({ file, obj })),
    );
}

/** Writes a stack file into dir from a config object (the value of tagflow:environment). */
export function writeStack(dir: string, stack: string, environment: unknown): void {
  const { stringify } = require('yaml') as typeof import('yaml');
  fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), stringify({ config: { 'tagflow:environment': environment } }));
}

/** A small valid environment to derive test cases from. */
export function sampleEnvironment(overrides: Record<string, unknown> = {}): any {
  return {
    name: 'test',
    aws: { accountId: '123456789012', region: 'eu-west-1' },
    cluster: { name: 'test-cluster', oidcIssuerUrl: 'https://oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF', identity: 'irsa', webhookUrl: 'https://flux-webhook.test.example' },
    gitops: { url: 'https://github.com/acme/gitops', githubApp: { appId: 1, installationOwner: 'acme' } },
    tiers: { dev: {}, staging: {}, release: {} },
    apps: [{ name: 'api' }, { name: 'worker', repository: 'team/worker' }],
    ...overrides,
  };
}
