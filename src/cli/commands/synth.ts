import * as path from 'node:path';
import { hasErrors, previewSynth, synth, type StackOutput } from '../../gitops/synth';
import { newAppTiers, resolveInitialRefs, type InitialRefs } from '../../gitops/initial-tags';
import { bySeverity, formatFindings, type Finding } from '../../check/lint';
import { listStacks, loadStack } from '../../model/load';
import { registrySource } from '../../simulate/tag-sources';
import { gitDiffChanges } from '../../simulate/git-diff';
import type { TreeChange } from '../../gitops/tree-writer';
import { inTiersAndApps } from '../../gitops/tree-layout';
import { UsageError } from '../errors';
import { withProgress } from '../progress';

export interface SynthCommandOptions {
  readonly stack?: string[];
  readonly out: string;
  readonly configDir: string;
  /** `true`: each app's own registry; a URL: that registry. New HelmReleases start from what it holds. */
  readonly registry?: string | boolean;
  /** Allow a plain http:// --registry URL. */
  readonly insecureRegistry?: boolean;
  /** Write nothing; exit 1 when the tree differs from what synth writes (CI's drift gate). */
  readonly check?: boolean;
  /** Write nothing; print the diff synth would make (as `tagflow diff`). */
  readonly dryRun?: boolean;
  readonly json?: boolean;
  /** With --check, --dry-run and diff: only the files of these tiers. */
  readonly tier?: string[];
  /** With --check, --dry-run and diff: only the files of these apps. */
  readonly app?: string[];
}

/** Images new apps start from (`--registry`), resolved before anything is written. */
async function initialRefsOf(opts: SynthCommandOptions, log: (s: string) => void): Promise<Map<string, InitialRefs> | undefined> {
  if (!opts.registry) return undefined;
  // Resolved before anything is written: an unreachable registry stops synth with the tree untouched.
  const initialRefs = new Map<string, InitialRefs>();
  const source = registrySource(typeof opts.registry === 'string' ? opts.registry : undefined, { insecure: opts.insecureRegistry });
  for (const stack of opts.stack?.length ? opts.stack : listStacks(opts.configDir)) {
    const apps = newAppTiers(loadStack(opts.configDir, stack), stack, opts.out);
    const { refs, notes } = await resolveInitialRefs(apps, source);
    for (const n of notes) (opts.json ? (s: string) => process.stderr.write(`tagflow: ${s}\n`) : log)(`${stack}: ${n}`);
    initialRefs.set(stack, refs);
  }
  return initialRefs;
}

/** Warnings go to stderr and never fail; errors stop synth before it writes (exit 1). */
function reportFindings(findings: readonly Finding[], json: boolean | undefined): void {
  const { errors, warnings } = bySeverity(findings);
  if (json) return;
  if (warnings.length) process.stderr.write(`${formatFindings(warnings)}\n`);
  if (errors.length) process.stderr.write(`tagflow: check found problems in what synth renders; nothing was written:\n${formatFindings(errors)}\n`);
}

export const changeStatus = (c: TreeChange): 'added' | 'deleted' | 'modified' => (c.before === undefined ? 'added' : c.after === undefined ? 'deleted' : 'modified');

const stackSummary = (o: StackOutput) => ({ stack: o.stack, environment: o.environment.name, files: o.files.size });

/**
 * `tagflow synth`: renders, checks in memory, writes only what passes. `--check` and `--dry-run` (and
 * `tagflow diff`) do everything but the write: no lock, no journal, no folder created.
 */
export async function runSynth(opts: SynthCommandOptions, log: (s: string) => void): Promise<number> {
  if (opts.check && opts.dryRun) throw new UsageError('synth takes --check or --dry-run, not both');
  if (opts.check || opts.dryRun) return runPreview({ ...opts, mode: opts.check ? 'check' : 'diff' }, log);
  if (opts.tier?.length || opts.app?.length) throw new UsageError('--tier and --app narrow what synth --check and --dry-run (and tagflow diff) compare; synth itself writes every file of each stack');
  const initialRefs = await initialRefsOf(opts, log);
  const { outputs, results, recovered, findings } = withProgress((step) => synth({ configDir: opts.configDir, outDir: opts.out, stacks: opts.stack, initialRefs, progress: step }));
  if (recovered === 'completed' || recovered === 'rolled back' || recovered === 'discarded') {
    const what = { completed: 'completed its committed changes', 'rolled back': 'undid its partial changes', discarded: 'discarded its staged files (it had changed nothing)' }[recovered];
    process.stderr.write(`tagflow: an earlier run into ${opts.out} was interrupted; ${what} before this one\n`);
  }
  reportFindings(findings, opts.json);
  const out = path.relative(process.cwd(), opts.out) || '.';
  if (opts.json) {
    log(
      JSON.stringify(
        {
          out,
          written: results !== undefined,
          stacks: outputs.map((o) => {
            const w = results?.get(o.stack);
            return { ...stackSummary(o), written: w?.written ?? [], unchanged: w?.unchanged.length ?? 0, pruned: w?.pruned ?? [] };
          }),
          findings,
        },
        null,
        2,
      ),
    );
  } else if (results) {
    for (const o of outputs) {
      const w = results.get(o.stack)!;
      log(`${o.stack}: ${o.files.size} files in ${out} (${w.written.length} written, ${w.unchanged.length} unchanged, ${w.pruned.length} pruned)`);
    }
  }
  return hasErrors(findings) ? 1 : 0;
}

export interface PreviewOptions extends SynthCommandOptions {
  /** 'diff': print the diff (exit 0 unless the check fails); 'check': name the files that differ, exit 1 if any. */
  readonly mode: 'diff' | 'check';
}

/** `--tier` / `--app` name tiers and apps of the stacks compared: a typo is an error (exit 2), not an empty diff. */
function checkTierAndAppNames(opts: PreviewOptions): void {
  if (!opts.tier?.length && !opts.app?.length) return;
  const envs = (opts.stack?.length ? opts.stack : listStacks(opts.configDir)).map((stack) => loadStack(opts.configDir, stack));
  const tiers: string[] = [...new Set(envs.flatMap((e) => e.tiers.map((t): string => t.name)))].sort();
  const apps = [...new Set(envs.flatMap((e) => e.tiers.flatMap((t) => t.apps.map((a) => a.app))))].sort();
  const unknownTier = opts.tier?.find((t) => !tiers.includes(t));
  if (unknownTier) throw new UsageError(`--tier '${unknownTier}': the stacks compared have tiers ${tiers.join(', ') || 'none'}`);
  const unknownApp = opts.app?.find((a) => !apps.includes(a));
  if (unknownApp) throw new UsageError(`--app '${unknownApp}': the stacks compared have apps ${apps.join(', ') || 'none'}`);
}

/** `tagflow diff`, `tagflow synth --dry-run` and `tagflow synth --check`. */
export async function runPreview(opts: PreviewOptions, log: (s: string) => void): Promise<number> {
  checkTierAndAppNames(opts);
  const initialRefs = await initialRefsOf(opts, log);
  const { plan, findings, interrupted } = withProgress((step) => previewSynth({ configDir: opts.configDir, outDir: opts.out, stacks: opts.stack, initialRefs, progress: step }));
  if (interrupted) process.stderr.write(`tagflow: an earlier run into ${opts.out} was interrupted (${opts.out}/.tagflow/txn/ exists); the next synth finishes it first: this compares with the tree as it is now\n`);
  reportFindings(findings, opts.json);
  const selected = plan.changes.filter((c) => inTiersAndApps(c.path, opts.tier, opts.app));
  const changes = selected.map((c) => ({ path: c.path, status: changeStatus(c) }));
  const failed = hasErrors(findings);
  if (opts.mode === 'diff') {
    const diff = gitDiffChanges(selected);
    if (opts.json) log(JSON.stringify({ out: path.relative(process.cwd(), opts.out) || '.', current: changes.length === 0, changes, diff, findings }, null, 2));
    else if (diff) log(diff.trimEnd());
    return failed ? 1 : 0;
  }
  if (opts.json) log(JSON.stringify({ out: path.relative(process.cwd(), opts.out) || '.', current: changes.length === 0, changes, findings }, null, 2));
  else {
    for (const c of changes) log(`${c.status}: ${c.path}`);
    if (changes.length) process.stderr.write(`tagflow: ${opts.out} is not what synth writes from the stack files (${changes.length} file${changes.length === 1 ? '' : 's'} differ); run tagflow synth and commit, or see tagflow diff\n`);
  }
  return failed || changes.length ? 1 : 0;
}
