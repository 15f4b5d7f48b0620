import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { GateKey } from '../../model/promotion';

/**
 * Verifies a signature over `data` as cosign makes it with a key pair: ECDSA (cosign's default, P-256,
 * ASN.1 DER signature) or RSA PKCS#1 v1.5 over the SHA-256 of the data, or Ed25519 over the data itself.
 * Returns the key that verifies it, if any.
 */
export function verifyWithKeys(data: Buffer, signature: Buffer, keys: readonly GateKey[]): GateKey | undefined {
  for (const k of keys) {
    const key: KeyObject = createPublicKey(k.pem);
    try {
      const ok = key.asymmetricKeyType === 'ed25519' ? verify(null, data, key, signature) : verify('sha256', data, key, signature);
      if (ok) return k;
    } catch {
      /* a malformed signature verifies against no key */
    }
  }
  return undefined;
}
