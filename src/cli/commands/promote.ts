import { promote, PromotionGateRefusal, type PromoteOptions, type PromotionOutcome } from '../../promote/promote';

export interface PromoteCommandOptions extends PromoteOptions {
  /** Print each gate with its evidence and verdict (and, for a release that exists, its recorded ones). */
  readonly explain?: boolean;
  /** Print the outcome as JSON. */
  readonly json?: boolean;
}

function asJson(o: PromotionOutcome) {
  return {
    status: o.status,
    app: o.plan.target.app.app,
    digest: o.digest,
    source: { image: o.plan.source.app.image, tag: o.plan.source.tag, ...(o.plan.source.digest ? { digest: o.plan.source.digest } : {}), file: o.plan.source.file, stack: o.plan.source.app.environment },
    release: { image: o.plan.target.app.image, tag: o.plan.target.tag },
    gates: o.gates,
    overrides: o.overrides,
    record: o.record ? { digest: o.record.digest, via: o.record.via, promotedAt: o.record.record.promotedAt, by: o.record.record.by } : null,
    otherRecords: o.otherRecords,
    ...(o.result ? { copied: { blobs: o.result.blobsCopied, manifests: o.result.manifestsCopied, mediaType: o.result.mediaType } } : {}),
  };
}

function explain(o: PromotionOutcome, log: (s: string) => void): void {
  log(`${o.plan.source.app.image}:${o.plan.source.tag} → ${o.plan.target.app.image}:${o.plan.target.tag}`);
  log(`digest ${o.digest}`);
  if (o.status === 'already') {
    log(
      o.record
        ? `promoted before: the record ${o.record.digest} (${o.record.via === 'referrers-api' ? 'referrers API' : 'referrers tag schema'}) says ${o.record.record.promotedAt} by ${o.record.record.by}, from ${o.record.record.source.image}:${o.record.record.source.tag}; its gates:`
        : 'promoted before, but no promotion record is attached to the digest (promoted without tagflow gates?)',
    );
  }
  const width = 10;
  for (const g of o.gates) {
    log(`${g.gate.padEnd(width)} ${g.verdict.toUpperCase().padEnd(10)} ${g.reason}`);
    for (const [k, v] of Object.entries(g.evidence)) {
      if (v === undefined || (Array.isArray(v) && v.length === 0)) continue;
      log(`${' '.repeat(width + 1)}${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
    }
  }
  for (const ov of o.overrides) log(`override  ${ov.gate}: ${ov.reason}`);
  if (o.otherRecords) log(`${o.otherRecords} other promotion record(s) are attached to this digest`);
}

/**
 * Exit 0 when the release tag points at the staging digest (copied now through every gate, or before),
 * 1 when a gate or the release tag refuses (nothing written), 2 on bad input, 3 on registry failures.
 */
export async function runPromote(opts: PromoteCommandOptions, log: (s: string) => void): Promise<number> {
  let outcome: PromotionOutcome;
  try {
    outcome = await promote(opts);
  } catch (e) {
    if (!(e instanceof PromotionGateRefusal)) throw e;
    if (opts.json) log(JSON.stringify(asJson(e.outcome), null, 2));
    else if (opts.explain) explain(e.outcome, log);
    for (const g of e.outcome.gates.filter((x) => x.verdict === 'fail')) process.stderr.write(`tagflow: refused: gate ${g.gate}: ${g.reason}\n`);
    process.stderr.write(`tagflow: ${e.outcome.plan.target.app.image}:${e.outcome.plan.target.tag} was not written (nothing was)\n`);
    return 1;
  }
  for (const ov of outcome.status === 'promoted' ? outcome.overrides : []) {
    const g = outcome.gates.find((x) => x.gate === ov.gate);
    process.stderr.write(`tagflow: gate ${ov.gate} ${g?.verdict === 'overridden' ? 'OVERRIDDEN' : `overridden but not needed (${g?.verdict})`} by ${outcome.record?.record.by}: ${ov.reason} (recorded in ${outcome.record?.digest})\n`);
  }
  if (opts.json) {
    log(JSON.stringify(asJson(outcome), null, 2));
    return 0;
  }
  if (opts.explain) explain(outcome, log);
  const from = `${outcome.plan.source.app.image}:${outcome.plan.source.tag}`;
  const to = `${outcome.plan.target.app.image}:${outcome.plan.target.tag}`;
  if (outcome.status === 'already') log(`${to} already points at ${outcome.digest} (what ${outcome.plan.source.app.tier} runs): nothing to do`);
  else {
    log(`promoted ${from} → ${to}`);
    if (outcome.result) log(`digest ${outcome.digest} (${outcome.result.mediaType}); ${outcome.result.blobsCopied} blobs and ${outcome.result.manifestsCopied} child manifests copied`);
    log(`gates: ${outcome.gates.map((g) => `${g.gate} ${g.verdict}`).join(', ')}; promotion record ${outcome.record?.digest} (${outcome.record?.via === 'referrers-api' ? 'referrers API' : 'referrers tag schema'})`);
  }
  return 0;
}
