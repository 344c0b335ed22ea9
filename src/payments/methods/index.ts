import { PAYMENT_METHODS, type PaymentMethod } from '../../db/schema/payment.entity';
import { balancePayments } from './balance';
import { cardPayments } from './card';
import type { PaymentMethodHandler } from './payment-method';

/**
 * One handler per payment method (PAYMENT_METHODS, the schema's enum): the compiler refuses a
 * method without a handler. Adding a method: its handler file, its entry here, the enum, a migration.
 */
export const PAYMENT_METHOD_HANDLERS = {
  CARD: cardPayments,
  BALANCE: balancePayments,
} satisfies Record<PaymentMethod, PaymentMethodHandler>;

export const handlerFor = (method: PaymentMethod): PaymentMethodHandler => PAYMENT_METHOD_HANDLERS[method];

/** The methods whose provider can answer late (the payment sweep compares them with it). */
export const METHODS_WITH_LATE_ANSWERS = PAYMENT_METHODS.filter((m) => handlerFor(m).lateAnswers);
