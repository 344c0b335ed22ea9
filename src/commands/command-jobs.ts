import type { JobsOptions } from 'bullmq';
import type { AppContext } from '../context';

/**
 * The options of a client command's job, whoever adds it (the dispatcher, the held senders, the
 * receipt sweeper putting a lost one back). Completed jobs are not kept: the receipt (the `commands`
 * row, written in the command's own transaction) is what de-duplicates and answers a retry.
 */
export const commandJobOptions = (config: AppContext['config']): JobsOptions => ({
  attempts: config.commandMaxAttempts,
  removeOnComplete: true,
});
