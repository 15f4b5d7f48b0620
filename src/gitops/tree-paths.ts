import * as fs from 'node:fs';
import * as path from 'node:path';
import { causeOf, isSystemError, LocalIoError } from '../io-errors';

/**
 * Containment: every path tagflow reads, writes, renames or deletes in a tree is a relative path of plain
 * segments, resolved below the tree's root one segment at a time with lstat, so that a symbolic link (or a
 * file where a folder must be) anywhere on the way is refused before the operation, never followed.
 */
export const INDEX_DIR = '.tagflow';

/** Bad content in the tree or its index (a path escaping the tree, a file tagflow did not write): exit 2. */
export class TreeWriteError extends Error {
  public readonly exitCode = 2;
}

const MAX_PATH = 4096;
const MAX_SEGMENT = 255;

/** Why `rel` is not a relative path of plain segments inside a tree, or undefined when it is one. */
export function relativePathError(rel: unknown): string | undefined {
  if (typeof rel !== 'string' || rel === '') return 'must be a non-empty string';
  if (rel.length > MAX_PATH) return `is ${rel.length} characters; a path may have at most ${MAX_PATH}`;
  if (rel.startsWith('/') || /^[A-Za-z]:/.test(rel)) return 'must be relative to the tree, not absolute';
  if (rel.includes('\\')) return "must use '/' as separator (no '\\')";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(rel)) return 'must not contain control characters';
  for (const seg of rel.split('/')) {
    if (seg === '' || seg === '.' || seg === '..') return `must be a path inside the tree of plain segments (no '', '.' or '..' segment)`;
    if (seg.length > MAX_SEGMENT) return `has a segment of ${seg.length} characters; at most ${MAX_SEGMENT}`;
  }
  return undefined;
}

/**
 * Folders already proved real (no link, no file) during one pass over a locked tree: a path of 5 segments
 * costs one lstat instead of 5 (1,000 apps: 0.4 s of lstat before). Active only inside `withFolderCache`,
 * and cleared whenever tagflow removes a folder.
 */
let folderCache: Set<string> | undefined;

export function withFolderCache<T>(f: () => T): T {
  if (folderCache) return f();
  folderCache = new Set();
  try {
    return f();
  } finally {
    folderCache = undefined;
  }
}

/** tagflow removed a folder: forget what was proved about folders. */
export function forgetFolders(): void {
  folderCache?.clear();
}

/** What stands at a path below the root, found without following any link. */
export type EntryKind = 'missing' | 'file' | 'dir';

function lstat(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch (e) {
    if (isSystemError(e) && e.code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * Resolves `rel` below `root` segment by segment. Every existing parent must be a real folder: a symbolic
 * link or a file there is refused (exit 4) with the path. Returns what the last segment is; a symbolic link
 * or anything but a file or folder there is refused too.
 */
export function inspect(root: string, rel: string): EntryKind {
  const segs = rel.split('/');
  let cur = root;
  for (let i = 0; i < segs.length; i++) {
    cur = path.join(cur, segs[i]!);
    if (i < segs.length - 1 && folderCache?.has(cur)) continue;
    const st = lstat(cur);
    if (!st) return 'missing';
    if (st.isSymbolicLink()) {
      throw new LocalIoError(`refusing to follow the symbolic link ${cur}${i < segs.length - 1 ? ` (on the way to ${path.join(root, rel)})` : ''}: tagflow never writes, reads or deletes through links in its tree; replace it with a real folder or file`);
    }
    if (i < segs.length - 1) {
      if (!st.isDirectory()) throw new LocalIoError(`cannot use ${cur} as a folder (on the way to ${path.join(root, rel)}): a file stands where a folder must be (ENOTDIR)`);
      folderCache?.add(cur);
    } else if (st.isDirectory()) return 'dir';
    else if (st.isFile()) return 'file';
    else throw new LocalIoError(`refusing to touch ${cur}: it is neither a regular file nor a folder`);
  }
  return 'dir';
}

/** `inspect` for a path that must be a file (or missing): a folder there is refused. */
export function inspectFile(root: string, rel: string): 'missing' | 'file' {
  const kind = inspect(root, rel);
  if (kind === 'dir') throw new LocalIoError(`cannot write the file ${path.join(root, rel)}: a folder stands where a file must be (EISDIR)`);
  return kind;
}

/** The parent folders of `rel` that do not exist yet, outermost first (each proved a real folder or missing). */
export function missingParents(root: string, rel: string): string[] {
  const segs = rel.split('/').slice(0, -1);
  const out: string[] = [];
  for (let i = 1; i <= segs.length; i++) {
    const dir = segs.slice(0, i).join('/');
    const kind = inspect(root, dir);
    if (kind === 'missing') out.push(dir);
    else if (kind !== 'dir') throw new LocalIoError(`cannot use ${path.join(root, dir)} as a folder: a file stands where a folder must be (ENOTDIR)`);
  }
  return out;
}

/** Creates the parent folders of `rel` one at a time, each checked: never through a link. */
export function ensureParents(root: string, rel: string): void {
  for (const dir of missingParents(root, rel)) {
    try {
      fs.mkdirSync(path.join(root, dir));
    } catch (e) {
      if (!(isSystemError(e) && e.code === 'EEXIST')) throw e;
    }
    if (inspect(root, dir) !== 'dir') throw new LocalIoError(`cannot use ${path.join(root, dir)} as a folder`);
  }
}

/** The bytes of a file in the tree, or undefined when there is none; never through a link. */
export function readTreeFile(root: string, rel: string): Buffer | undefined {
  return inspectFile(root, rel) === 'file' ? fs.readFileSync(path.join(root, rel)) : undefined;
}

/** Removes now-empty folders from `rel`'s parent up to (not including) the root; never through a link. */
export function removeEmptyParents(root: string, rel: string): void {
  const segs = rel.split('/').slice(0, -1);
  for (let i = segs.length; i > 0; i--) {
    const dir = segs.slice(0, i).join('/');
    if (inspect(root, dir) !== 'dir') return;
    try {
      forgetFolders();
      fs.rmdirSync(path.join(root, dir));
    } catch (e) {
      if (isSystemError(e) && (e.code === 'ENOTEMPTY' || e.code === 'EEXIST' || e.code === 'ENOENT')) return;
      throw e;
    }
  }
}

/** fsync of a file or folder, so a rename or a new entry survives a power cut (a no-op where unsupported). */
export function fsyncPath(p: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(p, 'r');
    fs.fsyncSync(fd);
  } catch (e) {
    if (!(isSystemError(e) && (e.code === 'EINVAL' || e.code === 'EISDIR' || e.code === 'ENOENT' || e.code === 'EBADF'))) throw e;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Writes a new file and fsyncs it before closing. */
export function writeDurable(file: string, content: Buffer | string): void {
  const fd = fs.openSync(file, 'wx');
  try {
    fs.writeFileSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Wraps a system error of an operation on `target` into one line: the path, the cause, and what it means for the tree. */
export function ioError(e: unknown, verb: string, target: string, state: string): Error {
  if (e instanceof LocalIoError || e instanceof TreeWriteError) return e;
  if (isSystemError(e)) return new LocalIoError(`cannot ${verb} ${target}: ${causeOf(e)}; ${state}`, { cause: e });
  return e as Error;
}
