import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Writes tagflow's files into a GitOps tree that may hold other files:
 *  - all content is staged in a temporary folder inside the tree first, then each changed file is moved
 *    into place with rename(2), which is atomic; files whose bytes are unchanged are not touched;
 *  - an index per owner (stack) in `.tagflow/<owner>.json` lists what tagflow wrote, so files it no longer
 *    produces are pruned, and files it did not write are never overwritten nor deleted;
 *  - the index itself is replaced atomically, last.
 */
export const INDEX_DIR = '.tagflow';

export interface TreeIndex {
  readonly version: 1;
  readonly owner: string;
  readonly files: readonly { readonly path: string; readonly sha256: string }[];
}

export interface TreeWriteResult {
  readonly written: readonly string[];
  readonly unchanged: readonly string[];
  readonly pruned: readonly string[];
}

export class TreeWriteError extends Error {
  public readonly exitCode = 2;
}

const sha256 = (b: Buffer | string) => crypto.createHash('sha256').update(b).digest('hex');

function indexPath(outDir: string, owner: string): string {
  return path.join(outDir, INDEX_DIR, `${owner}.json`);
}

export function readIndex(outDir: string, owner: string): TreeIndex | undefined {
  const p = indexPath(outDir, owner);
  if (!fs.existsSync(p)) return undefined;
  const idx = JSON.parse(fs.readFileSync(p, 'utf8')) as TreeIndex;
  if (idx.version !== 1 || !Array.isArray(idx.files)) throw new TreeWriteError(`${p}: not a tagflow index (version 1)`);
  return idx;
}

/** Every path any owner's index lists, with the owners listing it. */
function ownedPaths(outDir: string): Map<string, Set<string>> {
  const owned = new Map<string, Set<string>>();
  const dir = path.join(outDir, INDEX_DIR);
  if (!fs.existsSync(dir)) return owned;
  for (const f of fs.readdirSync(dir).sort()) {
    if (!f.endsWith('.json')) continue;
    const idx = readIndex(outDir, f.slice(0, -5));
    for (const e of idx?.files ?? []) {
      const s = owned.get(e.path) ?? new Set<string>();
      s.add(idx!.owner);
      owned.set(e.path, s);
    }
  }
  return owned;
}

function assertSafeRelative(p: string): void {
  if (path.isAbsolute(p) || p.split(/[\\/]/).some((s) => s === '..' || s === '') || p.startsWith(INDEX_DIR + '/')) {
    throw new TreeWriteError(`refusing to write outside the tree or into ${INDEX_DIR}/: ${p}`);
  }
}

function atomicWrite(target: string, content: Buffer | string, tmpDir: string): void {
  const staged = path.join(tmpDir, crypto.randomBytes(8).toString('hex'));
  fs.writeFileSync(staged, content);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.renameSync(staged, target);
}

/** Removes now-empty folders from `dir` up to (not including) `stop`. */
function removeEmptyParents(dir: string, stop: string): void {
  let d = dir;
  while (d.startsWith(stop + path.sep) && d !== stop) {
    if (fs.existsSync(d) && fs.readdirSync(d).length === 0) fs.rmdirSync(d);
    else break;
    d = path.dirname(d);
  }
}

/**
 * Checks, without writing, that `files` can be written: throws TreeWriteError when a path
 * holds a file tagflow did not write.
 */
export function checkTree(outDir: string, files: ReadonlyMap<string, Buffer | string>): void {
  const owned = ownedPaths(outDir);
  for (const p of files.keys()) {
    assertSafeRelative(p);
    const full = path.join(outDir, p);
    if (fs.existsSync(full) && !owned.has(p)) {
      throw new TreeWriteError(`refusing to overwrite ${full}: tagflow did not write it (it is in no ${INDEX_DIR}/ index); move it away or delete it`);
    }
    if (fs.existsSync(full) && !fs.statSync(full).isFile()) throw new TreeWriteError(`refusing to replace ${full}: it is not a file`);
  }
}

export function writeTree(outDir: string, owner: string, files: ReadonlyMap<string, Buffer | string>): TreeWriteResult {
  if (!/^[A-Za-z0-9_.-]+$/.test(owner)) throw new TreeWriteError(`owner '${owner}' must be a stack name`);
  checkTree(outDir, files);
  fs.mkdirSync(outDir, { recursive: true });
  const root = fs.realpathSync(outDir);
  const tmpDir = fs.mkdtempSync(path.join(root, '.tagflow-tmp-'));
  const written: string[] = [];
  const unchanged: string[] = [];
  const pruned: string[] = [];
  try {
    const previous = readIndex(root, owner);
    const sorted = [...files.keys()].sort();
    for (const p of sorted) {
      const content = files.get(p)!;
      const full = path.join(root, p);
      const buf = typeof content === 'string' ? Buffer.from(content) : content;
      if (fs.existsSync(full) && fs.readFileSync(full).equals(buf)) {
        unchanged.push(p);
        continue;
      }
      atomicWrite(full, buf, tmpDir);
      written.push(p);
    }
    // Prune what this owner wrote before and no longer produces, unless another owner still lists it.
    const others = ownedPaths(root);
    for (const e of previous?.files ?? []) {
      if (files.has(e.path)) continue;
      const owners = others.get(e.path);
      owners?.delete(owner);
      if (owners && owners.size > 0) continue;
      const full = path.join(root, e.path);
      if (fs.existsSync(full)) {
        fs.unlinkSync(full);
        pruned.push(e.path);
        removeEmptyParents(path.dirname(full), root);
      }
    }
    const index: TreeIndex = {
      version: 1,
      owner,
      files: sorted.map((p) => {
        const c = files.get(p)!;
        return { path: p, sha256: sha256(c) };
      }),
    };
    const indexText = JSON.stringify(index, null, 2) + '\n';
    const ip = indexPath(root, owner);
    if (!fs.existsSync(ip) || fs.readFileSync(ip, 'utf8') !== indexText) atomicWrite(ip, indexText, tmpDir);
  } finally {
    fs.rmSync(tmpDir, { recursive: true, force: true });
  }
  return { written, unchanged, pruned };
}
