import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadStack } from '../src/model/load';
import { gateDurationMs } from '../src/model/promotion';
import { cliAsync as cli } from './support/cli';
import { sampleEnvironment, snapshotTree, tmpDir, writeStack } from './support/tree';

/** A real ECDSA P-256 public key in PEM (made by openssl, as cosign generate-key-pair makes one). */
function publicKey(dir: string, name = 'cosign.pub'): string {
  execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', path.join(dir, 'k.pem')]);
  execFileSync('openssl', ['ec', '-in', path.join(dir, 'k.pem'), '-pubout', '-out', path.join(dir, name)], { stdio: 'ignore' });
  return fs.readFileSync(path.join(dir, name), 'utf8');
}

function release(dir: string, stack = 's') {
  return loadStack(dir, stack).tiers.find((t) => t.name === 'release')!.apps;
}

describe('promotion gates in the stack model', () => {
  it('resolves gates per environment, replaced gate by gate per app (false turns one off)', () => {
    const dir = tmpDir();
    const pem = publicKey(dir);
    writeStack(
      dir,
      's',
      sampleEnvironment({
        promotion: { gates: { signature: { keys: [{ path: 'cosign.pub' }] }, scan: {}, soak: { minimum: '1d12h' } } },
        apps: [{ name: 'api' }, { name: 'worker', promotion: { gates: { soak: false, age: { minimum: '90m' }, scan: { failOn: 'CRITICAL' } } } }],
      }),
    );
    const [api, worker] = release(dir);
    expect(api!.promotion).toEqual({
      signature: { keys: [{ pem, where: 'cosign.pub' }] },
      scan: { source: 'ecr', failOn: 'HIGH', keys: [] },
      soak: { minimum: '1d12h', minimumMs: 36 * 3_600_000 },
    });
    expect(worker!.promotion).toEqual({
      signature: { keys: [{ pem, where: 'cosign.pub' }] },
      scan: { source: 'ecr', failOn: 'CRITICAL', keys: [] },
      age: { minimum: '90m', minimumMs: 90 * 60_000 },
    });
    // Other tiers carry no gates; a stack without a promotion section has none.
    expect(loadStack(dir, 's').tiers.find((t) => t.name === 'staging')!.apps[0]!.promotion).toBeUndefined();
    writeStack(dir, 'plain', sampleEnvironment());
    expect(release(dir, 'plain')[0]!.promotion).toEqual({});
  });

  it('a generic registry scans by attestation, verified with the signature keys unless the scan names its own', () => {
    const dir = tmpDir();
    const pem = publicKey(dir);
    const inline = publicKey(dir, 'other.pub');
    const generic = { registry: { provider: 'generic', host: 'registry.example.com' } };
    writeStack(dir, 's', sampleEnvironment({ ...generic, promotion: { gates: { signature: { keys: [{ path: 'cosign.pub' }] }, scan: { failOn: 'MEDIUM' } } } }));
    expect(release(dir)[0]!.promotion!.scan).toEqual({ source: 'attestation', failOn: 'MEDIUM', keys: [{ pem, where: 'cosign.pub' }] });
    writeStack(dir, 's', sampleEnvironment({ ...generic, promotion: { gates: { scan: { keys: [{ pem: inline }] } } } }));
    expect(release(dir)[0]!.promotion!.scan).toEqual({ source: 'attestation', failOn: 'HIGH', keys: [{ pem: inline, where: 'inline key' }] });
  });

  it('bad gates are one line each naming the field path, the value and the rule', () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'not-a-key.pub'), '-----BEGIN PUBLIC KEY-----\nnot base64 at all\n-----END PUBLIC KEY-----\n');
    const cases: [unknown, string][] = [
      [{ soak: { minimum: '2 weeks' } }, `tagflow:environment.promotion.gates.soak.minimum: "2 weeks" must be a duration such as '24h', '3d' or '1h30m' (units ms, s, m, h, d)`],
      [{ age: { minimum: '400d' } }, 'tagflow:environment.promotion.gates.age.minimum: "400d" must be at most a year (366d)'],
      [{ scan: { failOn: 'SEVERE' } }, 'tagflow:environment.promotion.gates.scan.failOn: "SEVERE"'],
      [{ signature: { keys: [] } }, 'tagflow:environment.promotion.gates.signature.keys: []'],
      [{ signature: { keys: [{ path: 'missing.pub' }] } }, `tagflow:environment.promotion.gates.signature.keys[0].path: "missing.pub" does not exist (looked in ${fs.realpathSync(dir)}/missing.pub)`],
      [{ signature: { keys: [{ path: '../etc/key.pub' }] } }, `tagflow:environment.promotion.gates.signature.keys[0].path: "../etc/key.pub" must be a path inside the stack file's folder (relative, no '..')`],
      [{ signature: { keys: [{ path: 'not-a-key.pub' }] } }, 'tagflow:environment.promotion.gates.signature.keys[0].path: "not-a-key.pub" is not a PEM public key ('],
      [{ signature: { keys: [{ pem: 'ssh-ed25519 AAAA' }] } }, `tagflow:environment.promotion.gates.signature.keys[0]`],
      [{ scan: { source: 'attestation' } }, 'tagflow:environment.promotion.gates.scan: uses source attestation, whose signature must verify against a key: set keys here, or a signature gate (its keys are used)'],
      [{ retries: 3 }, 'tagflow:environment.promotion.gates'],
    ];
    for (const [gates, message] of cases) {
      writeStack(dir, 's', sampleEnvironment({ promotion: { gates } }));
      expect(() => loadStack(dir, 's')).toThrow(message);
    }
    writeStack(dir, 's', sampleEnvironment({ registry: { provider: 'generic', host: 'r.example.com' }, aws: undefined, apps: [{ name: 'api', promotion: { gates: { scan: { source: 'ecr' } } } }] }));
    expect(() => loadStack(dir, 's')).toThrow(`Pulumi.s.yaml: tagflow:environment.apps[0].promotion.gates.scan.source: "ecr" reads ECR scan findings, but this environment's registry is generic; use source attestation`);
  });

  it('durations', () => {
    expect(gateDurationMs('1d2h3m4s5ms')).toBe(86_400_000 + 2 * 3_600_000 + 3 * 60_000 + 4000 + 5);
    expect(gateDurationMs('0s')).toBe(0);
  });

  it('CLI: promote with a bad gate in the stack exits 2 with one line and changes nothing', async () => {
    const dir = tmpDir();
    writeStack(dir, 'stg', sampleEnvironment({ name: 'stg', tiers: { staging: {} } }));
    writeStack(dir, 'rel', sampleEnvironment({ name: 'rel', tiers: { release: {} }, promotion: { gates: { signature: { keys: [{ path: 'team.pub' }] } } } }));
    const before = snapshotTree(dir);
    const r = await cli(['promote', '--stack', 'rel', '--app', 'api', '--version', '1.0.0', '--tree', dir, '--config-dir', dir]);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`tagflow: Pulumi.rel.yaml: tagflow:environment.promotion.gates.signature.keys[0].path: "team.pub" does not exist (looked in ${fs.realpathSync(dir)}/team.pub)\n`);
    expect(snapshotTree(dir)).toEqual(before);
  });
});
