import { Construct } from 'constructs';
import { ImageReaderServiceAccount } from './image-reader-service-account';
import { ControllerRestartPatch } from './controller-restart-patch';
import { ManifestFile } from './manifest-file';
import { TierGitOps } from './tier-gitops';
import { FLUX_READER_SERVICE_ACCOUNT, fluxReaderRoleName, roleArn } from '../model/aws-names';
import type { ResolvedEnvironment } from '../model/tiers';

/** The IRSA patches, next to flux bootstrap's kustomization.yaml, which lists them under `patches` with a target. */
export function irsaPatchPaths(environment: string): { readonly serviceAccount: string; readonly restart: string } {
  return {
    serviceAccount: `clusters/${environment}/flux-system/tagflow-image-reflector-irsa.yaml`,
    restart: `clusters/${environment}/flux-system/tagflow-image-reflector-restart.yaml`,
  };
}

export interface EnvironmentGitOpsProps {
  readonly environment: ResolvedEnvironment;
}

/** Every tier of one environment (one Pulumi stack, one cluster). */
export class EnvironmentGitOps extends Construct {
  public readonly tiers: readonly TierGitOps[];
  /** True when some app deploys the bundled chart, which then has to be in the GitOps tree. */
  public readonly usesBundledChart: boolean;
  /** True when some tier pushes to a review branch (the release pull request workflow is written). */
  public readonly hasReviewedTier: boolean;

  constructor(scope: Construct, id: string, props: EnvironmentGitOpsProps) {
    super(scope, id);
    const env = props.environment;
    const ecr = env.model.registry.provider === 'aws' ? env.model.aws : undefined;
    const objectLevel = ecr && env.model.cluster.objectLevelIdentity ? { accountId: ecr.accountId, region: ecr.region } : undefined;
    this.tiers = env.tiers.map((tier) => new TierGitOps(this, tier.name, { tier, gitops: env.model.gitops, objectLevelIdentity: objectLevel }));
    if (ecr && !objectLevel) {
      // Controller-level identity: annotate flux-system/image-reflector-controller with the (deterministic)
      // role ARN, and restart its pods whenever the role changes so they pick up the new credentials.
      const arn = roleArn(ecr.accountId, ecr.region, fluxReaderRoleName(env.name));
      const paths = irsaPatchPaths(env.name);
      if (env.model.cluster.identity === 'irsa') {
        const sa = new ManifestFile(this, 'IrsaPatch', { path: paths.serviceAccount });
        new ImageReaderServiceAccount(sa, 'Resource', { ...FLUX_READER_SERVICE_ACCOUNT, roleArn: arn });
      }
      const restart = new ManifestFile(this, 'RestartPatch', { path: paths.restart });
      new ControllerRestartPatch(restart, 'Resource', { ...FLUX_READER_SERVICE_ACCOUNT, identity: `${env.model.cluster.identity} ${arn}` });
    }
    this.usesBundledChart = env.tiers.some((t) => t.apps.some((a) => a.chart.kind === 'bundled'));
    this.hasReviewedTier = env.tiers.some((t) => t.reviewed && t.apps.length > 0);
  }
}
