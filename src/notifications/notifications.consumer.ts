import type { EntityManager } from '@mikro-orm/postgresql';
import type { Row } from '../db/database';
import { query, sql } from '../db/sql';
import type { LocalizedText } from '../errors/domain-error';
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

const CANCEL_REASONS: Record<string, LocalizedText> = {
  USER_CANCELLED: { en: 'at your request', ko: '고객 요청' },
  REFUNDED: { en: 'after a full refund', ko: '전액 환불' },
  PAYMENT_FAILED: { en: 'because its payment failed', ko: '결제 실패' },
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

/** "(주문번호 …, ₩…)": the Korean bodies name the order and amount after the sentence. */
const koOrder = (orderNo: string, amount?: number) =>
  ` (주문번호 ${orderNo}${amount === undefined ? '' : `,${won(amount)}`})`;

/** The buyer-facing text of each event type that notifies (API.md "Notifications"), in English and Korean; null: none. */
function contentFor(event: NotifyingEvent, orderNo: string): Content | null {
  switch (event.type) {
    case 'ORDER_CREATED':
      return {
        type: 'ORDER_CREATED',
        title: { en: 'Order received', ko: '주문 접수' },
        body: {
          en: `Order ${orderNo} (${won(event.data.total).trim()}) was placed and is waiting for payment.`,
          ko: `주문이 접수되어 결제를 기다리고 있습니다.${koOrder(orderNo, event.data.total)}`,
        },
      };
    case 'PAYMENT_SUCCEEDED':
      return {
        type: 'PAYMENT_SUCCEEDED',
        title: { en: 'Payment completed', ko: '결제 완료' },
        body: {
          en: `We received your payment of${won(event.data.amount)} for order ${orderNo}.`,
          ko: `결제가 완료되었습니다.${koOrder(orderNo, event.data.amount)}`,
        },
      };
    case 'PAYMENT_FAILED':
      return {
        type: 'PAYMENT_FAILED',
        title: { en: 'Payment failed', ko: '결제 실패' },
        body: {
          en: `The payment for order ${orderNo} failed (${event.data.reason || 'declined'}); the order was cancelled.`,
          ko: `결제에 실패하여(${event.data.reason || 'declined'}) 주문이 취소되었습니다.${koOrder(orderNo)}`,
        },
      };
    case 'ORDER_CANCELLED': {
      const reason = event.data.cancelReason;
      if (reason === 'PAYMENT_TIMEOUT') {
        return {
          type: 'ORDER_EXPIRED',
          title: { en: 'Order expired', ko: '주문 만료' },
          body: {
            en: `Order ${orderNo} was cancelled because it was not paid in time.`,
            ko: `결제 기한이 지나 주문이 취소되었습니다.${koOrder(orderNo)}`,
          },
        };
      }
      // The PAYMENT_FAILED notification already says the order was cancelled.
      if (reason === 'PAYMENT_FAILED') return null;
      const why = reason ? CANCEL_REASONS[reason] : undefined;
      return {
        type: 'ORDER_CANCELLED',
        title: { en: 'Order cancelled', ko: '주문 취소' },
        body: {
          en: `Order ${orderNo} was cancelled${why ? ` ${why.en}` : ''}.`,
          ko: `주문이 취소되었습니다${why ? `(${why.ko})` : ''}.${koOrder(orderNo)}`,
        },
      };
    }
    case 'REFUND_COMPLETED':
      return {
        type: 'REFUND_COMPLETED',
        title: { en: 'Refund completed', ko: '환불 완료' },
        body: {
          en: `${won(event.data.amount).trim()} for order ${orderNo} was refunded.`,
          ko: `환불이 완료되었습니다.${koOrder(orderNo, event.data.amount)}`,
        },
      };
    case 'COUPON_ISSUED': {
      const name = event.data.name || event.data.code;
      return {
        type: 'COUPON_ISSUED',
        title: { en: 'Coupon issued', ko: '쿠폰 발급' },
        body: name
          ? { en: `You received the coupon "${name}".`, ko: `쿠폰이 발급되었습니다: "${name}"` }
          : { en: 'You received a coupon.', ko: '쿠폰이 발급되었습니다.' },
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
