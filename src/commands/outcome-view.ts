import { getInventory, type InventoryView } from '../catalog/inventory.service';
import type { AppContext } from '../context';
import { loadOrderView, type OrderView } from '../orders/order-view';
import { loadPaymentView, loadRefundView, type PaymentView, type RefundView } from '../payments/payment-view';
import type { DomainOutcome } from './outcome';

export type OutcomeView = OrderView | PaymentView | RefundView | InventoryView;

/** The aggregate an outcome names, as its module's view shows it now (after the command's commit). */
export async function loadOutcomeView(ctx: AppContext, outcome: DomainOutcome): Promise<OutcomeView | null> {
  const em = ctx.orm.em.fork();
  switch (outcome.kind) {
    case 'order':
      return (await loadOrderView(em, outcome.id)) ?? null;
    case 'payment':
      return (await loadPaymentView(em, outcome.id)) ?? null;
    case 'refund':
      return (await loadRefundView(em, outcome.id)) ?? null;
    case 'inventory':
      return getInventory(ctx, outcome.id);
  }
}
