import { Construct } from 'constructs';
import { GitRepository, GitRepositorySpecProvider, GitRepositorySpecVerifyMode } from './imports/source.toolkit.fluxcd.io';
import { tierLabels } from './labels';
import { BUNDLED_CHART_PATH, GIT_SOURCE_INTERVAL, type Tier } from '../model/tiers';

const VERIFY_MODES = {
  HEAD: GitRepositorySpecVerifyMode.HEAD,
  Tag: GitRepositorySpecVerifyMode.TAG,
  TagAndHEAD: GitRepositorySpecVerifyMode.TAG_AND_HEAD,
} as const;

export interface TierSourceProps {
  readonly tier: Tier;
  /** URL of the GitOps repository (https://, http:// on a private network, or ssh://). */
  readonly repositoryUrl: string;
  /**
   * How often Flux fetches the branch (what the bundled chart is built from).
   * @default '1m'
   */
  readonly interval?: string;
}

/**
 * The tier's own GitRepository, in the tier namespace: what its ImageUpdateAutomation clones and pushes
 * with (the tier's git credentials Secret, never in Git), and the source of the bundled chart. Nothing
 * refers to it from another namespace, so it works under `--no-cross-namespace-refs`. Its artifact holds
 * only the bundled chart: the cluster applies the tier folder from the bootstrap source.
 */
export class TierSource extends Construct {
  public readonly gitRepository: GitRepository;

  constructor(scope: Construct, id: string, props: TierSourceProps) {
    super(scope, id);
    const { tier } = props;
    const scheme = props.repositoryUrl.slice(0, props.repositoryUrl.indexOf(':'));
    const creds = tier.gitCredentials;
    if (creds.kind === 'githubApp' && scheme !== 'https') {
      throw new Error(`TierSource: prop 'repositoryUrl' is '${props.repositoryUrl}': provider github needs an https:// URL`);
    }
    if ((creds.kind === 'sshKey') !== (scheme === 'ssh')) {
      throw new Error(`TierSource: prop 'repositoryUrl' is '${props.repositoryUrl}': ${creds.kind} credentials need ${creds.kind === 'sshKey' ? 'an ssh://' : 'an http(s)://'} URL`);
    }
    this.gitRepository = new GitRepository(this, 'Resource', {
      metadata: { name: tier.gitRepositoryName, namespace: tier.namespace, labels: tierLabels(tier.environment, tier.name) },
      spec: {
        url: props.repositoryUrl,
        interval: props.interval ?? GIT_SOURCE_INTERVAL,
        ref: { branch: tier.branch },
        ...(creds.kind === 'githubApp' ? { provider: GitRepositorySpecProvider.GITHUB } : {}),
        secretRef: { name: creds.secretName },
        // The artifact is what the HelmCharts are built from: the bundled chart only.
        ignore: `/*\n!/${BUNDLED_CHART_PATH}/\n`,
        ...(tier.verifyCommits ? { verify: { mode: VERIFY_MODES[tier.verifyCommits.mode], secretRef: { name: tier.verifyCommits.secretName } } } : {}),
      },
    });
  }
}
