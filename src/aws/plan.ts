import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseDocument } from 'yaml';
import { CONFIG_KEY } from '../model/load';
import { ConfigError } from '../model/errors';

/** One resource the program declares. */
export interface PlannedResource {
  readonly type: string;
  readonly name: string;
  readonly parent: string | null;
  readonly inputs: Record<string, unknown>;
}

/** Shown where only the cloud knows a value. */
export const COMPUTED = '<computed>';

/** Policy documents are JSON strings in Pulumi inputs; the plan shows them parsed. */
function parseDocuments(v: unknown): unknown {
  if (typeof v === 'string' && v.startsWith('{')) {
    try {
      const o = JSON.parse(v);
      if (o && typeof o === 'object' && ('Statement' in o || 'rules' in o)) return o;
    } catch {
      /* not JSON */
    }
    return v;
  }
  if (Array.isArray(v)) return v.map(parseDocuments);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, parseDocuments(x)]));
  return v;
}

/** Outputs the mock returns: what can be derived from the inputs is derived, the rest is a placeholder. */
function mockState(type: string, name: string, inputs: Record<string, any>, accountId: string, region: string): Record<string, unknown> {
  const partition = region.startsWith('cn-') ? 'aws-cn' : region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws';
  switch (type) {
    case 'aws:iam/role:Role':
      return { ...inputs, arn: `arn:${partition}:iam::${accountId}:role/${inputs.name ?? name}`, uniqueId: COMPUTED };
    case 'aws:ecr/repository:Repository':
      return {
        ...inputs,
        arn: `arn:${partition}:ecr:${region}:${accountId}:repository/${inputs.name}`,
        repositoryUrl: `${accountId}.dkr.ecr.${region}.amazonaws.com/${inputs.name}`,
        registryId: accountId,
      };
    case 'random:index/randomPassword:RandomPassword':
      return { ...inputs, result: COMPUTED };
    case 'aws:sqs/queue:Queue':
      return { ...inputs, arn: `arn:${partition}:sqs:${region}:${accountId}:${inputs.name}`, url: `https://sqs.${region}.amazonaws.com/${accountId}/${inputs.name}` };
    default:
      return { ...inputs, arn: COMPUTED };
  }
}

/** How Pulumi marks a secret value in the inputs a mock monitor receives: `{[SIG_KEY]: SECRET_SIG, value}`. */
export const PULUMI_SIG_KEY = '4dabf18193072939515e22adb298388d';
export const PULUMI_SECRET_SIG = '1b47061264138c4ac30d75fd1eb44270';

function stripSecrets(v: unknown): unknown {
  // The plan never prints a secret.
  if (v && typeof v === 'object' && (v as Record<string, unknown>)[PULUMI_SIG_KEY] === PULUMI_SECRET_SIG) {
    return '<secret>';
  }
  if (Array.isArray(v)) return v.map(stripSecrets);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, stripSecrets(x)]));
  return v;
}

/**
 * Runs the Pulumi program in-process against Pulumi's mock monitor: no Pulumi CLI, no cloud calls. Returns
 * every resource it declares with its inputs. Secret config is replaced by a placeholder.
 */
export async function offlinePlan(configDir: string, stack: string): Promise<PlannedResource[]> {
  const file = path.join(configDir, `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(file)) throw new ConfigError(`Pulumi.${stack}.yaml`, [{ path: [], message: `stack file not found in ${configDir}` }]);
  const config = (parseDocument(fs.readFileSync(file, 'utf8')).toJS() as { config?: Record<string, unknown> })?.config ?? {};
  const raw = config[CONFIG_KEY] as { aws?: { accountId?: string; region?: string } } | undefined;
  // Validate before Pulumi is loaded: a bad stack file gets the same error as synth.
  const { parseEnvironment } = await import('../model/load');
  const { resolveEnvironment } = await import('../model/tiers');
  const env = resolveEnvironment(parseEnvironment(raw, `Pulumi.${stack}.yaml`), `Pulumi.${stack}.yaml`, configDir);
  const { AWS_REGION_CONFIG, checkProviderRegion } = await import('../model/provider-region');
  const providerRegion = config[AWS_REGION_CONFIG];
  checkProviderRegion(env, typeof providerRegion === 'string' ? providerRegion : undefined, `Pulumi.${stack}.yaml`);
  const pulumi = await import('@pulumi/pulumi');
  const recorded: { type: string; name: string; inputs: Record<string, unknown> }[] = [];
  const parents = new Map<string, string | null>();
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        recorded.push({ type: args.type, name: args.name, inputs: args.inputs });
        return { id: `${args.name}-id`, state: mockState(args.type, args.name, args.inputs, env.model.aws?.accountId ?? '000000000000', env.model.aws?.region ?? 'us-east-1') };
      },
      call: () => ({}),
    },
    'tagflow',
    stack,
    false,
  );
  const all: Record<string, string> = {};
  for (const [k, v] of Object.entries(config)) if (k !== CONFIG_KEY) all[k] = typeof v === 'string' ? v : JSON.stringify(v);
  all[CONFIG_KEY] = JSON.stringify(raw);
  const { GIT_SECRET_CONFIG, NOTIFICATION_SECRET_CONFIG } = await import('./environment');
  // Every secret the program may read gets a placeholder: the plan needs none of their values.
  const secretKeys = [...new Set(Object.values(GIT_SECRET_CONFIG).flat()), 'registryDockerConfigJson', ...Object.keys(NOTIFICATION_SECRET_CONFIG)].map((k) => `tagflow:${k}`);
  for (const k of secretKeys) all[k] = '<placeholder: offline plan>';
  pulumi.runtime.setAllConfig(all, [...secretKeys, 'tagflow:kubeconfig']);
  const { runProgram } = await import('./stack');
  let declared = 0; // transformations see every resource, the Environment component included
  const transformations: import('@pulumi/pulumi').ResourceTransformation[] = [
    (a) => {
      declared++;
      // Mock args carry no parent; a transformation sees the parent Resource, whose name Pulumi keeps in `__name`.
      parents.set(`${a.type}::${a.name}`, (a.opts.parent as unknown as { __name?: string } | undefined)?.__name ?? null);
      return undefined;
    },
  ];
  runProgram({ transformations }, configDir);
  const deadline = Date.now() + 30_000;
  while (recorded.length < declared && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  if (recorded.length < declared) throw new Error(`offline plan: only ${recorded.length} of ${declared} resources registered: ${recorded.map((r) => r.name).join(", ")} of ${[...parents.keys()].join(", ")}`);
  return recorded
    .map((r) => ({
      type: r.type,
      name: r.name,
      parent: parents.get(`${r.type}::${r.name}`) ?? null,
      inputs: stripSecrets(parseDocuments(r.inputs)) as Record<string, unknown>,
    }))
    .sort((a, b) => (a.parent === null ? -1 : b.parent === null ? 1 : 0));
}

/** Human-readable plan. */
export function formatPlan(stack: string, resources: readonly PlannedResource[]): string {
  const { stringify } = require('yaml') as typeof import('yaml');
  const lines = [
    `OFFLINE PLAN for stack '${stack}': the Pulumi program run against Pulumi's mock monitor.`,
    `No Pulumi CLI, no cloud calls: this is what the program declares, not a diff against AWS.`,
    `Values only the cloud can know are shown as ${COMPUTED}; secrets as <secret>.`,
    '',
  ];
  for (const r of resources) {
    lines.push(`+ ${r.type}  ${r.name}${r.parent ? `  (parent: ${r.parent})` : ''}`);
    const body = stringify(r.inputs, { lineWidth: 0 }).trimEnd();
    if (body !== '{}') lines.push(...body.split('\n').map((l) => `    ${l}`));
  }
  lines.push('', `${resources.length} resources.`);
  return lines.join('\n');
}
