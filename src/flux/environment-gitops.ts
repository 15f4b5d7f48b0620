import { Construct } from 'constructs';
import { TierGitOps } from './tier-gitops';
import type { ResolvedEnvironment } from '../model/tiers';

export interface EnvironmentGitOpsProps {
  readonly environment: ResolvedEnvironment;
}

/** Every tier of one environment (one Pulumi stack, one cluster). */
export class EnvironmentGitOps extends Construct {
  public readonly tiers: readonly TierGitOps[];
  /** True when some app deploys the bundled chart, which then has to be in the GitOps tree. */
  public readonly usesBundledChart: boolean;

  constructor(scope: Construct, id: string, props: EnvironmentGitOpsProps) {
    super(scope, id);
    const env = props.environment;
    this.tiers = env.tiers.map((tier) => new TierGitOps(this, tier.name, { tier, gitops: env.model.gitops }));
    this.usesBundledChart = env.tiers.some((t) => t.apps.some((a) => a.chart.kind === 'bundled'));
  }
}
