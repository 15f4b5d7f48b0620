import { isDigest, sha256Digest, type RegistryClient } from '../registry/oci-client';
import type { GateResult } from './gates/types';

/**
 * The promotion record: an OCI artifact whose `subject` is the promoted digest, pushed to the release
 * repository before the release tag. Registries that serve the referrers API index it by its subject;
 * others get it in the referrers tag schema (`sha256-<hex>`, an image index). Auditors read it with any
 * OCI tool, e.g. `oras discover --artifact-type application/vnd.tagflow.promotion.v1+json <image>@<digest>`
 * then `oras pull`, or `crane manifest <repo>:sha256-<hex>` and `crane blob`.
 */
export const PROMOTION_ARTIFACT_TYPE = 'application/vnd.tagflow.promotion.v1+json';
export const PROMOTION_API_VERSION = 'tagflow.io/promotion/v1';
const EMPTY_CONFIG = { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2, data: 'e30=' };
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

export interface PromotionRecord {
  readonly apiVersion: typeof PROMOTION_API_VERSION;
  readonly subject: { readonly digest: string; readonly mediaType: string };
  readonly release: { readonly image: string; readonly tag: string; readonly stack: string };
  readonly source: { readonly image: string; readonly tag: string; readonly digest?: string; readonly stack: string; readonly tier: string; readonly file: string };
  readonly promotedAt: string;
  /** The user (or CI actor) who ran the promotion. */
  readonly by: string;
  readonly gates: readonly GateResult[];
  readonly overrides: readonly { readonly gate: string; readonly reason: string }[];
}

/** The artifact's manifest and its one layer (the record's JSON). */
export function promotionArtifact(record: PromotionRecord, subjectSize: number): { manifest: { mediaType: string; digest: string; body: Buffer }; layer: { digest: string; data: Buffer } } {
  const data = Buffer.from(`${JSON.stringify(record, null, 2)}\n`);
  const layer = { digest: sha256Digest(data), data };
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: PROMOTION_ARTIFACT_TYPE,
      config: EMPTY_CONFIG,
      layers: [{ mediaType: PROMOTION_ARTIFACT_TYPE, digest: layer.digest, size: data.length, annotations: { 'org.opencontainers.image.title': 'promotion.json' } }],
      subject: { mediaType: record.subject.mediaType, digest: record.subject.digest, size: subjectSize },
      annotations: {
        'org.opencontainers.image.created': record.promotedAt,
        'io.tagflow.promotion.release': `${record.release.image}:${record.release.tag}`,
        'io.tagflow.promotion.source': `${record.source.image}:${record.source.tag}`,
      },
    }),
  );
  return { manifest: { mediaType: OCI_MANIFEST, digest: sha256Digest(body), body }, layer };
}

/**
 * Pushes the record next to the digest in `repository`: its blobs, then the manifest by digest; where the
 * registry does not index the subject (no `OCI-Subject` header), the referrers tag schema index too.
 */
export async function pushPromotionRecord(client: RegistryClient, repository: string, record: PromotionRecord, subjectSize: number): Promise<{ digest: string; via: 'referrers-api' | 'tag-schema' }> {
  const { manifest, layer } = promotionArtifact(record, subjectSize);
  const { data: _data, ...config } = EMPTY_CONFIG;
  if (!(await client.hasBlob(repository, config.digest))) await client.putBlob(repository, config.digest, async () => Buffer.from('{}'));
  if (!(await client.hasBlob(repository, layer.digest))) await client.putBlob(repository, layer.digest, async () => layer.data);
  const { subjectIndexed } = await client.putReferrer(repository, manifest);
  if (!subjectIndexed) {
    await client.addToReferrersTag(repository, record.subject.digest, { mediaType: OCI_MANIFEST, digest: manifest.digest, size: manifest.body.length, artifactType: PROMOTION_ARTIFACT_TYPE });
  }
  return { digest: manifest.digest, via: subjectIndexed ? 'referrers-api' : 'tag-schema' };
}

/**
 * The promotion records attached to `digest` in `repository`, newest first; each manifest and blob is
 * verified against its digest and the manifest's subject must be the digest.
 */
export async function readPromotionRecords(client: RegistryClient, repository: string, digest: string): Promise<{ digest: string; via: string; record: PromotionRecord }[]> {
  // Not filtered by artifactType: some registries report config.mediaType there (the empty config) instead
  // of the manifest's artifactType; each manifest's own artifactType is checked below.
  const { via, descriptors } = await client.listReferrers(repository, digest);
  const out: { digest: string; via: string; record: PromotionRecord }[] = [];
  for (const d of descriptors.filter((x) => x.artifactType === undefined || x.artifactType === PROMOTION_ARTIFACT_TYPE || x.artifactType === EMPTY_CONFIG.mediaType).slice(0, 100)) {
    const m = await client.getManifest(repository, d.digest);
    if (!m) continue;
    let doc: { subject?: { digest?: unknown }; layers?: { mediaType?: unknown; digest?: unknown; size?: unknown }[]; artifactType?: unknown };
    try {
      doc = JSON.parse(m.body.toString('utf8'));
    } catch {
      continue;
    }
    if (doc.subject?.digest !== digest || doc.artifactType !== PROMOTION_ARTIFACT_TYPE) continue;
    const layer = (doc.layers ?? []).find((l) => l?.mediaType === PROMOTION_ARTIFACT_TYPE);
    if (!layer || typeof layer.digest !== 'string' || !isDigest(layer.digest) || typeof layer.size !== 'number' || layer.size > 4 * 1024 * 1024) continue;
    const bytes = await client.getBlob(repository, layer.digest, layer.size);
    try {
      const record = JSON.parse(bytes.toString('utf8')) as PromotionRecord;
      if (record.apiVersion === PROMOTION_API_VERSION && record.subject?.digest === digest) out.push({ digest: m.digest, via, record });
    } catch {
      /* not a record */
    }
  }
  return out.sort((a, b) => (a.record.promotedAt < b.record.promotedAt ? 1 : -1));
}
