import type { RegistryClient } from '../../registry/oci-client';
import type { GateName } from '../../model/promotion';

/**
 * The verdict of one gate on the digest being promoted:
 * - pass: the rule holds, with its evidence;
 * - fail: it does not (or could not be shown to), with the reason;
 * - overridden: it failed and `--override-gate` let it through (recorded with the reason);
 * - off: the stack configures no such gate.
 */
export type GateVerdict = 'pass' | 'fail' | 'overridden' | 'off';

export interface GateResult {
  readonly gate: GateName;
  readonly verdict: GateVerdict;
  /** One line: why it passed or failed. */
  readonly reason: string;
  /** What the verdict rests on (digests, key names, commits, counts), as data. */
  readonly evidence: Readonly<Record<string, unknown>>;
}

/** Where the image under promotion lives, and what is known of it. */
export interface GateSubject {
  readonly client: RegistryClient;
  readonly repository: string;
  readonly digest: string;
  readonly mediaType: string;
  /** The manifest's bytes (verified against the digest). */
  readonly manifest: Buffer;
  /** Platform manifests of an image index (verified), else empty. */
  readonly children: readonly { readonly digest: string; readonly body: Buffer; readonly mediaType: string }[];
}

export class GateFailure extends Error {
  constructor(
    message: string,
    public readonly evidence: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }
}
