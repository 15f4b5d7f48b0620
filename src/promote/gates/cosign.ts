import { isDigest, type RegistryClient } from '../../registry/oci-client';

/** cosign's formats (github.com/sigstore/cosign, pkg/oci and specs/SIGNATURE_SPEC.md). */
export const COSIGN = {
  /** Layer of a signature manifest: the signed payload (simple signing JSON). */
  simpleSigning: 'application/vnd.dev.cosign.simplesigning.v1+json',
  /** Layer annotation holding the base64 signature of the layer's bytes. */
  signatureAnnotation: 'dev.cosignproject.cosign/signature',
  /** artifactType of a signature manifest attached as an OCI referrer (--registry-referrers-mode=oci-1-1). */
  signatureArtifact: 'application/vnd.dev.cosign.artifact.sig.v1+json',
  /** Layer of an attestation manifest: a DSSE envelope around an in-toto statement. */
  dsse: 'application/vnd.dsse.envelope.v1+json',
  /** The payload type cosign attestations sign. */
  inToto: 'application/vnd.in-toto+json',
  /** The predicate of `cosign attest --type vuln`. */
  vulnPredicate: 'https://cosign.sigstore.dev/attestation/vuln/v1',
  /** The payload `type` of an image signature. */
  imageSignatureType: 'cosign container image signature',
} as const;

/** cosign's tag scheme: `sha256-<hex>.<suffix>` in the image's repository. */
export function cosignTag(digest: string, suffix: 'sig' | 'att'): string {
  return `${digest.replace(':', '-')}.${suffix}`;
}

export interface Layer {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly annotations: Readonly<Record<string, string>>;
}

/** A signature or attestation manifest found for a digest, fetched and verified against its own digest. */
export interface FoundManifest {
  /** `tag` (cosign's tag scheme) or `referrer` (subject = the digest, via the referrers API or its tag schema). */
  readonly form: 'tag' | 'referrer';
  /** The manifest's tag or digest. */
  readonly ref: string;
  readonly digest: string;
  readonly layers: readonly Layer[];
}

/** Referrers of one digest that are fetched and checked. */
export const MAX_REFERRERS = 100;

/** The largest payload or envelope tagflow reads from a signature or attestation layer. */
export const MAX_SIGNED_BYTES = 16 * 1024 * 1024;

function layersOf(body: Buffer): { layers: Layer[]; subject?: string } {
  let doc: { layers?: unknown; subject?: { digest?: unknown } };
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return { layers: [] };
  }
  const layers = (Array.isArray(doc.layers) ? doc.layers : [])
    .filter((l): l is Record<string, unknown> => typeof l === 'object' && l !== null)
    .map((l) => ({
      mediaType: String(l.mediaType ?? ''),
      digest: String(l.digest ?? ''),
      size: Number(l.size ?? -1),
      annotations: typeof l.annotations === 'object' && l.annotations !== null ? (l.annotations as Record<string, string>) : {},
    }));
  return { layers, subject: typeof doc.subject?.digest === 'string' ? doc.subject.digest : undefined };
}

/**
 * Every manifest cosign may have attached to `digest` in `repository`: the tag `sha256-<hex>.<suffix>`,
 * and the referrers of the digest (the API, or its tag schema) whose manifest names the digest as its
 * subject. Each manifest is fetched and verified against its digest (the tag against the registry's
 * Docker-Content-Digest); `notes` says what was looked at.
 */
export async function findCosignManifests(
  client: RegistryClient,
  repository: string,
  digest: string,
  suffix: 'sig' | 'att',
  artifactTypes: readonly string[],
): Promise<{ found: FoundManifest[]; looked: string[] }> {
  const found: FoundManifest[] = [];
  const tag = cosignTag(digest, suffix);
  const looked = [`tag ${tag}`];
  const byTag = await client.getManifest(repository, tag);
  if (byTag) found.push({ form: 'tag', ref: tag, digest: byTag.digest, layers: layersOf(byTag.body).layers });
  const refs = await client.listReferrers(repository, digest);
  looked.push(refs.via === 'referrers-api' ? 'the referrers API' : `the referrers tag schema (${digest.replace(':', '-')})`);
  // At most MAX_REFERRERS manifests are fetched (each by digest, verified): enough for every signature and attestation CI makes.
  const candidates = refs.descriptors.filter((d) => !(d.artifactType !== undefined && artifactTypes.length && !artifactTypes.includes(d.artifactType))).slice(0, MAX_REFERRERS);
  for (const d of candidates) {
    const m = await client.getManifest(repository, d.digest);
    if (!m) continue;
    const { layers, subject } = layersOf(m.body);
    // A list entry is a claim; the manifest's own subject must name the digest.
    if (subject !== digest) continue;
    found.push({ form: 'referrer', ref: d.digest, digest: m.digest, layers });
  }
  return { found, looked };
}

/** A layer's bytes, verified against its digest and size; undefined when it is larger than tagflow reads. */
export async function layerBytes(client: RegistryClient, repository: string, layer: Layer): Promise<Buffer | undefined> {
  if (!isDigest(layer.digest) || !(Number.isSafeInteger(layer.size) && layer.size >= 0 && layer.size <= MAX_SIGNED_BYTES)) return undefined;
  return client.getBlob(repository, layer.digest, layer.size);
}
