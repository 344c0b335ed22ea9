/** Another message for the same actor committed first; the step is retried against the new state. */
export class VersionConflictError extends Error {
  constructor(
    readonly entity: string,
    readonly id: string,
  ) {
    super(`${entity} ${id} was changed concurrently`);
    this.name = 'VersionConflictError';
  }
}

export const isVersionConflict = (error: unknown): error is VersionConflictError =>
  error instanceof VersionConflictError;
