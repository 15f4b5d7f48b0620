import type { PromotionGates } from '../../model/promotion';
import { formatDuration } from './soak';
import type { GateResult, GateSubject } from './types';

/**
 * The age gate: time since the image's config `created` (what the builder wrote; for an index, the
 * youngest platform image). The config blob is fetched by digest and verified. Reproducible builds that
 * pin `created` (SOURCE_DATE_EPOCH) make it the commit time, not the build time.
 */
export async function ageGate(gate: NonNullable<PromotionGates['age']>, subject: GateSubject, now: number): Promise<GateResult> {
  const manifests = subject.children.length ? subject.children : [{ digest: subject.digest, body: subject.manifest, mediaType: subject.mediaType }];
  const created: { digest: string; created: string }[] = [];
  const fail = (reason: string): GateResult => ({ gate: 'age', verdict: 'fail', reason, evidence: { minimum: gate.minimum, created } });
  for (const m of manifests) {
    let config: { digest?: unknown; size?: unknown } | undefined;
    try {
      config = (JSON.parse(m.body.toString('utf8')) as { config?: { digest?: unknown; size?: unknown } }).config;
    } catch {
      return fail(`manifest ${m.digest} is not JSON`);
    }
    if (typeof config?.digest !== 'string') return fail(`manifest ${m.digest} has no config, so no created time`);
    const blob = await subject.client.getBlob(subject.repository, config.digest, typeof config.size === 'number' ? config.size : undefined);
    let c: unknown;
    try {
      c = (JSON.parse(blob.toString('utf8')) as { created?: unknown }).created;
    } catch {
      return fail(`the config of ${m.digest} is not JSON`);
    }
    if (typeof c !== 'string' || Number.isNaN(Date.parse(c))) return fail(`the config of ${m.digest} has no created time`);
    created.push({ digest: m.digest, created: c });
  }
  const youngest = created.reduce((a, b) => (Date.parse(b.created) > Date.parse(a.created) ? b : a));
  const ageMs = now - Date.parse(youngest.created);
  const evidence = { minimum: gate.minimum, created, ageMs, age: formatDuration(ageMs) };
  if (ageMs < 0) return { gate: 'age', verdict: 'fail', reason: `the image says it was created at ${youngest.created}, in the future`, evidence };
  if (ageMs < gate.minimumMs) return { gate: 'age', verdict: 'fail', reason: `created ${formatDuration(ageMs)} ago (${youngest.created}), less than the minimum age of ${gate.minimum}`, evidence };
  return { gate: 'age', verdict: 'pass', reason: `created ${formatDuration(ageMs)} ago (${youngest.created}), at least ${gate.minimum}`, evidence };
}
