import { Construct } from 'constructs';
import { Receiver, ReceiverSpecResourcesKind, ReceiverSpecType } from './imports/notification.toolkit.fluxcd.io';
import { ImageRepository } from './imports/image.toolkit.fluxcd.io';
import { tierLabels } from './labels';
import { FLUX_NAMESPACE, type Tier } from '../model/tiers';

export interface TierReceiverProps {
  readonly tier: Tier;
  /**
   * Receiver name; its token Secret is created by the Pulumi program, never written to Git.
   * @default - the tier's webhook receiverName (`tagflow-<tier>-ecr-push`)
   */
  readonly name?: string;
  /**
   * Name of the Secret with key `token`.
   * @default - the tier's webhook secretName (`tagflow-<tier>-ecr-push-token`)
   */
  readonly secretName?: string;
}

/**
 * The tier's webhook path: a `generic` Receiver that, on any POST to its secret path, asks
 * image-reflector-controller to scan the tier's ImageRepositories at once (EventBridge posts ECR pushes).
 * It lives in flux-system, next to its token Secret; the path is `/hook/sha256(token + name + namespace)`.
 */
export class TierReceiver extends Construct {
  public readonly receiver: Receiver;

  constructor(scope: Construct, id: string, props: TierReceiverProps) {
    super(scope, id);
    const { tier } = props;
    const name = props.name ?? tier.webhook?.receiverName;
    const secretName = props.secretName ?? tier.webhook?.secretName;
    if (!name || !secretName) {
      throw new Error(`TierReceiver: tier '${tier.name}' has webhook off (tier.webhook is undefined) and no 'name'/'secretName' props; a Receiver needs both`);
    }
    if (tier.apps.length === 0) throw new Error(`TierReceiver: tier '${tier.name}' has no apps, so the Receiver would have no resources (Flux requires at least one)`);
    this.receiver = new Receiver(this, 'Resource', {
      metadata: { name, namespace: FLUX_NAMESPACE, labels: tierLabels(tier.environment, tier.name) },
      spec: {
        type: ReceiverSpecType.GENERIC,
        secretRef: { name: secretName },
        resources: tier.apps.map((a) => ({
          apiVersion: ImageRepository.GVK.apiVersion,
          kind: ReceiverSpecResourcesKind.IMAGE_REPOSITORY,
          name: a.policyName,
          namespace: tier.namespace,
        })),
      },
    });
  }
}
