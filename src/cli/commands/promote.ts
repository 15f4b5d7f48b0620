import { promote, type PromoteOptions } from '../../promote/promote';

/** Exit 0 when the release tag points at the staging digest (copied now or before), 1 when refused, 2 on bad input, 3 on registry failures. */
export async function runPromote(opts: PromoteOptions, log: (s: string) => void): Promise<number> {
  const { plan, result } = await promote(opts);
  const from = `${plan.source.app.image}:${plan.source.tag}`;
  const to = `${plan.target.app.image}:${plan.target.tag}`;
  if (result.status === 'already') log(`${to} already points at ${result.digest} (what ${plan.source.app.tier} runs): nothing to do`);
  else {
    log(`promoted ${from} → ${to}`);
    log(`digest ${result.digest} (${result.mediaType}); ${result.blobsCopied} blobs and ${result.manifestsCopied} child manifests copied`);
  }
  return 0;
}
