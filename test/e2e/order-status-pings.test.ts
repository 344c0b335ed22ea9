import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainEventMessage } from '../../src/messaging/domain-events';
import { announceOrderChanges, orderStatusChannel } from '../../src/messaging/order-status';
import { OrderStatusHub } from '../../src/messaging/order-status-hub';
import { onChannelMessage, subscribeTo } from '../../src/messaging/pubsub';
import { createRedis, type Redis } from '../../src/messaging/redis';
import { orderStatusConsumer } from '../../src/orders/order-status.consumer';
import { createTestShop, type TestShop } from '../support/test-shop';
import { eventually } from '../support/worker-process';

let shop: TestShop;
let hub: OrderStatusHub;
let observer: Redis;
/** Every message on the order-status channel, as the observer's own subscription received it. */
const messages: string[] = [];

beforeAll(async () => {
  shop = await createTestShop({ WORKERS: 'none' });
  hub = new OrderStatusHub(shop.ctx);
  observer = createRedis(shop.config, 'subscriber', `${shop.config.redisPrefix}:ping-observer`);
  onChannelMessage(observer, (_channel, message) => messages.push(message));
  await subscribeTo(observer, orderStatusChannel(shop.ctx));
});
afterAll(async () => {
  hub?.close();
  observer?.disconnect();
  await shop?.close();
});

const orderEvent = (type: 'ORDER_PAID' | 'ORDER_CONFIRMED', orderId: string): DomainEventMessage => ({
  id: crypto.randomUUID(),
  type,
  aggregateType: 'order',
  aggregateId: orderId,
  occurredAt: new Date().toISOString(),
  data: { orderId, orderNo: 'ORD-1', userId: crypto.randomUUID(), total: 10 },
});

describe('order-status pings', () => {
  it('a batch of changes is one PUBLISH that pings each watched order once', async () => {
    const [a, b, c, unwatched, sentinel] = Array.from({ length: 5 }, () => crypto.randomUUID()) as [
      string,
      string,
      string,
      string,
      string,
    ];
    const heard = new Map<string, number>();
    const listen = (orderId: string) =>
      hub.subscribe(orderId, () => heard.set(orderId, (heard.get(orderId) ?? 0) + 1));
    const unsubscribe = await Promise.all([a, b, c, sentinel].map(listen));
    try {
      // Two events of `a`, one of `b` and `c`, one of an order nobody watches: one job's batch.
      const events = [
        orderEvent('ORDER_PAID', a),
        orderEvent('ORDER_PAID', b),
        orderEvent('ORDER_CONFIRMED', a),
        orderEvent('ORDER_PAID', c),
        orderEvent('ORDER_PAID', unwatched),
      ];
      const outcomes = await orderStatusConsumer.applyMany!(shop.ctx, events, shop.ctx.log);
      expect([...outcomes.values()]).toEqual(events.map(() => 'applied'));
      // Pings arrive in order on a connection: once the sentinel's is heard, the batch's was handled.
      await announceOrderChanges(shop.ctx, [sentinel]);
      await eventually(async () => heard.get(sentinel) === 1 && messages.some((m) => m.includes(sentinel)));

      expect(Object.fromEntries([a, b, c].map((id) => [id, heard.get(id)]))).toEqual({
        [a]: 1,
        [b]: 1,
        [c]: 1,
      });
      const batch = messages.filter((m) => m.includes(a) || m.includes(b) || m.includes(c));
      expect(batch).toHaveLength(1);
      expect(batch[0]!.split(',').sort()).toEqual([a, b, c, unwatched].sort());
    } finally {
      for (const stop of unsubscribe) stop();
    }
  });
});
