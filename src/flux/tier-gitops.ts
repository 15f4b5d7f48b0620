import { Construct } from 'constructs';
import { AppImagePolicy } from './app-image-policy';
import { AppRelease } from './app-release';
import { ManifestFile } from './manifest-file';
import { TierDeployer } from './tier-deployer';
import { TierImageAutomation } from './tier-image-automation';
import { TierSource } from './tier-source';
import { TierReceiver } from './tier-receiver';
import { ImageReaderServiceAccount } from './image-reader-service-account';
import { tierLabels } from './labels';
import type { Environment } from '../model/environment';
import { roleArn, TIER_READER_SERVICE_ACCOUNT, tierReaderRoleName } from '../model/aws-names';
import type { Tier } from '../model/tiers';

export interface TierGitOpsProps {
  readonly tier: Tier;
  readonly gitops: Environment['gitops'];
  /**
   * Object-level workload identity: the tier's ImageRepositories use their own ServiceAccount and IAM role
   * (needs image-reflector-controller's `ObjectLevelWorkloadIdentity` feature gate).
   * @default - controller-level identity
   */
  readonly objectLevelIdentity?: { readonly accountId: string; readonly region: string };
}

/**
 * One tier of an environment in the GitOps tree, the cdk8s half of "one component per tier":
 *
 *     clusters/<env>/tagflow-<tier>.yaml             namespace, GitRepository, Kustomization, Receiver (flux-system)
 *     environments/<env>/<tier>/automation.yaml      ImageUpdateAutomation, deployer ServiceAccount
 *     environments/<env>/<tier>/images/<app>.yaml    ImageRepository, ImagePolicy
 *     environments/<env>/<tier>/releases/<app>.yaml  HelmRelease with markers (the automation's update.path)
 */
export class TierGitOps extends Construct {
  public readonly source: TierSource;
  /** The webhook Receiver for ECR pushes (tiers with webhook on). */
  public readonly receiver?: TierReceiver;
  public readonly automation: TierImageAutomation;
  public readonly deployer: TierDeployer;
  public readonly images: readonly AppImagePolicy[];
  public readonly releases: readonly AppRelease[];

  constructor(scope: Construct, id: string, props: TierGitOpsProps) {
    super(scope, id);
    const { tier, gitops } = props;
    const clusterFile = new ManifestFile(this, 'ClusterFile', { path: `clusters/${tier.environment}/tagflow-${tier.name}.yaml` });
    this.source = new TierSource(clusterFile, 'Resource', {
      tier,
      repositoryUrl: gitops.url,
      githubAppSecretName: gitops.githubApp.secretName,
    });
    if (tier.webhook && tier.apps.length > 0) this.receiver = new TierReceiver(clusterFile, 'Receiver', { tier });
    const automationFile = new ManifestFile(this, 'AutomationFile', { path: `${tier.folder}/automation.yaml` });
    this.automation = new TierImageAutomation(automationFile, 'Automation', { tier, author: gitops.commitAuthor });
    this.deployer = new TierDeployer(automationFile, 'Deployer', { tier });
    let readerServiceAccount: string | undefined;
    if (props.objectLevelIdentity) {
      const { accountId, region } = props.objectLevelIdentity;
      readerServiceAccount = TIER_READER_SERVICE_ACCOUNT;
      new ImageReaderServiceAccount(automationFile, 'ImageReader', {
        name: readerServiceAccount,
        namespace: tier.namespace,
        labels: tierLabels(tier.environment, tier.name),
        roleArn: roleArn(accountId, region, tierReaderRoleName(tier.environment, tier.name)),
      });
    }
    const images: AppImagePolicy[] = [];
    const releases: AppRelease[] = [];
    for (const appTier of tier.apps) {
      const imageFile = new ManifestFile(this, `Images-${appTier.app}`, { path: `${tier.folder}/images/${appTier.app}.yaml` });
      images.push(new AppImagePolicy(imageFile, 'Resource', { appTier, serviceAccountName: readerServiceAccount }));
      const releaseFile = new ManifestFile(this, `Release-${appTier.app}`, { path: `${tier.releasesFolder}/${appTier.app}.yaml` });
      releases.push(
        new AppRelease(releaseFile, 'Resource', {
          appTier,
          serviceAccountName: this.deployer.serviceAccountName,
          gitRepositoryName: tier.sourceName,
        }),
      );
    }
    this.images = images;
    this.releases = releases;
  }
}
