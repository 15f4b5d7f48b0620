import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadStack } from '../src/model/load';
import { cliAsync, withoutWarnings } from './support/cli';
import { expectCliOutput } from './support/cli-output';
import { inTerminal } from './support/terminal';
import { tmpDir } from './support/tree';

const OIDC = 'https://oidc.eks.eu-west-1.amazonaws.com/id/5C6B1D4E9A0F2B3C4D5E6F7A8B9C0D1E';
const FLAGS = ['--name', 'dev', '--account-id', '111122223333', '--region', 'eu-west-1', '--cluster', 'nonprod', '--oidc-issuer-url', OIDC, '--gitops-url', 'https://github.com/acme/gitops', '--github-app-id', '123456', '--github-owner', 'acme', '--app', 'checkout-api', 'payments'];

/** Every file below dir with its bytes: "changes nothing on disk" is exact. */
const snapshot = (dir: string) => new Map(fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => [f, fs.statSync(path.join(dir, f)).isFile() ? fs.readFileSync(path.join(dir, f), 'utf8') : '']));

describe('tagflow init', () => {
  test('from flags: a stack file that synth accepts at once; never overwritten', async () => {
    const dir = tmpDir();
    const r = await cliAsync(['init', ...FLAGS, '--config-dir', dir, '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const j = expectCliOutput('init', r.out);
    expect(j.stack).toBe('dev');
    const env = loadStack(dir, 'dev');
    expect(env.tiers.map((t) => [t.name, t.apps.map((a) => a.app)])).toEqual([
      ['dev', ['checkout-api', 'payments']],
      ['staging', ['checkout-api', 'payments']],
      ['release', ['checkout-api', 'payments']],
    ]);
    expect(fs.readFileSync(path.join(dir, 'Pulumi.dev.yaml'), 'utf8')).toMatch(/^ {2}aws:region: eu-west-1$/m);
    const synth = await cliAsync(['synth', '--config-dir', dir, '--out', path.join(dir, 'gitops')]);
    expect({ code: synth.code, err: withoutWarnings(synth.err) }).toEqual({ code: 0, err: '' });
    // Run again: the file is there, and stays as it was.
    const before = fs.readFileSync(path.join(dir, 'Pulumi.dev.yaml'), 'utf8');
    const again = await cliAsync(['init', ...FLAGS, '--app', 'other', '--config-dir', dir]);
    expect(again.code).toBe(2);
    expect(again.err).toBe(`tagflow: ${path.join(dir, 'Pulumi.dev.yaml')} exists: tagflow init never overwrites a stack file (choose another --stack, or edit it)\n`);
    expect(fs.readFileSync(path.join(dir, 'Pulumi.dev.yaml'), 'utf8')).toBe(before);
  });

  test('a generic registry and basic-auth git credentials', async () => {
    const dir = tmpDir();
    const flags = ['--name', 'lab', '--account-id', '111122223333', '--region', 'eu-west-1', '--cluster', 'lab', '--oidc-issuer-url', OIDC, '--gitops-url', 'https://gitea.example.com/acme/gitops', '--git-auth', 'basic-auth', '--registry', 'registry.example.com:5000', '--tiers', 'dev', '--app', 'api'];
    expect((await cliAsync(['init', ...flags, '--config-dir', dir])).code).toBe(0);
    const env = loadStack(dir, 'lab');
    expect(env.model.registry).toEqual({ provider: 'generic', host: 'registry.example.com:5000', insecure: false });
    expect(env.model.gitops.basicAuth).toEqual({ secretName: 'tagflow-git' });
    expect(env.tiers.map((t) => t.name)).toEqual(['dev']);
    expect((await cliAsync(['synth', '--config-dir', dir, '--out', path.join(dir, 'gitops')])).code).toBe(0);
  });

  test.each([
    [['--account-id', '1111'], /^tagflow: --account-id "1111": must be a 12-digit AWS account id .*\(tagflow:environment\.aws\.accountId\)\n$/],
    [['--name', 'Dev_1'], /^tagflow: --name "Dev_1": .*\(tagflow:environment\.name\)\n$/],
    [['--oidc-issuer-url', 'http://oidc.example.com'], /^tagflow: --oidc-issuer-url "http:\/\/oidc\.example\.com": .*\(tagflow:environment\.cluster\.oidcIssuerUrl\)\n$/],
    [['--git-auth', 'token'], /^tagflow: --git-auth 'token': must be one of github-app, basic-auth, ssh-key\n$/],
    [['--tiers', 'qa'], /^tagflow: --tiers 'qa': tiers are dev, staging, release\n$/],
  ])('%j: one line naming the flag, the value and the rule; exit 2; nothing written', async (bad, message) => {
    const dir = tmpDir();
    const before = snapshot(dir);
    const r = await cliAsync(['init', ...FLAGS, ...bad, '--config-dir', dir]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(snapshot(dir)).toEqual(before);
  });

  test('flags missing and no terminal: exit 2 naming them (a piped stdin is not asked)', async () => {
    const dir = tmpDir();
    const r = await cliAsync(['init', '--name', 'dev', '--config-dir', dir]);
    expect(r).toEqual({ code: 2, out: '', err: 'tagflow: missing --account-id, --cluster, --oidc-issuer-url, --gitops-url, --github-app-id, --github-owner, --app (pass them, or run tagflow init in a terminal to be asked)\n' });
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  test('in a terminal it asks for what the flags leave out, re-asks a refused answer, and writes what synth accepts', async () => {
    const dir = tmpDir();
    const t = await inTerminal(
      ['init', '--config-dir', dir, '--region', 'eu-central-1'],
      [
        [/Environment name .*: $/m, 'qa'],
        [/AWS account id \(12 digits\): $/m, '12345'],
        [/AWS account id \(12 digits\): $/m, '444455556666'],
        [/EKS cluster name: $/m, 'qa-cluster'],
        [/OIDC issuer URL .*: $/m, OIDC],
        [/webhook receiver origin .*: $/m, 'https://flux-webhook.qa.example'],
        [/GitOps repository URL .*: $/m, 'ssh://git@git.example.com/acme/gitops'],
        [/Git credentials .*: $/m, 'ssh-key'],
        [/Registry: .*: $/m, ''],
        [/Tiers .*: $/m, 'dev, staging'],
        [/First apps .*: $/m, 'web'],
      ],
      dir,
    );
    expect(t.code).toBe(0);
    expect(t.screen).toMatch(/--account-id "12345": must be a 12-digit AWS account id/);
    expect(t.screen).toMatch(/wrote .*Pulumi\.qa\.yaml/);
    const env = loadStack(dir, 'qa');
    expect(env.model).toMatchObject({ name: 'qa', aws: { accountId: '444455556666', region: 'eu-central-1' }, cluster: { name: 'qa-cluster', webhookUrl: 'https://flux-webhook.qa.example' }, gitops: { url: 'ssh://git@git.example.com/acme/gitops', sshKey: {} } });
    expect(env.model.registry).toEqual({ provider: 'aws' });
    expect(env.tiers.map((t) => [t.name, t.apps.map((a) => a.app)])).toEqual([
      ['dev', ['web']],
      ['staging', ['web']],
    ]);
    const synth = await cliAsync(['synth', '--config-dir', dir, '--out', path.join(dir, 'gitops')]);
    expect(synth.code).toBe(0);
  }, 90_000);
});
