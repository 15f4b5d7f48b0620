import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';

/** The pod-template annotation that changes with the controller's cloud identity. */
export const IDENTITY_ANNOTATION = 'tagflow.io/aws-identity';

export interface ControllerRestartPatchProps {
  /** Name of the controller's Deployment (and ServiceAccount), e.g. `image-reflector-controller`. */
  readonly name: string;
  readonly namespace: string;
  /** The identity the controller runs with (e.g. `irsa <role ARN>`): a new value restarts its pods. */
  readonly identity: string;
}

/**
 * A kustomize patch of a Flux controller's Deployment that sets a pod-template annotation to the
 * controller's cloud identity. EKS injects IRSA and Pod Identity credentials only when a pod starts, so a
 * changed role must roll the controller's pods; the annotation changes exactly then. Only the patched
 * fields are rendered, so it is a valid strategic-merge patch.
 */
export class ControllerRestartPatch extends Construct {
  public readonly patch: ApiObject;

  constructor(scope: Construct, id: string, props: ControllerRestartPatchProps) {
    super(scope, id);
    if (!props.identity.trim()) throw new Error(`ControllerRestartPatch: prop 'identity' is empty: it must name the identity whose change restarts the pods`);
    this.patch = new ApiObject(this, 'Resource', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: props.name, namespace: props.namespace },
      spec: { template: { metadata: { annotations: { [IDENTITY_ANNOTATION]: props.identity } } } },
    });
  }
}
