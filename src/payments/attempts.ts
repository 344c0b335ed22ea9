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
 * How long a payment or refund can legitimately stay REQUESTED/PROCESSING: every attempt timing out,
 * every backoff, and a crashed worker's job being noticed as stalled. Past this, its message was lost.
 */
export function retryWindowMs(
  config: Pick<
    Config,
    'paymentMaxAttempts' | 'gatewayTimeoutMs' | 'gatewayLatencyMs' | 'paymentRetryBaseMs' | 'workerLockMs'
  >,
): number {
  const calls = config.paymentMaxAttempts * (config.gatewayTimeoutMs + config.gatewayLatencyMs);
  const backoffs = config.paymentRetryBaseMs * (2 ** (config.paymentMaxAttempts - 1) - 1);
  return calls + backoffs + 2 * config.workerLockMs;
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
