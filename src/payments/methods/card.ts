import { isGatewayDeclined } from '../../errors/gateway-declined.error';
import {
  attemptBudget,
  gatewayFailureReason,
  isRetryableGatewayError,
  lookUpOrAssumeNothing,
} from '../attempts';
import { paymentGateway } from '../gateway';
import type { PaymentMethodHandler } from './payment-method';

/**
 * CARD: captured and refunded at the payment gateway, within PAYMENT_MAX_ATTEMPTS calls (the row's
 * attempt count, not the job's). Out of attempts with the outcome unknown, the gateway is asked
 * whether it acted after all; the sweep keeps asking for a while (lateAnswers).
 */
export const cardPayments: PaymentMethodHandler = {
  async capture(ctx, job, p, _log, settle) {
    const gateway = paymentGateway(ctx);
    const budget = attemptBudget(p.attempts, ctx.config.paymentMaxAttempts, job);
    let lastFailure: unknown;
    // An earlier attempt may have reached the gateway (it timed out, or its worker died before the
    // commit): ask before charging again, so a retry never counts on the gateway deduplicating it.
    if (p.attempts > 1 && budget !== 'spent') {
      const earlier = await lookUpOrAssumeNothing(() => gateway.findCapture(p.id));
      if (earlier) return settle.succeeded(earlier.amount);
    }
    if (budget !== 'spent') {
      try {
        const charge = await gateway.capture({
          paymentId: p.id,
          orderId: p.order_id,
          amount: p.amount,
          cardToken: p.card_token,
        });
        return await settle.succeeded(charge.amount);
      } catch (error) {
        if (isGatewayDeclined(error)) return settle.failed(error.reason);
        if (!isRetryableGatewayError(error) || budget === 'more') throw error;
        lastFailure = error;
      }
    }
    // Out of attempts with the outcome unknown: the gateway may have captured after all.
    const captured = await lookUpOrAssumeNothing(() => gateway.findCapture(p.id));
    if (captured) return settle.succeeded(captured.amount);
    return settle.failed(gatewayFailureReason(lastFailure));
  },

  async refund(ctx, job, r, _log, settle) {
    const gateway = paymentGateway(ctx);
    const budget = attemptBudget(r.attempts, ctx.config.paymentMaxAttempts, job);
    let lastFailure: unknown;
    // As for captures: an earlier attempt may have refunded already; never count on the gateway's dedupe.
    if (r.attempts > 1 && budget !== 'spent' && (await lookUpOrAssumeNothing(() => gateway.findRefund(r.id))))
      return settle.completed();
    if (budget !== 'spent') {
      try {
        await gateway.refund({
          refundId: r.id,
          paymentId: r.payment_id,
          orderId: r.order_id,
          amount: r.amount,
        });
        return await settle.completed();
      } catch (error) {
        if (isGatewayDeclined(error)) return settle.failed(error.reason);
        if (!isRetryableGatewayError(error) || budget === 'more') throw error;
        lastFailure = error;
      }
    }
    if (await lookUpOrAssumeNothing(() => gateway.findRefund(r.id))) return settle.completed();
    return settle.failed(String(lastFailure ?? 'attempts spent'));
  },

  lateAnswers: {
    findCapture: (ctx, paymentId) => lookUpOrAssumeNothing(() => paymentGateway(ctx).findCapture(paymentId)),
    findRefund: async (ctx, refundId) =>
      !!(await lookUpOrAssumeNothing(() => paymentGateway(ctx).findRefund(refundId))),
  },
};
