import type { PromotionGates } from '../../model/promotion';
import type { EcrHost } from '../../registry/ecr-auth';
import { ageGate } from './age';
import { scanGate } from './scan';
import { signatureGate } from './signature';
import { soakGate, type SoakInput } from './soak';
import type { GateResult, GateSubject } from './types';

export interface GateContext {
  /** The ECR registry and repository of the image (scan source ecr). */
  readonly ecr?: { readonly host: EcrHost; readonly repository: string };
  readonly soak: Omit<SoakInput, 'now'>;
  readonly now: number;
}

/**
 * Every gate on the one digest, in a fixed order (signature, scan, soak, age), each whether or not an
 * earlier one failed, so the explanation is complete. A gate that is off says so.
 */
export async function evaluateGates(gates: PromotionGates, subject: GateSubject, ctx: GateContext): Promise<GateResult[]> {
  const off = (gate: GateResult['gate']): GateResult => ({ gate, verdict: 'off', reason: 'not configured for this environment and app', evidence: {} });
  return [
    gates.signature ? await signatureGate(gates.signature, subject) : off('signature'),
    gates.scan ? await scanGate(gates.scan, subject, ctx.ecr) : off('scan'),
    gates.soak ? await soakGate(gates.soak, { ...ctx.soak, now: ctx.now }) : off('soak'),
    gates.age ? await ageGate(gates.age, subject, ctx.now) : off('age'),
  ];
}
