import type { EntityManager } from '@mikro-orm/postgresql';
import { isBalanceConflictError } from '../errors/balance-conflict.error';

export interface RetryOptions {
  /** Total attempts, the first included. */
  attempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

const DEFAULTS: Required<RetryOptions> = { attempts: 20, baseDelayMs: 2, maxDelayMs: 100 };

/**
 * Runs `work` again while it fails with a BalanceConflictError, up to `attempts` times, sleeping a
 * random ("full jitter") exponential delay between tries so racing writers spread out instead of
 * colliding again in lockstep. `work` must be a whole transaction: it starts from a fresh read.
 */
export async function retryOnBalanceConflict<T>(
  work: (attempt: number) => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const { attempts, baseDelayMs, maxDelayMs } = { ...DEFAULTS, ...options };
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(attempt);
    } catch (error) {
      if (!isBalanceConflictError(error) || attempt >= attempts) throw error;
      const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** attempt);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
    }
  }
}

/** `em.transactional(work)` in a fresh fork, run again from the start on a balance conflict. */
export function balanceTransaction<T>(
  em: EntityManager,
  work: (em: EntityManager) => Promise<T>,
  options?: RetryOptions,
): Promise<T> {
  return retryOnBalanceConflict(() => em.fork().transactional((tx) => work(tx)), options);
}
