import { createHash } from 'node:crypto';
import { structuredPatch } from 'diff';

/** git's object name of a file's content: sha1 of `blob <size>\0<bytes>`. */
export function gitBlobId(content: string): string {
  const bytes = Buffer.from(content, 'utf8');
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

/**
 * git's default hunk-header function context (xdiff's `def_ff`): the nearest line before the hunk that
 * starts with a letter, `_` or `$`, cut to 80 bytes and stripped of trailing white space.
 */
function funcContext(lines: readonly string[], hunkStart: number): string {
  for (let i = hunkStart - 1; i >= 0; i--) {
    const l = lines[i]!;
    if (/^[A-Za-z_$]/.test(l)) return Buffer.from(l, 'utf8').subarray(0, 80).toString('utf8').replace(/\s+$/, '');
  }
  return '';
}

/** A hunk range as git writes it: `start,count`, the count left out when it is 1. */
function range(start: number, count: number): string {
  if (count === 0) return `${start},0`;
  return count === 1 ? `${start}` : `${start},${count}`;
}

/** One file's change: text before (undefined: a new file) and after (undefined: a deleted file). */
export interface FileChange {
  readonly path: string;
  readonly before?: string | Buffer;
  readonly after?: string | Buffer;
}

const NULL_ID = '0000000';

/** git's test for binary content: a NUL byte in the first 8,000 bytes. */
function isBinary(b: string | Buffer): boolean {
  const buf = typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
  return buf.subarray(0, 8000).includes(0);
}

const text = (b: string | Buffer | undefined) => (b === undefined ? '' : typeof b === 'string' ? b : b.toString('utf8'));
const blobId = (b: string | Buffer | undefined) => (b === undefined ? NULL_ID : gitBlobIdOf(b).slice(0, 7));

/** git's object name of bytes. */
function gitBlobIdOf(b: string | Buffer): string {
  const bytes = typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

/** One file's patch as `git diff` prints it: modified, new (`new file mode`, `/dev/null`) or deleted. */
function filePatch(c: FileChange, mode: string): string {
  const rel = c.path;
  const { before, after } = c;
  if (before !== undefined && after !== undefined && Buffer.compare(Buffer.from(before), Buffer.from(after)) === 0) return '';
  const out = [`diff --git a/${rel} b/${rel}`];
  if (before === undefined) out.push(`new file mode ${mode}`, `index ${NULL_ID}..${blobId(after)}`);
  else if (after === undefined) out.push(`deleted file mode ${mode}`, `index ${blobId(before)}..${NULL_ID}`);
  else out.push(`index ${blobId(before)}..${blobId(after)} ${mode}`);
  const from = before === undefined ? '/dev/null' : `a/${rel}`;
  const to = after === undefined ? '/dev/null' : `b/${rel}`;
  if ((before !== undefined && isBinary(before)) || (after !== undefined && isBinary(after))) {
    out.push(`Binary files ${from} and ${to} differ`);
    return out.join('\n') + '\n';
  }
  const oldText = text(before);
  const newText = text(after);
  // An empty file has no lines: git prints its header and no hunk.
  if (oldText === '' && newText === '') return out.join('\n') + '\n';
  out.push(`--- ${from}`, `+++ ${to}`);
  const oldLines = oldText.split('\n');
  const patch = structuredPatch(from, to, oldText, newText, undefined, undefined, { context: 3 });
  for (const h of patch.hunks) {
    // jsdiff numbers an empty side's start like git does (the line before), so the ranges carry over.
    const ctx = funcContext(oldLines, h.oldStart - 1);
    // A side with no lines at all (a new or a deleted file) starts at 0 in git, where jsdiff says 1.
    const oldStart = oldText === '' ? 0 : h.oldStart;
    const newStart = newText === '' ? 0 : h.newStart;
    out.push(`@@ -${range(oldStart, h.oldLines)} +${range(newStart, h.newLines)} @@${ctx ? ` ${ctx}` : ''}`);
    out.push(...h.lines);
  }
  return out.join('\n') + '\n';
}

/**
 * The patch of changed files exactly as `git diff` (and `git show` of a commit) prints it with git's
 * defaults: `index` line with abbreviated blob ids and mode, three lines of context, function context in
 * the hunk headers. So the diff `tagflow simulate` predicts compares byte for byte with Flux's commit, and
 * applies with `git apply`.
 */
export function gitDiff(files: ReadonlyMap<string, readonly [string, string]>, mode = '100644'): string {
  return gitDiffChanges([...files].map(([p, [before, after]]) => ({ path: p, before, after })), mode);
}

/**
 * The same for changes that add and delete files too (`tagflow diff`): what `git diff` prints after
 * `git add -A` (`git diff --cached`), files sorted by path.
 */
export function gitDiffChanges(changes: readonly FileChange[], mode = '100644'): string {
  return [...changes]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((c) => filePatch(c, mode))
    .join('');
}
