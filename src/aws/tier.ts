import * as aws from '@pulumi/aws';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import { receiverWebhookPath, TierWebhook, tierEventPattern } from './tier-webhook';
import { tierLabels } from '../flux/labels';
import { ecrRepositoryArn, TIER_READER_SERVICE_ACCOUNT, tierReaderRoleName } from '../model/aws-names';
import type { ResolvedEnvironment, Tier as TierModel } from '../model/tiers';
import { fluxReadPolicy, irsaTrustPolicy } from './iam-documents';

export interface TierArgs {
  readonly environment: ResolvedEnvironment;
  readonly tier: TierModel;
  /** The controller-level Flux role this tier's read grant is attached to (absent with object-level identity). */
  readonly fluxRole?: aws.iam.Role;
  /** Kubernetes provider for the tier's namespace and Secrets; default: the ambient kubeconfig. */
  readonly provider?: k8s.Provider;
  /** The git credentials Secret's data (Pulumi secrets), written into the tier namespace. */
  readonly gitCredentials: Record<string, pulumi.Input<string>>;
  /** The generic registry's pull Secret (`.dockerconfigjson`), when the stack sets one. */
  readonly registryPullSecret?: pulumi.Input<string>;
  /** The chat webhook URL, for tiers with notifications.chat (a Pulumi secret). */
  readonly chatWebhookUrl?: pulumi.Input<string>;
}

/** The ECR repository ARNs a tier's apps read. */
export function tierRepositoryArns(tier: TierModel): string[] {
  return [...new Set(tier.apps.flatMap((a) => (a.ecr ? [ecrRepositoryArn(a.ecr.accountId, a.ecr.region, a.repository)] : [])))].sort();
}

/**
 * One tier on AWS and in its cluster. It owns its grant: with controller-level identity an inline policy on
 * the Flux role that lets it list and pull exactly the tier's repositories; with object-level identity its
 * own IRSA role for the tier's ServiceAccount. Removing the tier removes exactly its access. In the cluster
 * it creates what the tier's Flux objects reference and Git must never hold: the git credentials, the
 * Receiver token and the registry pull Secret, in the tier namespace (created here too, and kept on
 * destroy: Flux owns the tier from then on).
 */
export class Tier extends pulumi.ComponentResource {
  public readonly roleArn?: pulumi.Output<string>;
  public readonly repositoryArns: string[];
  /** The push-to-scan path (tiers with webhook on whose repositories live in this account). */
  public readonly webhook?: TierWebhook;
  /** The Receiver's secret path (`/hook/...`), for registries other than ECR to post to. */
  public readonly receiverPath?: pulumi.Output<string>;

  constructor(name: string, args: TierArgs, opts?: pulumi.ComponentResourceOptions) {
    super('tagflow:aws:Tier', name, {}, opts);
    const { environment: env, tier } = args;
    this.repositoryArns = tierRepositoryArns(tier);
    if (this.repositoryArns.length > 0) {
      const policy = pulumi.jsonStringify(fluxReadPolicy(this.repositoryArns, `Read${tier.name[0].toUpperCase()}${tier.name.slice(1)}Images`));
      if (env.model.cluster.objectLevelIdentity) {
        const role = new aws.iam.Role(
          `${name}-image-reader`,
          {
            name: tierReaderRoleName(env.name, tier.name),
            description: `tagflow ${env.name}/${tier.name}: ImageRepositories of tier ${tier.name} read ECR (object-level identity)`,
            assumeRolePolicy: pulumi.jsonStringify(
              irsaTrustPolicy(env.model.aws!.accountId, env.model.aws!.region, env.model.cluster.oidcIssuerUrl!, {
                namespace: tier.namespace,
                name: TIER_READER_SERVICE_ACCOUNT,
              }),
            ),
            maxSessionDuration: 3600,
          },
          { parent: this },
        );
        new aws.iam.RolePolicy(`${name}-ecr-read`, { role: role.name, name: 'ecr-read', policy }, { parent: this });
        this.roleArn = role.arn;
      } else if (args.fluxRole) {
        new aws.iam.RolePolicy(`${name}-ecr-read`, { role: args.fluxRole.name, name: `tier-${tier.name}-ecr-read`, policy }, { parent: this });
      }
    }
    const k8sOpts = { parent: this, provider: args.provider };
    const labels = tierLabels(env.name, tier.name);
    const ns = new k8s.core.v1.Namespace(`${name}-namespace`, { metadata: { name: tier.namespace, labels } }, { ...k8sOpts, retainOnDelete: true });
    const inNs = { ...k8sOpts, dependsOn: [ns] };
    new k8s.core.v1.Secret(
      `${name}-git`,
      { metadata: { name: tier.gitCredentials.secretName, namespace: tier.namespace, labels }, type: 'Opaque', stringData: args.gitCredentials },
      inNs,
    );
    const pull = tier.apps.find((a) => a.registry.secretName)?.registry.secretName;
    if (pull && args.registryPullSecret) {
      new k8s.core.v1.Secret(
        `${name}-registry`,
        { metadata: { name: pull, namespace: tier.namespace, labels }, type: 'kubernetes.io/dockerconfigjson', stringData: { '.dockerconfigjson': args.registryPullSecret } },
        inNs,
      );
    }
    const chat = tier.notifications?.chat;
    if (chat && tier.apps.length > 0) {
      if (args.chatWebhookUrl === undefined) throw new Error(`tagflow:chatWebhookUrl is not set: pulumi config set --secret tagflow:chatWebhookUrl ... (notifications.chat of tier ${tier.name})`);
      new k8s.core.v1.Secret(
        `${name}-chat`,
        { metadata: { name: chat.secretName, namespace: tier.namespace, labels }, type: 'Opaque', stringData: { address: pulumi.secret(args.chatWebhookUrl) } },
        inNs,
      );
    }
    if (tier.webhook) {
      const hook = tier.webhook;
      const token = new random.RandomPassword(`${name}-token`, { length: 40, special: false }, { parent: this });
      new k8s.core.v1.Secret(
        `${name}-token`,
        {
          // The watch label makes the Receiver pick up a rotated token at once.
          metadata: { name: hook.secretName, namespace: tier.namespace, labels: { ...labels, 'reconcile.fluxcd.io/watch': 'Enabled' } },
          type: 'Opaque',
          stringData: { token: token.result },
        },
        inNs,
      );
      this.receiverPath = pulumi.secret(token.result.apply((t) => receiverWebhookPath(t, hook.receiverName, tier.namespace)));
      const aws = env.model.registry.provider === 'aws' ? env.model.aws : undefined;
      if (!aws || !hook.url) {
        // Another registry posts its own webhook to the Receiver: the path is a stack output.
      } else if (tierEventPattern(tier, aws.accountId, aws.region)) {
        this.webhook = new TierWebhook(`${name}-webhook`, { environment: env, tier, token: token.result }, { parent: this });
      } else {
        pulumi.log.warn(`tier ${tier.name}: its repositories live in other accounts or regions, whose ECR events this stack cannot route; Flux scans every ${tier.apps[0]?.scanInterval ?? 'interval'}`, this);
      }
    }
    this.registerOutputs({ roleArn: this.roleArn, repositoryArns: this.repositoryArns, receiverPath: this.receiverPath, webhookDeadLetterQueueUrl: this.webhook?.deadLetterQueueUrl });
  }
}
