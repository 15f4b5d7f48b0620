import { createPublicKey } from 'node:crypto';
import * as fs from 'node:fs';
import type { App, Environment } from './environment';
import type { ConfigIssue } from './errors';
import { fileInStackFolder } from './stack-folder';
import { gateDurationMs, type GateKey, type PromotionGates, type PromotionGatesInput } from './promotion';

type KeyInput = { path: string } | { pem: string };
type Where = (string | number)[];

/** The key types cosign signs with and node:crypto verifies: ECDSA (cosign's default, P-256), RSA, Ed25519. */
const KEY_TYPES = new Set(['ec', 'rsa', 'ed25519']);

/** Keys already read, by field path (an environment's key serves every app: read, and reported, once). */
export type KeyCache = Map<string, GateKey | null>;

function readKey(k: KeyInput, where: Where, baseDir: string | undefined, issues: ConfigIssue[], cache: KeyCache): GateKey | undefined {
  const id = JSON.stringify(where);
  if (cache.has(id)) return cache.get(id) ?? undefined;
  const key = readKeyOnce(k, where, baseDir, issues);
  cache.set(id, key ?? null);
  return key;
}

function readKeyOnce(k: KeyInput, where: Where, baseDir: string | undefined, issues: ConfigIssue[]): GateKey | undefined {
  let pem: string;
  let name: string;
  if ('pem' in k) {
    pem = k.pem;
    name = 'inline key';
  } else {
    const real = fileInStackFolder(baseDir ? fs.realpathSync(baseDir) : undefined, k.path, [...where, 'path'], issues);
    if (!real) return undefined;
    const text = fs.statSync(real).isFile() && fs.statSync(real).size <= 64 * 1024 ? fs.readFileSync(real, 'utf8') : undefined;
    if (text === undefined) {
      issues.push({ path: [...where, 'path'], value: k.path, message: 'is not a file of at most 64 KiB (a PEM public key)' });
      return undefined;
    }
    pem = text;
    name = k.path;
  }
  try {
    const key = createPublicKey(pem);
    if (!KEY_TYPES.has(key.asymmetricKeyType ?? '')) {
      issues.push({ path: [...where, 'pem' in k ? 'pem' : 'path'], value: 'pem' in k ? undefined : k.path, message: `is a ${key.asymmetricKeyType} key; cosign keys are ECDSA, RSA or Ed25519` });
      return undefined;
    }
  } catch (e) {
    issues.push({
      path: [...where, 'pem' in k ? 'pem' : 'path'],
      value: 'pem' in k ? undefined : k.path,
      message: `is not a PEM public key (${(e as Error).message.split('\n')[0]}); cosign.pub from 'cosign generate-key-pair' is one`,
    });
    return undefined;
  }
  return { pem, where: name };
}

/**
 * The promotion gates of one app of an environment: the environment's `promotion.gates`, each gate
 * replaced by the app's own when it sets one (`false` turns it off); keys read from the stack file's
 * folder and parsed, durations in milliseconds. Problems are added to `issues` with their field path.
 */
export function resolvePromotionGates(
  env: Environment,
  app: App,
  appIndex: number,
  baseDir: string | undefined,
  issues: ConfigIssue[],
  cache: KeyCache,
): PromotionGates {
  const envGates: PromotionGatesInput = env.promotion?.gates ?? {};
  const appGates: PromotionGatesInput = app.promotion?.gates ?? {};
  const pick = <K extends keyof PromotionGatesInput>(k: K): { value: PromotionGatesInput[K]; where: Where } =>
    appGates[k] !== undefined ? { value: appGates[k], where: ['apps', appIndex, 'promotion', 'gates', k] } : { value: envGates[k], where: ['promotion', 'gates', k] };
  const out: { -readonly [K in keyof PromotionGates]: PromotionGates[K] } = {};
  const keys = (list: readonly KeyInput[], where: Where) => list.map((k, i) => readKey(k, [...where, i], baseDir, issues, cache)).filter((k): k is GateKey => k !== undefined);

  const sig = pick('signature');
  if (sig.value) out.signature = { keys: keys(sig.value.keys, [...sig.where, 'keys']) };

  const scan = pick('scan');
  if (scan.value) {
    const ecr = env.registry.provider === 'aws';
    const source = scan.value.source ?? (ecr ? 'ecr' : 'attestation');
    if (source === 'ecr' && !ecr) {
      issues.push({ path: [...scan.where, 'source'], value: 'ecr', message: `reads ECR scan findings, but this environment's registry is ${env.registry.provider}; use source attestation` });
    }
    let scanKeys: GateKey[] = [];
    if (source === 'attestation') {
      if (scan.value.keys) scanKeys = keys(scan.value.keys, [...scan.where, 'keys']);
      else if (out.signature) scanKeys = [...out.signature.keys];
      else {
        issues.push({
          path: scan.where,
          message: 'uses source attestation, whose signature must verify against a key: set keys here, or a signature gate (its keys are used)',
        });
      }
    }
    out.scan = { source, failOn: scan.value.failOn, keys: scanKeys };
  }

  for (const k of ['soak', 'age'] as const) {
    const g = pick(k);
    if (g.value) out[k] = { minimum: g.value.minimum, minimumMs: gateDurationMs(g.value.minimum) };
  }
  return out;
}
