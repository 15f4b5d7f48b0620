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

/**
 * The patch of changed files exactly as `git diff` (and `git show` of a commit) prints it with git's
 * defaults: `index` line with abbreviated blob ids and mode, three lines of context, function context in
 * the hunk headers. So the diff `tagflow simulate` predicts compares byte for byte with Flux's commit, and
 * applies with `git apply`.
 */
export function gitDiff(files: ReadonlyMap<string, readonly [string, string]>, mode = '100644'): string {
  return [...files.keys()]
    .sort()
    .map((rel) => {
      const [before, after] = files.get(rel)!;
      if (before === after) return '';
      const oldLines = before.split('\n');
      const patch = structuredPatch(`a/${rel}`, `b/${rel}`, before, after, undefined, undefined, { context: 3 });
      const out = [`diff --git a/${rel} b/${rel}`, `index ${gitBlobId(before).slice(0, 7)}..${gitBlobId(after).slice(0, 7)} ${mode}`, `--- a/${rel}`, `+++ b/${rel}`];
      for (const h of patch.hunks) {
        // jsdiff numbers an empty side's start like git does (the line before), so the ranges carry over.
        const ctx = funcContext(oldLines, h.oldStart - 1);
        out.push(`@@ -${range(h.oldStart, h.oldLines)} +${range(h.newStart, h.newLines)} @@${ctx ? ` ${ctx}` : ''}`);
        out.push(...h.lines);
      }
      return out.join('\n') + '\n';
    })
    .join('');
}
