import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AppTier, ResolvedEnvironment, Tier } from '../model/tiers';
import { FLUX_NAMESPACE } from '../model/tiers';
import { markerValues } from '../engines/markers/marker';
import type { TagSource } from '../simulate/simulate';
import { selectTag } from '../simulate/simulate';
import type { ClusterObjects, GitView, RegistryView } from './pipeline';
import { HelmRelease } from '../flux/imports/helm.toolkit.fluxcd.io';
import { ImagePolicy, ImageRepository, ImageUpdateAutomation } from '../flux/imports/image.toolkit.fluxcd.io';
import { Kustomization } from '../flux/imports/kustomize.toolkit.fluxcd.io';

/** Reads objects from the cluster (the real one: cluster-reader.ts; recorded ones in tests). */
export interface ClusterReader {
  get(apiVersion: string, kind: string, namespace: string, name: string): Promise<Record<string, unknown> | undefined>;
  list(apiVersion: string, kind: string, namespace: string, labelSelector?: string): Promise<Record<string, unknown>[]>;
}

/** The objects of one app in one tier: the Flux objects tagflow wrote, the Deployment and its Running pods. */
export async function clusterObjects(reader: ClusterReader, tier: Tier, app: AppTier): Promise<ClusterObjects> {
  const ns = tier.namespace;
  // The API versions come from the classes generated from the Flux CRDs.
  const gvk = (c: { GVK: { apiVersion: string; kind: string } }) => [c.GVK.apiVersion, c.GVK.kind] as const;
  const [imagePolicy, imageRepository, automation, kustomization, helmRelease, deployment, pods] = await Promise.all([
    reader.get(...gvk(ImagePolicy), ns, app.policyName),
    reader.get(...gvk(ImageRepository), ns, app.policyName),
    reader.get(...gvk(ImageUpdateAutomation), ns, tier.automationName),
    reader.get(...gvk(Kustomization), FLUX_NAMESPACE, tier.kustomizationName),
    reader.get(...gvk(HelmRelease), ns, app.app),
    reader.get('apps/v1', 'Deployment', ns, app.app),
    reader.list('v1', 'Pod', ns, `app.kubernetes.io/instance=${app.app}`),
  ]);
  const runningPodImages = pods
    .filter((p) => (p as { status?: { phase?: string } }).status?.phase === 'Running')
    .map((p) => (p as { spec?: { containers?: { image?: string }[] } }).spec?.containers?.[0]?.image ?? '');
  return { imagePolicy, imageRepository, automation, kustomization, helmRelease, deployment, runningPodImages } as ClusterObjects;
}

/** The newest tag the tier accepts in the registry (what image-reflector-controller would select). */
export async function registryView(app: AppTier, source: TagSource): Promise<RegistryView> {
  try {
    const sel = await selectTag(app, source);
    if (!sel.latest) return { error: sel.error };
    return { tag: sel.latest, ...(sel.digest ? { digest: sel.digest } : {}) };
  } catch (e) {
    return { error: (e as Error).message.split('\n')[0] };
  }
}

function gitOut(cwd: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => execFile('git', args, { cwd, timeout: 10_000 }, (err, stdout) => resolve(err ? undefined : stdout.trim())));
}

/**
 * What Git says: from a checkout (`--tree`), the marker values of the app's release file and the last
 * commit that changed it; without one, what the cluster applied from Git (the HelmRelease's values and the
 * tier Kustomization's revision).
 */
export async function gitView(tier: Tier, app: AppTier, tree: string | undefined, o: ClusterObjects): Promise<GitView> {
  if (tree) {
    const rel = `${tier.releasesFolder}/${app.app}.yaml`;
    const file = path.join(tree, rel);
    if (!fs.existsSync(file)) return { source: 'tree' };
    const values = markerValues(fs.readFileSync(file, 'utf8'));
    const ref = `${app.namespace}:${app.policyName}`;
    const log = await gitOut(tree, ['log', '-1', '--format=%H %cI', '--', rel]);
    const [commit, time] = log ? log.split(' ') : [];
    return { source: 'tree', tag: values.get(`${ref}:tag`), digest: values.get(`${ref}:digest`) || undefined, commit, time };
  }
  const image = o.helmRelease?.spec?.values?.image;
  const revision = o.kustomization?.status?.lastAppliedRevision;
  return { source: 'cluster', tag: image?.tag, digest: image?.digest || undefined, commit: revision?.replace(/^.*sha1:/, '') };
}

/** The app tiers a status shows: every app of every tier, narrowed by the filters. */
export function appTiers(env: ResolvedEnvironment): { tier: Tier; app: AppTier }[] {
  return env.tiers.flatMap((tier) => tier.apps.map((app) => ({ tier, app })));
}
