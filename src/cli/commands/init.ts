import * as fs from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { TIER_NAMES } from '../../model/environment';
import { ConfigError, formatPath, type ConfigIssue } from '../../model/errors';
import { loadStackText } from '../../model/load';
import { TIER_PRESETS } from '../../model/tiers';
import { synthesizeEnvironment, checkOutputs, hasErrors } from '../../gitops/synth';
import { formatFindings } from '../../check/lint';
import { UsageError } from '../errors';

/** `tagflow init`: flags, and in a terminal the questions for what they leave out. */
export interface InitCommandOptions {
  readonly stack?: string;
  readonly name?: string;
  readonly accountId?: string;
  readonly region?: string;
  readonly cluster?: string;
  readonly oidcIssuerUrl?: string;
  readonly webhookUrl?: string;
  readonly gitopsUrl?: string;
  readonly gitAuth?: string;
  readonly githubAppId?: string;
  readonly githubOwner?: string;
  readonly registry?: string;
  readonly tiers?: string[];
  readonly app?: string[];
  readonly configDir: string;
  readonly json?: boolean;
}

type Answers = Omit<InitCommandOptions, 'configDir' | 'json' | 'stack'>;
type Field = keyof Answers;

const GIT_AUTH = ['github-app', 'basic-auth', 'ssh-key'] as const;

/** The flag of each answer, and the model field it fills (errors from the model name the flag). */
const FLAGS: Record<Field, { flag: string; model: string; question: string; optional?: boolean; default?: string }> = {
  name: { flag: '--name', model: 'name', question: 'Environment name (DNS-1123 label, e.g. dev)' },
  accountId: { flag: '--account-id', model: 'aws.accountId', question: 'AWS account id (12 digits)' },
  region: { flag: '--region', model: 'aws.region', question: 'AWS region', default: 'eu-west-1' },
  cluster: { flag: '--cluster', model: 'cluster.name', question: 'EKS cluster name' },
  oidcIssuerUrl: { flag: '--oidc-issuer-url', model: 'cluster.oidcIssuerUrl', question: "Cluster's OIDC issuer URL (aws eks describe-cluster --query cluster.identity.oidc.issuer)" },
  webhookUrl: { flag: '--webhook-url', model: 'cluster.webhookUrl', question: "Flux webhook receiver origin (https://...; empty: the tiers poll)", optional: true },
  gitopsUrl: { flag: '--gitops-url', model: 'gitops.url', question: 'GitOps repository URL (https:// or ssh://)' },
  gitAuth: { flag: '--git-auth', model: 'gitops', question: `Git credentials (${GIT_AUTH.join(', ')})`, default: 'github-app' },
  githubAppId: { flag: '--github-app-id', model: 'gitops.githubApp.appId', question: 'GitHub App id' },
  githubOwner: { flag: '--github-owner', model: 'gitops.githubApp.installationOwner', question: 'GitHub App installation owner (organization or user)' },
  registry: { flag: '--registry', model: 'registry', question: 'Registry: ecr, or a registry host[:port]', default: 'ecr' },
  tiers: { flag: '--tiers', model: 'tiers', question: `Tiers (${TIER_NAMES.join(', ')})`, default: TIER_NAMES.join(',') },
  app: { flag: '--app', model: 'apps', question: 'First apps (names, comma-separated)' },
};

const ORDER: Field[] = ['name', 'accountId', 'region', 'cluster', 'oidcIssuerUrl', 'webhookUrl', 'gitopsUrl', 'gitAuth', 'githubAppId', 'githubOwner', 'registry', 'tiers', 'app'];

/** The fields an answer set still needs (GitHub App fields only with github-app credentials). */
function needed(a: Answers): Field[] {
  return ORDER.filter((f) => {
    if ((f === 'githubAppId' || f === 'githubOwner') && (a.gitAuth ?? 'github-app') !== 'github-app') return false;
    return !FLAGS[f].optional;
  });
}

/** The environment (value of tagflow:environment) the answers describe. */
function environmentOf(a: Answers): Record<string, unknown> {
  const registry = a.registry === undefined || a.registry === 'ecr' ? undefined : { provider: 'generic', host: a.registry };
  const auth = a.gitAuth ?? 'github-app';
  const gitops =
    auth === 'github-app'
      ? { url: a.gitopsUrl, githubApp: { appId: a.githubAppId !== undefined && /^[0-9]+$/.test(a.githubAppId) ? Number(a.githubAppId) : a.githubAppId, installationOwner: a.githubOwner } }
      : auth === 'basic-auth'
        ? { url: a.gitopsUrl, basicAuth: {} }
        : auth === 'ssh-key'
          ? { url: a.gitopsUrl, sshKey: {} }
          : { url: a.gitopsUrl, [auth]: {} };
  const tiers: Record<string, unknown> = {};
  for (const t of a.tiers ?? [...TIER_NAMES]) {
    // Without a webhook origin, the tiers whose preset listens for pushes poll instead.
    tiers[t] = !a.webhookUrl && (TIER_PRESETS as Record<string, { webhook: boolean } | undefined>)[t]?.webhook ? { webhook: false } : {};
  }
  return {
    name: a.name,
    aws: { accountId: a.accountId, region: a.region },
    ...(registry ? { registry } : {}),
    cluster: { name: a.cluster, ...(a.oidcIssuerUrl ? { oidcIssuerUrl: a.oidcIssuerUrl } : {}), ...(a.webhookUrl ? { webhookUrl: a.webhookUrl } : {}) },
    gitops,
    tiers,
    apps: (a.app ?? []).map((name) => ({ name })),
  };
}

/** The stack file's text: the model's value, with the `aws:region` Pulumi needs to match it. */
function stackFileText(stack: string, a: Answers): string {
  const header = [
    '# yaml-language-server: $schema=https://tagflow.io/schema/stack.schema.json',
    `# Written by tagflow init. \`tagflow synth --stack ${stack}\` and \`pulumi up --stack ${stack}\` read tagflow:environment below.`,
  ];
  if ((a.gitAuth ?? 'github-app') === 'github-app') header.push(`# The GitHub App private key is a Pulumi secret: pulumi config set --secret tagflow:githubAppPrivateKey < app.pem`);
  return `${header.join('\n')}\n${stringify({ config: { 'aws:region': a.region, 'tagflow:environment': environmentOf(a) } }, { lineWidth: 0 })}`;
}

/** Which answer a model issue is about, by its field path (the closest flag). */
function fieldOf(issue: ConfigIssue): Field | undefined {
  const p = formatPath(issue.path, '').replace(/^\./, '').replace(/\[\d+\]/g, '');
  let best: Field | undefined;
  for (const f of ORDER) {
    const m = FLAGS[f].model;
    if ((p === m || p.startsWith(`${m}.`)) && (!best || m.length > FLAGS[best].model.length)) best = f;
  }
  if (!best && p.startsWith('tiers')) return 'tiers';
  return best;
}

/** The model's verdict on the answers, as the one-line errors of each flag. */
function problems(stack: string, a: Answers, configDir: string): { field?: Field; line: string }[] {
  try {
    loadStackText(stackFileText(stack, a), `Pulumi.${stack}.yaml`, configDir);
    return [];
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e.issues.map((i) => {
      const field = fieldOf(i);
      const value = i.value === undefined ? '' : ` ${JSON.stringify(i.value)}`;
      return { field, line: `${field ? FLAGS[field].flag : formatPath(i.path)}${value}: ${i.message} (${formatPath(i.path)})` };
    });
  }
}

function setAnswer(a: Answers, f: Field, raw: string): Answers {
  const v = raw.trim();
  if (f === 'tiers' || f === 'app') {
    const list = v.split(/[\s,]+/).filter(Boolean);
    return { ...a, [f]: list.length ? list : undefined };
  }
  return { ...a, [f]: v === '' ? undefined : v };
}

/** Asks on the terminal (prompts on stderr: stdout stays for --json), re-asking while the model refuses the answer. */
async function ask(stack: string, start: Answers, configDir: string): Promise<Answers> {
  const readline = await import('node:readline/promises');
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  let a = start;
  try {
    for (const f of ORDER) {
      if (a[f] !== undefined || !needed(a).concat(ORDER.filter((x) => FLAGS[x].optional)).includes(f)) continue;
      for (;;) {
        const def = FLAGS[f].default;
        const answer = await rl.question(`${FLAGS[f].question}${def ? ` [${def}]` : ''}: `);
        const next = setAnswer(a, f, answer === '' && def ? def : answer);
        if (next[f] === undefined && !FLAGS[f].optional) {
          process.stderr.write(`  ${FLAGS[f].flag} is required\n`);
          continue;
        }
        const bad = problems(stack, next, configDir).filter((p) => p.field === f);
        if (bad.length) {
          for (const b of bad) process.stderr.write(`  ${b.line}\n`);
          continue;
        }
        a = next;
        break;
      }
    }
  } finally {
    rl.close();
  }
  return a;
}

/**
 * Writes `Pulumi.<stack>.yaml` for a new environment. The answers are validated by the model synth uses,
 * and the environment is rendered and checked in memory, before the file is written: what init writes
 * passes `tagflow synth` at once. An existing stack file is never overwritten (exit 2).
 */
export async function runInit(opts: InitCommandOptions, log: (s: string) => void): Promise<number> {
  if (opts.gitAuth !== undefined && !(GIT_AUTH as readonly string[]).includes(opts.gitAuth)) {
    throw new UsageError(`--git-auth '${opts.gitAuth}': must be one of ${GIT_AUTH.join(', ')}`);
  }
  const badTier = opts.tiers?.find((t) => !(TIER_NAMES as readonly string[]).includes(t));
  if (badTier) throw new UsageError(`--tiers '${badTier}': tiers are ${TIER_NAMES.join(', ')}`);
  let answers: Answers = Object.fromEntries(ORDER.map((f) => [f, opts[f]]).filter(([, v]) => v !== undefined));
  const stackOf = (a: Answers) => opts.stack ?? a.name ?? 'dev';
  const refuseExisting = (stack: string) => {
    if (!/^[A-Za-z0-9_.-]+$/.test(stack)) throw new UsageError(`--stack '${stack}': must be a stack name (letters, digits, '.', '_', '-')`);
    const file = path.join(opts.configDir, `Pulumi.${stack}.yaml`);
    if (fs.existsSync(file)) throw new UsageError(`${file} exists: tagflow init never overwrites a stack file (choose another --stack, or edit it)`);
    return file;
  };
  if (opts.stack) refuseExisting(opts.stack);
  const missing = needed(answers).filter((f) => answers[f] === undefined && FLAGS[f].default === undefined);
  if (process.stdin.isTTY && missing.length) {
    answers = await ask(stackOf(answers), answers, opts.configDir);
  } else {
    if (missing.length) throw new UsageError(`missing ${missing.map((f) => FLAGS[f].flag).join(', ')} (pass them, or run tagflow init in a terminal to be asked)`);
    for (const f of ORDER) if (answers[f] === undefined && FLAGS[f].default !== undefined) answers = setAnswer(answers, f, FLAGS[f].default!);
  }
  const stack = stackOf(answers);
  const file = refuseExisting(stack);
  const bad = problems(stack, answers, opts.configDir);
  if (bad.length) throw new UsageError(bad.map((b) => b.line).join('; '));
  // What synth would render, rendered and checked in memory: init writes only a stack synth accepts.
  const text = stackFileText(stack, answers);
  const environment = loadStackText(text, `Pulumi.${stack}.yaml`, opts.configDir);
  const output = synthesizeEnvironment(environment, stack);
  const findings = checkOutputs(path.resolve(opts.configDir, 'dist'), [output]);
  if (hasErrors(findings)) throw new Error(`tagflow init made a stack whose rendering fails the check:\n${formatFindings(findings)}`);
  fs.mkdirSync(opts.configDir, { recursive: true });
  fs.writeFileSync(file, text, { flag: 'wx' });
  if (opts.json) log(JSON.stringify({ stackFile: path.relative(process.cwd(), file) || file, stack, environment: environmentOf(answers) }, null, 2));
  else {
    log(`wrote ${path.relative(process.cwd(), file) || file}`);
    log(`next: tagflow synth --stack ${stack} --out <your GitOps checkout>${opts.configDir !== process.cwd() ? ` --config-dir ${opts.configDir}` : ''}`);
  }
  return 0;
}
