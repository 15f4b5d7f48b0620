import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { LIMITS } from '../limits';
import { isSystemError, LocalIoError } from '../io-errors';
import { acquireTreeLock } from './tree-lock';
import { recoverTransaction, runTransaction, sha256, TXN_DIR, type PlannedDelete, type PlannedWrite, type Recovery } from './tree-journal';
import { fsyncPath, INDEX_DIR, inspect, withFolderCache, inspectFile, readTreeFile, relativePathError, TreeWriteError } from './tree-paths';

export { INDEX_DIR, TreeWriteError } from './tree-paths';

/**
 * Writes tagflow's files into a GitOps tree that may hold other files:
 *  - every path is proved inside the tree before it is touched: relative, plain segments, and resolved
 *    with lstat one segment at a time, so a symbolic link anywhere in the tree is refused, never followed;
 *  - an index per owner (stack) in `.tagflow/<owner>.json` lists what tagflow wrote, so files it no longer
 *    produces are pruned, and files it did not write are never overwritten nor deleted; an index is
 *    validated (shape, paths, owner) before it is used, and a bad one stops the run before any change;
 *  - one run at a time per tree (`.tagflow/lock`), and each run's changes are one transaction with a
 *    write-ahead journal (tree-journal.ts): a crash at any point is completed or undone by the next run.
 */
/**
 * Version 2 lists paths only. Version 1 also held each file's sha256, which changed whenever Flux rewrote a
 * marker value, so every synth after a Flux commit rewrote the index: it is still read, and rewritten as 2.
 */
export interface TreeIndex {
  readonly version: 2;
  readonly owner: string;
  readonly files: readonly { readonly path: string }[];
}

export interface TreeWriteResult {
  readonly written: readonly string[];
  readonly unchanged: readonly string[];
  readonly pruned: readonly string[];
}

const OWNER = /^[A-Za-z0-9_.-]+$/;

const IndexSchema = z.strictObject({
  version: z.union([z.literal(1), z.literal(2)]),
  owner: z.string().regex(OWNER, 'must be a stack name'),
  files: z
    .array(
      z.strictObject({
        path: z.string().superRefine((p, ctx) => {
          const why = relativePathError(p) ?? (p === INDEX_DIR || p.startsWith(`${INDEX_DIR}/`) ? `must not be inside ${INDEX_DIR}/` : undefined);
          if (why) ctx.addIssue({ code: 'custom', message: `${why} (a path outside the tree, or tagflow's own folder)` });
        }),
        sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits').optional(),
      }),
    )
    .max(LIMITS.tagsPerRepository * 10),
});

function indexRel(owner: string): string {
  return `${INDEX_DIR}/${owner}.json`;
}

/** Reads and validates an owner's index; undefined when there is none. Throws TreeWriteError (exit 2) for a bad one. */
export function readIndex(outDir: string, owner: string): TreeIndex | undefined {
  const rel = indexRel(owner);
  const file = path.join(outDir, rel);
  if (!fs.existsSync(outDir)) return undefined;
  const kind = inspectFile(outDir, rel);
  if (kind === 'missing') return undefined;
  const size = fs.statSync(file).size;
  if (size > LIMITS.treeFileBytes) throw new TreeWriteError(`${file}: is ${size} bytes, not a tagflow index; nothing was changed`);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new TreeWriteError(`${file}: is not a tagflow index (not JSON: ${(e as Error).message}); nothing was changed: restore it from git`);
  }
  const r = IndexSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    const at = i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') || '(root)';
    const value = i.path.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined), raw);
    const shown = value === undefined || typeof value === 'object' ? '' : ` ${JSON.stringify(value).slice(0, 100)}`;
    throw new TreeWriteError(`${file}: ${at}:${shown} ${i.message}; the index is not valid and nothing was changed: restore it from git`);
  }
  if (r.data.owner !== owner) throw new TreeWriteError(`${file}: owner "${r.data.owner}" is not "${owner}" (the file name); nothing was changed: restore it from git`);
  const seen = new Set<string>();
  for (const f of r.data.files) {
    if (seen.has(f.path)) throw new TreeWriteError(`${file}: lists ${f.path} twice; nothing was changed: restore it from git`);
    seen.add(f.path);
  }
  return { version: 2, owner: r.data.owner, files: r.data.files.map((f) => ({ path: f.path })) };
}

/** Every owner with an index in the tree. */
function owners(root: string): string[] {
  if (inspect(root, INDEX_DIR) !== 'dir') return [];
  return fs
    .readdirSync(path.join(root, INDEX_DIR))
    .filter((f) => f.endsWith('.json') && OWNER.test(f.slice(0, -5)))
    .map((f) => f.slice(0, -5))
    .sort();
}

/** Every path any owner's index lists, with the owners listing it. */
function ownedPaths(root: string): Map<string, Set<string>> {
  const owned = new Map<string, Set<string>>();
  for (const owner of owners(root)) {
    for (const e of readIndex(root, owner)?.files ?? []) {
      const s = owned.get(e.path) ?? new Set<string>();
      s.add(owner);
      owned.set(e.path, s);
    }
  }
  return owned;
}

function assertWritablePath(p: string): void {
  const why = relativePathError(p) ?? (p === INDEX_DIR || p.startsWith(`${INDEX_DIR}/`) ? `is inside ${INDEX_DIR}/` : undefined);
  if (why) throw new TreeWriteError(`refusing to write outside the tree or into ${INDEX_DIR}/: ${JSON.stringify(p).slice(0, 200)} ${why}`);
}

/**
 * Checks, without writing, that `files` can be written: throws when a path is not inside the tree, holds
 * a file tagflow did not write, or has a link or a file where a folder must be on its way.
 */
export function checkTree(outDir: string, files: ReadonlyMap<string, Buffer | string>, owned?: Map<string, Set<string>>): void {
  for (const p of files.keys()) assertWritablePath(p);
  if (!fs.existsSync(outDir)) return;
  const known = owned ?? ownedPaths(outDir);
  for (const p of files.keys()) {
    const kind = inspectFile(outDir, p);
    if (kind === 'file' && !known.has(p)) {
      throw new TreeWriteError(`refusing to overwrite ${path.join(outDir, p)}: tagflow did not write it (it is in no ${INDEX_DIR}/ index); move it away or delete it`);
    }
  }
}

export interface TreeOutput {
  readonly owner: string;
  readonly files: ReadonlyMap<string, Buffer | string>;
}

/** A tree opened for writing: locked, and any unfinished earlier run completed or undone. */
export interface TreeSession {
  /** The tree's root, symbolic links of the path resolved once (nothing below it is ever followed). */
  readonly root: string;
  /** What recovery did to an earlier run left unfinished. */
  readonly recovered: Recovery;
  /** Writes the outputs of several owners as one transaction. */
  write(outputs: readonly TreeOutput[]): Map<string, TreeWriteResult>;
}

/**
 * Opens a tree (creating it when missing), takes its lock, recovers an unfinished run, and calls `f`.
 * The lock is released when `f` returns or throws; folders this call created are removed again if `f`
 * failed before writing anything.
 */
export function withTree<T>(outDir: string, f: (session: TreeSession) => T): T {
  const createdOut = !fs.existsSync(outDir);
  let createdIndexDir = false;
  let root: string;
  try {
    fs.mkdirSync(outDir, { recursive: true });
    root = fs.realpathSync(outDir);
    const kind = inspect(root, INDEX_DIR);
    if (kind === 'missing') {
      fs.mkdirSync(path.join(root, INDEX_DIR));
      createdIndexDir = true;
    } else if (kind !== 'dir') throw new LocalIoError(`${path.join(root, INDEX_DIR)} must be a folder (tagflow keeps its indexes there)`);
  } catch (e) {
    if (isSystemError(e)) throw new LocalIoError(`cannot open the tree ${outDir}: ${e.code === 'ENOTDIR' ? 'a file stands where a folder must be (ENOTDIR)' : `${e.message}`}`, { cause: e });
    throw e;
  }
  const release = acquireTreeLock(root);
  let wrote = false;
  try {
    return withFolderCache(() => {
      const recovered = recoverTransaction(root);
      return f({
        root,
        recovered,
        write: (outputs) => {
          wrote = true;
          return writeOutputs(root, outputs);
        },
      });
    });
  } finally {
    release();
    if (!wrote) {
      // Bad input found after opening: leave no trace of this run.
      if (createdIndexDir) fs.rmSync(path.join(root, INDEX_DIR), { recursive: true, force: true });
      if (createdOut) fs.rmSync(outDir, { recursive: true, force: true });
    }
  }
}

/** One file a run changes: its bytes before (none: new) and after (none: pruned). */
export interface TreeChange {
  readonly path: string;
  readonly before?: Buffer;
  readonly after?: Buffer;
}

/** What writing `outputs` into the tree would do, worked out without changing anything. */
export interface TreePlan {
  readonly writes: readonly PlannedWrite[];
  readonly deletes: readonly PlannedDelete[];
  readonly results: Map<string, TreeWriteResult>;
  /** Every file that changes (indexes in `.tagflow/` included), sorted by path. */
  readonly changes: readonly TreeChange[];
}

/**
 * Plans writing the outputs of several owners into the tree at `root` (which need not exist): what is
 * written, unchanged and pruned, with the bytes before and after. Reads only; throws as a write would
 * (a path outside the tree, a file tagflow did not write, two owners disagreeing on a file's content).
 */
export function planOutputs(root: string, outputs: readonly TreeOutput[]): TreePlan {
  for (const o of outputs) if (!OWNER.test(o.owner)) throw new TreeWriteError(`owner '${o.owner}' must be a stack name`);
  const owned = ownedPaths(root);
  // One content per path: two stacks may share a file (the bundled chart) only with the same bytes.
  const merged = new Map<string, Buffer>();
  for (const o of outputs) {
    checkTree(root, o.files, owned);
    for (const [p, c] of o.files) {
      const buf = typeof c === 'string' ? Buffer.from(c) : c;
      const prev = merged.get(p);
      if (prev && !prev.equals(buf)) throw new TreeWriteError(`two stacks write different content to ${p}`);
      merged.set(p, buf);
    }
  }
  const writes: PlannedWrite[] = [];
  const before = new Map<string, Buffer>();
  const results = new Map<string, { written: string[]; unchanged: string[]; pruned: string[] }>();
  const state = new Map<string, 'written' | 'unchanged'>();
  for (const p of [...merged.keys()].sort()) {
    const now = readTreeFile(root, p);
    if (now && now.equals(merged.get(p)!)) state.set(p, 'unchanged');
    else {
      if (now) before.set(p, now);
      state.set(p, 'written');
      writes.push({ path: p, content: merged.get(p)!, replaces: now !== undefined });
    }
  }
  // After this run: who lists each path. Prune what an owner wrote before and no owner lists any more.
  const inTxn = new Set(outputs.map((o) => o.owner));
  const listedAfter = new Set<string>(merged.keys());
  for (const [p, os] of owned) if ([...os].some((o) => !inTxn.has(o))) listedAfter.add(p);
  const deletes: PlannedDelete[] = [];
  const pruned = new Map<string, string[]>();
  for (const o of outputs) {
    const list: string[] = [];
    for (const e of readIndex(root, o.owner)?.files ?? []) {
      if (o.files.has(e.path) || listedAfter.has(e.path) || deletes.some((d) => d.path === e.path)) continue;
      const bytes = readTreeFile(root, e.path);
      if (!bytes) continue;
      deletes.push({ path: e.path, sha256: sha256(bytes) });
      before.set(e.path, bytes);
      list.push(e.path);
    }
    pruned.set(o.owner, list);
  }
  for (const o of outputs) {
    const sorted = [...o.files.keys()].sort();
    const index: TreeIndex = { version: 2, owner: o.owner, files: sorted.map((p) => ({ path: p })) };
    const text = Buffer.from(JSON.stringify(index, null, 2) + '\n');
    const now = readTreeFile(root, indexRel(o.owner));
    if (!now || !now.equals(text)) {
      writes.push({ path: indexRel(o.owner), content: text, replaces: now !== undefined });
      if (now) before.set(indexRel(o.owner), now);
    }
    results.set(o.owner, {
      written: sorted.filter((p) => state.get(p) === 'written'),
      unchanged: sorted.filter((p) => state.get(p) === 'unchanged'),
      pruned: pruned.get(o.owner)!,
    });
  }
  // The index goes last, after the files it lists.
  writes.sort((a, b) => Number(a.path.startsWith(`${INDEX_DIR}/`)) - Number(b.path.startsWith(`${INDEX_DIR}/`)));
  const changes: TreeChange[] = [...writes.map((w) => ({ path: w.path, before: before.get(w.path), after: w.content })), ...deletes.map((d) => ({ path: d.path, before: before.get(d.path) }))];
  changes.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  return { writes, deletes, results, changes };
}

function writeOutputs(root: string, outputs: readonly TreeOutput[]): Map<string, TreeWriteResult> {
  const { writes, deletes, results } = planOutputs(root, outputs);
  if (writes.length || deletes.length) runTransaction(root, writes, deletes);
  fsyncPath(root);
  return results;
}

/** Writes one owner's files (see withTree): lock, recovery, one transaction. */
export function writeTree(outDir: string, owner: string, files: ReadonlyMap<string, Buffer | string>): TreeWriteResult {
  if (!OWNER.test(owner)) throw new TreeWriteError(`owner '${owner}' must be a stack name`);
  for (const p of files.keys()) assertWritablePath(p);
  return withTree(outDir, (s) => s.write([{ owner, files }]).get(owner)!);
}

/** Completes or undoes an unfinished run in a tree (what every writing run does first); for tests and tools. */
export function recoverTree(outDir: string): Recovery {
  return withTree(outDir, (s) => s.recovered);
}

export { TXN_DIR };
