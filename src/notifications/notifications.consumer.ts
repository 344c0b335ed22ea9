import type { EntityManager } from '@mikro-orm/postgresql';
import type { Row } from '../db/database';
import { query, sql } from '../db/sql';
import { applyOnce, type ConsumerOutcome, type EventConsumer } from '../messaging/consumer';
import type { DomainEventMessage } from '../messaging/domain-events';
import {
  insertNotification,
  insertNotificationOnce,
  insertNotificationsOnce,
  type NotificationDraft,
} from './notifications.service';

const won = (amount: number | undefined) =>
  amount === undefined ? '' : ` ₩${amount.toLocaleString('en-US')}`;

const CANCEL_REASONS: Record<string, string> = {
  USER_CANCELLED: 'at your request',
  REFUNDED: 'after a full refund',
  PAYMENT_FAILED: 'because its payment failed',
};

type Content = Omit<NotificationDraft, 'userId' | 'eventId' | 'orderId'>;

const NOTIFYING = [
  'ORDER_CREATED',
  'PAYMENT_SUCCEEDED',
  'PAYMENT_FAILED',
  'ORDER_CANCELLED',
  'REFUND_COMPLETED',
  'COUPON_ISSUED',
] as const;
type NotifyingEvent = Extract<DomainEventMessage, { type: (typeof NOTIFYING)[number] }>;
const notifies = (event: DomainEventMessage): event is NotifyingEvent =>
  (NOTIFYING as readonly string[]).includes(event.type);

/** The buyer-facing text of each event type that notifies (API.md "Notifications"); null: none. */
function contentFor(event: NotifyingEvent, orderNo: string): Content | null {
  switch (event.type) {
    case 'ORDER_CREATED':
      return {
        type: 'ORDER_CREATED',
        title: 'Order received',
        body: `Order ${orderNo} (${won(event.data.total).trim()}) was placed and is waiting for payment.`,
      };
    case 'PAYMENT_SUCCEEDED':
      return {
        type: 'PAYMENT_SUCCEEDED',
        title: 'Payment completed',
        body: `We received your payment of${won(event.data.amount)} for order ${orderNo}.`,
      };
    case 'PAYMENT_FAILED':
      return {
        type: 'PAYMENT_FAILED',
        title: 'Payment failed',
        body: `The payment for order ${orderNo} failed (${event.data.reason || 'declined'}); the order was cancelled.`,
      };
    case 'ORDER_CANCELLED': {
      const reason = event.data.cancelReason;
      if (reason === 'PAYMENT_TIMEOUT') {
        return {
          type: 'ORDER_EXPIRED',
          title: 'Order expired',
          body: `Order ${orderNo} was cancelled because it was not paid in time.`,
        };
      }
      // The PAYMENT_FAILED notification already says the order was cancelled.
      if (reason === 'PAYMENT_FAILED') return null;
      const why = reason ? CANCEL_REASONS[reason] : undefined;
      return {
        type: 'ORDER_CANCELLED',
        title: 'Order cancelled',
        body: `Order ${orderNo} was cancelled${why ? ` ${why}` : ''}.`,
      };
    }
    case 'REFUND_COMPLETED':
      return {
        type: 'REFUND_COMPLETED',
        title: 'Refund completed',
        body: `${won(event.data.amount).trim()} for order ${orderNo} was refunded.`,
      };
    case 'COUPON_ISSUED': {
      const name = event.data.name || event.data.code;
      return {
        type: 'COUPON_ISSUED',
        title: 'Coupon issued',
        body: name ? `You received the coupon "${name}".` : 'You received a coupon.',
      };
    }
  }
}

function orderIdOf(event: NotifyingEvent): string | undefined {
  const orderId = 'orderId' in event.data ? event.data.orderId : undefined;
  return typeof orderId === 'string' && orderId.length > 0 ? orderId : undefined;
}
/** Every event about an order carries its number; only events written before they did have it read. */
const orderNoOfEvent = (event: NotifyingEvent) =>
  'orderNo' in event.data && typeof event.data.orderNo === 'string' && event.data.orderNo.length > 0
    ? event.data.orderNo
    : undefined;

async function orderNoOf(tx: EntityManager, event: NotifyingEvent): Promise<string> {
  const orderNo = orderNoOfEvent(event);
  if (orderNo) return orderNo;
  const orderId = orderIdOf(event);
  if (!orderId) return '';
  const [row] = await query<Row<'orders', 'order_no'>>(
    tx,
    sql`select order_no from orders where id = ${orderId}`,
  );
  return row?.order_no ?? '';
}

function draftOf(event: NotifyingEvent, orderNo: string): NotificationDraft | null {
  const content = contentFor(event, orderNo);
  return content
    ? { ...content, userId: event.data.userId, orderId: orderIdOf(event) ?? null, eventId: event.id }
    : null;
}

/** Everything the notification needs is in the event (the common case): no read. */
const selfContained = (event: NotifyingEvent) =>
  orderNoOfEvent(event) !== undefined || orderIdOf(event) === undefined;

/** Writes the buyer's notification of an order, payment, refund or coupon event, once. */
export const notificationsConsumer: EventConsumer = {
  name: 'notifications',
  handles: notifies,
  acknowledges: (_ctx, event) => notifies(event) && contentFor(event, '') !== null,
  /** The self-contained events of a job in one statement; the others one by one. */
  applyMany: async (ctx, events, log) => {
    const outcomes = new Map<string, ConsumerOutcome>();
    const drafts: { draft: NotificationDraft; at: Date }[] = [];
    for (const event of events) {
      if (!notifies(event)) continue;
      if (!selfContained(event)) {
        outcomes.set(event.id, await notificationsConsumer.apply(ctx, event, log));
        continue;
      }
      const draft = draftOf(event, orderNoOfEvent(event) ?? '');
      if (draft) drafts.push({ draft, at: new Date(event.occurredAt) });
      else outcomes.set(event.id, 'skipped');
    }
    const first = await insertNotificationsOnce(ctx.orm.em.fork(), 'notifications', drafts);
    for (const { draft } of drafts)
      outcomes.set(draft.eventId, first.has(draft.eventId) ? 'applied' : 'duplicate');
    return outcomes;
  },
  apply: async (ctx, event) => {
    if (!notifies(event)) return 'skipped';
    const draft = (orderNo: string) => draftOf(event, orderNo);
    const orderNo = orderNoOfEvent(event);
    if (orderNo !== undefined || orderIdOf(event) === undefined) {
      // Everything is in the event (the common case): one statement records it and writes the row.
      const notification = draft(orderNo ?? '');
      if (!notification) return 'skipped';
      return insertNotificationOnce(
        ctx.orm.em.fork(),
        'notifications',
        notification,
        new Date(event.occurredAt),
      );
    }
    return applyOnce(ctx, 'notifications', event, async (tx) => {
      const notification = draft(await orderNoOf(tx, event));
      if (notification) await insertNotification(tx, notification, new Date(event.occurredAt));
    });
  },
};
