import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { GitRepository, GitRepositorySpecProvider } from './imports/source.toolkit.fluxcd.io';
import { Kustomization, KustomizationSpecSourceRefKind } from './imports/kustomize.toolkit.fluxcd.io';
import { tierLabels } from './labels';
import { FLUX_NAMESPACE, type Tier, GIT_SOURCE_INTERVAL } from '../model/tiers';

export interface TierSourceProps {
  readonly tier: Tier;
  /** HTTPS URL of the GitOps repository. */
  readonly repositoryUrl: string;
  /** Secret in flux-system with the GitHub App credentials (created by the Pulumi program, never in Git). */
  readonly githubAppSecretName: string;
  /**
   * How often Flux fetches the tier's branch.
   * @default '1m'
   */
  readonly interval?: string;
  /**
   * How often the tier's Kustomization re-applies its folder (drift correction).
   * @default '10m'
   */
  readonly applyInterval?: string;
}

/**
 * What a cluster bootstrapped at `clusters/<environment>` needs to run a tier: the tier's namespace, a
 * GitRepository on the tier's branch with write access through a GitHub App, and a Kustomization that
 * applies the tier's folder from that branch. Lives in flux-system, applied by `flux bootstrap`'s own
 * Kustomization.
 */
export class TierSource extends Construct {
  public readonly gitRepository: GitRepository;
  public readonly kustomization: Kustomization;
  public readonly namespace: kplus.Namespace;

  constructor(scope: Construct, id: string, props: TierSourceProps) {
    super(scope, id);
    const { tier } = props;
    if (!/^https:\/\//.test(props.repositoryUrl)) {
      throw new Error(`TierSource: prop 'repositoryUrl' is '${props.repositoryUrl}': provider github needs an https:// URL`);
    }
    const labels = tierLabels(tier.environment, tier.name);
    this.namespace = new kplus.Namespace(this, 'Namespace', { metadata: { name: tier.namespace, labels } });
    this.gitRepository = new GitRepository(this, 'Resource', {
      metadata: { name: tier.sourceName, namespace: FLUX_NAMESPACE, labels },
      spec: {
        url: props.repositoryUrl,
        interval: props.interval ?? GIT_SOURCE_INTERVAL,
        ref: { branch: tier.branch },
        provider: GitRepositorySpecProvider.GITHUB,
        secretRef: { name: props.githubAppSecretName },
      },
    });
    this.kustomization = new Kustomization(this, 'Kustomization', {
      metadata: { name: tier.sourceName, namespace: FLUX_NAMESPACE, labels },
      spec: {
        interval: props.applyInterval ?? '10m',
        retryInterval: '1m',
        timeout: '5m',
        path: `./${tier.folder}`,
        prune: true,
        wait: false,
        sourceRef: { kind: KustomizationSpecSourceRefKind.GIT_REPOSITORY, name: tier.sourceName },
      },
    });
  }
}
