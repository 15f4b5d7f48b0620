/**
 * Who may do what, derived from the model (pure: no Pulumi). The components turn these into roles and
 * policies; the tests check them with the IAM policy simulator.
 */
import { appCiSource, type CiSource } from '../model/environment';
import { ecrRepositoryArn, fluxReaderRoleName, partitionOf, roleArn, tierReaderRoleName } from '../model/aws-names';
import type { ResolvedEnvironment } from '../model/tiers';
import type { RepositoryReaders } from './iam-documents';

/** One CI source with the ARNs of the repositories it builds (only repositories this stack creates). */
export interface CiSourceGrant extends CiSource {
  readonly repositoryArns: readonly string[];
}

/**
 * The CI sources of an environment, each with exactly the repositories of the apps it builds. Apps whose
 * repository this stack does not create get no push from here (their owner stack grants it).
 */
export function ciSources(env: ResolvedEnvironment): CiSourceGrant[] {
  const ci = env.model.ci;
  if (!ci || env.model.registry.provider !== 'aws') return [];
  const bySource = new Map<string, CiSource & { arns: Set<string> }>();
  env.model.apps.forEach((app, i) => {
    const appTier = env.tiers.flatMap((t) => t.apps).find((a) => a.app === app.name);
    if (!appTier?.ecr?.create) return;
    const src = appCiSource(ci, app);
    if (!src) return; // the schema refuses a created repository without a source
    const e = bySource.get(src.source) ?? { ...src, apps: [], arns: new Set<string>() };
    e.apps.push(i);
    e.arns.add(ecrRepositoryArn(appTier.ecr.accountId, appTier.ecr.region, appTier.repository));
    bySource.set(src.source, e);
  });
  return [...bySource.values()]
    .map(({ arns, ...s }) => ({ ...s, repositoryArns: [...arns].sort() }))
    .sort((a, b) => (a.source < b.source ? -1 : 1));
}

/** The exact roles of other accounts that may read a repository this stack creates (`ecr.pullAccounts`). */
export function repositoryReaders(env: ResolvedEnvironment, pullAccounts: readonly string[]): RepositoryReaders {
  const aws = env.model.aws!;
  const readers = aws.readers.filter((r) => pullAccounts.includes(r.accountId));
  return {
    readerRoleArns: readers.flatMap((r) =>
      (r.objectLevelTiers ?? [undefined]).map((t) => roleArn(r.accountId, aws.region, t ? tierReaderRoleName(r.environment, t) : fluxReaderRoleName(r.environment))),
    ),
    nodeRoleArns: readers.flatMap((r) => r.nodeRoles.map((n) => `arn:${partitionOf(aws.region)}:iam::${r.accountId}:role/${n}`)),
  };
}

/** Every ECR repository the environment's apps deploy from, in any account: what its nodes must pull. */
export function clusterPullRepositoryArns(env: ResolvedEnvironment): string[] {
  return [...new Set(env.tiers.flatMap((t) => t.apps.flatMap((a) => (a.ecr ? [ecrRepositoryArn(a.ecr.accountId, a.ecr.region, a.repository)] : []))))].sort();
}
