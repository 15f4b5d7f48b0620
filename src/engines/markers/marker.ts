import { isPair, isSeq, parseAllDocuments, visit, type Scalar } from 'yaml';

/** A parsed `{"$imagepolicy": "<ns>:<name>[:tag|:name|:digest]"}` marker. */
export interface ImagePolicyMarker {
  readonly namespace: string;
  readonly policy: string;
  /** 'full' writes `name:tag[@digest]`; the others write one part. */
  readonly field: 'full' | 'name' | 'tag' | 'digest';
  /** The marker's reference string, e.g. `dev:api:tag`. */
  readonly ref: string;
}

/**
 * Parses the text of a YAML comment as Flux's setters do: strip the leading `#` characters and blanks, the
 * rest must be a JSON object on its own whose `$imagepolicy` is a string `<ns>:<name>` with an optional
 * `:tag`, `:name` or `:digest` suffix. Every value must be a string; extra keys are allowed.
 */
export function parseMarkerComment(comment: string): ImagePolicyMarker | undefined {
  const text = comment.replace(/^[#\s]*/, '').trim();
  if (!text.startsWith('{')) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
  const obj = json as Record<string, unknown>;
  if (Object.values(obj).some((v) => typeof v !== 'string')) return undefined;
  const ref = obj['$imagepolicy'];
  if (typeof ref !== 'string') return undefined;
  const parts = ref.split(':');
  if (parts.length === 2) return { namespace: parts[0], policy: parts[1], field: 'full', ref };
  if (parts.length === 3 && (parts[2] === 'tag' || parts[2] === 'name' || parts[2] === 'digest')) {
    return { namespace: parts[0], policy: parts[1], field: parts[2], ref };
  }
  return undefined;
}

/** A marked scalar found in a YAML text. */
export interface MarkedValue {
  readonly marker: ImagePolicyMarker;
  readonly value: string;
  /** 1-based line of the value. */
  readonly line: number;
  readonly node: Scalar;
}

/** 1-based line of a character offset. */
export function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * Every scalar carrying a marker, by Flux's placement rules: the marker is the scalar's same-line comment,
 * or, for a plain scalar item of a sequence, the comment on the line above the item (when the item has
 * no same-line comment that is not a marker).
 */
export function findMarkedValues(text: string): MarkedValue[] {
  const out: MarkedValue[] = [];
  if (!text.includes('"$imagepolicy"')) return out;
  for (const doc of parseAllDocuments(text)) {
    if ('errors' in doc && doc.errors.length) continue;
    visit(doc, {
      Scalar(key, node, path) {
        if (key === 'key') return;
        const parent = path[path.length - 1];
        let marker = node.comment ? parseMarkerComment(node.comment) : undefined;
        if (!marker && !node.comment && isSeq(parent) && node.commentBefore) {
          marker = parseMarkerComment(node.commentBefore.split('\n').pop() ?? '');
        }
        if (!marker || !(isPair(parent) || isSeq(parent))) return;
        out.push({ marker, value: String(node.value ?? ''), line: lineOf(text, node.range?.[0] ?? 0), node });
      },
    });
  }
  return out;
}

/** `ref → value` of every marked scalar (first one wins), e.g. `dev:api:tag → branch-dev-17-abc`. */
export function markerValues(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const mv of findMarkedValues(text)) if (!m.has(mv.marker.ref)) m.set(mv.marker.ref, mv.value);
  return m;
}

