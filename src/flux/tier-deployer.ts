import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { tierLabels } from './labels';
import type { Tier } from '../model/tiers';

export interface TierDeployerProps {
  readonly tier: Tier;
  /**
   * Name of the ServiceAccount the tier's HelmReleases impersonate.
   * @default 'tagflow-deployer'
   */
  readonly serviceAccountName?: string;
  /**
   * ClusterRole granted to it, bound in the tier's namespace only (never cluster-wide).
   * @default 'admin'
   */
  readonly clusterRoleName?: string;
}

/**
 * The identity helm-controller impersonates for the tier's HelmReleases: a ServiceAccount with a
 * namespaced RoleBinding, so a release can only change its own tier's namespace.
 */
export class TierDeployer extends Construct {
  public readonly serviceAccount: kplus.ServiceAccount;
  public readonly roleBinding: kplus.RoleBinding;

  constructor(scope: Construct, id: string, props: TierDeployerProps) {
    super(scope, id);
    const { tier } = props;
    const labels = tierLabels(tier.environment, tier.name);
    const name = props.serviceAccountName ?? 'tagflow-deployer';
    this.serviceAccount = new kplus.ServiceAccount(this, 'Resource', {
      metadata: { name, namespace: tier.namespace, labels },
      automountToken: false,
    });
    const role = kplus.ClusterRole.fromClusterRoleName(this, 'Role', props.clusterRoleName ?? 'admin');
    this.roleBinding = new kplus.RoleBinding(this, 'RoleBinding', {
      metadata: { name, namespace: tier.namespace, labels },
      role,
    });
    this.roleBinding.addSubjects(this.serviceAccount);
  }

  public get serviceAccountName(): string {
    return this.serviceAccount.name;
  }
}
