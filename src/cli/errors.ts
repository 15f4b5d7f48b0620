/**
 * The exit codes of every command (README: "Exit codes"). Commands return ok/findings; errors carry theirs.
 */
export const EXIT = {
  ok: 0,
  /** check findings, simulate selecting nothing for an app, synth's own check failing, promote refused. */
  findings: 1,
  /** bad input: arguments, stack files, tags files, an invalid index in the tree. */
  badInput: 2,
  /** a registry (or AWS) is unreachable, refuses, answers garbage, or sends bytes that fail verification. */
  network: 3,
  /** the local file system: full, read-only, permission denied, a link or a file in the way, the tree locked by another run. */
  localIo: 4,
  /** a bug in tagflow (the stack trace is printed). */
  internal: 70,
} as const;

/** Errors a user can fix carry an exit code; anything else is a bug and keeps its stack trace. */
export interface UserError extends Error {
  readonly exitCode: number;
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof Error && typeof (e as Partial<UserError>).exitCode === 'number';
}

/** A usage or input error of a command: exit 2. */
export class UsageError extends Error {
  public readonly exitCode = 2;
}
