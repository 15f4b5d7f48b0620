import * as fs from 'node:fs';
import * as path from 'node:path';
import { AUTH_TOKEN_ACTION, CI_PUSH_ACTIONS, FLUX_READ_ACTIONS, NODE_PULL_ACTIONS } from '../src/aws/iam-documents';
import { REPO_ROOT } from './support/tree';

const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');

describe('README', () => {
  test('opens with the two commands for a fresh machine', () => {
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)![1];
    expect(firstBlock).toMatch(/^npm ci && npm run synth/m);
    expect(firstBlock).toMatch(/^npm test/m);
  });

  test('the IAM table lists exactly the actions the roles are granted', () => {
    const rows = readme.split('\n').filter((l) => /^\| (Flux image reader|CI push|Node pull) \|/.test(l));
    const actionsOf = (who: string) => new Set(rows.filter((r) => r.startsWith(`| ${who} |`)).flatMap((r) => [...r.split('|')[2].matchAll(/`(ecr:[A-Za-z]+)`/g)].map((m) => m[1])));
    expect([...actionsOf('Flux image reader')].sort()).toEqual([...Object.keys(AUTH_TOKEN_ACTION), ...Object.keys(FLUX_READ_ACTIONS)].sort());
    expect([...actionsOf('CI push')].sort()).toEqual([...Object.keys(AUTH_TOKEN_ACTION), ...Object.keys(CI_PUSH_ACTIONS)].sort());
    expect([...actionsOf('Node pull')].sort()).toEqual([...Object.keys(AUTH_TOKEN_ACTION), ...Object.keys(NODE_PULL_ACTIONS)].sort());
  });

  test('names every runtime dependency with a reason', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
    for (const dep of [...Object.keys(pkg.dependencies), ...Object.keys(pkg.devDependencies)]) {
      expect({ dep, listed: readme.includes(`\`${dep}\``) || readme.includes(`\`${dep.replace(/^@types\/.*/, '@types/*')}\``) }).toEqual({ dep, listed: true });
    }
  });

  test('the simplest working example is a valid stack', () => {
    const { parse } = require('yaml') as typeof import('yaml');
    const { parseEnvironment } = require('../src/model/load') as typeof import('../src/model/load');
    const { resolveEnvironment } = require('../src/model/tiers') as typeof import('../src/model/tiers');
    const block = /```yaml\n(# Pulumi\.dev\.yaml[\s\S]*?)```/.exec(readme)![1]!;
    const env = resolveEnvironment(parseEnvironment(parse(block).config['tagflow:environment'], 'README.md'));
    expect(env.tiers.map((t) => [t.name, t.apps.map((a) => a.app)])).toEqual([['dev', ['checkout-api']]]);
  });
});
