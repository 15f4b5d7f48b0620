import { Construct } from 'constructs';
import { Receiver, ReceiverSpecResourcesKind, ReceiverSpecType } from './imports/notification.toolkit.fluxcd.io';
import { ImageRepository } from './imports/image.toolkit.fluxcd.io';
import { LABEL_TIER, tierLabels } from './labels';
import type { Tier } from '../model/tiers';

export interface TierReceiverProps {
  readonly tier: Tier;
  /**
   * Receiver name; its token Secret is created by the Pulumi program, never written to Git.
   * @default - the tier's webhook receiverName (`tagflow-image-push`)
   */
  readonly name?: string;
  /**
   * Name of the Secret with key `token`, in the tier namespace.
   * @default - the tier's webhook secretName (`tagflow-image-push-token`)
   */
  readonly secretName?: string;
}

/**
 * The tier's webhook path: a `generic` Receiver in the tier namespace that, on any POST to its secret path,
 * asks image-reflector-controller to scan the tier's ImageRepositories at once (EventBridge posts ECR
 * pushes; other registries post their own webhooks). It selects them by the tier label, so an app added or
 * removed never breaks the hook, and it refers to nothing outside its namespace. The path is
 * `/hook/sha256(token + name + namespace)`.
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
    this.receiver = new Receiver(this, 'Resource', {
      metadata: { name, namespace: tier.namespace, labels: tierLabels(tier.environment, tier.name) },
      spec: {
        type: ReceiverSpecType.GENERIC,
        secretRef: { name: secretName },
        resources: [
          {
            apiVersion: ImageRepository.GVK.apiVersion,
            kind: ReceiverSpecResourcesKind.IMAGE_REPOSITORY,
            name: '*',
            matchLabels: { [LABEL_TIER]: tier.name },
          },
        ],
      },
    });
  }
}
