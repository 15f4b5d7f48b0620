import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { loadStack } from '../src/model/load';
import { ciPushRoleName, roleArn } from '../src/model/aws-names';
import { evaluatePolicy } from '../src/engines/policy/evaluate';
import { REPO_ROOT } from './support/tree';

const dir = path.join(REPO_ROOT, 'examples', 'ci');
const env = loadStack(REPO_ROOT, 'dev');
const ciRole = roleArn(env.model.aws!.accountId, env.model.aws!.region, ciPushRoleName(env.name));
const gha = parse(fs.readFileSync(path.join(dir, 'github-actions.yml'), 'utf8'));
const bk = parse(fs.readFileSync(path.join(dir, 'buildkite.yml'), 'utf8'));

/** Every `tagflow tag --tier <t>` in a text. */
const tagTiers = (text: string) => [...text.matchAll(/npx --yes tagflow tag --tier (\w+) --sha "\$\$?(\w+)"/g)].map((m) => m[1]);

/** The tag the CLI prints for a tier, and whether that tier's ImagePolicy (dev stack) selects it. */
function cliTagSelected(tier: string): boolean {
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin/tagflow.js'), 'tag', '--tier', tier, '--sha', '0123456789abcdef0123456789abcdef01234567'], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  const app = env.tiers.find((t) => t.name === tier)!.apps[0]!;
  return evaluatePolicy([r.stdout.trim(), 'release-9.9.9'], { exclusionList: app.exclusionList, filterTags: app.filterTags, policy: app.policy }).latest === r.stdout.trim();
}

describe('examples/ci', () => {
  test('GitHub Actions: assumes the CI push role of the dev stack, on a branch its trust policy allows', () => {
    expect(gha.env.CI_ROLE_ARN).toBe(ciRole);
    expect(gha.permissions['id-token']).toBe('write');
    const ci = env.model.ci!;
    if (!('githubActions' in ci)) throw new Error('the dev stack is expected to configure ci.githubActions');
    expect(gha.on.push.branches.every((b: string) => ci.githubActions.branches.includes(b))).toBe(true);
    const uses = Object.values(gha.jobs).flatMap((j: any) => j.steps.filter((s: any) => s.uses?.startsWith('aws-actions/configure-aws-credentials')));
    expect(uses.map((s: any) => s.with['role-to-assume'])).toEqual(['${{ env.CI_ROLE_ARN }}', '${{ env.CI_ROLE_ARN }}']);
    expect(`${gha.env.REGISTRY}/${gha.env.REPOSITORY}`).toBe(env.tiers[0]!.apps.find((a) => a.app === 'checkout-api')!.image);
  });

  test('Buildkite: the same role in every assume-role plugin', () => {
    const roles = bk.steps.flatMap((s: any) => (s.plugins ?? []).map((p: any) => p['aws-assume-role-with-web-identity#v1.4.0']?.['role-arn']).filter(Boolean));
    expect(roles).toEqual([ciRole, ciRole]);
    expect(bk.env.CI_ROLE_ARN).toBe(ciRole);
  });

  test('both tag with `tagflow tag` for dev, then staging, and those tags are what the tiers select', () => {
    const ghaRuns = Object.values(gha.jobs).flatMap((j: any) => j.steps.map((s: any) => s.run ?? '')).join('\n');
    const bkRuns = bk.steps.map((s: any) => s.command ?? '').join('\n');
    expect(tagTiers(ghaRuns)).toEqual(['dev', 'staging']);
    expect(tagTiers(bkRuns)).toEqual(['dev', 'staging']);
    for (const t of ['dev', 'staging']) expect(cliTagSelected(t)).toBe(true);
  });

  test('staging reuses the digest built for dev (no rebuild), and builds use the registry layer cache', () => {
    const ghaText = fs.readFileSync(path.join(dir, 'github-actions.yml'), 'utf8');
    expect(ghaText).toContain('imagetools create');
    expect(ghaText).toContain('@${{ needs.build.outputs.digest }}');
    expect(ghaText).toMatch(/cache-from: type=registry/);
    expect(fs.readFileSync(path.join(dir, 'buildkite.yml'), 'utf8')).toMatch(/--cache-from "type=registry/);
  });

  test('the Dockerfile copies dependency manifests and installs before copying the source', () => {
    const lines = fs.readFileSync(path.join(dir, 'Dockerfile'), 'utf8').split('\n');
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    expect(at(/^COPY package\.json package-lock\.json/)).toBeGreaterThan(-1);
    expect(at(/^COPY package\.json/)).toBeLessThan(at(/^RUN npm ci/));
    expect(at(/^RUN npm ci/)).toBeLessThan(at(/^COPY \. \./));
  });
});
