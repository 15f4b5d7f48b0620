/**
 * Errors of the local file system (not of the input, not of a registry): exit 4, one line naming the path
 * and the cause. `tagflow --debug` prints the stack as well.
 */
export class LocalIoError extends Error {
  public readonly exitCode = 4;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LocalIoError';
  }
}

/** A Node.js system error (`fs` and friends): it has an errno code such as ENOSPC and usually a path. */
export interface SystemError extends Error {
  readonly code: string;
  readonly syscall?: string;
  readonly path?: string;
  readonly dest?: string;
}

export function isSystemError(e: unknown): e is SystemError {
  // No `instanceof Error`: errors from Node's core can come from another realm (jest's sandbox, vm).
  return typeof e === 'object' && e !== null && typeof (e as Partial<SystemError>).code === 'string' && /^E[A-Z0-9]+$/.test((e as SystemError).code) && typeof (e as SystemError).syscall === 'string';
}

const CAUSES: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted (an immutable or protected file or folder?)',
  EROFS: 'read-only file system',
  ENOTDIR: 'a file stands where a folder must be',
  EISDIR: 'a folder stands where a file must be',
  ENOENT: 'no such file or folder',
  EEXIST: 'already exists',
  ENOTEMPTY: 'the folder is not empty',
  EIO: 'input/output error of the device',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'the name is too long',
  EBUSY: 'the file or folder is busy',
  EXDEV: 'the rename crosses file systems',
  EFBIG: 'the file is too large',
};

/** `no space left on the device (ENOSPC)`: the cause of a system error in words, with its code. */
export function causeOf(e: SystemError): string {
  return `${CAUSES[e.code] ?? e.message.replace(/^[A-Z0-9]+: /, '').replace(/, \w+ '.*$/, '')} (${e.code})`;
}

/** One line for any system error that reached the CLI: `<path>: <cause> (<CODE>)`. */
export function describeSystemError(e: SystemError): string {
  const where = e.path ? (e.dest ? `${e.path} -> ${e.dest}` : e.path) : (e.syscall ?? 'file system');
  return `${where}: ${causeOf(e)}`;
}
