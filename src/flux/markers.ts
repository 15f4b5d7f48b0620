import type { ApiObject } from 'cdk8s';

/** Which field of the marked image reference a marker sets (Flux's setter suffixes). */
export type MarkerField = 'full' | 'name' | 'tag' | 'digest';

export interface ValueMarker {
  /** Path of the scalar inside the rendered object, e.g. ['spec', 'values', 'image', 'tag']. */
  readonly path: readonly string[];
  /** Namespace of the ImagePolicy: must be the ImageUpdateAutomation's namespace. */
  readonly namespace: string;
  readonly policy: string;
  readonly field: MarkerField;
}

/** The marker's reference, e.g. `dev:api:tag` (no suffix for the full `name:tag` reference). */
export function markerRef(m: Pick<ValueMarker, 'namespace' | 'policy' | 'field'>): string {
  return m.field === 'full' ? `${m.namespace}:${m.policy}` : `${m.namespace}:${m.policy}:${m.field}`;
}

/** The comment text Flux's setters look for, e.g. `{"$imagepolicy": "dev:api:tag"}`. */
export function markerComment(m: Pick<ValueMarker, 'namespace' | 'policy' | 'field'>): string {
  return `{"$imagepolicy": "${markerRef(m)}"}`;
}

const registry = new WeakMap<ApiObject, ValueMarker[]>();

/**
 * Records that a scalar of an API object carries an image-policy marker. cdk8s renders JSON only, so the
 * markers travel beside the object and the renderer puts each on its value's line.
 */
export function addMarker(obj: ApiObject, marker: ValueMarker): void {
  const list = registry.get(obj) ?? [];
  list.push(marker);
  registry.set(obj, list);
}

export function markersOf(obj: ApiObject): readonly ValueMarker[] {
  return registry.get(obj) ?? [];
}
