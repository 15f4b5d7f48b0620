import * as aws from '@pulumi/aws';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { ciPushRoleName, ecrRepositoryArn, FLUX_READER_SERVICE_ACCOUNT, fluxReaderRoleName } from '../model/aws-names';
import { FLUX_NAMESPACE, type AppTier, type ResolvedEnvironment } from '../model/tiers';
import { lifecyclePolicy } from './ecr-lifecycle';
import { ciPushPolicy, ciTrustPolicy, crossAccountPullPolicy, irsaTrustPolicy, podIdentityTrustPolicy } from './iam-documents';
import { Tier } from './tier';

export interface EnvironmentArgs {
  readonly environment: ResolvedEnvironment;
  /** PEM of the GitHub App (a Pulumi secret); written only into the cluster Secret, never into Git. */
  readonly githubAppPrivateKey: pulumi.Input<string>;
  /** kubeconfig of the cluster (a Pulumi secret); default: the ambient kubeconfig. */
  readonly kubeconfig?: pulumi.Input<string>;
}

/** Repositories this stack creates, one per distinct repository, with the tiers that deploy each. */
export function ownedRepositories(env: ResolvedEnvironment): { appTier: AppTier; tiers: ResolvedEnvironment['tiers'][number][] }[] {
  const byRepo = new Map<string, { appTier: AppTier; tiers: ResolvedEnvironment['tiers'][number][] }>();
  for (const tier of env.tiers) {
    for (const a of tier.apps) {
      if (!a.ecr.create) continue;
      const e = byRepo.get(a.ecr.repository) ?? { appTier: a, tiers: [] };
      e.tiers.push(tier);
      byRepo.set(a.ecr.repository, e);
    }
  }
  return [...byRepo.values()].sort((x, y) => (x.appTier.ecr.repository < y.appTier.ecr.repository ? -1 : 1));
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9-]/g, '-');

/**
 * Everything one environment needs on AWS and in its cluster that does not belong in Git: ECR
 * repositories (immutable tags, scan on push, encryption, lifecycle), the read-only role of Flux's
 * image-reflector-controller, one Tier component per tier with its own grant, the CI push role, and the
 * GitHub App Secret the GitOps tree's GitRepositories reference.
 */
export class Environment extends pulumi.ComponentResource {
  public readonly repositoryUrls: Record<string, pulumi.Output<string>>;
  public readonly fluxRoleArn?: pulumi.Output<string>;
  public readonly ciRoleArn?: pulumi.Output<string>;
  public readonly tiers: Record<string, Tier>;

  constructor(name: string, args: EnvironmentArgs, opts?: pulumi.ComponentResourceOptions) {
    super('tagflow:aws:Environment', name, {}, opts);
    const env = args.environment;
    const { accountId, region, kmsKeyArn } = env.model.aws;
    const cluster = env.model.cluster;

    this.repositoryUrls = {};
    for (const { appTier: a, tiers } of ownedRepositories(env)) {
      const id = `${name}-${safe(a.ecr.repository)}`;
      const repo = new aws.ecr.Repository(
        id,
        {
          name: a.ecr.repository,
          imageTagMutability: 'IMMUTABLE',
          imageScanningConfiguration: { scanOnPush: true },
          encryptionConfigurations: [kmsKeyArn ? { encryptionType: 'KMS', kmsKey: kmsKeyArn } : { encryptionType: 'AES256' }],
          forceDelete: false,
          tags: { 'tagflow:environment': env.name, 'tagflow:app': a.app },
        },
        { parent: this },
      );
      const lifecycle = lifecyclePolicy(tiers);
      if (lifecycle) new aws.ecr.LifecyclePolicy(`${id}-lifecycle`, { repository: repo.name, policy: pulumi.jsonStringify(lifecycle) }, { parent: this });
      if (a.ecr.pullAccounts.length) {
        new aws.ecr.RepositoryPolicy(`${id}-cross-account`, { repository: repo.name, policy: pulumi.jsonStringify(crossAccountPullPolicy(a.ecr.pullAccounts, region)) }, { parent: this });
      }
      this.repositoryUrls[a.ecr.repository] = repo.repositoryUrl;
    }

    let fluxRole: aws.iam.Role | undefined;
    if (!cluster.objectLevelIdentity) {
      fluxRole = new aws.iam.Role(
        `${name}-flux-image-reader`,
        {
          name: fluxReaderRoleName(env.name),
          description: `tagflow ${env.name}: Flux image-reflector-controller reads ECR (list and pull only)`,
          assumeRolePolicy: pulumi.jsonStringify(
            cluster.identity === 'irsa' ? irsaTrustPolicy(accountId, region, cluster.oidcIssuerUrl!) : podIdentityTrustPolicy(accountId),
          ),
          maxSessionDuration: 3600,
        },
        { parent: this },
      );
      if (cluster.identity === 'pod-identity') {
        new aws.eks.PodIdentityAssociation(
          `${name}-flux-pod-identity`,
          { clusterName: cluster.name, namespace: FLUX_READER_SERVICE_ACCOUNT.namespace, serviceAccount: FLUX_READER_SERVICE_ACCOUNT.name, roleArn: fluxRole.arn },
          { parent: this },
        );
      }
      this.fluxRoleArn = fluxRole.arn;
    }

    const provider = args.kubeconfig ? new k8s.Provider(`${name}-cluster`, { kubeconfig: args.kubeconfig }, { parent: this }) : undefined;
    this.tiers = {};
    for (const tier of env.tiers) this.tiers[tier.name] = new Tier(`${name}-${tier.name}`, { environment: env, tier, fluxRole, provider }, { parent: this });

    const owned = ownedRepositories(env).map(({ appTier: a }) => ecrRepositoryArn(a.ecr.accountId, a.ecr.region, a.ecr.repository));
    if (env.model.ci && owned.length) {
      const ciRole = new aws.iam.Role(
        `${name}-ci-push`,
        {
          name: ciPushRoleName(env.name),
          description: `tagflow ${env.name}: CI pushes images to the app repositories`,
          assumeRolePolicy: pulumi.jsonStringify(ciTrustPolicy(accountId, region, env.model.ci)),
          maxSessionDuration: 3600,
        },
        { parent: this },
      );
      new aws.iam.RolePolicy(`${name}-ci-push`, { role: ciRole.name, name: 'ecr-push', policy: pulumi.jsonStringify(ciPushPolicy(owned)) }, { parent: this });
      this.ciRoleArn = ciRole.arn;
    }

    const app = env.model.gitops.githubApp;
    new k8s.core.v1.Secret(
      `${name}-github-app`,
      {
        metadata: { name: app.secretName, namespace: FLUX_NAMESPACE, labels: { 'app.kubernetes.io/managed-by': 'tagflow' } },
        type: 'Opaque',
        stringData: {
          githubAppID: app.appId,
          ...(app.installationOwner ? { githubAppInstallationOwner: app.installationOwner } : { githubAppInstallationID: app.installationId! }),
          githubAppPrivateKey: pulumi.secret(args.githubAppPrivateKey),
        },
      },
      { parent: this, provider },
    );

    this.registerOutputs({ repositoryUrls: this.repositoryUrls, fluxRoleArn: this.fluxRoleArn, ciRoleArn: this.ciRoleArn });
  }
}
