import { Construct } from 'constructs';
import { AppImagePolicy } from './app-image-policy';
import { AppRelease } from './app-release';
import { ManifestFile } from './manifest-file';
import { TierDeployer } from './tier-deployer';
import { TierImageAutomation } from './tier-image-automation';
import { TierSource } from './tier-source';
import type { Environment } from '../model/environment';
import type { Tier } from '../model/tiers';

export interface TierGitOpsProps {
  readonly tier: Tier;
  readonly gitops: Environment['gitops'];
}

/**
 * One tier of an environment in the GitOps tree, the cdk8s half of "one component per tier":
 *
 *     clusters/<env>/tagflow-<tier>.yaml             namespace, GitRepository, Kustomization (flux-system)
 *     environments/<env>/<tier>/automation.yaml      ImageUpdateAutomation, deployer ServiceAccount
 *     environments/<env>/<tier>/images/<app>.yaml    ImageRepository, ImagePolicy
 *     environments/<env>/<tier>/releases/<app>.yaml  HelmRelease with markers (the automation's update.path)
 */
export class TierGitOps extends Construct {
  public readonly source: TierSource;
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
    const automationFile = new ManifestFile(this, 'AutomationFile', { path: `${tier.folder}/automation.yaml` });
    this.automation = new TierImageAutomation(automationFile, 'Automation', { tier, author: gitops.commitAuthor });
    this.deployer = new TierDeployer(automationFile, 'Deployer', { tier });
    const images: AppImagePolicy[] = [];
    const releases: AppRelease[] = [];
    for (const appTier of tier.apps) {
      const imageFile = new ManifestFile(this, `Images-${appTier.app}`, { path: `${tier.folder}/images/${appTier.app}.yaml` });
      images.push(new AppImagePolicy(imageFile, 'Resource', { appTier }));
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
