import * as aws from '@pulumi/aws';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { TierWebhook, tierEventPattern } from './tier-webhook';
import { ecrRepositoryArn, TIER_READER_SERVICE_ACCOUNT, tierReaderRoleName } from '../model/aws-names';
import type { ResolvedEnvironment, Tier as TierModel } from '../model/tiers';
import { fluxReadPolicy, irsaTrustPolicy } from './iam-documents';

export interface TierArgs {
  readonly environment: ResolvedEnvironment;
  readonly tier: TierModel;
  /** The controller-level Flux role this tier's read grant is attached to (absent with object-level identity). */
  readonly fluxRole?: aws.iam.Role;
  /** Kubernetes provider for the webhook token Secret; default: the ambient kubeconfig. */
  readonly provider?: k8s.Provider;
}

/** The ECR repository ARNs a tier's apps read. */
export function tierRepositoryArns(tier: TierModel): string[] {
  return [...new Set(tier.apps.map((a) => ecrRepositoryArn(a.ecr.accountId, a.ecr.region, a.ecr.repository)))].sort();
}

/**
 * One tier on AWS. It owns its grant: with controller-level identity an inline policy on the Flux role
 * that lets it list and pull exactly the tier's repositories; with object-level identity its own IRSA
 * role for the tier's ServiceAccount. Removing the tier removes exactly its access.
 */
export class Tier extends pulumi.ComponentResource {
  public readonly roleArn?: pulumi.Output<string>;
  public readonly repositoryArns: string[];
  /** The push-to-scan path (tiers with webhook on whose repositories live in this account). */
  public readonly webhook?: TierWebhook;

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
              irsaTrustPolicy(env.model.aws.accountId, env.model.aws.region, env.model.cluster.oidcIssuerUrl!, {
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
    if (tier.webhook) {
      if (tierEventPattern(tier, env.model.aws.accountId, env.model.aws.region)) {
        this.webhook = new TierWebhook(`${name}-webhook`, { environment: env, tier, provider: args.provider }, { parent: this });
      } else {
        pulumi.log.warn(`tier ${tier.name}: its repositories live in other accounts or regions, whose ECR events this stack cannot route; Flux scans every ${tier.apps[0]?.scanInterval ?? 'interval'}`, this);
      }
    }
    this.registerOutputs({ roleArn: this.roleArn, repositoryArns: this.repositoryArns, webhookDeadLetterQueueUrl: this.webhook?.deadLetterQueueUrl });
  }
}
