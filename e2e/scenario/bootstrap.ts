// What `flux bootstrap` and `pulumi up` put into a cluster before the GitOps tree takes over: Flux's
// reconciler RBAC, the flux-system source and Kustomization of the cluster entry point, and per tier the
// namespace and the Secrets Git must never hold (git credentials, Receiver token). Flux objects are built
// with the classes generated from the CRDs, as in the product.
import { App, Chart } from 'cdk8s';
import { GitRepository } from '../../src/flux/imports/source.toolkit.fluxcd.io';
import { Kustomization, KustomizationSpecSourceRefKind } from '../../src/flux/imports/kustomize.toolkit.fluxcd.io';
import type { ResolvedEnvironment } from '../../src/model/tiers';
import type { KubeObject } from '../cluster';

export const FLUX_NAMESPACE = 'flux-system';
/** The ServiceAccount `flux install` binds to cluster-admin; the lockdown patch makes flux-system's Kustomization impersonate it. */
export const RECONCILER_SERVICE_ACCOUNT = 'kustomize-controller';

export interface BootstrapOptions {
  readonly environment: ResolvedEnvironment;
  /** Clone URL of the GitOps repository and the credentials of its git server. */
  readonly repositoryUrl: string;
  readonly username: string;
  readonly password: string;
  readonly branch: string;
  /** `flux bootstrap`'s sync interval. */
  readonly interval: string;
  /** The Flux multi-tenancy lockdown: flux-system's own Kustomization impersonates kustomize-controller. */
  readonly lockdown: boolean;
  /** Receiver token per tier (what the Pulumi program generates). */
  readonly receiverTokens: ReadonlyMap<string, string>;
  /** The chat webhook URL (the Pulumi program writes it from config into each tier's Secret). */
  readonly chatWebhookUrl?: string;
  /** The commit-status token (the Pulumi program writes it into flux-system's Secret of each tier that sets statuses). */
  readonly commitStatusToken?: string;
}

/** `flux install`'s reconciler identities: kustomize-controller and helm-controller may do anything. */
export function fluxInstallRbac(): KubeObject[] {
  const sa = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: FLUX_NAMESPACE } });
  return [
    sa(RECONCILER_SERVICE_ACCOUNT),
    sa('helm-controller'),
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'cluster-reconciler-flux-system' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [
        { kind: 'ServiceAccount', name: RECONCILER_SERVICE_ACCOUNT, namespace: FLUX_NAMESPACE },
        { kind: 'ServiceAccount', name: 'helm-controller', namespace: FLUX_NAMESPACE },
      ],
    },
  ];
}

/** The per-tier namespace and Secrets the Pulumi program's Tier component creates. */
export function tierSecrets(opts: BootstrapOptions): KubeObject[] {
  return opts.environment.tiers.flatMap((t) => [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: t.namespace } },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: t.gitCredentials.secretName, namespace: t.namespace },
      type: 'Opaque',
      stringData: { username: opts.username, password: opts.password },
    },
    ...(t.webhook
      ? [
          {
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: { name: t.webhook.secretName, namespace: t.namespace, labels: { 'reconcile.fluxcd.io/watch': 'Enabled' } },
            type: 'Opaque',
            stringData: { token: opts.receiverTokens.get(t.name)! },
          },
        ]
      : []),
    ...(t.notifications?.chat && opts.chatWebhookUrl
      ? [
          {
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: { name: t.notifications.chat.secretName, namespace: t.namespace },
            type: 'Opaque',
            stringData: { address: opts.chatWebhookUrl },
          },
        ]
      : []),
  ]);
}

/** The commit-status token Secrets in flux-system, one per secret name the tiers use (as the Pulumi program creates them). */
export function commitStatusSecrets(opts: BootstrapOptions): KubeObject[] {
  const names = [...new Set(opts.environment.tiers.flatMap((t) => (t.notifications?.commitStatus ? [t.notifications.commitStatus.secretName] : [])))].sort();
  if (names.length && !opts.commitStatusToken) throw new Error('the stack sets notifications.commitStatus: the run needs a commit-status token');
  return names.map((name) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: FLUX_NAMESPACE }, type: 'Opaque', stringData: { token: opts.commitStatusToken! } }));
}

/** `flux bootstrap`'s gotk-sync: the flux-system GitRepository and the Kustomization of `clusters/<env>`. */
export function bootstrapSync(opts: BootstrapOptions): KubeObject[] {
  const chart = new Chart(new App(), 'bootstrap', { disableResourceNameHashes: true });
  new GitRepository(chart, 'Source', {
    metadata: { name: FLUX_NAMESPACE, namespace: FLUX_NAMESPACE },
    spec: { url: opts.repositoryUrl, interval: opts.interval, ref: { branch: opts.branch }, secretRef: { name: FLUX_NAMESPACE } },
  });
  new Kustomization(chart, 'Sync', {
    metadata: { name: FLUX_NAMESPACE, namespace: FLUX_NAMESPACE },
    spec: {
      interval: '10m',
      path: `./clusters/${opts.environment.name}`,
      prune: true,
      sourceRef: { kind: KustomizationSpecSourceRefKind.GIT_REPOSITORY, name: FLUX_NAMESPACE },
      ...(opts.lockdown ? { serviceAccountName: RECONCILER_SERVICE_ACCOUNT } : {}),
    },
  });
  return [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: FLUX_NAMESPACE, namespace: FLUX_NAMESPACE },
      type: 'Opaque',
      stringData: { username: opts.username, password: opts.password },
    },
    ...(chart.toJson() as KubeObject[]),
  ];
}
