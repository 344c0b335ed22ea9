import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertFailedReceipt } from '../../src/commands/receipts';
import { sql } from '../../src/db/sql';
import { DomainError } from '../../src/errors/domain-error';
import { createHttpServer } from '../../src/http/http-server';
import { uuidv7 } from '../../src/ids';
import { createProduct } from '../support/catalog';
import { createCoupon, issue } from '../support/coupons';
import { rows } from '../support/events';
import { send } from '../support/lanes';
import {
  type ApiResponse,
  createTestShop,
  type RequestOptions,
  type TestShop,
  type TestUser,
} from '../support/test-shop';

// API.md, Envelope: `message` is English, Korean with `Accept-Language: ko…` — every message, also
// one an error was built with (not only an error code's default), also across the command queue.

const KO = { 'accept-language': 'ko-KR,ko;q=0.9,en;q=0.8' };
const HANGUL = /[가-힣]/;
const RATE_PER_MIN = 30;

let shop: TestShop;
let seller: TestUser;
let otherSeller: TestUser;
let buyer: TestUser;
let admin: TestUser;
beforeAll(async () => {
  shop = await createTestShop({
    WORKERS: 'order,inventory',
    COUPON_ISSUE_RATE_PER_MIN: String(RATE_PER_MIN),
  });
  [seller, otherSeller, buyer, admin] = await Promise.all([
    shop.createUser('SELLER'),
    shop.createUser('SELLER'),
    shop.createUser('BUYER'),
    shop.createUser('ADMIN'),
  ]);
});
afterAll(() => shop?.close());

/** The same request asked in Korean, then in English (a request that changes nothing when refused). */
async function inBoth(method: string, path: string, options: RequestOptions = {}) {
  const ko = await shop.request(method, path, { ...options, headers: { ...options.headers, ...KO } });
  const en = await shop.request(method, path, options);
  return { ko, en };
}

/** The Korean answer: the same status and code as the English one, its message in Hangul. */
function expectBoth(
  answers: { ko: ApiResponse; en: ApiResponse },
  expected: { status: number; error: string; en: string },
) {
  const { ko, en } = answers;
  expect([en.status, en.body.error, en.body.message]).toEqual([expected.status, expected.error, expected.en]);
  expect([ko.status, ko.body.error]).toEqual([expected.status, expected.error]);
  expect(ko.body.message).toMatch(HANGUL);
  expect(ko.body.message).not.toBe(expected.en);
}

describe('messages an error was built with answer in Korean when asked, in English otherwise', () => {
  it('a wrong password (401)', async () => {
    const answers = await inBoth('POST', '/api/v1/auth/login', {
      body: { email: buyer.email, password: 'not-the-password' },
    });
    expectBoth(answers, { status: 401, error: 'UNAUTHORIZED', en: 'Wrong email or password' });
    expect(answers.ko.body.message).toBe('이메일 또는 비밀번호가 올바르지 않습니다');
  });

  it('a bad token (401)', async () => {
    const answers = await inBoth('GET', '/api/v1/auth/me', { token: `${buyer.token.slice(0, -2)}xx` });
    expectBoth(answers, { status: 401, error: 'UNAUTHORIZED', en: 'Invalid token' });
  });

  it('malformed JSON (400)', async () => {
    const answers = await inBoth('POST', '/api/v1/auth/login', { body: '{"email":' });
    expectBoth(answers, { status: 400, error: 'VALIDATION_ERROR', en: 'Malformed JSON in request body' });
  });

  it('a body that is not JSON (400)', async () => {
    const answers = await inBoth('POST', '/api/v1/auth/login', {
      body: 'email=a',
      headers: { 'content-type': 'text/plain' },
    });
    expectBoth(answers, {
      status: 400,
      error: 'VALIDATION_ERROR',
      en: 'The request body must be application/json',
    });
  });

  it('a body the schema refuses: the top-level message in Korean, the details as they are (400)', async () => {
    const answers = await inBoth('POST', '/api/v1/cart/items', {
      token: buyer.token,
      body: { productId: 'x', quantity: 0 },
    });
    expectBoth(answers, { status: 400, error: 'VALIDATION_ERROR', en: 'The request is invalid' });
    expect(answers.ko.body.details).toEqual(answers.en.body.details);
  });

  it('an unknown route (404)', async () => {
    const answers = await inBoth('GET', '/api/v1/nope');
    expectBoth(answers, { status: 404, error: 'NOT_FOUND', en: 'No route for GET /api/v1/nope' });
    expect(answers.ko.body.message).toContain('/api/v1/nope');
  });

  it('a role that may not use the endpoint (403)', async () => {
    const answers = await inBoth('POST', '/api/v1/products', {
      token: buyer.token,
      body: { name: 'Nope', price: 1000, category: 'test', initialStock: 1 },
    });
    expectBoth(answers, { status: 403, error: 'FORBIDDEN', en: 'This needs the role SELLER or ADMIN' });
    expect(answers.ko.body.message).toBe('SELLER 또는 ADMIN 역할이 필요합니다');
  });

  it('another seller’s product (403)', async () => {
    const productId = await createProduct(shop, seller);
    const answers = await inBoth('PATCH', `/api/v1/products/${productId}`, {
      token: otherSeller.token,
      body: { price: 5000 },
    });
    expectBoth(answers, {
      status: 403,
      error: 'FORBIDDEN',
      en: 'Only the seller who owns this product or an admin may change it',
    });
  });

  it('a cart line past 999 units (400), and a cart line that is not there (404)', async () => {
    const productId = await createProduct(shop, seller, { stock: 5000 });
    const user = await shop.createUser('BUYER');
    const add = { token: user.token, body: { productId, quantity: 999 } };
    expect((await shop.request('POST', '/api/v1/cart/items', add)).status).toBe(201);
    const over = await inBoth('POST', '/api/v1/cart/items', add);
    expectBoth(over, { status: 400, error: 'CART_ITEM_INVALID', en: 'A cart line holds at most 999 units' });
    expect(over.ko.body.details).toEqual(over.en.body.details);

    const other = await createProduct(shop, seller);
    const missing = await inBoth('DELETE', `/api/v1/cart/items/${other}`, { token: user.token });
    expectBoth(missing, { status: 404, error: 'NOT_FOUND', en: 'The cart has no line for this product' });
  });

  it('a review without a paid order (403)', async () => {
    const productId = await createProduct(shop, seller);
    const answers = await inBoth('POST', `/api/v1/products/${productId}/reviews`, {
      token: buyer.token,
      body: { rating: 5, content: 'Great' },
    });
    expectBoth(answers, {
      status: 403,
      error: 'FORBIDDEN',
      en: 'Only a buyer with a paid order for this product may review it, once per purchase',
    });
  });

  it('an outbox row that cannot be retried (409), and one that does not exist (404)', async () => {
    const id = uuidv7();
    await rows(
      shop,
      sql`insert into outbox_events (id, aggregate_type, aggregate_id, type, payload, queue, status, attempts,
                                     next_attempt_at, created_at, sent_at, last_error, claimed_at)
          values (${id}, 'order', 'order-ko', 'ORDER_CREATED', '{}'::jsonb, 'events', 'SENT', 0,
                  now() + interval '1 hour', now(), now(), null, null)`,
    );
    const sent = await inBoth('POST', `/api/v1/admin/outbox/${id}/retry`, { token: admin.token });
    expectBoth(sent, {
      status: 409,
      error: 'OUTBOX_EVENT_NOT_RETRYABLE',
      en: 'Only FAILED or ALERTED events can be retried; this one is SENT',
    });
    const unknown = await inBoth('POST', `/api/v1/admin/outbox/${uuidv7()}/retry`, { token: admin.token });
    expectBoth(unknown, { status: 404, error: 'NOT_FOUND', en: 'Outbox event not found' });
  });

  it('a coupon status it cannot take (409), and another creator’s coupon (403)', async () => {
    const coupon = await createCoupon(shop, seller);
    await shop.request('PATCH', `/api/v1/coupons/${coupon.id}/status`, {
      token: seller.token,
      body: { status: 'CANCELLED' },
    });
    const revive = await inBoth('PATCH', `/api/v1/coupons/${coupon.id}/status`, {
      token: seller.token,
      body: { status: 'ACTIVE' },
    });
    expectBoth(revive, {
      status: 409,
      error: 'INVALID_COUPON_TRANSITION',
      en: 'A CANCELLED coupon cannot become ACTIVE: cancelled is final',
    });
    expect(revive.ko.body.details).toEqual(revive.en.body.details);
    const notTheirs = await inBoth('PATCH', `/api/v1/coupons/${coupon.id}/status`, {
      token: otherSeller.token,
      body: { status: 'SUSPENDED' },
    });
    expectBoth(notTheirs, {
      status: 403,
      error: 'FORBIDDEN',
      en: 'Only the creator of this coupon or an admin may change it',
    });
  });

  it('an unknown machine (404)', async () => {
    const answers = await inBoth('GET', '/api/v1/machines/payment');
    expectBoth(answers, { status: 404, error: 'NOT_FOUND', en: "No machine named 'payment'" });
  });

  it('the 31st coupon claim in a minute (429), on the lane in front of the router', async () => {
    const coupon = await createCoupon(shop, seller);
    const user = await shop.createUser('BUYER');
    for (let i = 0; i < RATE_PER_MIN; i++) expect((await issue(shop, user, coupon.id)).status).not.toBe(429);
    const ko = await issue(shop, user, coupon.id, KO);
    const en = await issue(shop, user, coupon.id);
    expectBoth({ ko, en }, { status: 429, error: 'RATE_LIMITED', en: 'At most 30 issue requests a minute' });
    expect(ko.body.message).toBe('쿠폰 발급 요청은 1분에 최대 30번까지 할 수 있습니다');
  });
});

describe('refusals decided in a worker answer in Korean too (the reply and the receipt carry it)', () => {
  it('an order past the total limit (400, refused by the order worker)', async () => {
    const productId = await createProduct(shop, seller, { price: 1_000_000_000, stock: 10 });
    const answers = await inBoth('POST', '/api/v1/orders', {
      token: buyer.token,
      body: { items: [{ productId, quantity: 3 }] },
    });
    expectBoth(answers, {
      status: 400,
      error: 'VALIDATION_ERROR',
      en: 'An order may total at most 2000000000 won',
    });
  });

  it('a stock correction below the reserved units (400, refused by the inventory worker)', async () => {
    const productId = await createProduct(shop, seller, { stock: 10 });
    const answers = await inBoth('POST', `/api/v1/inventory/${productId}/adjust`, {
      token: admin.token,
      body: { delta: -1000, reason: 'recount' },
    });
    expectBoth(answers, {
      status: 400,
      error: 'VALIDATION_ERROR',
      en: 'Stock may not drop below the units reserved by pending orders',
    });
  });

  it('GET /commands/{id} shows a FAILED receipt’s message in the client’s language', async () => {
    const refusal = new DomainError('INVALID_ORDER_TRANSITION', {
      en: 'Only the order’s own completed payment can be refunded',
      ko: '이 주문의 완료된 결제만 환불할 수 있습니다',
    });
    const stored = [
      { id: `refund-${crypto.randomUUID()}`, error: refusal.toJSON() },
      // A default message carries no Korean of its own: the code's Korean default is shown.
      { id: `place-${crypto.randomUUID()}`, error: new DomainError('OUT_OF_STOCK').toJSON() },
    ];
    expect(stored[1]!.error).toEqual({ error: 'OUT_OF_STOCK', message: 'Not enough stock' });
    for (const { id, error } of stored) {
      await insertFailedReceipt(
        shop.ctx.orm.em.fork(),
        {
          commandId: id,
          userId: buyer.id,
          type: 'REFUND',
          idempotencyKey: null,
          requestHash: null,
          httpStatus: 409,
          error,
        },
        new Date(),
      );
    }
    const custom = await inBoth('GET', `/api/v1/commands/${stored[0]!.id}`, { token: buyer.token });
    expect(custom.en.body.data.error).toEqual({
      error: 'INVALID_ORDER_TRANSITION',
      message: 'Only the order’s own completed payment can be refunded',
    });
    expect(custom.ko.body.data.error).toEqual({
      error: 'INVALID_ORDER_TRANSITION',
      message: '이 주문의 완료된 결제만 환불할 수 있습니다',
    });
    const byDefault = await inBoth('GET', `/api/v1/commands/${stored[1]!.id}`, { token: buyer.token });
    expect(byDefault.en.body.data.error.message).toBe('Not enough stock');
    expect(byDefault.ko.body.data.error.message).toBe('재고가 부족합니다');
  });
});

describe('the HTTP server with its lanes on Node’s own request answers in the same language', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createHttpServer(shop.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server?.close(() => resolve())));

  it('the coupon issue lane’s 429, and the router’s 401', async () => {
    const coupon = await createCoupon(shop, seller);
    const user = await shop.createUser('BUYER');
    const asUser = (headers: Record<string, string> = {}) => ({
      headers: { authorization: `Bearer ${user.token}`, ...headers },
    });
    const path = `/api/v1/coupons/${coupon.id}/issue`;
    for (let i = 0; i < RATE_PER_MIN; i++) await send(port, 'POST', path, asUser());
    const ko = await send(port, 'POST', path, asUser(KO));
    const en = await send(port, 'POST', path, asUser());
    expect([ko.status, en.status]).toEqual([429, 429]);
    expect(JSON.parse(en.body)).toEqual({
      error: 'RATE_LIMITED',
      message: 'At most 30 issue requests a minute',
    });
    expect(JSON.parse(ko.body)).toEqual({
      error: 'RATE_LIMITED',
      message: '쿠폰 발급 요청은 1분에 최대 30번까지 할 수 있습니다',
    });

    const forged = { authorization: `Bearer ${user.token.slice(0, -2)}xx` };
    const koRefused = JSON.parse((await send(port, 'POST', path, { headers: { ...forged, ...KO } })).body);
    const enRefused = JSON.parse((await send(port, 'POST', path, { headers: forged })).body);
    expect(enRefused).toEqual({ error: 'UNAUTHORIZED', message: 'Invalid token' });
    expect(koRefused).toEqual({ error: 'UNAUTHORIZED', message: '유효하지 않은 토큰입니다' });
  });
});
