import type { ApiResponse, TestShop, TestUser } from './test-shop';

/**
 * Concurrent buyers who place an order and pay it by card, as a careful client would: every command
 * carries an Idempotency-Key and is repeated with the same key until it gets a final answer (a 202
 * receipt, a 503 while a dependency is down, or a refused connection is not final). So whatever the
 * fault, each buyer's commands end, and the tests can ask the shop whether its books are right.
 */
export interface BuyerLoad {
  orderIds: string[];
  /** Ids of commands answered 202 (their receipts must end DONE or FAILED). */
  commandIds: Set<string>;
  statuses: Map<number, number>;
  /** The longest a single request took (a hang would show here). */
  slowestRequestMs: number;
  /** Resolves when every buyer is done. */
  done: Promise<void>;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function startBuyers(
  shop: TestShop,
  buyers: TestUser[],
  productIds: string[],
  options: { ordersEach: number; giveUpAfterMs?: number },
): BuyerLoad {
  const load: BuyerLoad = {
    orderIds: [],
    commandIds: new Set(),
    statuses: new Map(),
    slowestRequestMs: 0,
    done: Promise.resolve(),
  };
  const giveUpAfterMs = options.giveUpAfterMs ?? 90_000;

  const untilFinal = async (send: () => Promise<ApiResponse>): Promise<ApiResponse> => {
    const started = Date.now();
    for (;;) {
      let res: ApiResponse | undefined;
      const sent = Date.now();
      try {
        res = await send();
      } catch {
        res = undefined;
      }
      load.slowestRequestMs = Math.max(load.slowestRequestMs, Date.now() - sent);
      if (res) load.statuses.set(res.status, (load.statuses.get(res.status) ?? 0) + 1);
      const receipt = res?.status === 202 && res.headers.get('location')?.includes('/commands/');
      if (receipt) load.commandIds.add(res!.body.data.id);
      if (res && !receipt && res.status < 500) return res;
      if (Date.now() - started > giveUpAfterMs)
        throw new Error(`no final answer in ${giveUpAfterMs} ms (last: ${res?.status})`);
      await pause(150);
    }
  };

  const buyer = async (user: TestUser, index: number) => {
    for (let n = 0; n < options.ordersEach; n++) {
      const productId = productIds[(index + n) % productIds.length]!;
      const placed = await untilFinal(() =>
        shop.request('POST', '/api/v1/orders', {
          token: user.token,
          body: { items: [{ productId, quantity: 1 }] },
          headers: { 'idempotency-key': `place-${user.id}-${n}` },
        }),
      );
      if (placed.status !== 201 && placed.status !== 200) continue;
      const orderId: string = placed.body.data.id;
      load.orderIds.push(orderId);
      await untilFinal(() =>
        shop.request('POST', '/api/v1/payments', {
          token: user.token,
          body: { orderId, method: 'CARD', cardToken: 'tok_ok' },
          headers: { 'idempotency-key': `pay-${orderId}` },
        }),
      );
    }
  };
  load.done = Promise.all(buyers.map((b, i) => buyer(b, i))).then(() => undefined);
  return load;
}
