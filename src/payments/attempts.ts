import type { Job } from 'bullmq';
import type { Config } from '../config';
import { isGatewayTimeout } from '../errors/gateway-timeout.error';
import { isGatewayTransient } from '../errors/gateway-transient.error';

/**
 * Where one run of a capture or refund stands in its retry budget of PAYMENT_MAX_ATTEMPTS gateway
 * calls. The count that decides is the row's own `attempts` column, incremented and committed before
 * each call: unlike a BullMQ job's counter it survives crashes, lost jobs and re-offers by the sweep,
 * so the bound holds per payment, not per job.
 * - `more`: a transient failure is thrown back to BullMQ for a backoff and another try;
 * - `last`: this is the final call; if it fails transiently, ask the gateway what happened and settle;
 * - `spent`: every call was made by earlier runs (which crashed or lost their job): only ask and settle.
 */
export type AttemptBudget = 'more' | 'last' | 'spent';

export function attemptBudget(attemptsSoFar: number, maxAttempts: number, job: Job): AttemptBudget {
  if (attemptsSoFar > maxAttempts) return 'spent';
  const lastJobAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  return attemptsSoFar === maxAttempts || lastJobAttempt ? 'last' : 'more';
}

/** A gateway failure that another call may not repeat: retried while the budget lasts. */
export const isRetryableGatewayError = (error: unknown) =>
  isGatewayTransient(error) || isGatewayTimeout(error);

/** The payment's failureReason when the gateway never gave a definite answer. */
export const gatewayFailureReason = (error: unknown) =>
  isGatewayTimeout(error) ? 'GATEWAY_TIMEOUT' : 'GATEWAY_ERROR';

/**
 * How long a payment or refund can legitimately go without starting an attempt (each attempt stamps
 * `updated_at`): one gateway call timing out, the longest backoff before the next, and a crashed
 * worker's job being noticed as stalled (its lock lapsing, then the stalled check). Past this, its
 * message was lost (Redis restarted, a job failed while PostgreSQL was down) and the sweep offers it
 * again. With the defaults that is about 12 s, so an in-flight payment ends within ~15 s of an outage.
 */
export function retryWindowMs(
  config: Pick<
    Config,
    | 'paymentMaxAttempts'
    | 'gatewayTimeoutMs'
    | 'gatewayLatencyMs'
    | 'paymentRetryBaseMs'
    | 'workerLockMs'
    | 'workerStalledIntervalMs'
  >,
): number {
  const call = config.gatewayTimeoutMs + config.gatewayLatencyMs;
  const longestBackoff = config.paymentRetryBaseMs * 2 ** Math.max(0, config.paymentMaxAttempts - 2);
  return call + longestBackoff + config.workerLockMs + config.workerStalledIntervalMs;
}

/**
 * Asks the gateway whether it acted after all. No answer in time counts as "no": the payment (or
 * refund) must reach an outcome within its bounded retries, and the sweep keeps comparing it with the
 * gateway's ledger for a while afterwards (LATE_ANSWER_WATCH_MS), so money that lands late is still
 * reported and returned.
 */
export async function lookUpOrAssumeNothing<T>(lookup: () => Promise<T | undefined>): Promise<T | undefined> {
  try {
    return await lookup();
  } catch (error) {
    if (isRetryableGatewayError(error)) return undefined;
    throw error;
  }
}
