import { Construct } from 'constructs';
import {
  HelmRelease,
  HelmReleaseSpecChartRefKind,
  HelmReleaseSpecChartSpecSourceRefKind,
  HelmReleaseSpecDriftDetectionMode,
  HelmReleaseSpecUpgradeRemediationStrategy,
  type HelmReleaseSpec,
} from './imports/helm.toolkit.fluxcd.io';
import { HelmRepository, OciRepository } from './imports/source.toolkit.fluxcd.io';
import { tierLabels } from './labels';
import { addMarker } from './markers';
import { mergeValues, type AppTier } from '../model/tiers';

export interface AppReleaseProps {
  readonly appTier: AppTier;
  /** ServiceAccount in the tier namespace that helm-controller impersonates. */
  readonly serviceAccountName: string;
  /** GitRepository that holds the bundled chart: the tier's own source, in the same namespace. */
  readonly gitRepositoryName: string;
  /**
   * Reconcile interval of the release.
   * @default '10m'
   */
  readonly interval?: string;
  /**
   * Timeout of each Helm action.
   * @default '5m'
   */
  readonly timeout?: string;
  /**
   * Retries before install and upgrade failures are remediated (upgrade failures roll back).
   * @default 3
   */
  readonly retries?: number;
}

/**
 * One app in one tier, cluster side: a HelmRelease whose `values.image` carries Flux image-policy markers
 * on the exact lines of the repository, tag (and digest, when pinned), so the tier's automation rewrites
 * them in Git. Impersonates the tier's deployer, remediates failed installs and upgrades, and corrects
 * drift. Every reference stays in the tier namespace.
 */
export class AppRelease extends Construct {
  public readonly helmRelease: HelmRelease;

  constructor(scope: Construct, id: string, props: AppReleaseProps) {
    super(scope, id);
    const a = props.appTier;
    const retries = props.retries ?? 3;
    if (a.app.length > 53) throw new Error(`AppRelease: prop 'appTier.app' is '${a.app}': the Helm release name is at most 53 characters`);
    if (!Number.isInteger(retries) || retries < 0) {
      throw new Error(`AppRelease: prop 'retries' is ${retries}: must be a non-negative integer`);
    }
    const labels = tierLabels(a.environment, a.tier, a.app);
    const image: Record<string, string> = { repository: a.image, tag: a.initialTag };
    if (a.digestPinning) image.digest = a.initialDigest ?? '';
    const values = mergeValues(a.values, { image }, a.config ? { config: { mountPath: a.config.mountPath, files: { ...a.config.files } } } : undefined);

    let chart: Pick<HelmReleaseSpec, 'chart' | 'chartRef'>;
    switch (a.chart.kind) {
      case 'bundled':
        // ChartVersion (Flux's default): a new chart artifact, and so an upgrade, only when the chart's
        // version changes (synth stamps it with the chart's content hash), never on unrelated commits.
        chart = {
          chart: {
            spec: {
              chart: `./${a.chart.path}`,
              sourceRef: { kind: HelmReleaseSpecChartSpecSourceRefKind.GIT_REPOSITORY, name: props.gitRepositoryName },
            },
          },
        };
        break;
      case 'oci': {
        const repo = new OciRepository(this, 'Chart', {
          metadata: { name: `${a.app}-chart`, namespace: a.namespace, labels },
          spec: {
            url: a.chart.url,
            interval: '10m',
            ref: a.chart.semver ? { semver: a.chart.semver } : { tag: a.chart.tag ?? 'latest' },
          },
        });
        chart = { chartRef: { kind: HelmReleaseSpecChartRefKind.OCI_REPOSITORY, name: repo.name } };
        break;
      }
      case 'helmRepository': {
        const repo = new HelmRepository(this, 'Chart', {
          metadata: { name: `${a.app}-charts`, namespace: a.namespace, labels },
          spec: { url: a.chart.url, interval: '1h' },
        });
        chart = {
          chart: {
            spec: {
              chart: a.chart.chart,
              version: a.chart.version,
              sourceRef: { kind: HelmReleaseSpecChartSpecSourceRefKind.HELM_REPOSITORY, name: repo.name },
            },
          },
        };
        break;
      }
    }

    this.helmRelease = new HelmRelease(this, 'Resource', {
      metadata: { name: a.app, namespace: a.namespace, labels },
      spec: {
        interval: props.interval ?? '10m',
        timeout: props.timeout ?? '5m',
        releaseName: a.app,
        ...chart,
        serviceAccountName: props.serviceAccountName,
        install: { remediation: { retries } },
        upgrade: {
          cleanupOnFail: true,
          remediation: { retries, remediateLastFailure: true, strategy: HelmReleaseSpecUpgradeRemediationStrategy.ROLLBACK },
        },
        rollback: { cleanupOnFail: true },
        driftDetection: { mode: HelmReleaseSpecDriftDetectionMode.ENABLED },
        values,
      },
    });
    const at = (field: string) => ['spec', 'values', 'image', field];
    addMarker(this.helmRelease, { path: at('repository'), namespace: a.namespace, policy: a.policyName, field: 'name' });
    addMarker(this.helmRelease, { path: at('tag'), namespace: a.namespace, policy: a.policyName, field: 'tag' });
    if (a.digestPinning) addMarker(this.helmRelease, { path: at('digest'), namespace: a.namespace, policy: a.policyName, field: 'digest' });
  }
}
