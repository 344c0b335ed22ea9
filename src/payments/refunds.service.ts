import type { AuthUser } from '../auth/auth-user';
import { type CommandResult, dispatchOrderCommand } from '../commands/dispatch';
import type { AppContext } from '../context';
import { DomainError } from '../errors/domain-error';
import { loadRefundView, type RefundView } from './payment-view';
import { requireIdempotencyKey } from './payments.service';

export interface RefundRequest {
  paymentId: string;
  amount?: number | undefined;
  reason?: string | undefined;
  restock?: boolean | undefined;
}

/**
 * Asks for a partial or full refund (the buyer, or an admin for anyone). The order's machine checks it
 * against what is left of the payment (400 REFUND_EXCEEDS_PAYMENT) and its state; the payment actor
 * then returns the money. Replays behave as for payments.
 */
export function requestRefund(
  ctx: AppContext,
  user: AuthUser,
  request: RefundRequest,
  idempotencyKey: string | undefined,
): Promise<CommandResult> {
  return dispatchOrderCommand(
    ctx,
    'REFUND',
    { userId: user.id, role: user.role, ...request },
    { idempotencyKey: requireIdempotencyKey(idempotencyKey) },
  );
}

/** The buyer and admins see a refund; anyone else is told it does not exist. */
export async function getRefund(ctx: AppContext, user: AuthUser, refundId: string): Promise<RefundView> {
  const view = await loadRefundView(ctx.orm.em.fork(), refundId);
  if (!view || (view.userId !== user.id && user.role !== 'ADMIN')) throw new DomainError('NOT_FOUND');
  return view;
}
