import type { EntityManager } from '@mikro-orm/postgresql';
import type { Job } from 'bullmq';
import type { Selectable } from 'kysely';
import type { AppContext } from '../../context';
import type { DB } from '../../db/database';
import type { PaymentMethod } from '../../db/schema/payment.entity';
import type { Logger } from '../../logger';

export type { PaymentMethod };

/** A payment being captured: this run's attempt (its `attempts` included), committed before the method is called. */
export type PaymentAttempt = Pick<
  Selectable<DB['payments']>,
  'id' | 'order_id' | 'user_id' | 'method' | 'amount' | 'card_token' | 'attempts'
>;

/** A refund being carried out, with its payment's method. */
export type RefundAttempt = Pick<
  Selectable<DB['refunds']>,
  'id' | 'payment_id' | 'order_id' | 'user_id' | 'amount' | 'restock' | 'attempts'
> & { method: PaymentMethod };

/** Work that must commit together with the news of the outcome (a balance debit or credit). */
export type Alongside = (tx: EntityManager) => Promise<unknown>;

/** How a method settles a capture: the order is told either way, by the capture itself. */
export interface CaptureSettlement {
  succeeded: (amount: number, alongside?: Alongside) => Promise<string>;
  failed: (reason: string) => Promise<string>;
}

/** How a method settles a refund. */
export interface RefundSettlement {
  completed: (alongside?: Alongside) => Promise<string>;
  failed: (reason: string) => Promise<string>;
}

/**
 * One way of paying (Vendure's PaymentMethodHandler): how it takes and returns money, and how it
 * finds out, after a crash or a timeout, whether an earlier attempt went through. capture.ts,
 * refund.ts and the payment sweep only ever call these; they never name a method.
 */
export interface PaymentMethodHandler {
  capture(
    ctx: AppContext,
    job: Job,
    payment: PaymentAttempt,
    log: Logger,
    settle: CaptureSettlement,
  ): Promise<string>;
  refund(
    ctx: AppContext,
    job: Job,
    refund: RefundAttempt,
    log: Logger,
    settle: RefundSettlement,
  ): Promise<string>;
  /**
   * For methods whose provider can act after its caller gave up (a gateway): the capture or refund
   * that landed late. Methods that settle inside the shop's own transaction have nothing to ask.
   */
  lateAnswers?: {
    findCapture(ctx: AppContext, paymentId: string): Promise<{ amount: number } | undefined>;
    findRefund(ctx: AppContext, refundId: string): Promise<boolean>;
  };
}
