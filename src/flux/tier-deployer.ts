import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { tierLabels } from './labels';
import type { Tier } from '../model/tiers';

/** A namespaced resource kind a Role grants, as RBAC names it. */
export interface RbacResource {
  /** API group; '' is the core group. */
  readonly apiGroup: string;
  /** Plural resource name, e.g. `deployments`. */
  readonly resource: string;
}

/** Read and write a resource, nothing else (no escalate, bind or impersonate: those are not resource verbs here). */
export const MANAGE_VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] as const;

/**
 * What a release of a workload chart may manage in its namespace. Secrets are here only because Helm
 * stores each release's state in a Secret of the release namespace, with the impersonated account.
 * No RBAC object, no Flux kind, no namespace or anything cluster-scoped.
 */
export const WORKLOAD_RESOURCES: readonly RbacResource[] = [
  { apiGroup: 'apps', resource: 'deployments' },
  { apiGroup: 'apps', resource: 'statefulsets' },
  { apiGroup: 'batch', resource: 'jobs' },
  { apiGroup: 'batch', resource: 'cronjobs' },
  { apiGroup: '', resource: 'services' },
  { apiGroup: '', resource: 'serviceaccounts' },
  { apiGroup: '', resource: 'configmaps' },
  { apiGroup: '', resource: 'secrets' },
  { apiGroup: 'policy', resource: 'poddisruptionbudgets' },
  { apiGroup: 'autoscaling', resource: 'horizontalpodautoscalers' },
  { apiGroup: 'networking.k8s.io', resource: 'ingresses' },
  { apiGroup: 'networking.k8s.io', resource: 'networkpolicies' },
];

/** What Helm and helm-controller read to report a release's health (never written by a release). */
export const WORKLOAD_STATUS_RESOURCES: readonly RbacResource[] = [
  { apiGroup: '', resource: 'pods' },
  { apiGroup: '', resource: 'events' },
  { apiGroup: 'apps', resource: 'replicasets' },
];

export interface TierDeployerProps {
  readonly tier: Tier;
  /**
   * Name of the ServiceAccount the tier's HelmReleases impersonate.
   * @default - the tier's deployerServiceAccount (`tagflow-deployer`)
   */
  readonly serviceAccountName?: string;
  /**
   * The resources releases may manage in the tier namespace.
   * @default WORKLOAD_RESOURCES
   */
  readonly resources?: readonly RbacResource[];
}

/** Adds one rule per resource, in order: the rendered Role reads as the list it was built from. */
export function allowAll(role: kplus.Role, verbs: readonly string[], resources: readonly RbacResource[]): void {
  for (const r of resources) role.allow([...verbs], kplus.ApiResource.custom({ apiGroup: r.apiGroup || 'core', resourceType: r.resource }));
}

/**
 * The identity helm-controller impersonates for the tier's HelmReleases: a ServiceAccount with a Role in
 * the tier namespace that manages workload kinds only. Unlike the `admin` ClusterRole it grants no Flux
 * kind (which would let a release create a HelmRelease or Kustomization naming another account) and no
 * RBAC object.
 */
export class TierDeployer extends Construct {
  public readonly serviceAccount: kplus.ServiceAccount;
  public readonly role: kplus.Role;
  public readonly roleBinding: kplus.RoleBinding;

  constructor(scope: Construct, id: string, props: TierDeployerProps) {
    super(scope, id);
    const { tier } = props;
    const labels = tierLabels(tier.environment, tier.name);
    const name = props.serviceAccountName ?? tier.deployerServiceAccount;
    this.serviceAccount = new kplus.ServiceAccount(this, 'Resource', {
      metadata: { name, namespace: tier.namespace, labels },
      automountToken: false,
    });
    this.role = new kplus.Role(this, 'Role', { metadata: { name, namespace: tier.namespace, labels } });
    allowAll(this.role, MANAGE_VERBS, props.resources ?? WORKLOAD_RESOURCES);
    allowAll(this.role, ['get', 'list', 'watch'], WORKLOAD_STATUS_RESOURCES);
    this.roleBinding = new kplus.RoleBinding(this, 'RoleBinding', { metadata: { name, namespace: tier.namespace, labels }, role: this.role });
    this.roleBinding.addSubjects(this.serviceAccount);
  }

  public get serviceAccountName(): string {
    return this.serviceAccount.name;
  }
}
