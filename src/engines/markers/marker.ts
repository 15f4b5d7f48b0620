import { isPair, isScalar, isSeq, parseAllDocuments, parseDocument, visit, type Scalar } from 'yaml';

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
  return lineFinder(text)(offset);
}

/**
 * The 1-based line of any offset of one text, by binary search over its newline offsets (built once): a
 * file with many markers costs O(n + m log n), not a scan from the start per marker.
 */
export function lineFinder(text: string): (offset: number) => number {
  const newlines: number[] = [];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) newlines.push(i);
  return (offset) => {
    let lo = 0;
    let hi = newlines.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (newlines[mid]! < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
}

/**
 * Options for parsing YAML that tagflow did not write (trees, tags files). The library's pretty errors
 * compute each error's line with a scan from the start: quadratic on a file full of errors.
 */
export const UNTRUSTED_YAML = { prettyErrors: false } as const;

/** The YAML parser (and its visitors) recurse per nesting level: a deep enough file overflows the stack. */
export function isTooDeep(e: unknown): boolean {
  return (e as Error | undefined)?.name === 'RangeError' && /call stack/i.test((e as Error).message);
}

/**
 * Every scalar carrying a marker, by Flux's placement rules: the marker is the scalar's same-line comment,
 * or, for a plain scalar item of a sequence, the comment on the line above the item (when the item has
 * no same-line comment that is not a marker).
 */
export function findMarkedValues(text: string, parsed?: readonly ParsedDocument[]): MarkedValue[] {
  try {
    return markedValuesOf(text, parsed);
  } catch (e) {
    if (isTooDeep(e)) return []; // Flux cannot parse such a file either: it has no markers for Flux
    throw e;
  }
}

function markedValuesOf(text: string, parsed?: readonly ParsedDocument[]): MarkedValue[] {
  const out: MarkedValue[] = [];
  if (!text.includes('"$imagepolicy"')) return out;
  const line = lineFinder(text);
  for (const doc of parsed ?? parseAllDocuments(text, UNTRUSTED_YAML)) {
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
        out.push({ marker, value: String(node.value ?? ''), line: line(node.range?.[0] ?? 0), node });
      },
    });
  }
  return out;
}

/**
 * A line `tagflow check` can read without a YAML parser: blank, a comment, a document separator, or a
 * one-line `key: value` / `- value` / `- key: value` whose value is a plain scalar (no indicator first,
 * no `: ` or `#` inside), a quoted string closed on the line, or nothing (a nested block follows). A bare
 * scalar line (the continuation of a multi-line scalar) is not simple.
 */
const PLAIN = String.raw`[^\s\-?:,\[\]{}#&*!|>'"%@\`](?:[^\s:#]|:(?=\S)| +(?=[^\s#]))*`;
const QUOTED = String.raw`"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'`;
const SIMPLE_LINE = new RegExp(
  String.raw`^ *(?:(?:- +)*[A-Za-z0-9_.\/-]+:(?: +(?:${PLAIN}|${QUOTED}|\{\}|\[\]))?|(?:- +)+(?:${PLAIN}|${QUOTED})?)(?: +#.*)?$`,
);

/**
 * The markers of a file and their lines without parsing it, when every line is simple (SIMPLE_LINE) and
 * every marker sits on a one-line `key: value` (the shape tagflow and Flux write); undefined otherwise, and
 * the caller parses. `tagflow check` reads HelmRelease files this way (half of a tree's bytes): on such a
 * file it finds what the parse finds (test/setters-fixtures.test.ts compares them on rendered and mutated
 * files). One difference, by design: a file of simple lines whose indentation does not nest is not parsed,
 * so its markers count although the YAML is broken (the parse skips such a document).
 */
export function markersByLine(text: string): { marker: ImagePolicyMarker; line: number }[] | undefined {
  const out: { marker: ImagePolicyMarker; line: number }[] = [];
  if (text.includes('\t')) return undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const trimmed = line.trimStart();
    if (trimmed === '' || trimmed === '---' || trimmed === '...') continue;
    if (trimmed.startsWith('#')) {
      // A marker in a comment line of its own (above a sequence item) is Flux's other placement: parse.
      if (trimmed.includes('"$imagepolicy"') && parseMarkerComment(trimmed)) return undefined;
      continue;
    }
    if (!SIMPLE_LINE.test(line)) return undefined;
    if (!line.includes('"$imagepolicy"')) continue;
    const match = SIMPLE_MARKED_LINE.exec(line);
    const marker = match ? parseMarkerComment(match[2]!) : undefined;
    if (!marker) {
      // A comment that mentions markers but is not one: nothing (as the parse); anything else: parse.
      if (match || !/ #/.test(line)) return undefined;
      continue;
    }
    out.push({ marker, line: i + 1 });
  }
  return out;
}

/** What `parseAllDocuments` returns for one document (callers that already parsed a file pass these). */
export type ParsedDocument = ReturnType<typeof parseAllDocuments>[number];

/** `ref → value` of every marked scalar (first one wins), e.g. `dev:api:tag → branch-dev-17-abc`. */
export function markerValues(text: string): Map<string, string> {
  const fast = markerValuesByLine(text);
  if (fast) return fast;
  const m = new Map<string, string>();
  for (const mv of findMarkedValues(text)) if (!m.has(mv.marker.ref)) m.set(mv.marker.ref, mv.value);
  return m;
}

/** `key: value # {"$imagepolicy": ...}` with a plain or quoted scalar on one line: the shape tagflow and Flux write. */
// The plain value is a run of non-space, non-# characters and inner space runs each followed by such a
// character: unambiguous, so matching is linear (a lazy `[^#]*?` before ` +#` was quadratic in spaces).
const SIMPLE_MARKED_LINE = /^ *(?:- +)?[A-Za-z0-9_.\/-]+: +("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s"'#&*!|>%@`{}[\],](?:[^# ]| +[^# ])*) +(#.*)$/;

/**
 * markerValues without building a YAML AST, for files whose every marker sits on a simple one-line
 * `key: value` (synth re-reads every marked file it owns, so this is on synth's hot path). Returns
 * undefined, and the caller parses the file, as soon as any line mentioning a marker has another shape.
 */
export function markerValuesByLine(text: string): Map<string, string> | undefined {
  const m = new Map<string, string>();
  if (!text.includes('"$imagepolicy"')) return m;
  for (const line of text.split('\n')) {
    if (!line.includes('"$imagepolicy"')) continue;
    // A comment line that is not itself a marker (tagflow's header mentions markers) means nothing.
    if (/^\s*#/.test(line) && !parseMarkerComment(line)) continue;
    const match = SIMPLE_MARKED_LINE.exec(line.endsWith('\r') ? line.slice(0, -1) : line);
    const marker = match ? parseMarkerComment(match[2]!) : undefined;
    if (!match || !marker) return undefined;
    if (m.has(marker.ref)) continue;
    // The scalar's own YAML reading (quotes, escapes, `1.0` → "1"), as findMarkedValues reports it.
    const doc = parseDocument(match[1]!, UNTRUSTED_YAML);
    if (doc.errors.length || !isScalar(doc.contents)) return undefined;
    m.set(marker.ref, String(doc.contents.value ?? ''));
  }
  return m;
}
