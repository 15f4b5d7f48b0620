import type { AppTier, ResolvedEnvironment } from '../model/tiers';
import { selectTag, type TagSource } from '../simulate/simulate';
import { readIndex } from './tree-writer';
import { RepositoryNotFoundError } from '../registry/oci-client';

/** A stack's initialTag that the registry does not have: exit 2, nothing written. */
export class InitialTagError extends Error {
  public readonly exitCode = 2;
}

/** The image a new HelmRelease starts from, by `<tier>/<app>`. */
export type InitialRefs = ReadonlyMap<string, { readonly tag: string; readonly digest?: string }>;

export const initialRefKey = (a: Pick<AppTier, 'tier' | 'app'>) => `${a.tier}/${a.app}`;

/** The app tiers whose HelmRelease file tagflow has not written yet in `outDir` (no marker value to keep). */
export function newAppTiers(environment: ResolvedEnvironment, stack: string, outDir: string): AppTier[] {
  const owned = new Set(readIndex(outDir, stack)?.files.map((f) => f.path) ?? []);
  return environment.tiers.flatMap((t) => t.apps.filter((a) => !owned.has(`${t.releasesFolder}/${a.app}.yaml`)));
}

export interface InitialRefsResult {
  readonly refs: InitialRefs;
  /** One line per new app tier: what it starts from, and why when it is nothing. */
  readonly notes: readonly string[];
}

/**
 * What image-reflector-controller would select now for each new app tier, from the registry: the first
 * install then runs an image that exists. An app whose stack sets `initialTag` keeps it; an app whose
 * policy selects nothing yet starts with no image (the bundled chart runs no pods until Flux selects one).
 */
export async function resolveInitialRefs(apps: readonly AppTier[], source: TagSource): Promise<InitialRefsResult> {
  const refs = new Map<string, { tag: string; digest?: string }>();
  const notes: string[] = [];
  for (const a of apps) {
    const where = `${a.tier}/${a.app}`;
    if (a.initialTag) {
      // A pinned start must exist: the first install would otherwise point at nothing.
      const listed = await source.tags(a);
      if (!listed.some((t) => t.tag === a.initialTag)) {
        throw new InitialTagError(`${where}: initialTag '${a.initialTag}' does not exist in ${a.image} (${source.name}); push it first, or leave initialTag out to start from what the policy selects`);
      }
      notes.push(`${where}: initialTag '${a.initialTag}' from the stack (found in the registry)`);
      continue;
    }
    let sel: Awaited<ReturnType<typeof selectTag>>;
    try {
      sel = await selectTag(a, source);
    } catch (e) {
      // A new app whose CI has not pushed yet: it starts with no image, like one whose policy selects nothing.
      if (!(e instanceof RepositoryNotFoundError)) throw e;
      notes.push(`${where}: no image yet (${a.image} does not exist in ${source.name}); it runs no pods until Flux selects one`);
      continue;
    }
    if (sel.latest && !sel.error) {
      refs.set(initialRefKey(a), { tag: sel.latest, ...(sel.digest ? { digest: sel.digest } : {}) });
      notes.push(`${where}: starts from ${sel.latest}${sel.digest ? `@${sel.digest}` : ''} (selected in ${source.name})`);
    } else {
      notes.push(`${where}: no image yet (${sel.error ?? 'nothing selected'}); it runs no pods until Flux selects one`);
    }
  }
  return { refs, notes };
}

/** The environment with the initial refs applied to its apps. */
export function withInitialRefs(environment: ResolvedEnvironment, refs: InitialRefs | undefined): ResolvedEnvironment {
  if (!refs || refs.size === 0) return environment;
  return {
    ...environment,
    tiers: environment.tiers.map((t) => ({
      ...t,
      apps: t.apps.map((a) => {
        const r = refs.get(initialRefKey(a));
        return r ? { ...a, initialTag: r.tag, initialDigest: r.digest } : a;
      }),
    })),
  };
}
