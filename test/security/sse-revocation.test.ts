import type { AddressInfo } from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app';
import { announceOrderChanges } from '../../src/messaging/order-status';
import { closeOrderStatusStreams } from '../../src/messaging/order-status-hub';
import { createFixtureProduct, type FixtureProduct, placeFixtureOrder } from '../support/order-fixtures';
import { markPaid } from '../support/orders';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';
import { eventually } from '../support/worker-process';

// Security review (Low): an open order event stream kept delivering after its token was revoked
// (logout, password change, role change): the token was checked only when the stream opened. Now it is
// checked again before each event and each heartbeat, and the stream ends once it is no longer valid.

let shop: TestShop;
/** The shop's app (heartbeat every 15 s, so only a status event can end a stream in these tests). */
let server: ServerType;
let base: string;
/** The same shop with a heartbeat every 200 ms: a revoked stream must end without any event. */
let heartbeatServer: ServerType;
let heartbeatBase: string;
let product: FixtureProduct;

const listen = (fetch: (request: Request) => Response | Promise<Response>) =>
  new Promise<ServerType>((resolve) => {
    const s = serve({ fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
const baseOf = (s: ServerType) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;

beforeAll(async () => {
  shop = await createTestShop();
  expect(shop.config.sseHeartbeatMs).toBe(15_000);
  server = await listen(shop.app.fetch);
  base = baseOf(server);
  const quick = createApp({ ...shop.ctx, config: { ...shop.config, sseHeartbeatMs: 200 } });
  heartbeatServer = await listen(quick.fetch);
  heartbeatBase = baseOf(heartbeatServer);
  product = await createFixtureProduct(shop, await shop.createUser('SELLER'));
});
afterAll(async () => {
  closeOrderStatusStreams();
  await Promise.all([server, heartbeatServer].map((s) => new Promise((r) => s?.close(r))));
  await shop?.close();
});

/** Reads a real event stream over HTTP; `ended` once the server closes it. */
async function watch(at: string, orderId: string, user: TestUser) {
  const abort = new AbortController();
  const res = await fetch(`${at}/api/v1/orders/${orderId}/events?access_token=${user.token}`, {
    signal: abort.signal,
  });
  expect(res.status).toBe(200);
  const messages: { event?: string; data?: string; comment?: string }[] = [];
  const state = { ended: false };
  const reading = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body!) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const message: Record<string, string> = {};
          for (const line of buffer.slice(0, end).split('\n')) {
            if (line.startsWith(':')) message.comment = line.slice(1).trim();
            else {
              const [field, ...rest] = line.split(': ');
              message[field!] = rest.join(': ');
            }
          }
          messages.push(message);
          buffer = buffer.slice(end + 2);
        }
      }
      state.ended = true;
    } catch {
      // aborted by the test
    }
  })();
  return {
    messages,
    statuses: () =>
      messages.filter((m) => m.event === 'status').map((m) => JSON.parse(m.data!).status as string),
    heartbeats: () => messages.filter((m) => m.comment === 'heartbeat').length,
    ended: () => state.ended,
    close: async () => {
      abort.abort();
      await reading;
    },
  };
}

describe('an open order event stream whose token is revoked', () => {
  it('ends at the next status event without delivering it (logout)', async () => {
    const buyer = await shop.createUser('BUYER');
    const admin = await shop.createUser('ADMIN');
    const orderId = await placeFixtureOrder(shop, buyer, product);
    const mine = await watch(base, orderId, buyer);
    const staff = await watch(base, orderId, admin);
    try {
      await eventually(async () => mine.statuses().length === 1 && staff.statuses().length === 1, 20_000);
      expect(mine.statuses()).toEqual(['PENDING']);

      const out = await shop.request('POST', '/api/v1/auth/logout', { token: buyer.token });
      expect(out.status).toBe(204);
      await markPaid(shop, buyer, orderId, product.price);
      await announceOrderChanges(shop.ctx, [orderId]);

      // The admin's token is still good: the change reached the streams…
      await eventually(async () => staff.statuses().includes('PAID'), 20_000);
      // …and the buyer's stream ended instead of showing it.
      await eventually(async () => mine.ended(), 20_000);
      expect(mine.statuses()).toEqual(['PENDING']);
      expect(staff.ended()).toBe(false);
    } finally {
      await Promise.all([mine.close(), staff.close()]);
    }
  });

  it('ends at the next heartbeat when nothing happens (password change), a valid stream goes on', async () => {
    const buyer = await shop.createUser('BUYER');
    const other = await shop.createUser('BUYER');
    const [orderId, otherOrderId] = [
      await placeFixtureOrder(shop, buyer, product),
      await placeFixtureOrder(shop, other, product),
    ];
    const revoked = await watch(heartbeatBase, orderId, buyer);
    const valid = await watch(heartbeatBase, otherOrderId, other);
    try {
      await eventually(async () => revoked.heartbeats() >= 1 && valid.heartbeats() >= 1, 20_000);
      const changed = await shop.request('POST', '/api/v1/auth/password', {
        token: buyer.token,
        body: { currentPassword: 'password123', newPassword: 'a brand new passphrase' },
      });
      expect(changed.status).toBe(200);
      await eventually(async () => revoked.ended(), 20_000);
      // The other stream keeps its heartbeats coming.
      const seen = valid.heartbeats();
      await eventually(async () => valid.heartbeats() >= seen + 2, 20_000);
      expect(valid.ended()).toBe(false);
    } finally {
      await Promise.all([revoked.close(), valid.close()]);
    }
  });

  it('ends when the watcher’s role changes (an admin demoted while watching)', async () => {
    const [root, watcher, buyer] = [
      await shop.createUser('ADMIN'),
      await shop.createUser('ADMIN'),
      await shop.createUser('BUYER'),
    ];
    const orderId = await placeFixtureOrder(shop, buyer, product);
    const stream = await watch(heartbeatBase, orderId, watcher);
    try {
      await eventually(async () => stream.statuses().length === 1, 20_000);
      const demoted = await shop.request('PATCH', `/api/v1/admin/users/${watcher.id}/role`, {
        token: root.token,
        body: { role: 'BUYER' },
      });
      expect(demoted.status).toBe(200);
      await eventually(async () => stream.ended(), 20_000);
    } finally {
      await stream.close();
    }
  });
});
