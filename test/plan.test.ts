import { expectCliOutput } from './support/cli-output';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { REPO_ROOT, sampleEnvironment, tmpDir, writeStack } from './support/tree';

const prodGrant = (prod: any[]) => prod.find((x: any) => x.type === 'aws:iam/rolePolicy:RolePolicy' && /ecr-read$/.test(x.inputs.name)).inputs.policy.Statement[1].Resource;

/** `tagflow plan` runs in its own process: it sets Pulumi's global mock runtime. */
function plan(args: string[], cwd = REPO_ROOT) {
  return spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin/tagflow.js'), 'plan', ...args], { cwd, encoding: 'utf8' });
}

describe('tagflow plan (offline)', () => {
  test.each(['dev', 'prod'])('--stack %s --json lists every resource with type, name, parent and parsed IAM documents', (stack) => {
    const r = plan(['--stack', stack, '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const resources = expectCliOutput('plan', r.stdout) as { type: string; name: string; parent: string | null; inputs: any }[];
    expect(resources[0]).toMatchObject({ type: 'tagflow:aws:Environment', name: 'tagflow', parent: null });
    for (const res of resources.slice(1)) expect(res.parent).toMatch(/^tagflow/);
    const role = resources.find((x) => x.type === 'aws:iam/role:Role' && x.inputs.name === `tagflow-${stack}-flux-image-reader`)!;
    expect(role.inputs.assumeRolePolicy.Statement[0].Action).toBe('sts:AssumeRoleWithWebIdentity');
    const grants = resources.filter((x) => x.type === 'aws:iam/rolePolicy:RolePolicy' && /ecr-read$/.test(x.inputs.name));
    expect(grants.length).toBeGreaterThan(0);
    for (const g of grants) expect(g.inputs.policy.Statement.map((s: any) => s.Sid)).toEqual(['Login', expect.stringMatching(/^Read/)]);
    expect(JSON.stringify(resources)).not.toMatch(/PRIVATE KEY/);
  });

  test('dev creates its repositories and a CI role per source; prod adopts cross-account repositories and reads them', () => {
    const dev = JSON.parse(plan(['--stack', 'dev', '--json']).stdout);
    const prod = JSON.parse(plan(['--stack', 'prod', '--json']).stdout);
    const types = (l: any[]) => l.map((x) => x.type);
    expect(types(dev)).toEqual(expect.arrayContaining(['aws:ecr/repository:Repository', 'aws:ecr/repositoryPolicy:RepositoryPolicy', 'kubernetes:core/v1:Secret']));
    expect(dev.filter((x: any) => x.type === 'aws:iam/role:Role' && /-ci-/.test(x.inputs.name)).map((x: any) => x.inputs.name).sort()).toEqual([
      'tagflow-dev-ci-acme-checkout-api',
      'tagflow-dev-ci-acme-payments',
    ]);
    expect(types(prod)).not.toContain('aws:ecr/repository:Repository');
    const prodGrant = prod.find((x: any) => x.type === 'aws:iam/rolePolicy:RolePolicy' && /ecr-read$/.test(x.inputs.name));
    expect(prodGrant.inputs.policy.Statement[1].Resource).toEqual([
      'arn:aws:ecr:eu-west-1:111122223333:repository/checkout-api',
      'arn:aws:ecr:eu-west-1:111122223333:repository/payments/worker',
    ]);
  });

  test('both sides of the cross-account pull: dev names exact prod roles, prod grants its node role pull', () => {
    const dev = JSON.parse(plan(['--stack', 'dev', '--json']).stdout);
    const prod = JSON.parse(plan(['--stack', 'prod', '--json']).stdout);
    const policies = dev.filter((x: any) => x.type === 'aws:ecr/repositoryPolicy:RepositoryPolicy');
    expect(policies).toHaveLength(2);
    for (const p of policies) {
      expect(p.inputs.policy.Statement.map((s: any) => s.Principal.AWS)).toEqual([
        ['arn:aws:iam::444455556666:role/tagflow-prod-flux-image-reader'],
        ['arn:aws:iam::444455556666:role/prod-eu-west-1-node'],
      ]);
    }
    const nodePull = prod.find((x: any) => x.type === 'aws:iam/rolePolicy:RolePolicy' && x.inputs.name === 'tagflow-prod-ecr-pull');
    expect(nodePull.inputs.role).toBe('prod-eu-west-1-node');
    expect(nodePull.inputs.policy.Statement[1].Resource).toEqual(prodGrant(prod));
  });

  test("a stack whose aws:region differs from the model's region (or is missing) exits 2 naming both", () => {
    const dir = tmpDir();
    const { stringify } = require('yaml') as typeof import('yaml');
    fs.writeFileSync(path.join(dir, 'Pulumi.r.yaml'), stringify({ config: { 'aws:region': 'us-east-1', 'tagflow:environment': sampleEnvironment() } }));
    let r = plan(['--stack', 'r'], dir);
    expect(r.stderr).toMatch(/Pulumi\.r\.yaml: tagflow:environment\.aws\.region: "eu-west-1" is the region of this environment, but the stack's aws:region is "us-east-1"/);
    expect(r.status).toBe(2);
    writeStack(dir, 'r', sampleEnvironment());
    r = plan(['--stack', 'r'], dir);
    expect(r.stderr).toMatch(/tagflow:environment\.aws\.region: "eu-west-1" is the region of this environment, but the stack sets no aws:region/);
    expect(r.status).toBe(2);
  });

  test('the text plan says plainly that it is offline', () => {
    const r = plan(['--stack', 'dev']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^OFFLINE PLAN for stack 'dev'/);
    expect(r.stdout).toMatch(/No Pulumi CLI, no cloud calls/);
    expect(r.stdout).toMatch(/\+ aws:iam\/role:Role {2}tagflow-flux-image-reader {2}\(parent: tagflow\)/);
  });

  test.each([
    [{ cluster: { name: 'c', identity: 'irsa' } }, /cluster\.oidcIssuerUrl: is required when cluster\.identity is irsa/],
    [{ aws: { accountId: '1234', region: 'eu-west-1' } }, /aws\.accountId: "1234" must be a 12-digit AWS account id/],
    [{ aws: { accountId: '123456789012', region: 'eu-west-1', kmsKeyArn: 'arn:aws:kms:eu-west-1:123:key/nope' } }, /aws\.kmsKeyArn: "arn:aws:kms:eu-west-1:123:key\/nope" must be a KMS key ARN/],
  ])('bad stack config %j exits 2 naming the field', (overrides, message) => {
    const dir = tmpDir();
    writeStack(dir, 'bad', sampleEnvironment(overrides));
    const r = plan(['--stack', 'bad'], dir);
    expect(r.stderr).toMatch(message);
    expect(r.status).toBe(2);
  });
});

describe('tagflow plan shows the webhook wiring', () => {
  test('--stack dev: per webhook tier a rule, target with DLQ, API destination and a role pinned to the rule', () => {
    const r = plan(['--stack', 'dev', '--json']);
    expect(r.status).toBe(0);
    const resources = JSON.parse(r.stdout) as { type: string; name: string; parent: string | null; inputs: any }[];
    for (const tier of ['dev', 'staging']) {
      const mine = resources.filter((x) => x.parent === `tagflow-${tier}-webhook`);
      const types = mine.map((x) => x.type);
      for (const t of ['aws:cloudwatch/eventRule:EventRule', 'aws:cloudwatch/eventTarget:EventTarget', 'aws:cloudwatch/eventApiDestination:EventApiDestination', 'aws:sqs/queue:Queue', 'aws:iam/role:Role']) {
        expect({ tier, t, present: types.includes(t) }).toEqual({ tier, t, present: true });
      }
      const role = mine.find((x) => x.type === 'aws:iam/role:Role')!;
      expect(role.inputs.assumeRolePolicy.Statement[0].Condition.StringEquals['aws:SourceArn']).toBe(`arn:aws:events:eu-west-1:111122223333:rule/tagflow-dev-${tier}-ecr-push`);
      const target = mine.find((x) => x.type === 'aws:cloudwatch/eventTarget:EventTarget')!;
      expect(target.inputs.deadLetterConfig.arn).toBe(`arn:aws:sqs:eu-west-1:111122223333:tagflow-dev-${tier}-ecr-push-dlq`);
    }
    expect(resources.some((x) => x.type === 'tagflow:aws:TierWebhook' && x.name.includes('release'))).toBe(false);
  });
});
