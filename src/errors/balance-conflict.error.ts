/**
 * Another transaction changed the user's balance between our read and our compare-and-set update.
 * The whole enclosing transaction must be retried from the start (see `retryOnBalanceConflict`).
 */
export class BalanceConflictError extends Error {
  constructor(
    readonly userId: string,
    readonly expectedVersion: number,
  ) {
    super(`The balance of user ${userId} changed under us (expected version ${expectedVersion})`);
    this.name = 'BalanceConflictError';
  }
}

export const isBalanceConflictError = (error: unknown): error is BalanceConflictError =>
  error instanceof BalanceConflictError;
