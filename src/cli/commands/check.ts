import * as fs from 'node:fs';
import * as path from 'node:path';
import { bySeverity, formatFindings, lint, stacksOfTree, type Finding } from '../../check/lint';
import { loadStack } from '../../model/load';
import { UsageError } from '../errors';
import { withProgress } from '../progress';
import { inTiersAndApps } from '../../gitops/tree-layout';

export interface CheckCommandOptions {
  readonly dir: string;
  readonly json?: boolean;
  /** Only findings in these tiers' files (environments/<env>/<tier>/..., clusters/<env>/tagflow-<tier>.yaml). */
  readonly tier?: string[];
  /** Only findings in these apps' files (environments/<env>/<tier>/images|releases/<app>.yaml). */
  readonly app?: string[];
}


/** Tiers and apps of a tree by tagflow's layout (the folders of environments/<env>/). */
function treeLayout(root: string): { tiers: string[]; apps: string[] } {
  const tiers = new Set<string>();
  const apps = new Set<string>();
  const envs = path.join(root, 'environments');
  const dirs = (p: string) => (fs.existsSync(p) && fs.statSync(p).isDirectory() ? fs.readdirSync(p, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name) : []);
  for (const env of dirs(envs)) {
    for (const tier of dirs(path.join(envs, env))) {
      tiers.add(tier);
      for (const kind of ['images', 'releases']) {
        const d = path.join(envs, env, tier, kind);
        if (fs.existsSync(d)) for (const f of fs.readdirSync(d)) if (/\.ya?ml$/.test(f)) apps.add(f.replace(/\.ya?ml$/, ''));
      }
    }
  }
  return { tiers: [...tiers].sort(), apps: [...apps].sort() };
}

/** `--tier` / `--app` on a tree: the names are checked against the tree's layout (a typo is an error, not silence). */
function findingFilter(root: string, tiers?: readonly string[], apps?: readonly string[]): (f: Finding) => boolean {
  if (!tiers?.length && !apps?.length) return () => true;
  const layout = treeLayout(root);
  const list = (xs: string[]) => (xs.length ? xs.join(', ') : 'none (no environments/<env>/<tier>/ folders)');
  const unknownTier = tiers?.find((t) => !layout.tiers.includes(t));
  if (unknownTier) throw new UsageError(`--tier '${unknownTier}': the tree ${root} has tiers ${list(layout.tiers)}`);
  const unknownApp = apps?.find((a) => !layout.apps.includes(a));
  if (unknownApp) throw new UsageError(`--app '${unknownApp}': the tree ${root} has apps ${list(layout.apps)}`);
  return (f) => inTiersAndApps(f.file, tiers, apps);
}

/**
 * Exit 0 when clean (warnings are printed but do not fail), 1 on findings, 2 when the tree cannot be read.
 * Run from the folder of the stack files (as the other commands), the stacks that wrote the tree (its
 * `.tagflow/<stack>.json`) feed the rules only a stack can answer (a release tier without a signature gate).
 */
export function runCheck(opts: CheckCommandOptions, log: (s: string) => void): number {
  const keep = findingFilter(opts.dir, opts.tier, opts.app);
  const findings = withProgress((step) => lint(opts.dir, { stacks: stacksOfTree(opts.dir, process.cwd(), loadStack) }, (i, n) => step(`checking ${opts.dir}: ${i}/${n} files`))).filter(keep);
  if (opts.json) log(JSON.stringify(findings, null, 2));
  else if (findings.length) log(formatFindings(findings));
  return bySeverity(findings).errors.length ? 1 : 0;
}
