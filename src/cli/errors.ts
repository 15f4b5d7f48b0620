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
