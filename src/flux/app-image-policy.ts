import { Construct } from 'constructs';
import {
  ImagePolicy,
  ImagePolicySpecDigestReflectionPolicy,
  ImagePolicySpecPolicyAlphabeticalOrder,
  ImagePolicySpecPolicyNumericalOrder,
  ImageRepository,
  ImageRepositorySpecProvider,
  type ImagePolicySpecPolicy,
} from './imports/image.toolkit.fluxcd.io';
import { tierLabels } from './labels';
import type { AppTier } from '../model/tiers';
import type { Policy } from '../model/environment';

/** Private ECR registry host: `<12-digit account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]`. */
export const ECR_IMAGE = /^\d{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?\/[a-z0-9._\/-]+$/;

export interface AppImagePolicyProps {
  readonly appTier: AppTier;
  /**
   * ServiceAccount in the tier namespace whose IAM role reads ECR (object-level workload identity; needs
   * image-reflector-controller's `ObjectLevelWorkloadIdentity` feature gate).
   * @default - the controller's own identity (IRSA or Pod Identity on flux-system/image-reflector-controller)
   */
  readonly serviceAccountName?: string;
}

function toFluxPolicy(p: Policy): ImagePolicySpecPolicy {
  if ('semver' in p) return { semver: { range: p.semver.range } };
  if ('numerical' in p) {
    return { numerical: { order: p.numerical.order === 'desc' ? ImagePolicySpecPolicyNumericalOrder.DESC : ImagePolicySpecPolicyNumericalOrder.ASC } };
  }
  return {
    alphabetical: { order: p.alphabetical.order === 'desc' ? ImagePolicySpecPolicyAlphabeticalOrder.DESC : ImagePolicySpecPolicyAlphabeticalOrder.ASC },
  };
}

/**
 * One app in one tier, registry side: an ImageRepository that scans the app's repository (ECR with Flux's
 * AWS login, or a generic registry with its pull Secret), and an ImagePolicy (same namespace as the tier's
 * automation) that selects the newest tag of the tier's scheme.
 */
export class AppImagePolicy extends Construct {
  public readonly imageRepository: ImageRepository;
  public readonly imagePolicy: ImagePolicy;

  constructor(scope: Construct, id: string, props: AppImagePolicyProps) {
    super(scope, id);
    const a = props.appTier;
    const aws = a.registry.provider === 'aws';
    if (aws && !ECR_IMAGE.test(a.image)) {
      throw new Error(`AppImagePolicy: prop 'appTier.image' is '${a.image}': provider aws needs a private ECR image without scheme or tag`);
    }
    if (!aws && props.serviceAccountName) {
      throw new Error(`AppImagePolicy: prop 'serviceAccountName' is '${props.serviceAccountName}': object-level identity is for provider aws; a generic registry reads with its pull Secret`);
    }
    const labels = tierLabels(a.environment, a.tier, a.app);
    this.imageRepository = new ImageRepository(this, 'Repository', {
      metadata: { name: a.policyName, namespace: a.namespace, labels },
      spec: {
        image: a.image,
        interval: a.scanInterval,
        ...(aws
          ? { provider: ImageRepositorySpecProvider.AWS }
          : {
              provider: ImageRepositorySpecProvider.GENERIC,
              ...(a.registry.secretName ? { secretRef: { name: a.registry.secretName } } : {}),
              ...(a.registry.insecure ? { insecure: true } : {}),
            }),
        exclusionList: [...a.exclusionList],
        ...(props.serviceAccountName ? { serviceAccountName: props.serviceAccountName } : {}),
      },
    });
    this.imagePolicy = new ImagePolicy(this, 'Resource', {
      metadata: { name: a.policyName, namespace: a.namespace, labels },
      spec: {
        imageRepositoryRef: { name: a.policyName },
        filterTags: { pattern: a.filterTags.pattern, ...(a.filterTags.extract !== undefined ? { extract: a.filterTags.extract } : {}) },
        policy: toFluxPolicy(a.policy),
        ...(a.digestPinning ? { digestReflectionPolicy: ImagePolicySpecDigestReflectionPolicy.IF_NOT_PRESENT } : {}),
      },
    });
  }
}
