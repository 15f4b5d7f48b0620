import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';

export interface ImageReaderServiceAccountProps {
  readonly name: string;
  readonly namespace: string;
  /** IAM role the ServiceAccount assumes through IRSA. */
  readonly roleArn: string;
  readonly labels?: Record<string, string>;
}

/**
 * A ServiceAccount carrying `eks.amazonaws.com/role-arn` and nothing else. Used two ways: as the kustomize
 * patch of flux-system's image-reflector-controller (controller-level IRSA), and as a tier's own
 * ServiceAccount for object-level identity. Only the given fields are rendered, so it is a valid patch.
 */
export class ImageReaderServiceAccount extends Construct {
  public readonly serviceAccount: k8s.KubeServiceAccount;

  constructor(scope: Construct, id: string, props: ImageReaderServiceAccountProps) {
    super(scope, id);
    if (!/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@\/-]+$/.test(props.roleArn)) {
      throw new Error(`ImageReaderServiceAccount: prop 'roleArn' is '${props.roleArn}': must be an IAM role ARN`);
    }
    this.serviceAccount = new k8s.KubeServiceAccount(this, 'Resource', {
      metadata: {
        name: props.name,
        namespace: props.namespace,
        ...(props.labels ? { labels: props.labels } : {}),
        annotations: { 'eks.amazonaws.com/role-arn': props.roleArn },
      },
    });
  }
}
