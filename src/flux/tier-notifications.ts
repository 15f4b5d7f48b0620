import { Construct } from 'constructs';
import { Alert, AlertSpecEventSeverity, AlertSpecEventSourcesKind, Provider, ProviderSpecType } from './imports/notification.toolkit.fluxcd.io';
import { tierLabels } from './labels';
import type { Notifications } from '../model/environment';
import type { Tier } from '../model/tiers';

const CHAT_TYPES: Readonly<Record<NonNullable<Notifications['chat']>['type'], ProviderSpecType>> = {
  slack: ProviderSpecType.SLACK,
  msteams: ProviderSpecType.MSTEAMS,
  googlechat: ProviderSpecType.GOOGLECHAT,
  discord: ProviderSpecType.DISCORD,
  generic: ProviderSpecType.GENERIC,
};

export interface TierChatProps {
  readonly tier: Tier;
  readonly chat: NonNullable<Notifications['chat']>;
  /**
   * Name of the Provider and Alert.
   * @default 'tagflow-chat'
   */
  readonly name?: string;
}

/**
 * Chat messages of a tier: a Flux Provider (its webhook URL in a Secret of the tier namespace, never in
 * Git) and an Alert on the tier's ImageUpdateAutomation (a new image committed) and HelmReleases (upgraded,
 * failed, rolled back), in the tier namespace: no reference leaves it.
 */
export class TierChat extends Construct {
  public readonly provider: Provider;
  public readonly alert: Alert;

  constructor(scope: Construct, id: string, props: TierChatProps) {
    super(scope, id);
    const { tier, chat } = props;
    const name = props.name ?? 'tagflow-chat';
    const metadata = { name, namespace: tier.namespace, labels: tierLabels(tier.environment, tier.name) };
    this.provider = new Provider(this, 'Resource', { metadata, spec: { type: CHAT_TYPES[chat.type], secretRef: { name: chat.secretName } } });
    this.alert = new Alert(this, 'Alert', {
      metadata,
      spec: {
        providerRef: { name },
        eventSeverity: AlertSpecEventSeverity.INFO,
        eventSources: [
          { kind: AlertSpecEventSourcesKind.IMAGE_UPDATE_AUTOMATION, name: '*' },
          { kind: AlertSpecEventSourcesKind.HELM_RELEASE, name: '*' },
        ],
        summary: `tier ${tier.name} of ${tier.environment}`,
      },
    });
  }
}

export interface TierCommitStatusProps {
  readonly tier: Tier;
  readonly commitStatus: NonNullable<Notifications['commitStatus']>;
  /** HTTPS URL of the GitOps repository whose commits get the statuses. */
  readonly repositoryUrl: string;
  /**
   * Allow a plain http:// repository URL (the model's `gitops.insecure`): the token travels unencrypted.
   * @default false
   */
  readonly insecure?: boolean;
}

const STATUS_TYPES: Readonly<Record<NonNullable<Notifications['commitStatus']>['provider'], ProviderSpecType>> = {
  github: ProviderSpecType.GITHUB,
  gitlab: ProviderSpecType.GITLAB,
  gitea: ProviderSpecType.GITEA,
};

/**
 * Commit statuses for a tier: each commit of the GitOps repository that the tier's Kustomization applies
 * (or fails to) gets a status. It sits in flux-system, next to the Kustomization whose events it
 * forwards, so it refers to nothing in another namespace; the token Secret is created by the Pulumi program.
 */
export class TierCommitStatus extends Construct {
  public readonly provider: Provider;
  public readonly alert: Alert;

  constructor(scope: Construct, id: string, props: TierCommitStatusProps) {
    super(scope, id);
    const { tier, commitStatus } = props;
    const scheme = props.insecure ? /^https?:\/\/[^/]+\/[^/]+\/.+/ : /^https:\/\/[^/]+\/[^/]+\/.+/;
    if (!scheme.test(props.repositoryUrl)) {
      throw new Error(
        `TierCommitStatus: prop 'repositoryUrl' is '${props.repositoryUrl}': commit statuses need the ${props.insecure ? 'https:// (or, insecure, http://)' : 'https://'} URL of the repository, <host>/<owner>/<repository>`,
      );
    }
    const name = `${tier.kustomizationName}-commit-status`;
    const metadata = { name, namespace: 'flux-system', labels: tierLabels(tier.environment, tier.name) };
    this.provider = new Provider(this, 'Resource', {
      metadata,
      spec: { type: STATUS_TYPES[commitStatus.provider], address: props.repositoryUrl.replace(/\.git$/, ''), secretRef: { name: commitStatus.secretName } },
    });
    this.alert = new Alert(this, 'Alert', {
      metadata,
      spec: {
        providerRef: { name },
        eventSeverity: AlertSpecEventSeverity.INFO,
        eventSources: [{ kind: AlertSpecEventSourcesKind.KUSTOMIZATION, name: tier.kustomizationName }],
      },
    });
  }
}
