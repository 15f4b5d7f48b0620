import type { ApiObject } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { Kustomization, KustomizationSpecSourceRefKind } from './imports/kustomize.toolkit.fluxcd.io';
import { allowAll, MANAGE_VERBS, type RbacResource } from './tier-deployer';
import { tierLabels } from './labels';
import { FLUX_NAMESPACE, type Tier } from '../model/tiers';

/** The GitRepository `flux bootstrap` creates in flux-system: the branch and repository the cluster follows. */
export const BOOTSTRAP_SOURCE = 'flux-system';

/** RBAC names of the kinds a tier folder can hold (apiVersion group → kind → plural). */
const RESOURCE_NAMES: Readonly<Record<string, string>> = {
  GitRepository: 'gitrepositories',
  HelmRepository: 'helmrepositories',
  OCIRepository: 'ocirepositories',
  ImageRepository: 'imagerepositories',
  ImagePolicy: 'imagepolicies',
  ImageUpdateAutomation: 'imageupdateautomations',
  Receiver: 'receivers',
  Alert: 'alerts',
  Provider: 'providers',
  HelmRelease: 'helmreleases',
  ConfigMap: 'configmaps',
};

/** The RBAC resources of some API objects, deduplicated, in first-seen order. */
export function rbacResourcesOf(objects: readonly ApiObject[]): RbacResource[] {
  const out = new Map<string, RbacResource>();
  for (const o of objects) {
    const resource = RESOURCE_NAMES[o.kind];
    if (!resource) throw new Error(`TierTenant: a tier folder holds a ${o.kind}, which the tier's applier account is not meant to manage`);
    const apiGroup = o.apiVersion.includes('/') ? o.apiVersion.slice(0, o.apiVersion.indexOf('/')) : '';
    out.set(`${apiGroup}/${resource}`, { apiGroup, resource });
  }
  return [...out.values()];
}

export interface TierTenantProps {
  readonly tier: Tier;
  /**
   * The GitRepository in flux-system the tier's folder is applied from.
   * @default BOOTSTRAP_SOURCE ('flux-system')
   */
  readonly sourceName?: string;
  /**
   * How often the tier's Kustomization re-applies its folder (drift correction).
   * @default '10m'
   */
  readonly applyInterval?: string;
}

/**
 * What the cluster entry point (`clusters/<env>/`, applied by flux bootstrap's own Kustomization) gives a
 * tier: its namespace, and a Kustomization in flux-system that applies the tier's folder from the
 * cluster's own source into that namespace only (`targetNamespace`), impersonating a ServiceAccount whose
 * Role in the tier namespace manages exactly the kinds the folder holds (call `allowKinds`) and nothing
 * cluster-scoped. A file committed into the folder that targets anything else is refused by the API server.
 */
export class TierTenant extends Construct {
  public readonly namespace: kplus.Namespace;
  public readonly kustomization: Kustomization;
  public readonly applier: kplus.ServiceAccount;
  public readonly applierRole: kplus.Role;

  constructor(scope: Construct, id: string, props: TierTenantProps) {
    super(scope, id);
    const { tier } = props;
    if (tier.namespace === FLUX_NAMESPACE) throw new Error(`TierTenant: prop 'tier.namespace' is '${FLUX_NAMESPACE}': a tier needs a namespace of its own`);
    const labels = tierLabels(tier.environment, tier.name);
    this.namespace = new kplus.Namespace(this, 'Resource', { metadata: { name: tier.namespace, labels } });
    this.applier = new kplus.ServiceAccount(this, 'Applier', {
      metadata: { name: tier.kustomizationName, namespace: FLUX_NAMESPACE, labels },
      automountToken: false,
    });
    this.applierRole = new kplus.Role(this, 'ApplierRole', { metadata: { name: 'tagflow-applier', namespace: tier.namespace, labels } });
    const binding = new kplus.RoleBinding(this, 'ApplierRoleBinding', {
      metadata: { name: 'tagflow-applier', namespace: tier.namespace, labels },
      role: this.applierRole,
    });
    binding.addSubjects(this.applier);
    this.kustomization = new Kustomization(this, 'Kustomization', {
      metadata: { name: tier.kustomizationName, namespace: FLUX_NAMESPACE, labels },
      spec: {
        interval: props.applyInterval ?? '10m',
        retryInterval: '1m',
        timeout: '5m',
        path: `./${tier.folder}`,
        prune: true,
        wait: false,
        serviceAccountName: this.applier.name,
        targetNamespace: tier.namespace,
        sourceRef: { kind: KustomizationSpecSourceRefKind.GIT_REPOSITORY, name: props.sourceName ?? BOOTSTRAP_SOURCE },
      },
    });
  }

  /** Lets the applier manage the kinds of these objects (the tier folder's), in the tier namespace only. */
  public allowKinds(objects: readonly ApiObject[]): void {
    allowAll(this.applierRole, MANAGE_VERBS, rbacResourcesOf(objects));
  }
}
