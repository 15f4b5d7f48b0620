import { SEVERITIES, type PromotionGates, type Severity } from '../../model/promotion';
import { ecrScanFindings, ECR_SCAN_DONE, type EcrScan } from '../../registry/ecr-scan';
import type { EcrHost } from '../../registry/ecr-auth';
import { COSIGN, findCosignManifests, layerBytes } from './cosign';
import { verifyWithKeys } from './keys';
import type { GateResult, GateSubject } from './types';

type ScanGate = NonNullable<PromotionGates['scan']>;

/** Severities at or above `failOn` (ECR's and Trivy's names; UNKNOWN, UNDEFINED and UNTRIAGED are listed, never ranked). */
function blocking(failOn: Severity): Set<string> {
  return new Set(SEVERITIES.slice(0, SEVERITIES.indexOf(failOn) + 1));
}

function summarize(counts: Readonly<Record<string, number>>): string {
  const parts = Object.entries(counts).filter(([, n]) => n > 0);
  return parts.length ? parts.map(([s, n]) => `${n} ${s}`).join(', ') : 'no findings';
}

function verdictOn(counts: Readonly<Record<string, number>>, failOn: Severity): string[] {
  const block = blocking(failOn);
  return Object.entries(counts)
    .filter(([s, n]) => block.has(s) && n > 0)
    .map(([s, n]) => `${n} ${s}`);
}

/**
 * ECR (basic or enhanced scanning): DescribeImageScanFindings for the digest, or for each platform
 * manifest of an index (ECR scans images, not indexes). A scan that is not COMPLETE/ACTIVE blocks with
 * its status; a finding at or above failOn blocks.
 */
async function ecrGate(gate: ScanGate, subject: GateSubject, ecr: EcrHost, repository: string): Promise<GateResult> {
  const digests = subject.children.length ? subject.children.map((c) => c.digest) : [subject.digest];
  const scans: (EcrScan & { digest: string })[] = [];
  for (const d of digests) scans.push({ digest: d, ...(await ecrScanFindings(ecr, repository, d)) });
  const evidence = { source: 'ecr', registryId: ecr.accountId, region: ecr.region, repository, failOn: gate.failOn, scans };
  const pending = scans.filter((s) => !ECR_SCAN_DONE.has(s.status));
  if (pending.length) {
    return {
      gate: 'scan',
      verdict: 'fail',
      reason: `the ECR scan has not completed: ${pending.map((s) => `${s.digest} is ${s.status}${s.description ? ` (${s.description})` : ''}`).join('; ')}`,
      evidence,
    };
  }
  const over = scans.flatMap((s) => verdictOn(s.counts, gate.failOn).map((v) => `${v} in ${s.digest}`));
  if (over.length) return { gate: 'scan', verdict: 'fail', reason: `ECR scan findings at or above ${gate.failOn}: ${over.join(', ')}`, evidence };
  return {
    gate: 'scan',
    verdict: 'pass',
    reason: `ECR scan ${scans.map((s) => `${s.status} ${s.completedAt ?? ''}`.trim()).join('; ')}: ${scans.map((s) => summarize(s.counts)).join('; ')}, none at or above ${gate.failOn}`,
    evidence,
  };
}

/** DSSE pre-authentication encoding, what a DSSE signature signs. */
function pae(type: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${body.length} `), body]);
}

interface VulnReport {
  readonly attestation: string;
  readonly key: string;
  readonly scanner?: string;
  readonly finishedOn?: string;
  readonly counts: Record<string, number>;
}

/** Counts findings per severity of a Trivy JSON report (`Results[].Vulnerabilities[].Severity`). */
function trivyCounts(result: unknown): Record<string, number> | undefined {
  const results = (result as { Results?: unknown })?.Results;
  if (results !== undefined && results !== null && !Array.isArray(results)) return undefined;
  if (typeof result !== 'object' || result === null || !('SchemaVersion' in result || 'ArtifactName' in result || 'Results' in result)) return undefined;
  const counts: Record<string, number> = {};
  for (const r of (results as { Vulnerabilities?: { Severity?: unknown }[] }[] | null) ?? []) {
    for (const v of Array.isArray(r?.Vulnerabilities) ? r.Vulnerabilities : []) {
      const s = typeof v?.Severity === 'string' ? v.Severity.toUpperCase() : 'UNKNOWN';
      counts[s] = (counts[s] ?? 0) + 1;
    }
  }
  return counts;
}

/**
 * A generic registry: a cosign vulnerability attestation of the digest (`cosign attest --type vuln
 * --predicate <trivy --format cosign-vuln output>`, tag `sha256-<hex>.att` or a referrer), whose DSSE
 * signature verifies against the gate's keys, whose in-toto subject is the digest, and whose predicate
 * (https://cosign.sigstore.dev/attestation/vuln/v1) holds a Trivy JSON report in `scanner.result` and
 * a `metadata.scanFinishedOn`. The newest such report decides. None: the scan has not completed.
 */
async function attestationGate(gate: ScanGate, subject: GateSubject): Promise<GateResult> {
  const { found, looked } = await findCosignManifests(subject.client, subject.repository, subject.digest, 'att', []);
  const problems: string[] = [];
  const reports: VulnReport[] = [];
  const hex = subject.digest.slice(subject.digest.indexOf(':') + 1);
  const alg = subject.digest.slice(0, subject.digest.indexOf(':'));
  for (const m of found) {
    for (const layer of m.layers) {
      if (layer.mediaType !== COSIGN.dsse) continue;
      const where = m.form === 'tag' ? `${m.ref} layer ${layer.digest}` : `referrer ${m.digest}`;
      const bytes = await layerBytes(subject.client, subject.repository, layer);
      if (!bytes) {
        problems.push(`${where}: not a blob tagflow reads`);
        continue;
      }
      let env: { payloadType?: unknown; payload?: unknown; signatures?: { sig?: unknown }[] };
      try {
        env = JSON.parse(bytes.toString('utf8'));
      } catch {
        problems.push(`${where}: the DSSE envelope is not JSON`);
        continue;
      }
      if (env.payloadType !== COSIGN.inToto || typeof env.payload !== 'string' || !Array.isArray(env.signatures)) {
        problems.push(`${where}: not a DSSE envelope of an in-toto statement`);
        continue;
      }
      const body = Buffer.from(env.payload, 'base64');
      const signed = pae(COSIGN.inToto, body);
      const key = env.signatures.map((s) => (typeof s?.sig === 'string' ? verifyWithKeys(signed, Buffer.from(s.sig, 'base64'), gate.keys) : undefined)).find((k) => k);
      if (!key) {
        problems.push(`${where}: attestation signature does not verify against ${gate.keys.map((k) => k.where).join(', ')}`);
        continue;
      }
      let st: { predicateType?: unknown; subject?: { digest?: Record<string, unknown> }[]; predicate?: { scanner?: { uri?: unknown; version?: unknown; result?: unknown }; metadata?: { scanFinishedOn?: unknown } } };
      try {
        st = JSON.parse(body.toString('utf8'));
      } catch {
        problems.push(`${where}: the signed statement is not JSON`);
        continue;
      }
      if (st.predicateType !== COSIGN.vulnPredicate) continue; // another attestation (SBOM, provenance...)
      if (!Array.isArray(st.subject) || !st.subject.some((s) => s?.digest?.[alg] === hex)) {
        problems.push(`${where}: the vulnerability attestation is about another image (its subject does not list ${subject.digest})`);
        continue;
      }
      const counts = trivyCounts(st.predicate?.scanner?.result);
      const finishedOn = st.predicate?.metadata?.scanFinishedOn;
      if (!counts) {
        problems.push(`${where}: predicate.scanner.result is not a Trivy JSON report`);
        continue;
      }
      if (typeof finishedOn !== 'string' || Number.isNaN(Date.parse(finishedOn))) {
        problems.push(`${where}: the scan has no metadata.scanFinishedOn (not completed)`);
        continue;
      }
      const scanner = [st.predicate?.scanner?.uri, st.predicate?.scanner?.version].filter((x) => typeof x === 'string').join('@');
      reports.push({ attestation: m.form === 'tag' ? `${m.ref} (${m.digest})` : `referrer ${m.digest}`, key: key.where, ...(scanner ? { scanner } : {}), finishedOn, counts });
    }
  }
  const evidence = { source: 'attestation', failOn: gate.failOn, looked, reports, problems };
  if (reports.length === 0) {
    const why = found.length === 0 ? `no attestation of ${subject.digest} (looked at ${looked.join(' and ')})` : problems.length ? problems.join('; ') : 'no vulnerability attestation among the attestations found';
    return { gate: 'scan', verdict: 'fail', reason: `no completed vulnerability scan: ${why}`, evidence };
  }
  const newest = reports.reduce((a, b) => (Date.parse(b.finishedOn!) > Date.parse(a.finishedOn!) ? b : a));
  const over = verdictOn(newest.counts, gate.failOn);
  if (over.length) {
    return { gate: 'scan', verdict: 'fail', reason: `vulnerability scan of ${newest.finishedOn} (${newest.attestation}): ${over.join(', ')} at or above ${gate.failOn}`, evidence: { ...evidence, decisive: newest } };
  }
  return {
    gate: 'scan',
    verdict: 'pass',
    reason: `vulnerability scan of ${newest.finishedOn} (${newest.attestation}, signed by ${newest.key}): ${summarize(newest.counts)}, none at or above ${gate.failOn}`,
    evidence: { ...evidence, decisive: newest },
  };
}

export async function scanGate(gate: ScanGate, subject: GateSubject, ecr: { host: EcrHost; repository: string } | undefined): Promise<GateResult> {
  if (gate.source === 'ecr') {
    if (!ecr) return { gate: 'scan', verdict: 'fail', reason: 'source ecr, but the image is not in an ECR registry', evidence: {} };
    return ecrGate(gate, subject, ecr.host, ecr.repository);
  }
  return attestationGate(gate, subject);
}
