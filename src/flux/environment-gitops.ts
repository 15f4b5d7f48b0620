import { Construct } from 'constructs';
import { ImageReaderServiceAccount } from './image-reader-service-account';
import { ManifestFile } from './manifest-file';
import { TierGitOps } from './tier-gitops';
import { FLUX_READER_SERVICE_ACCOUNT, fluxReaderRoleName, roleArn } from '../model/aws-names';
import type { ResolvedEnvironment } from '../model/tiers';

/** The IRSA patch file, next to flux bootstrap's kustomization.yaml, which must list it under `patches`. */
export function irsaPatchPath(environment: string): string {
  return `clusters/${environment}/flux-system/tagflow-image-reflector-irsa.yaml`;
}

export interface EnvironmentGitOpsProps {
  readonly environment: ResolvedEnvironment;
}

/** Every tier of one environment (one Pulumi stack, one cluster). */
export class EnvironmentGitOps extends Construct {
  public readonly tiers: readonly TierGitOps[];
  /** True when some app deploys the bundled chart, which then has to be in the GitOps tree. */
  public readonly usesBundledChart: boolean;

  constructor(scope: Construct, id: string, props: EnvironmentGitOpsProps) {
    super(scope, id);
    const env = props.environment;
    const { accountId, region } = env.model.aws;
    this.tiers = env.tiers.map((tier) => new TierGitOps(this, tier.name, { tier, gitops: env.model.gitops, objectLevelIdentity: env.model.cluster.objectLevelIdentity ? { accountId, region } : undefined }));
    if (env.model.cluster.identity === 'irsa' && !env.model.cluster.objectLevelIdentity) {
      // Controller-level IRSA: annotate flux-system/image-reflector-controller with the (deterministic) role ARN.
      const file = new ManifestFile(this, 'IrsaPatch', { path: irsaPatchPath(env.name) });
      new ImageReaderServiceAccount(file, 'Resource', { ...FLUX_READER_SERVICE_ACCOUNT, roleArn: roleArn(accountId, region, fluxReaderRoleName(env.name)) });
    }
    this.usesBundledChart = env.tiers.some((t) => t.apps.some((a) => a.chart.kind === 'bundled'));
  }
}
