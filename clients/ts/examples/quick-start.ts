// The README's quick start on the typed client: log in, find a product, place an order, pay for it,
// watch its status turn PAID over Server-Sent Events, read its history.
//   npx tsx clients/ts/examples/quick-start.ts http://localhost:3000
// (the demo buyer by default; SHOP_EMAIL / SHOP_PASSWORD to use another account).
import { createShopClient, orderOf, type Schemas, type ShopClient, watchOrderStatus } from '../index';

export interface QuickStartResult {
  order: Schemas['Order'];
  /** Every status the live stream showed, in order (the first is the status when it connected). */
  statusesSeen: string[];
  history: Schemas['OrderTransition'][];
}

/** Throws with the API's error envelope when a call did not succeed. */
function expectData<T>(result: { data?: T; error?: unknown; response: Response }, what: string): T {
  if (result.data === undefined) {
    throw new Error(`${what}: HTTP ${result.response.status} ${JSON.stringify(result.error)}`);
  }
  return result.data;
}

export async function quickStart(
  baseUrl: string,
  credentials = { email: 'buyer@shop.local', password: 'buyer-password' },
  category = 'sneakers',
): Promise<QuickStartResult> {
  const anonymous = createShopClient({ baseUrl });
  const login = expectData(
    await anonymous.POST('/api/v1/auth/login', { body: credentials }),
    'POST /api/v1/auth/login',
  );
  const shop: ShopClient = createShopClient({ baseUrl, token: login.data.token });

  const products = expectData(
    await shop.GET('/api/v1/products', {
      params: { query: { category, inStock: true, sort: 'price,asc', size: 1 } },
    }),
    'GET /api/v1/products',
  );
  const product = products.data[0];
  if (!product) throw new Error(`no product in stock in category ${category}`);

  // 201 with the order, or 202 with a receipt when the shop is busy: orderOf follows either.
  const placed = await orderOf(
    shop,
    await shop.POST('/api/v1/orders', { body: { items: [{ productId: product.id, quantity: 1 }] } }),
  );

  // Watch before paying: the stream opens with the current status (PENDING), then shows each change.
  const abort = new AbortController();
  const updates = watchOrderStatus(shop, placed.id, abort.signal);
  const first = await updates.next();
  if (first.done) throw new Error('the status stream ended at once');
  const statusesSeen: string[] = [first.value.status];
  const watching = (async () => {
    for await (const update of updates) {
      statusesSeen.push(update.status);
      if (update.status === 'PAID' || update.status === 'CANCELLED') return update.status;
    }
    return undefined;
  })();

  expectData(
    await shop.POST('/api/v1/payments', {
      params: { header: { 'idempotency-key': `pay-${placed.id}` } },
      body: { orderId: placed.id, method: 'CARD', cardToken: 'tok_ok' },
    }),
    'POST /api/v1/payments',
  );
  const finalStatus = await watching;
  abort.abort();
  if (finalStatus !== 'PAID') throw new Error(`the order ended ${finalStatus ?? 'without a status'}`);

  const order = expectData(
    await shop.GET('/api/v1/orders/{id}', { params: { path: { id: placed.id } } }),
    'GET /api/v1/orders/{id}',
  ).data;
  const history = expectData(
    await shop.GET('/api/v1/orders/{id}/history', { params: { path: { id: placed.id } } }),
    'GET /api/v1/orders/{id}/history',
  ).data;
  return { order, statusesSeen, history };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const baseUrl = process.argv[2] ?? 'http://localhost:3000';
  const credentials =
    process.env.SHOP_EMAIL && process.env.SHOP_PASSWORD
      ? { email: process.env.SHOP_EMAIL, password: process.env.SHOP_PASSWORD }
      : undefined;
  const result = await quickStart(baseUrl, credentials);
  console.log(`order ${result.order.orderNo}: ${result.order.status}`);
  console.log(`live statuses: ${result.statusesSeen.join(' → ')}`);
  for (const t of result.history)
    console.log(`${t.at}  ${t.fromStatus ?? '—'} → ${t.toStatus}  (${t.event})`);
}
