import { readStackConfig } from '../../model/load';

export async function runPlan(opts: { stack: string; json?: boolean; configDir: string }, log: (s: string) => void): Promise<number> {
  // The stack file goes through synth's loader first (YAML errors, tags, aliases, bounds), so plan accepts
  // exactly what synth accepts; only then is the Pulumi program loaded.
  readStackConfig(opts.configDir, opts.stack);
  const { offlinePlan, formatPlan } = await import('../../aws/plan');
  const resources = await offlinePlan(opts.configDir, opts.stack);
  log(opts.json ? JSON.stringify(resources, null, 2) : formatPlan(opts.stack, resources));
  return 0;
}
