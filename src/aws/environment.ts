import * as aws from '@pulumi/aws';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { ciRoleName, eksClusterArn, FLUX_READER_SERVICE_ACCOUNT, fluxReaderRoleName } from '../model/aws-names';
import { FLUX_NAMESPACE, gitCredentials, type AppTier, type ResolvedEnvironment } from '../model/tiers';
import type { GitAuthKind } from '../model/environment';
import { lifecyclePolicy } from './ecr-lifecycle';
import { ciPushPolicy, ciTrustPolicy, crossAccountPullPolicy, irsaTrustPolicy, nodePullPolicy, podIdentityTrustPolicy } from './iam-documents';
import { ciSources, clusterPullRepositoryArns, repositoryReaders } from './identities';
import { Tier } from './tier';

/**
 * The secrets of an environment, from Pulumi config secrets: only the ones its git credentials kind needs.
 * They are written into cluster Secrets and kept in Pulumi state (encrypted), never into Git.
 */
export interface EnvironmentSecrets {
  /** githubApp: PEM of the GitHub App. */
  readonly githubAppPrivateKey?: pulumi.Input<string>;
  /** basicAuth: user name and password or token. */
  readonly gitUsername?: pulumi.Input<string>;
  readonly gitPassword?: pulumi.Input<string>;
  /** sshKey: the deploy key (PEM/OpenSSH) and the server's known_hosts line(s). */
  readonly gitSshKey?: pulumi.Input<string>;
  readonly gitKnownHosts?: pulumi.Input<string>;
  /** Generic registries with registry.secretName: the `.dockerconfigjson` Flux reads the registry with. */
  readonly registryDockerConfigJson?: pulumi.Input<string>;
  /** notifications.chat: the chat service's incoming-webhook URL (Slack, Teams, Google Chat, Discord, generic). */
  readonly chatWebhookUrl?: pulumi.Input<string>;
  /** notifications.commitStatus: a token that may set commit statuses on the GitOps repository. */
  readonly commitStatusToken?: pulumi.Input<string>;
}

/** Config keys of the notification secrets, with the stack setting that needs each. */
export const NOTIFICATION_SECRET_CONFIG = { chatWebhookUrl: 'notifications.chat', commitStatusToken: 'notifications.commitStatus' } as const;

export interface EnvironmentArgs extends EnvironmentSecrets {
  readonly environment: ResolvedEnvironment;
  /** kubeconfig of the cluster (a Pulumi secret); default: the ambient kubeconfig. */
  readonly kubeconfig?: pulumi.Input<string>;
}

/** The Pulumi config keys (namespace `tagflow`) of each git credentials kind. */
export const GIT_SECRET_CONFIG: Readonly<Record<GitAuthKind, readonly (keyof EnvironmentSecrets)[]>> = {
  githubApp: ['githubAppPrivateKey'],
  basicAuth: ['gitUsername', 'gitPassword'],
  sshKey: ['gitSshKey', 'gitKnownHosts'],
};

/** The data of the git credentials Secret, in the keys Flux reads for the kind; throws naming a missing config secret. */
export function gitSecretData(env: ResolvedEnvironment, secrets: EnvironmentSecrets): Record<string, pulumi.Input<string>> {
  const g = env.model.gitops;
  const need = <K extends keyof EnvironmentSecrets>(k: K): pulumi.Input<string> => {
    const v = secrets[k];
    if (v === undefined) throw new Error(`tagflow:${k} is not set: pulumi config set --secret tagflow:${k} ... (gitops credentials ${gitCredentials(g).kind})`);
    return pulumi.secret(v);
  };
  if (g.githubApp) {
    return {
      githubAppID: g.githubApp.appId,
      ...(g.githubApp.installationOwner ? { githubAppInstallationOwner: g.githubApp.installationOwner } : { githubAppInstallationID: g.githubApp.installationId! }),
      githubAppPrivateKey: need('githubAppPrivateKey'),
    };
  }
  if (g.basicAuth) return { username: need('gitUsername'), password: need('gitPassword') };
  return { identity: need('gitSshKey'), known_hosts: need('gitKnownHosts') };
}

/** ECR repositories this stack creates, one per distinct repository, with the tiers that deploy each. */
export function ownedRepositories(env: ResolvedEnvironment): { appTier: AppTier & { ecr: NonNullable<AppTier['ecr']> }; tiers: ResolvedEnvironment['tiers'][number][] }[] {
  const byRepo = new Map<string, { appTier: AppTier & { ecr: NonNullable<AppTier['ecr']> }; tiers: ResolvedEnvironment['tiers'][number][] }>();
  for (const tier of env.tiers) {
    for (const a of tier.apps) {
      if (!a.ecr?.create) continue;
      const e = byRepo.get(a.repository) ?? { appTier: { ...a, ecr: a.ecr }, tiers: [] };
      e.tiers.push(tier);
      byRepo.set(a.repository, e);
    }
  }
  return [...byRepo.values()].sort((x, y) => (x.appTier.repository < y.appTier.repository ? -1 : 1));
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9-]/g, '-');

/**
 * Everything one environment needs on AWS and in its cluster that does not belong in Git: ECR
 * repositories (immutable tags, scan on push, encryption, lifecycle), the read-only role of Flux's
 * image-reflector-controller, one Tier component per tier with its own grant and cluster Secrets (git
 * credentials, Receiver token), and the CI push role. With a generic registry, only the Tiers' Secrets.
 */
/** ECR encryption of the stack's repositories: KMS (a given key, else the AWS managed key) unless AES256 is asked for. */
export function encryptionConfiguration(aws: NonNullable<ResolvedEnvironment['model']['aws']>): { encryptionType: 'KMS' | 'AES256'; kmsKey?: string } {
  if (aws.encryption === 'AES256') return { encryptionType: 'AES256' };
  return aws.kmsKeyArn ? { encryptionType: 'KMS', kmsKey: aws.kmsKeyArn } : { encryptionType: 'KMS' };
}

/** Tag mutability: every tag immutable, except the cache tag CI rewrites (which no tier can select). */
export function tagMutability(cacheTag: string | false): { imageTagMutability: string; imageTagMutabilityExclusionFilters?: { filter: string; filterType: 'WILDCARD' }[] } {
  return cacheTag ? { imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION', imageTagMutabilityExclusionFilters: [{ filter: cacheTag, filterType: 'WILDCARD' }] } : { imageTagMutability: 'IMMUTABLE' };
}

/**
 * Everything one environment needs on AWS and in its cluster that does not belong in Git: ECR
 * repositories (immutable tags but the cache tag, scan on push, KMS encryption, a lifecycle that never
 * expires what a tier may deploy, a repository policy naming the exact roles of reading accounts), the
 * read-only role of Flux's image-reflector-controller, one Tier component per tier with its own grant and
 * cluster Secrets, one push role per CI source limited to the repositories it builds, and pull on the apps'
 * repositories for the roles the cluster's nodes pull with. With a generic registry, only the Tiers' Secrets.
 */
export class Environment extends pulumi.ComponentResource {
  public readonly repositoryUrls: Record<string, pulumi.Output<string>>;
  public readonly fluxRoleArn?: pulumi.Output<string>;
  /** Push role per CI source (`owner/repo` or pipeline slug). */
  public readonly ciRoleArns: Record<string, pulumi.Output<string>>;
  public readonly tiers: Record<string, Tier>;

  constructor(name: string, args: EnvironmentArgs, opts?: pulumi.ComponentResourceOptions) {
    super('tagflow:aws:Environment', name, {}, opts);
    const env = args.environment;
    const cluster = env.model.cluster;
    const ecr = env.model.registry.provider === 'aws' ? env.model.aws : undefined;
    const provider = args.kubeconfig ? new k8s.Provider(`${name}-cluster`, { kubeconfig: args.kubeconfig }, { parent: this }) : undefined;
    const gitCredentials = gitSecretData(env, args);
    const file = `Pulumi.${env.name}.yaml`;
    const chat = { chatWebhookUrl: args.chatWebhookUrl };
    this.commitStatusSecrets(name, env, args.commitStatusToken, provider);

    this.repositoryUrls = {};
    this.ciRoleArns = {};
    this.tiers = {};
    if (!ecr) {
      // Another registry: nothing on AWS, only the tiers' cluster Secrets.
      for (const tier of env.tiers) {
        this.tiers[tier.name] = new Tier(`${name}-${tier.name}`, { environment: env, tier, provider, gitCredentials, registryPullSecret: args.registryDockerConfigJson, ...chat }, { parent: this });
      }
      this.registerOutputs({ repositoryUrls: this.repositoryUrls, ciRoleArns: this.ciRoleArns });
      return;
    }
    const { accountId, region } = ecr;
    for (const { appTier: a, tiers } of ownedRepositories(env)) {
      const id = `${name}-${safe(a.repository)}`;
      const repo = new aws.ecr.Repository(
        id,
        {
          name: a.repository,
          ...tagMutability(a.ecr.cacheTag),
          imageScanningConfiguration: { scanOnPush: true },
          encryptionConfigurations: [encryptionConfiguration(ecr)],
          forceDelete: false,
          tags: { 'tagflow:environment': env.name, 'tagflow:app': a.app },
        },
        { parent: this },
      );
      const lifecycle = lifecyclePolicy(a.repository, tiers, file);
      if (lifecycle) new aws.ecr.LifecyclePolicy(`${id}-lifecycle`, { repository: repo.name, policy: pulumi.jsonStringify(lifecycle) }, { parent: this });
      if (a.ecr.pullAccounts.length) {
        new aws.ecr.RepositoryPolicy(`${id}-cross-account`, { repository: repo.name, policy: pulumi.jsonStringify(crossAccountPullPolicy(repositoryReaders(env, a.ecr.pullAccounts))) }, { parent: this });
      }
      this.repositoryUrls[a.repository] = repo.repositoryUrl;
    }

    let fluxRole: aws.iam.Role | undefined;
    if (!cluster.objectLevelIdentity) {
      fluxRole = new aws.iam.Role(
        `${name}-flux-image-reader`,
        {
          name: fluxReaderRoleName(env.name),
          description: `tagflow ${env.name}: Flux image-reflector-controller reads ECR (list and pull only)`,
          assumeRolePolicy: pulumi.jsonStringify(
            cluster.identity === 'irsa'
              ? irsaTrustPolicy(accountId, region, cluster.oidcIssuerUrl!)
              : podIdentityTrustPolicy(accountId, eksClusterArn(accountId, region, cluster.name)),
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

    for (const tier of env.tiers) this.tiers[tier.name] = new Tier(`${name}-${tier.name}`, { environment: env, tier, fluxRole, provider, gitCredentials, ...chat }, { parent: this });

    for (const source of ciSources(env)) {
      const roleName = ciRoleName(env.name, source.source);
      const id = `${name}-ci-${safe(source.source)}`;
      const ciRole = new aws.iam.Role(
        id,
        {
          name: roleName,
          description: `tagflow ${env.name}: ${source.system === 'githubActions' ? 'GitHub Actions of' : 'Buildkite pipeline'} ${source.source} pushes ${source.apps.map((i) => env.model.apps[i]!.name).join(', ')}`.slice(0, 1000),
          assumeRolePolicy: pulumi.jsonStringify(ciTrustPolicy(accountId, region, source)),
          maxSessionDuration: 3600,
        },
        { parent: this },
      );
      new aws.iam.RolePolicy(id, { role: ciRole.name, name: 'ecr-push', policy: pulumi.jsonStringify(ciPushPolicy(source.repositoryArns)) }, { parent: this });
      this.ciRoleArns[source.source] = ciRole.arn;
    }

    const pullArns = clusterPullRepositoryArns(env);
    if (cluster.imagePullRoles.length && pullArns.length) {
      const policy = pulumi.jsonStringify(nodePullPolicy(pullArns));
      for (const role of cluster.imagePullRoles) {
        // The node roles belong to the cluster; this stack only adds (and on destroy removes) its inline policy.
        new aws.iam.RolePolicy(`${name}-image-pull-${safe(role)}`, { role, name: `tagflow-${env.name}-ecr-pull`, policy }, { parent: this });
      }
    }

    this.registerOutputs({ repositoryUrls: this.repositoryUrls, fluxRoleArn: this.fluxRoleArn, ciRoleArns: this.ciRoleArns });
  }

  /**
   * The token Secret of each commit-status Provider, in flux-system next to the tiers' Kustomizations
   * whose events it reports (one per Secret name the tiers use).
   */
  private commitStatusSecrets(name: string, env: ResolvedEnvironment, token: pulumi.Input<string> | undefined, provider: k8s.Provider | undefined): void {
    const names = [...new Set(env.tiers.flatMap((t) => (t.notifications?.commitStatus ? [t.notifications.commitStatus.secretName] : [])))].sort();
    if (names.length === 0) return;
    if (token === undefined) throw new Error(`tagflow:commitStatusToken is not set: pulumi config set --secret tagflow:commitStatusToken ... (notifications.commitStatus)`);
    for (const secretName of names) {
      new k8s.core.v1.Secret(
        `${name}-${secretName}`,
        { metadata: { name: secretName, namespace: FLUX_NAMESPACE, labels: { 'app.kubernetes.io/managed-by': 'tagflow' } }, type: 'Opaque', stringData: { token: pulumi.secret(token) } },
        { parent: this, provider },
      );
    }
  }
}
