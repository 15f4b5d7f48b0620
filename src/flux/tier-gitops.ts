import { Construct } from 'constructs';
import { AppImagePolicy } from './app-image-policy';
import { AppRelease } from './app-release';
import { ManifestFile } from './manifest-file';
import { TierDeployer } from './tier-deployer';
import { TierImageAutomation } from './tier-image-automation';
import { TierChat, TierCommitStatus } from './tier-notifications';
import { TierReceiver } from './tier-receiver';
import { TierSource } from './tier-source';
import { TierTenant } from './tier-tenant';
import { ImageReaderServiceAccount } from './image-reader-service-account';
import { tierLabels } from './labels';
import { apiObjectsOf } from '../gitops/render';
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
 * One tier of an environment in the GitOps tree, the cdk8s half of "one component per tier". The tier is
 * a tenant: the cluster entry point gives it a namespace and a Kustomization that applies its folder as a
 * least-privileged account; everything else lives in the tier namespace and refers to nothing outside it.
 *
 *     clusters/<env>/tagflow-<tier>.yaml             Namespace, applier and deployer RBAC, Kustomization (flux-system)
 *     environments/<env>/<tier>/source.yaml          GitRepository (the tier's credentials; bundled chart, automation)
 *     environments/<env>/<tier>/automation.yaml      ImageUpdateAutomation, Receiver
 *     environments/<env>/<tier>/images/<app>.yaml    ImageRepository, ImagePolicy
 *     environments/<env>/<tier>/releases/<app>.yaml  HelmRelease with markers (the automation's update.path)
 *     environments/<env>/<tier>/notifications.yaml   Provider and Alert for chat messages (when configured)
 */
export class TierGitOps extends Construct {
  public readonly tenant: TierTenant;
  public readonly deployer: TierDeployer;
  public readonly source: TierSource;
  /** The webhook Receiver for image pushes (tiers with webhook on). */
  public readonly receiver?: TierReceiver;
  public readonly automation: TierImageAutomation;
  public readonly images: readonly AppImagePolicy[];
  public readonly releases: readonly AppRelease[];
  /** Chat messages (tier namespace) and commit statuses (next to the tier's Kustomization), when configured. */
  public readonly chat?: TierChat;
  public readonly commitStatus?: TierCommitStatus;

  constructor(scope: Construct, id: string, props: TierGitOpsProps) {
    super(scope, id);
    const { tier, gitops } = props;
    const clusterFile = new ManifestFile(this, 'ClusterFile', { path: `clusters/${tier.environment}/tagflow-${tier.name}.yaml` });
    this.tenant = new TierTenant(clusterFile, 'Resource', { tier });
    // RBAC lives in the cluster entry point: the tier's own applier account cannot change it.
    this.deployer = new TierDeployer(clusterFile, 'Deployer', { tier });
    let readerServiceAccount: string | undefined;
    if (props.objectLevelIdentity) {
      const { accountId, region } = props.objectLevelIdentity;
      readerServiceAccount = TIER_READER_SERVICE_ACCOUNT;
      new ImageReaderServiceAccount(clusterFile, 'ImageReader', {
        name: readerServiceAccount,
        namespace: tier.namespace,
        labels: tierLabels(tier.environment, tier.name),
        roleArn: roleArn(accountId, region, tierReaderRoleName(tier.environment, tier.name)),
      });
    }

    const tierFiles: ManifestFile[] = [];
    const file = (fileId: string, path: string) => {
      const f = new ManifestFile(this, fileId, { path: `${tier.folder}/${path}` });
      tierFiles.push(f);
      return f;
    };
    this.source = new TierSource(file('SourceFile', 'source.yaml'), 'Resource', { tier, repositoryUrl: gitops.url });
    const automationFile = file('AutomationFile', 'automation.yaml');
    this.automation = new TierImageAutomation(automationFile, 'Resource', { tier, author: gitops.commitAuthor });
    if (tier.webhook && tier.apps.length > 0) this.receiver = new TierReceiver(automationFile, 'Receiver', { tier });
    const images: AppImagePolicy[] = [];
    const releases: AppRelease[] = [];
    for (const appTier of tier.apps) {
      images.push(new AppImagePolicy(file(`Images-${appTier.app}`, `images/${appTier.app}.yaml`), 'Resource', { appTier, serviceAccountName: readerServiceAccount }));
      releases.push(
        new AppRelease(file(`Release-${appTier.app}`, `releases/${appTier.app}.yaml`), 'Resource', {
          appTier,
          serviceAccountName: this.deployer.serviceAccountName,
          gitRepositoryName: tier.gitRepositoryName,
        }),
      );
    }
    this.images = images;
    this.releases = releases;
    const n = tier.notifications;
    if (n?.chat && tier.apps.length > 0) this.chat = new TierChat(file('NotificationsFile', 'notifications.yaml'), 'Resource', { tier, chat: n.chat });
    if (n?.commitStatus) this.commitStatus = new TierCommitStatus(clusterFile, 'CommitStatus', { tier, commitStatus: n.commitStatus, repositoryUrl: gitops.url, insecure: gitops.insecure });
    this.tenant.allowKinds(tierFiles.flatMap((f) => apiObjectsOf(f)));
  }
}
