import { runSimulation, runUnsafeSimulation } from '@cloud-copilot/iam-simulate';
import type { PolicyDocument } from '../../src/aws/iam-documents';

/**
 * One IAM decision from the policy simulator (@cloud-copilot/iam-simulate, AGPL: tests only). Test files
 * that use `trust` must mock '@cloud-copilot/iam-policy' as iam-simulation.test.ts does (the unsafe
 * simulation reads the resource policy's name).
 */
export async function decide(opts: {
  principal: string;
  action: string;
  resource: string;
  identity?: PolicyDocument;
  resourcePolicy?: PolicyDocument;
  context?: Record<string, string>;
  /**
   * Trust policies: OIDC claims (`<issuer>:sub`, `<issuer>:aud`) are not in the simulator's key list for
   * sts:AssumeRoleWithWebIdentity, so the checked runSimulation drops them; the unsafe variant evaluates
   * the context as given.
   */
  trust?: boolean;
}): Promise<string> {
  const account = /:(\d{12}):/.exec(opts.resource)?.[1] ?? '123456789012';
  if (opts.trust) {
    return runUnsafeSimulation(
      {
        request: { principal: opts.principal, action: opts.action, resource: { resource: opts.resource, accountId: account }, contextVariables: opts.context ?? {} },
        identityPolicies: [],
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        resourcePolicy: opts.resourcePolicy,
      },
      {},
    );
  }
  const r = await runSimulation(
    {
      request: { principal: opts.principal, action: opts.action, resource: { resource: opts.resource, accountId: account }, contextVariables: opts.context ?? {} },
      identityPolicies: opts.identity ? [{ name: 'p', policy: opts.identity }] : [],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(opts.resourcePolicy ? { resourcePolicy: opts.resourcePolicy } : {}),
    },
    {},
  );
  if (r.resultType === 'error') throw new Error(JSON.stringify(r.errors));
  return r.overallResult;
}

