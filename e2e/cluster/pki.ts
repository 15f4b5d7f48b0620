// Certificates, keys and static tokens for a throwaway control plane.
// X.509 certificates come from the openssl CLI (node:crypto cannot issue them); the service-account
// key pair and the tokens from node:crypto.
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A static-token identity of the API server (`--token-auth-file`). */
export interface TokenUser {
  readonly token: string;
  readonly user: string;
  readonly groups: readonly string[];
}

export interface Pki {
  readonly dir: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly servingCert: string;
  readonly servingKey: string;
  readonly serviceAccountKey: string;
  readonly serviceAccountPub: string;
  readonly tokenFile: string;
  readonly users: {
    readonly admin: TokenUser;
    readonly controllerManager: TokenUser;
    readonly scheduler: TokenUser;
  };
}

async function openssl(dir: string, args: readonly string[]): Promise<void> {
  try {
    await run('openssl', [...args], { cwd: dir, timeout: 30_000 });
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`openssl ${args.join(' ')} failed in ${dir}: ${err.message}\n${err.stderr ?? ''}`);
  }
}

const token = (): string => randomBytes(24).toString('hex');

/** Writes a CA, a serving certificate for 127.0.0.1, a service-account key pair and the token file into `dir`. */
export async function createPki(dir: string): Promise<Pki> {
  mkdirSync(dir, { recursive: true });
  const f = (name: string): string => path.join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

  await openssl(dir, [
    'req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '7', '-subj', '/CN=tagflow-e2e-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  writeFileSync(
    f('serving.ext'),
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.96.0.1',
      '',
    ].join('\n'),
  );
  await openssl(dir, ['req', ...ec, '-keyout', 'serving.key', '-out', 'serving.csr', '-subj', '/CN=kube-apiserver']);
  await openssl(dir, [
    'x509', '-req', '-in', 'serving.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'serving.crt', '-days', '7', '-extfile', 'serving.ext',
  ]);

  const sa = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  writeFileSync(f('sa.key'), sa.privateKey, { mode: 0o600 });
  writeFileSync(f('sa.pub'), sa.publicKey);

  const users = {
    admin: { token: token(), user: 'tagflow-e2e-admin', groups: ['system:masters'] },
    controllerManager: { token: token(), user: 'system:kube-controller-manager', groups: [] },
    scheduler: { token: token(), user: 'system:kube-scheduler', groups: [] },
  } as const;
  const csv = Object.values(users).map((u) => `${u.token},${u.user},${u.user},"${u.groups.join(',')}"`);
  writeFileSync(f('tokens.csv'), csv.join('\n') + '\n', { mode: 0o600 });

  return {
    dir,
    caCert: f('ca.crt'),
    caKey: f('ca.key'),
    servingCert: f('serving.crt'),
    servingKey: f('serving.key'),
    serviceAccountKey: f('sa.key'),
    serviceAccountPub: f('sa.pub'),
    tokenFile: f('tokens.csv'),
    users,
  };
}
