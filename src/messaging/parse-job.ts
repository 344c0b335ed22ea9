import { UnrecoverableError } from 'bullmq';
import type { z } from 'zod';
import { type JobName, MAILBOX_JOBS, type Mailbox, type MailboxJob } from './messages';

/**
 * A job whose data does not match its mailbox's schema (forged, or written by an incompatible
 * version): retrying cannot fix it, so BullMQ fails it at once. `code` is the API error code a
 * command's FAILED receipt carries.
 */
export class InvalidJobError extends UnrecoverableError {
  readonly code = 'VALIDATION_ERROR';

  constructor(
    readonly queue: string,
    readonly jobName: string,
    readonly issues: { path: string; message: string }[],
  ) {
    super(
      `VALIDATION_ERROR: ${queue} job '${jobName}' refused: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
    );
    // BullMQ (and anyone reading the failed job) recognises the kind by this name.
    this.name = 'UnrecoverableError';
  }
}

export const isInvalidJobError = (error: unknown): error is InvalidJobError =>
  error instanceof InvalidJobError;

export function parseWith<S extends z.ZodType>(
  schema: S,
  queue: string,
  jobName: string,
  data: unknown,
): z.infer<S> {
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    throw new InvalidJobError(
      queue,
      jobName,
      parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    );
  }
  return parsed.data;
}

/**
 * The typed form of a mailbox job, parsed with MAILBOX_JOBS; undefined for a job name the mailbox
 * does not know (the worker decides what to do with it).
 */
export function parseMailboxJob<Q extends Mailbox>(
  queue: Q,
  job: { name: string; data: unknown },
): MailboxJob<Q> | undefined {
  const schemas: Record<string, z.ZodType> = MAILBOX_JOBS[queue];
  const schema = Object.hasOwn(schemas, job.name) ? schemas[job.name] : undefined;
  if (!schema) return undefined;
  const data = parseWith(schema, queue, job.name, job.data);
  return { name: job.name as JobName<Q>, data } as MailboxJob<Q>;
}
