import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { query, sql } from '../../src/db/sql';
import { uuidv7 } from '../../src/ids';
import { notifyOrder } from '../../src/orders/order-commands';
import type { TestShop } from './test-shop';
import { eventually } from './worker-process';

export const rows = <T>(shop: TestShop, statement: ReturnType<typeof sql>) =>
  query<T>(shop.ctx.orm.em.fork(), statement as never);

const tx = <T>(shop: TestShop, work: (em: any) => Promise<T>) => shop.ctx.orm.em.fork().transactional(work);

/** A fact from another actor (payment, timeout), applied through the order's own step. */
export async function notify(
  shop: TestShop,
  orderId: string,
  event: Record<string, unknown>,
  at = new Date(),
) {
  return tx(shop, (em) => notifyOrder(em, orderId, event as never, `test-${uuidv7()}`, at));
}

/** Until the relay has sent every domain event and no event or webhook job is waiting or running. */
export async function eventsSettled(shop: TestShop, timeoutMs = 20_000) {
  await eventually(async () => {
    const [pending] = await rows<{ n: number }>(
      shop,
      sql`select count(*)::int as n from outbox_events where queue = 'events' and status <> 'SENT'`,
    );
    if (pending!.n > 0) return false;
    for (const queue of [shop.ctx.queues.events, shop.ctx.queues.webhooks]) {
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      if (Object.values(counts).some((n) => n > 0)) return false;
    }
    return true;
  }, timeoutMs);
}

export interface ReceivedDelivery {
  headers: IncomingHttpHeaders;
  rawBody: string;
  status: number;
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedDelivery[];
  close: () => Promise<void>;
}

/**
 * A real HTTP endpoint: `answer` decides each response's status from the request (default 200).
 */
export async function startReceiver(
  answer: (delivery: Omit<ReceivedDelivery, 'status'>, index: number) => number = () => 200,
): Promise<WebhookReceiver> {
  const received: ReceivedDelivery[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const delivery = { headers: req.headers, rawBody: Buffer.concat(chunks).toString('utf8') };
      const status = answer(delivery, received.length);
      received.push({ ...delivery, status });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
