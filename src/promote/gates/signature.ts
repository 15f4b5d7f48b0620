import type { PromotionGates } from '../../model/promotion';
import { COSIGN, findCosignManifests, layerBytes } from './cosign';
import { verifyWithKeys } from './keys';
import type { GateResult, GateSubject } from './types';

/**
 * The signature gate: a cosign signature attached to the digest (tag `sha256-<hex>.sig` or an OCI
 * referrer) whose signature over its payload verifies against one of the configured keys, and whose
 * payload says `critical.image.docker-manifest-digest` = the digest and `critical.type` = cosign's image
 * signature type. Any one such signature passes; otherwise the reason names what was found and why each
 * failed.
 */
export async function signatureGate(gate: NonNullable<PromotionGates['signature']>, subject: GateSubject): Promise<GateResult> {
  const { found, looked } = await findCosignManifests(subject.client, subject.repository, subject.digest, 'sig', [COSIGN.signatureArtifact]);
  const problems: string[] = [];
  const keys = gate.keys.map((k) => k.where);
  for (const m of found) {
    for (const layer of m.layers) {
      if (layer.mediaType !== COSIGN.simpleSigning) continue;
      const where = `${m.form === 'tag' ? m.ref : `referrer ${m.digest}`}`;
      const b64 = layer.annotations[COSIGN.signatureAnnotation];
      if (typeof b64 !== 'string' || b64 === '') {
        problems.push(`${where}: a layer without the ${COSIGN.signatureAnnotation} annotation`);
        continue;
      }
      const payload = await layerBytes(subject.client, subject.repository, layer);
      if (!payload) {
        problems.push(`${where}: payload ${layer.digest} is not a blob tagflow reads (bad digest or size ${layer.size})`);
        continue;
      }
      const key = verifyWithKeys(payload, Buffer.from(b64, 'base64'), gate.keys);
      if (!key) {
        problems.push(`${where}: signature does not verify against ${keys.join(', ')}`);
        continue;
      }
      let named: unknown;
      let type: unknown;
      let reference: unknown;
      try {
        const doc = JSON.parse(payload.toString('utf8')) as { critical?: { image?: Record<string, unknown>; type?: unknown; identity?: Record<string, unknown> } };
        named = doc.critical?.image?.['docker-manifest-digest'];
        type = doc.critical?.type;
        reference = doc.critical?.identity?.['docker-reference'];
      } catch {
        problems.push(`${where}: signed payload is not JSON`);
        continue;
      }
      if (type !== COSIGN.imageSignatureType) {
        problems.push(`${where}: signed payload's critical.type is ${JSON.stringify(type)}, not '${COSIGN.imageSignatureType}'`);
        continue;
      }
      if (named !== subject.digest) {
        problems.push(`${where}: signed payload names ${JSON.stringify(named)}, not ${subject.digest} (a signature of another image)`);
        continue;
      }
      return {
        gate: 'signature',
        verdict: 'pass',
        reason: `cosign signature (${m.form === 'tag' ? `tag ${m.ref}` : `referrer ${m.digest}`}) verifies with ${key.where} and names ${subject.digest}`,
        evidence: { form: m.form, manifest: m.digest, ...(m.form === 'tag' ? { tag: m.ref } : {}), payload: layer.digest, key: key.where, dockerReference: reference, keysTried: keys },
      };
    }
  }
  const reason = found.length === 0 ? `no cosign signature of ${subject.digest} (looked at ${looked.join(' and ')})` : `no valid signature: ${problems.join('; ') || 'no signature layers'}`;
  return { gate: 'signature', verdict: 'fail', reason, evidence: { looked, problems, keysTried: keys } };
}
