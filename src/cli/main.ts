import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { EXIT, isUserError, UsageError } from './errors';
import { describeSystemError, isSystemError } from '../io-errors';
import { LIMITS } from '../limits';

/**
 * The `tagflow` command. Each command's module is loaded only when it runs, so `tagflow --help` and the
 * synth/check paths never load @pulumi/*.
 */
export function buildProgram(out: (s: string) => void): Command {
  const program = new Command('tagflow')
    .description('Typed GitOps image automation for Flux CD and Amazon ECR')
    .exitOverride()
    .configureOutput({ writeOut: (s) => out(s.trimEnd()), writeErr: (s) => process.stderr.write(s) })
    .showHelpAfterError()
    .option('--debug', 'on an error, print the stack trace too')
    .addHelpText('after', '\nOther:\n  tagflow --version [--json]   print the version of tagflow');
  const insecureRegistry = () => new Option('--insecure-registry', 'allow an http:// registry (and http:// token realms): credentials and images travel unencrypted');
  const tokenRealm = () =>
    new Option('--registry-token-realm <origin...>', "token service origins (bearer realms) that may receive the registry credentials besides the registry's own origin");
  const configDir = new Option('--config-dir <dir>', 'folder with the Pulumi.<stack>.yaml files').default(process.cwd(), 'the current folder');

  /** What synth and diff share: the stacks, the tree, the images new apps start from. */
  const synthOptions = (cmd: Command) =>
    cmd
      .option('-s, --stack <name...>', 'stacks to render (default: every Pulumi.<stack>.yaml)')
      .option('-o, --out <dir>', 'root of the GitOps tree', 'dist')
      .option('--registry [url]', "new apps start from the image their policy selects now in each app's registry (or in this one)")
      .addOption(insecureRegistry())
      .addOption(configDir)
      .option('-t, --tier <tier...>', "compare only these tiers' files (diff, --check, --dry-run)")
      .option('-a, --app <app...>', "compare only these apps' files (diff, --check, --dry-run)");

  synthOptions(
    program
      .command('synth')
      .description('render the GitOps tree (Flux objects, HelmReleases with markers, cluster Kustomizations) of each stack; checked in memory, written only when the check passes'),
  )
    .option('--check', 'write nothing; exit 1 and name the files when the tree differs from what synth writes (the CI drift gate)')
    .option('--dry-run', 'write nothing; print the diff synth would make (as tagflow diff)')
    .option('--json', 'print {out, written, stacks, findings} as JSON (with --check: {out, current, changes, findings})')
    .action(async (o) => {
      const { runSynth } = await import('./commands/synth');
      program.setOptionValue('exit', await runSynth(o, out));
    });

  synthOptions(program.command('diff').description('print the diff (git format) synth would make to the tree; writes nothing (exit 1 only when the check fails)'))
    .option('--json', 'print {out, current, changes, diff, findings} as JSON')
    .action(async (o) => {
      const { runPreview } = await import('./commands/synth');
      program.setOptionValue('exit', await runPreview({ ...o, mode: 'diff' }, out));
    });

  program
    .command('check')
    .description("lint a GitOps tree for Flux image automation's silent failures (exit 1 on findings)")
    .argument('[dir]', 'root of the GitOps tree', '.')
    .option('-t, --tier <tier...>', "only findings in these tiers' files")
    .option('-a, --app <app...>', "only findings in these apps' files")
    .option('--json', 'print the findings as a JSON array')
    .action(async (dir, o) => {
      const { runCheck } = await import('./commands/check');
      program.setOptionValue('exit', runCheck({ dir, json: o.json, tier: o.tier, app: o.app }, out));
    });

  program
    .command('init')
    .description('write a stack file (Pulumi.<stack>.yaml) for a new environment from flags, asking for what is missing in a terminal')
    .option('-s, --stack <name>', 'the stack (file Pulumi.<stack>.yaml; default: the environment name)')
    .option('--name <name>', 'environment name (DNS-1123 label)')
    .option('--account-id <id>', 'AWS account id (12 digits)')
    .option('--region <region>', 'AWS region, e.g. eu-west-1')
    .option('--cluster <name>', 'EKS cluster name')
    .option('--oidc-issuer-url <url>', "the cluster's OIDC issuer URL (IRSA)")
    .option('--webhook-url <url>', "where Flux's webhook receiver is exposed (omit: tiers poll)")
    .option('--gitops-url <url>', 'the GitOps repository (https:// or ssh://)')
    .option('--git-auth <kind>', 'git credentials: github-app, basic-auth or ssh-key')
    .option('--github-app-id <id>', 'GitHub App id (with --git-auth github-app)')
    .option('--github-owner <owner>', 'GitHub App installation owner (with --git-auth github-app)')
    .option('--registry <kind>', 'ecr, or a registry host[:port] (generic OCI registry)')
    .option('--tiers <tier...>', 'tiers to run (dev, staging, release)')
    .option('--app <name...>', 'the first apps')
    .option('--json', 'print {stackFile, stack, environment} as JSON')
    .addOption(configDir)
    .action(async (o) => {
      const { runInit } = await import('./commands/init');
      program.setOptionValue('exit', await runInit(o, out));
    });

  program
    .command('tag')
    .description("print a tag of the tier's scheme that the tier's ImagePolicy accepts (for CI)")
    .requiredOption('-t, --tier <tier>', 'dev, staging or release')
    .option('--sha <sha>', 'git commit sha (dev, staging)')
    .option('--time <unix>', 'unix seconds (dev, staging; default now)')
    .option('--version <x.y.z>', 'release version (release)')
    .option('-s, --stack <name>', "apply this stack's overrides of the tier")
    .option('--app <name>', "apply this app's overrides in the tier")
    .option('--json', 'print {tag} as JSON')
    .addOption(configDir)
    .action(async (o) => {
      const { runTag } = await import('./commands/tag');
      program.setOptionValue('exit', runTag(o, out));
    });

  program
    .command('plan')
    .description('OFFLINE plan: run the Pulumi program with the mock monitor and print the resources it declares')
    .requiredOption('-s, --stack <name>', 'the stack to plan')
    .option('--json', 'print a JSON array [{type, name, parent, inputs}]')
    .addOption(configDir)
    .action(async (o) => {
      const { runPlan } = await import('./commands/plan');
      program.setOptionValue('exit', await runPlan(o, out));
    });

  program
    .command('simulate')
    .description('show the tag Flux would select for each app and tier, and the diff it would commit (nothing is written)')
    .requiredOption('-s, --stack <name>', 'the stack to simulate')
    .option('--tags <file>', 'YAML/JSON: {"<repository>": ["<tag>" | {tag, digest}]}')
    .option('--registry <url>', "list tags from this OCI registry (http[s]://host[:port]) instead of each app's own registry (the default)")
    .option('-t, --tier <tier...>', 'only these tiers')
    .option('-a, --app <app...>', 'only these apps')
    .option('-o, --out <dir>', 'GitOps tree whose current marker values are the starting point (read only)', 'dist')
    .option('--json', 'print {selections, diff} as JSON')
    .addOption(insecureRegistry())
    .addOption(tokenRealm())
    .addOption(configDir)
    .action(async (o) => {
      const { runSimulate } = await import('./commands/simulate');
      program.setOptionValue('exit', await runSimulate(o, out));
    });

  program
    .command('promote')
    .description('put the exact image (same digest) the staging tier runs under the release tag, through the promotion gates (signature, scan, soak, age), with a promotion record attached to the digest')
    .requiredOption('-s, --stack <name>', 'the stack whose release tier receives the image')
    .requiredOption('--app <name>', 'the app to promote')
    .requiredOption('--version <x.y.z>', 'the release version: the tag is the release scheme with it (release-X.Y.Z)')
    .option('--from-stack <name>', 'the stack whose staging tier ran the image (default: the one that runs the app in staging)')
    .option('--tree <dir>', "checkout of the GitOps repository's staging branch (staging's marker values)", 'dist')
    .option('--registry <url>', 'registry origin replacing the ECR hosts of both images (a mirror or a local registry)')
    .option('--explain', 'show each gate with its evidence and verdict (for a release that exists: the recorded ones)')
    .option('--json', 'print the outcome (gates, evidence, record) as JSON')
    .option('--override-gate <gate...>', 'EMERGENCIES ONLY: let these failing gates through (scan, signature, soak, age); needs --reason, recorded in the promotion record')
    .option('--reason <text>', 'why the gates in --override-gate are overridden (recorded)')
    .addOption(insecureRegistry())
    .addOption(tokenRealm())
    .addOption(configDir)
    .action(async (o) => {
      const { runPromote } = await import('./commands/promote');
      program.setOptionValue('exit', await runPromote(o, out));
    });

  program
    .command('status')
    .description('where each app\'s image is between the registry and running pods (registry, policy, Git, cluster, release, rollout)')
    .requiredOption('-s, --stack <name>', 'the stack')
    .option('-a, --app <app...>', 'only these apps')
    .option('-t, --tier <tier...>', 'only these tiers')
    .option('-w, --watch', 'follow one app until it runs the newest accepted tag (exit 0) or fails (exit 1)')
    .option('--timeout <duration>', 'with --watch: give up after this long (Go duration)', '10m')
    .option('--kubeconfig <file>', 'kubeconfig to read the cluster with (default: KUBECONFIG or ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context (default: the current one)')
    .option('--tree <dir>', "a checkout of the GitOps repository: Git's values and commits come from it (default: what the cluster applied)")
    .option('--registry <url>', "list tags in this registry instead of each app's own")
    .option('--insecure-registry', 'allow a plain http:// --registry')
    .option('--json', 'print {apps: [...]} as JSON')
    .addOption(configDir)
    .action(async (o) => {
      const { runStatus } = await import('./commands/status');
      program.setOptionValue('exit', await runStatus(o, out));
    });

  program
    .command('latency')
    .description('push → commit → running per tier, typical and worst case, with and without the webhook path')
    .requiredOption('-s, --stack <name>', 'the stack')
    .option('-t, --tier <tier...>', 'only these tiers')
    .option('-a, --app <app...>', 'only the tiers that run these apps, with their repositories')
    .option('--json', 'print the figures and the assumptions as JSON')
    .addOption(configDir)
    .action(async (o) => {
      const { runLatency } = await import('./commands/latency');
      program.setOptionValue('exit', runLatency(o, out));
    });

  program
    .command('policy')
    .description('image policy tools')
    .command('eval')
    .description('select the tag Flux would pick: JSON {tags, exclusionList?, filterTags?, policy} on stdin')
    .option('--json', 'the output is JSON always (accepted for uniformity)')
    .action(async () => {
      const { runPolicyEval } = await import('./commands/policy-eval');
      program.setOptionValue('exit', runPolicyEval(await readStdin(), out));
    });

  program
    .command('schema')
    .description('print (or write) the JSON Schema of tagflow:environment for editor completion')
    .option('-o, --out <file>', 'write to this file instead of stdout')
    .option('--stack-file', 'the schema of a whole Pulumi.<stack>.yaml (for yaml-language-server)')
    .option('--cli-output', 'the schema of every command\'s --json output')
    .option('--json', 'the output is JSON always (accepted for uniformity)')
    .action(async (o) => {
      const { runSchema } = await import('./commands/schema');
      program.setOptionValue('exit', runSchema(o, out));
    });

  return program;
}

/** The version in tagflow's package.json (lib/cli → the package root). */
export function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of process.stdin) {
    size += (c as Buffer).length;
    if (size > LIMITS.stdinBytes) throw new UsageError(`standard input is larger than ${LIMITS.stdinBytes} bytes (32 MiB)`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Runs the CLI; returns the exit code. Expected errors print one clear message, never a stack trace. */
export async function main(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s + '\n')): Promise<number> {
  // `--version` as the first argument: not a commander option, because `tag` and `promote` have their own
  // `--version <x.y.z>` and commander would take it for the program's anywhere on the line.
  if (argv[2] === '--version' || argv[2] === '-V') {
    const version = packageVersion();
    out(argv.includes('--json') ? JSON.stringify({ version }, null, 2) : version);
    return 0;
  }
  const program = buildProgram(out);
  const debug = () => program.getOptionValue('debug') === true || argv.includes('--debug');
  const stack = (e: unknown) => (debug() && e instanceof Error && e.stack ? `${e.stack}\n${e.cause instanceof Error && e.cause.stack ? `cause: ${e.cause.stack}\n` : ''}` : '');
  try {
    await program.parseAsync(argv);
    return (program.getOptionValue('exit') as number | undefined) ?? 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (isUserError(e)) {
      process.stderr.write(`tagflow: ${e.message}\n${stack(e)}`);
      return e.exitCode;
    }
    // The local file system failed (full, read-only, no permission, a file where a folder must be): exit 4.
    if (isSystemError(e)) {
      process.stderr.write(`tagflow: ${describeSystemError(e)}\n${stack(e)}`);
      return EXIT.localIo;
    }
    process.stderr.write(`tagflow: internal error: ${(e as Error).stack ?? String(e)}\n`);
    return EXIT.internal;
  }
}
