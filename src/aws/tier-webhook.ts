import { createHash } from 'node:crypto';
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { eventRuleArn, webhookResourceName } from '../model/aws-names';
import type { ResolvedEnvironment, Tier as TierModel } from '../model/tiers';
import { schemePrefix } from './ecr-lifecycle';
import { deadLetterQueuePolicy, eventBridgeTrustPolicy, invokeApiDestinationPolicy } from './iam-documents';

/** notification-controller's webhook path of a Receiver: `/hook/` + sha256hex(token + name + namespace). */
export function receiverWebhookPath(token: string, receiverName: string, namespace: string): string {
  return `/hook/${createHash('sha256').update(token + receiverName + namespace).digest('hex')}`;
}

/** EventBridge retries a failed POST with backoff for up to a day; what still fails goes to the DLQ. */
export const WEBHOOK_RETRY_POLICY = { maximumEventAgeInSeconds: 86400, maximumRetryAttempts: 185 } as const;

/**
 * The EventBridge pattern of a tier: successful pushes to the tier's repositories in this account and
 * region (ECR emits events only there) whose tag has the literal prefix of one of the tier's schemes.
 * Undefined when no repository of the tier lives in this account and region.
 */
export function tierEventPattern(tier: TierModel, accountId: string, region: string): Record<string, unknown> | undefined {
  const local = tier.apps.filter((a) => a.ecr?.accountId === accountId && a.ecr.region === region);
  if (local.length === 0) return undefined;
  const prefixes = [...new Set(local.map((a) => schemePrefix(a.tagScheme)))].sort();
  return {
    source: ['aws.ecr'],
    'detail-type': ['ECR Image Action'],
    detail: {
      'action-type': ['PUSH'],
      result: ['SUCCESS'],
      'repository-name': [...new Set(local.map((a) => a.repository))].sort(),
      // An empty prefix (a scheme starting with a placeholder) matches every tag: leave the filter out.
      ...(prefixes.includes('') ? {} : { 'image-tag': prefixes.map((prefix) => ({ prefix })) }),
    },
  };
}

export interface TierWebhookArgs {
  readonly environment: ResolvedEnvironment;
  readonly tier: TierModel;
  /** The Receiver token (kept in Pulumi state as a secret; the Tier writes it into the tier namespace). */
  readonly token: pulumi.Output<string>;
}

/**
 * The push-to-scan path of one tier: ECR push → EventBridge rule → API destination → the tier's Receiver,
 * with retries and an SQS dead-letter queue (and an alarm on it) so no push is dropped silently. The
 * Receiver token lives only in the cluster Secret and in Pulumi state (secret).
 */
export class TierWebhook extends pulumi.ComponentResource {
  public readonly ruleArn: string;
  public readonly deadLetterQueueUrl: pulumi.Output<string>;
  /** The Receiver URL with its secret path. */
  public readonly receiverUrl: pulumi.Output<string>;

  constructor(name: string, args: TierWebhookArgs, opts?: pulumi.ComponentResourceOptions) {
    super('tagflow:aws:TierWebhook', name, {}, opts);
    const { environment: env, tier } = args;
    const hook = tier.webhook;
    if (!hook) throw new Error(`TierWebhook: tier '${tier.name}' has webhook off`);
    if (!hook.url) throw new Error(`TierWebhook: tier '${tier.name}' has no webhook URL (cluster.webhookUrl) for EventBridge to post to`);
    const { accountId, region } = env.model.aws!;
    const pattern = tierEventPattern(tier, accountId, region);
    if (!pattern) throw new Error(`TierWebhook: no repository of tier '${tier.name}' is in account ${accountId} ${region}, where this stack can receive ECR events`);
    const base = webhookResourceName(env.name, tier.name);
    this.ruleArn = eventRuleArn(accountId, region, base);
    this.receiverUrl = pulumi.secret(args.token.apply((t) => `${hook.url}${receiverWebhookPath(t, hook.receiverName, tier.namespace)}`));

    const connection = new aws.cloudwatch.EventConnection(
      `${name}-connection`,
      {
        name: base,
        description: `tagflow ${env.name}/${tier.name}: ECR pushes to the Flux Receiver`,
        // EventBridge requires an auth scheme; the Receiver's protection is its secret path, so this header only labels the caller.
        authorizationType: 'API_KEY',
        authParameters: { apiKey: { key: 'X-Tagflow-Source', value: `eventbridge/${env.name}/${tier.name}` } },
      },
      { parent: this },
    );
    const destination = new aws.cloudwatch.EventApiDestination(
      `${name}-destination`,
      {
        name: base,
        description: `Flux Receiver ${tier.namespace}/${hook.receiverName}`,
        connectionArn: connection.arn,
        httpMethod: 'POST',
        invocationEndpoint: this.receiverUrl,
        invocationRateLimitPerSecond: 10,
      },
      { parent: this },
    );
    const dlq = new aws.sqs.Queue(`${name}-dlq`, { name: `${base}-dlq`, messageRetentionSeconds: 1209600, sqsManagedSseEnabled: true }, { parent: this });
    new aws.sqs.QueuePolicy(`${name}-dlq`, { queueUrl: dlq.url, policy: dlq.arn.apply((arn) => JSON.stringify(deadLetterQueuePolicy(arn, this.ruleArn))) }, { parent: this });
    const rule = new aws.cloudwatch.EventRule(
      `${name}-rule`,
      { name: base, description: `tagflow ${env.name}/${tier.name}: ECR pushes of the tier's tags`, eventPattern: JSON.stringify(pattern) },
      { parent: this },
    );
    const role = new aws.iam.Role(
      `${name}-events`,
      {
        name: `${base}-events`,
        description: `tagflow ${env.name}/${tier.name}: EventBridge calls the Flux Receiver`,
        assumeRolePolicy: pulumi.jsonStringify(eventBridgeTrustPolicy(accountId, this.ruleArn)),
        maxSessionDuration: 3600,
      },
      { parent: this },
    );
    new aws.iam.RolePolicy(`${name}-invoke`, { role: role.name, name: 'invoke-receiver', policy: destination.arn.apply((arn) => JSON.stringify(invokeApiDestinationPolicy(arn))) }, { parent: this });
    new aws.cloudwatch.EventTarget(
      `${name}-target`,
      { rule: rule.name, arn: destination.arn, roleArn: role.arn, retryPolicy: { ...WEBHOOK_RETRY_POLICY }, deadLetterConfig: { arn: dlq.arn } },
      { parent: this },
    );
    new aws.cloudwatch.MetricAlarm(
      `${name}-undelivered`,
      {
        name: `${base}-undelivered`,
        alarmDescription: `ECR push events EventBridge could not deliver to ${hook.url} (tier ${tier.name}); Flux falls back to its scan interval`,
        namespace: 'AWS/SQS',
        metricName: 'ApproximateNumberOfMessagesVisible',
        dimensions: { QueueName: dlq.name },
        statistic: 'Maximum',
        period: 300,
        evaluationPeriods: 1,
        threshold: 0,
        comparisonOperator: 'GreaterThanThreshold',
        treatMissingData: 'notBreaching',
      },
      { parent: this },
    );
    this.deadLetterQueueUrl = dlq.url;
    this.registerOutputs({ ruleArn: this.ruleArn, deadLetterQueueUrl: this.deadLetterQueueUrl, receiverUrl: this.receiverUrl });
  }
}
