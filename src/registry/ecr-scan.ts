import { RegistryError } from './oci-client';
import { loadEcrSdk, type EcrHost } from './ecr-auth';

/** What ECR knows of one image's scan (basic or enhanced scanning): DescribeImageScanFindings. */
export interface EcrScan {
  /** COMPLETE (basic) or ACTIVE (enhanced) once findings exist; IN_PROGRESS, PENDING, FAILED, UNSUPPORTED_IMAGE, ...; NOT_FOUND: no scan of this digest. */
  readonly status: string;
  readonly description?: string;
  /** Findings per severity (CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL, UNDEFINED; enhanced: UNTRIAGED). */
  readonly counts: Readonly<Record<string, number>>;
  readonly completedAt?: string;
  readonly vulnerabilitySourceUpdatedAt?: string;
}

/** ECR statuses that mean the scan finished and its findings are final (basic: COMPLETE; enhanced: ACTIVE). */
export const ECR_SCAN_DONE = new Set(['COMPLETE', 'ACTIVE']);

/**
 * The scan of `repository@digest` in the ECR registry `host`, with the default AWS credential chain (the
 * endpoint can be moved with AWS_ENDPOINT_URL_ECR, as the SDK documents). The severity counts cover every
 * finding, so no page of findings needs to be read. A missing scan or image is a status, not an error.
 */
export async function ecrScanFindings(host: EcrHost, repository: string, digest: string): Promise<EcrScan> {
  const { ECRClient, DescribeImageScanFindingsCommand } = await loadEcrSdk();
  const client = new ECRClient({ region: host.region });
  try {
    const out = await client.send(new DescribeImageScanFindingsCommand({ registryId: host.accountId, repositoryName: repository, imageId: { imageDigest: digest }, maxResults: 1 }));
    const counts: Record<string, number> = {};
    for (const [k, v] of Object.entries(out.imageScanFindings?.findingSeverityCounts ?? {})) if (typeof v === 'number') counts[k] = v;
    return {
      status: out.imageScanStatus?.status ?? 'UNKNOWN',
      ...(out.imageScanStatus?.description ? { description: out.imageScanStatus.description } : {}),
      counts,
      ...(out.imageScanFindings?.imageScanCompletedAt ? { completedAt: new Date(out.imageScanFindings.imageScanCompletedAt).toISOString() } : {}),
      ...(out.imageScanFindings?.vulnerabilitySourceUpdatedAt ? { vulnerabilitySourceUpdatedAt: new Date(out.imageScanFindings.vulnerabilitySourceUpdatedAt).toISOString() } : {}),
    };
  } catch (e) {
    const name = (e as Error).name;
    if (name === 'ScanNotFoundException' || name === 'ImageNotFoundException') return { status: 'NOT_FOUND', description: `${name}: ${(e as Error).message}`, counts: {} };
    throw new RegistryError(`could not read the ECR scan of ${repository}@${digest} in account ${host.accountId} (${host.region}) (ecr:DescribeImageScanFindings): ${name}: ${(e as Error).message}`);
  } finally {
    client.destroy();
  }
}
