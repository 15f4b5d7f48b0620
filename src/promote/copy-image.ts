import { isDigest, RegistryClient, RegistryError, type Manifest } from '../registry/oci-client';

/** The release tag exists and points at another image: promotion refuses (exit 1). */
export class PromotionRefusedError extends Error {
  public readonly exitCode = 1;
}

export interface ImageLocation {
  readonly client: RegistryClient;
  readonly repository: string;
}

export interface CopyHooks {
  /** Runs once everything but the tag is written (the manifest by digest too), before the tag is put. */
  readonly beforeTag?: (manifest: Manifest) => Promise<void>;
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
  readonly size?: number;
  readonly mediaType?: string;
}

interface ParsedManifest {
  readonly config?: Descriptor;
  readonly layers?: Descriptor[];
  readonly manifests?: Descriptor[];
}

/** A manifest's JSON, its descriptors checked: every digest one tagflow can verify, every size a number. */
function parse(m: Manifest, where: string): ParsedManifest {
  let doc: ParsedManifest;
  try {
    doc = JSON.parse(m.body.toString('utf8')) as ParsedManifest;
  } catch {
    throw new RegistryError(`${where}: the manifest is not JSON`);
  }
  if (typeof doc !== 'object' || doc === null) throw new RegistryError(`${where}: the manifest is not a JSON object`);
  const all = [...(doc.config ? [doc.config] : []), ...(Array.isArray(doc.layers) ? doc.layers : []), ...(Array.isArray(doc.manifests) ? doc.manifests : [])];
  if ((doc.layers !== undefined && !Array.isArray(doc.layers)) || (doc.manifests !== undefined && !Array.isArray(doc.manifests))) {
    throw new RegistryError(`${where}: the manifest's layers or manifests are not lists`);
  }
  if (all.length > 10_000) throw new RegistryError(`${where}: the manifest lists ${all.length} descriptors`);
  for (const d of all) {
    if (typeof d?.digest !== 'string' || !isDigest(d.digest)) throw new RegistryError(`${where}: the manifest lists a digest tagflow cannot verify: ${JSON.stringify(d?.digest)?.slice(0, 100)}`);
    if (d.size !== undefined && (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0)) throw new RegistryError(`${where}: the manifest lists ${d.digest} with size ${JSON.stringify(d.size)}`);
  }
  return doc;
}

/** Everything one copy needs, fetched and verified before anything is written. */
interface CopyPlan {
  /** Child manifests of an index (verified against their digests), in order. */
  readonly children: Manifest[];
  /** Blobs the target lacks: verified bytes when they come from another registry, or to be mounted. */
  readonly blobs: { readonly digest: string; readonly data?: Buffer }[];
}

/**
 * Puts the manifest `source@digest` under `tag` in the target, byte for byte, so the target tag has the
 * same digest. First every manifest is fetched and verified against its digest, and every blob the target
 * lacks is fetched and verified (or, within one registry, mounted by digest); only then is anything
 * written: blobs, child manifests, and the tag last. Idempotent: a tag already at that digest is left
 * alone; a tag at another digest is never moved.
 */
export async function copyImage(source: ImageLocation, digest: string, target: ImageLocation, tag: string, hooks: CopyHooks = {}): Promise<CopyResult> {
  const where = `${source.client.baseUrl}/${source.repository}@${digest}`;
  if (!isDigest(digest)) throw new RegistryError(`${where}: promote copies by digest (sha256 or sha512), not '${digest.slice(0, 100)}'`);
  const manifest = await source.client.getManifest(source.repository, digest);
  if (!manifest) throw new PromotionRefusedError(`${where} does not exist in the registry`);
  const current = await target.client.resolveDigest(target.repository, tag);
  const targetName = `${target.client.baseUrl}/${target.repository}:${tag}`;
  if (current === manifest.digest) return { status: 'already', digest: manifest.digest, mediaType: manifest.mediaType, blobsCopied: 0, manifestsCopied: 0 };
  if (current) {
    throw new PromotionRefusedError(`${targetName} already points at ${current}, not at ${manifest.digest}; a release tag is never moved (promote another version)`);
  }
  const sameRepo = source.client.baseUrl === target.client.baseUrl && source.repository === target.repository;
  const plan: CopyPlan = { children: [], blobs: [] };
  if (!sameRepo) await gather(source, target, manifest, where, plan, new Set());
  // Everything is verified: write.
  const sameRegistry = source.client.baseUrl === target.client.baseUrl;
  for (const b of plan.blobs) {
    await target.client.putBlob(target.repository, b.digest, async () => b.data!, b.data ? undefined : sameRegistry ? source.repository : undefined);
  }
  for (const m of plan.children) await target.client.putManifest(target.repository, m.digest, m);
  if (hooks.beforeTag) {
    // The image by digest first, then what must exist before the tag does (the promotion record).
    const stored = await target.client.putManifest(target.repository, manifest.digest, manifest);
    if (stored && stored !== manifest.digest) throw new RegistryError(`${targetName}: the registry stored digest ${stored}, expected ${manifest.digest} (it rewrote the manifest)`);
    await hooks.beforeTag(manifest);
  }
  const written = await target.client.putManifest(target.repository, tag, manifest);
  if (written && written !== manifest.digest) {
    throw new RegistryError(`${targetName}: the registry stored digest ${written}, expected ${manifest.digest} (it rewrote the manifest)`);
  }
  return { status: 'copied', digest: manifest.digest, mediaType: manifest.mediaType, blobsCopied: plan.blobs.length, manifestsCopied: plan.children.length };
}

async function gather(source: ImageLocation, target: ImageLocation, manifest: Manifest, where: string, plan: CopyPlan, seen: Set<string>): Promise<void> {
  const doc = parse(manifest, where);
  if (INDEX_TYPES.has(manifest.mediaType)) {
    for (const child of doc.manifests ?? []) {
      if (seen.has(child.digest)) continue;
      seen.add(child.digest);
      const m = await source.client.getManifest(source.repository, child.digest);
      if (!m) throw new RegistryError(`${where}: the index lists ${child.digest}, which the registry does not have`);
      if (child.size !== undefined && m.body.length !== child.size) throw new RegistryError(`${where}: the index lists ${child.digest} with size ${child.size}, the manifest is ${m.body.length} bytes`);
      await gather(source, target, m, `${source.client.baseUrl}/${source.repository}@${child.digest}`, plan, seen);
      if ((await target.client.resolveDigest(target.repository, child.digest)) !== child.digest) plan.children.push(m);
    }
    return;
  }
  const sameRegistry = source.client.baseUrl === target.client.baseUrl;
  for (const blob of [...(doc.config ? [doc.config] : []), ...(doc.layers ?? [])]) {
    if (seen.has(blob.digest)) continue;
    seen.add(blob.digest);
    if (await target.client.hasBlob(target.repository, blob.digest)) continue;
    plan.blobs.push({ digest: blob.digest, data: sameRegistry ? undefined : await source.client.getBlob(source.repository, blob.digest, blob.size) });
  }
}
