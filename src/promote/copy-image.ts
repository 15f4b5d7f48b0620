import { RegistryClient, RegistryError, type Manifest } from '../registry/oci-client';

/** The release tag exists and points at another image: promotion refuses (exit 1). */
export class PromotionRefusedError extends Error {
  public readonly exitCode = 1;
}

export interface ImageLocation {
  readonly client: RegistryClient;
  readonly repository: string;
}

export interface CopyResult {
  /** 'already' when the target tag pointed at the digest before: nothing was written. */
  readonly status: 'copied' | 'already';
  readonly digest: string;
  readonly mediaType: string;
  /** Blobs uploaded or mounted into the target repository. */
  readonly blobsCopied: number;
  /** Child manifests (of an index) written by digest. */
  readonly manifestsCopied: number;
}

const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);

interface Descriptor {
  readonly digest: string;
  readonly mediaType?: string;
}

function parse(m: Manifest, where: string): { config?: Descriptor; layers?: Descriptor[]; manifests?: Descriptor[] } {
  try {
    return JSON.parse(m.body.toString('utf8'));
  } catch {
    throw new RegistryError(`${where}: the manifest is not JSON`);
  }
}

/**
 * Puts the manifest `source@reference` under `tag` in the target, byte for byte, so the target tag has the
 * same digest. Blobs and child manifests are copied first when source and target repositories differ
 * (mounted when both are in the same registry). Idempotent: a tag already at that digest is left alone;
 * a tag at another digest is never moved.
 */
export async function copyImage(source: ImageLocation, reference: string, target: ImageLocation, tag: string): Promise<CopyResult> {
  const where = `${source.client.baseUrl}/${source.repository}@${reference}`;
  const manifest = await source.client.getManifest(source.repository, reference);
  if (!manifest) throw new PromotionRefusedError(`${where} does not exist in the registry`);
  const current = await target.client.resolveDigest(target.repository, tag);
  const targetName = `${target.client.baseUrl}/${target.repository}:${tag}`;
  if (current === manifest.digest) return { status: 'already', digest: manifest.digest, mediaType: manifest.mediaType, blobsCopied: 0, manifestsCopied: 0 };
  if (current) {
    throw new PromotionRefusedError(`${targetName} already points at ${current}, not at ${manifest.digest}; a release tag is never moved (promote another version)`);
  }
  const sameRepo = source.client.baseUrl === target.client.baseUrl && source.repository === target.repository;
  const counts = { blobs: 0, manifests: 0 };
  if (!sameRepo) await copyContents(source, target, manifest, where, counts);
  const written = await target.client.putManifest(target.repository, tag, manifest);
  if (written && written !== manifest.digest) {
    throw new RegistryError(`${targetName}: the registry stored digest ${written}, expected ${manifest.digest} (it rewrote the manifest)`);
  }
  return { status: 'copied', digest: manifest.digest, mediaType: manifest.mediaType, blobsCopied: counts.blobs, manifestsCopied: counts.manifests };
}

async function copyContents(source: ImageLocation, target: ImageLocation, manifest: Manifest, where: string, counts: { blobs: number; manifests: number }): Promise<void> {
  const doc = parse(manifest, where);
  if (INDEX_TYPES.has(manifest.mediaType)) {
    for (const child of doc.manifests ?? []) {
      const m = await source.client.getManifest(source.repository, child.digest);
      if (!m) throw new RegistryError(`${where}: the index lists ${child.digest}, which the registry does not have`);
      await copyContents(source, target, m, `${source.client.baseUrl}/${source.repository}@${child.digest}`, counts);
      if ((await target.client.resolveDigest(target.repository, child.digest)) !== child.digest) {
        await target.client.putManifest(target.repository, child.digest, m);
        counts.manifests++;
      }
    }
    return;
  }
  const sameRegistry = source.client.baseUrl === target.client.baseUrl;
  for (const blob of [...(doc.config ? [doc.config] : []), ...(doc.layers ?? [])]) {
    if (await target.client.hasBlob(target.repository, blob.digest)) continue;
    await target.client.putBlob(target.repository, blob.digest, () => source.client.getBlob(source.repository, blob.digest), sameRegistry ? source.repository : undefined);
    counts.blobs++;
  }
}
