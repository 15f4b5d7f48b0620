import { Construct } from 'constructs';
import {
  ImageUpdateAutomation,
  ImageUpdateAutomationSpecSourceRefKind,
  ImageUpdateAutomationSpecUpdateStrategy,
} from './imports/image.toolkit.fluxcd.io';
import { LABEL_TIER, tierLabels } from './labels';
import type { Tier } from '../model/tiers';

/** Commit message: Flux's `.Changed` data (the removed `.Updated` field would stall the automation). */
export const DEFAULT_MESSAGE_TEMPLATE = `chore({{ .AutomationObject.Namespace }}): update images

{{ range $resource, $changes := .Changed.Objects -}}
- {{ $resource.Kind }} {{ $resource.Namespace }}/{{ $resource.Name }}
{{- range $_, $change := $changes }}
  {{ $change.OldValue }} -> {{ $change.NewValue }}
{{- end }}
{{ end -}}

Files:
{{ range $filename, $_ := .Changed.FileChanges -}}
- {{ $filename }}
{{ end -}}
`;

export interface TierImageAutomationProps {
  readonly tier: Tier;
  /** Commit author of the automation's commits. */
  readonly author: { readonly name: string; readonly email: string };
  /**
   * Go text/template for the commit message; must use `.Changed`, not the removed `.Updated`.
   * @default DEFAULT_MESSAGE_TEMPLATE
   */
  readonly messageTemplate?: string;
}

/**
 * The tier's ImageUpdateAutomation, in the tier namespace with its GitRepository: checks out the branch
 * the cluster follows, applies every marker under the tier's releases folder (its `update.path`, so it
 * never writes another tier's folder) for the ImagePolicies of this tier, and pushes to that branch, or
 * to the tier's review branch for tiers that must not change without a human.
 */
export class TierImageAutomation extends Construct {
  public readonly automation: ImageUpdateAutomation;

  constructor(scope: Construct, id: string, props: TierImageAutomationProps) {
    super(scope, id);
    const { tier } = props;
    const template = props.messageTemplate ?? DEFAULT_MESSAGE_TEMPLATE;
    if (/\.Updated\b/.test(template)) {
      throw new Error(`TierImageAutomation: prop 'messageTemplate' uses '.Updated', which Flux removed (the automation would stall); use '.Changed'`);
    }
    this.automation = new ImageUpdateAutomation(this, 'Resource', {
      metadata: { name: tier.automationName, namespace: tier.namespace, labels: tierLabels(tier.environment, tier.name) },
      spec: {
        interval: tier.automationInterval,
        sourceRef: { kind: ImageUpdateAutomationSpecSourceRefKind.GIT_REPOSITORY, name: tier.gitRepositoryName },
        git: {
          checkout: { ref: { branch: tier.branch } },
          commit: {
            author: { name: props.author.name, email: props.author.email },
            messageTemplate: template,
            ...(tier.commitSigningKey
              ? { signingKey: { secretRef: { name: tier.commitSigningKey.secretName } } }
              : {}),
          },
          push: { branch: tier.pushBranch },
        },
        update: { path: `./${tier.releasesFolder}`, strategy: ImageUpdateAutomationSpecUpdateStrategy.SETTERS },
        policySelector: { matchLabels: { [LABEL_TIER]: tier.name } },
      },
    });
  }
}
