import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ServerType, serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quickStart } from '../../clients/ts/examples/quick-start';
import { generateClientTypes } from '../../clients/ts/generator/generate-types';
import { createProduct } from '../support/catalog';
import { createTestShop, type TestShop } from '../support/test-shop';

const TYPES_FILE = join(import.meta.dirname, '../../clients/ts/openapi.d.ts');

let shop: TestShop;
let server: ServerType | undefined;
let baseUrl: string;
beforeAll(async () => {
  shop = await createTestShop({ WORKERS: 'all', PAYMENT_GATEWAY_LATENCY_MS: '20' });
  // A real HTTP server on a free port: the client goes through fetch, sockets and the SSE stream.
  baseUrl = await new Promise<string>((resolve) => {
    server = serve({ fetch: shop.app.fetch, port: 0, hostname: '127.0.0.1' }, (info) =>
      resolve(`http://127.0.0.1:${info.port}`),
    );
  });
});
afterAll(async () => {
  if (server) {
    (server as { closeAllConnections?: () => void }).closeAllConnections?.();
    await new Promise<void>((resolve) => server!.close(() => resolve()));
  }
  await shop?.close();
});

describe('the typed storefront client (clients/ts)', () => {
  it('has types generated from the current /openapi.json (else: npm run client:generate)', async () => {
    const res = await shop.request('GET', '/openapi.json');
    expect(res.status).toBe(200);
    const expected = await generateClientTypes(res.body);
    const committed = await readFile(TYPES_FILE, 'utf8');
    // One line, not a 5,000-line diff, when it fails.
    expect(committed === expected, 'clients/ts/openapi.d.ts is stale: run npm run client:generate').toBe(
      true,
    );
  });

  it("runs the README's quick start against a real shop: place, pay, watch PAID arrive live, read the history", async () => {
    const seller = await shop.createUser('SELLER');
    const buyer = await shop.createUser('BUYER');
    const category = `sneakers-${Math.random().toString(36).slice(2, 8)}`;
    await createProduct(shop, seller, { category, price: 59_000, stock: 5 });
    await createProduct(shop, seller, { category, price: 39_000, stock: 5 });
    // The cheapest is sold out: the quick start asks for products in stock (it broke after 4 runs).
    await createProduct(shop, seller, { category, price: 29_000, stock: 0 });

    const result = await quickStart(baseUrl, { email: buyer.email, password: 'password123' }, category);

    expect(result.order.status).toBe('PAID');
    expect(result.order.total).toBe(39_000);
    expect(result.statusesSeen[0]).toBe('PENDING');
    expect(result.statusesSeen.at(-1)).toBe('PAID');
    expect(result.history.map((t) => t.toStatus)).toEqual(expect.arrayContaining(['PENDING', 'PAID']));
    expect(result.history.at(-1)?.toStatus).toBe('PAID');
  });

  it('follows a 202 command receipt to the order (orderOf) when the reply outlasts REPLY_TIMEOUT_MS', async () => {
    // A shop that answers every command at once with its receipt.
    const busy = await createTestShop({
      WORKERS: 'all',
      PAYMENT_GATEWAY_LATENCY_MS: '20',
      REPLY_TIMEOUT_MS: '0',
    });
    let busyServer: ServerType | undefined;
    try {
      const busyUrl = await new Promise<string>((resolve) => {
        busyServer = serve({ fetch: busy.app.fetch, port: 0, hostname: '127.0.0.1' }, (info) =>
          resolve(`http://127.0.0.1:${info.port}`),
        );
      });
      const seller = await busy.createUser('SELLER');
      const buyer = await busy.createUser('BUYER');
      const category = `boots-${Math.random().toString(36).slice(2, 8)}`;
      await createProduct(busy, seller, { category, price: 45_000, stock: 5 });

      const placed = await busy.request('POST', '/api/v1/orders', {
        token: buyer.token,
        body: {
          items: [
            {
              productId: (await busy.request('GET', `/api/v1/products?category=${category}`)).body.data[0].id,
              quantity: 1,
            },
          ],
        },
      });
      expect(placed.status).toBe(202); // the receipt, not the order

      const result = await quickStart(busyUrl, { email: buyer.email, password: 'password123' }, category);
      expect(result.order.status).toBe('PAID');
      expect(result.order.total).toBe(45_000);
    } finally {
      (busyServer as { closeAllConnections?: () => void } | undefined)?.closeAllConnections?.();
      await new Promise<void>((resolve) => (busyServer ? busyServer.close(() => resolve()) : resolve()));
      await busy.close();
    }
  });
});
