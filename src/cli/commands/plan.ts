export async function runPlan(opts: { stack: string; json?: boolean; configDir: string }, log: (s: string) => void): Promise<number> {
  const { offlinePlan, formatPlan } = await import('../../aws/plan');
  const resources = await offlinePlan(opts.configDir, opts.stack);
  log(opts.json ? JSON.stringify(resources, null, 2) : formatPlan(opts.stack, resources));
  return 0;
}
