import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isSystemError, LocalIoError } from '../io-errors';

/**
 * One writer per tree: `.tagflow/lock`, created with O_EXCL, holds the pid, host, boot id and process start
 * time of its run. A second run finds it and stops with "in progress" (exit 4), unless the lock is stale:
 * its run is dead (same host, and the pid is gone, or now belongs to a process started at another time, or
 * the machine rebooted since). A stale lock is taken over by renaming it away first, so of two runs that
 * find the same stale lock only one wins.
 *
 * Hand-written rather than `proper-lockfile`: that library decides staleness by mtime refreshed from a
 * timer, which a synchronous write phase never lets fire, and it knows nothing of pids or reboots.
 */
export interface LockInfo {
  readonly pid: number;
  readonly host: string;
  readonly bootId?: string;
  /** Start time of the process in clock ticks since boot (/proc/<pid>/stat field 22), where known. */
  readonly procStart?: string;
  readonly started: string;
}

export class TreeBusyError extends LocalIoError {}

function readProc(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

const bootId = () => readProc('/proc/sys/kernel/random/boot_id')?.trim();

/** The start time of a process (field 22 of /proc/<pid>/stat, after the parenthesized command). */
function procStart(pid: number): string | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return isSystemError(e) && e.code === 'EPERM';
  }
}

/** Why a lock is stale, or undefined when its run may still be going. */
export function staleness(info: Partial<LockInfo>): string | undefined {
  if (typeof info.pid !== 'number' || typeof info.host !== 'string') return 'it is not a tagflow lock';
  if (info.host !== os.hostname()) return undefined; // another machine's run (a shared folder): cannot tell
  const boot = bootId();
  if (info.bootId && boot && info.bootId !== boot) return 'the machine restarted since';
  if (!alive(info.pid)) return `process ${info.pid} is gone`;
  const start = procStart(info.pid);
  if (info.procStart && start && start !== info.procStart) return `pid ${info.pid} now belongs to another process`;
  return undefined;
}

function parse(text: string): Partial<LockInfo> | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' ? (v as Partial<LockInfo>) : undefined;
  } catch {
    return undefined;
  }
}

/** Takes the lock of a tree (`<root>/.tagflow/lock`; `.tagflow` must exist); returns the function that releases it. */
export function acquireTreeLock(root: string): () => void {
  const lock = path.join(root, '.tagflow', 'lock');
  const info: LockInfo = { pid: process.pid, host: os.hostname(), bootId: bootId(), procStart: procStart(process.pid), started: new Date().toISOString() };
  const text = JSON.stringify(info);
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number;
    try {
      fd = fs.openSync(lock, 'wx');
    } catch (e) {
      if (!(isSystemError(e) && e.code === 'EEXIST')) throw e;
      const held = readProc(lock);
      if (held === undefined) continue; // released meanwhile
      const other = parse(held);
      // A lock being written this very moment is empty for an instant: only an old unreadable lock is stale.
      const age = Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? 0);
      const why = other ? staleness(other) : age > 10_000 ? 'it is not a tagflow lock' : undefined;
      if (!why) {
        const who = other ? `pid ${other.pid} on ${other.host}, since ${other.started}` : 'a run that is starting';
        throw new TreeBusyError(`${root}: another tagflow run is writing this tree (${who}); try again when it ends, or, if no tagflow runs there, delete ${lock}`);
      }
      takeOver(lock, held);
      continue;
    }
    try {
      fs.writeFileSync(fd, text);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    return () => {
      if (readProc(lock) === text) fs.rmSync(lock, { force: true });
    };
  }
  throw new TreeBusyError(`${root}: could not take ${lock} (other runs keep taking it)`);
}

/** Moves a stale lock away; if what was moved is not that stale lock (another run took over first), puts it back. */
function takeOver(lock: string, staleText: string): void {
  const aside = `${lock}.stale-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  try {
    fs.renameSync(lock, aside);
  } catch (e) {
    if (isSystemError(e) && e.code === 'ENOENT') return;
    throw e;
  }
  if (readProc(aside) !== staleText) {
    try {
      fs.linkSync(aside, lock);
    } catch {
      /* a newer lock is in place already */
    }
  }
  fs.rmSync(aside, { force: true });
}
