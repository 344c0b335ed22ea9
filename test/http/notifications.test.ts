import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/ids';
import { insertNotification } from '../../src/notifications/notifications.service';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

let shop: TestShop;
let ann: TestUser;
let bob: TestUser;

beforeAll(async () => {
  shop = await createTestShop();
  [ann, bob] = await Promise.all([shop.createUser('BUYER'), shop.createUser('BUYER')]);
});
afterAll(() => shop?.close());

async function notify(user: TestUser, title: string, minutesAgo: number) {
  await shop.ctx.orm.em.fork().transactional((em) =>
    insertNotification(
      em,
      {
        userId: user.id,
        type: 'ORDER_CREATED',
        title: { en: title, ko: `${title} (ko)` },
        body: { en: `${title} body`, ko: `${title} 본문` },
        orderId: null,
        eventId: uuidv7(),
      },
      new Date(Date.now() - minutesAgo * 60_000),
    ),
  );
}

const list = (user: TestUser | undefined, query = '') =>
  shop.request('GET', `/api/v1/notifications${query}`, { token: user?.token });
const read = (user: TestUser, id: string) =>
  shop.request('POST', `/api/v1/notifications/${id}/read`, { token: user.token });

describe('listing notifications', () => {
  beforeAll(async () => {
    for (const [i, title] of ['first', 'second', 'third'].entries()) await notify(ann, title, 10 - i);
    await notify(bob, "bob's", 1);
  });

  it("lists only the caller's, newest first, with paging", async () => {
    const res = await list(ann);
    expect(res.status).toBe(200);
    expect(res.body.data.map((n: { title: string }) => n.title)).toEqual(['third', 'second', 'first']);
    expect(res.body.data[0]).toEqual({
      id: expect.any(String),
      type: 'ORDER_CREATED',
      title: 'third',
      body: 'third body',
      orderId: null,
      createdAt: expect.any(String),
      readAt: null,
    });
    expect(res.body.meta).toEqual({ page: 0, size: 20, totalElements: 3, totalPages: 1 });
    const page = await list(ann, '?page=1&size=2');
    expect(page.body.data.map((n: { title: string }) => n.title)).toEqual(['first']);
    expect(page.body.meta).toEqual({ page: 1, size: 2, totalElements: 3, totalPages: 2 });
  });

  it('filters by unread=true (unread only) and unread=false (read only)', async () => {
    const [newest] = (await list(ann)).body.data;
    expect((await read(ann, newest.id)).status).toBe(200);
    const unread = await list(ann, '?unread=true');
    expect(unread.body.data.map((n: { title: string }) => n.title)).toEqual(['second', 'first']);
    const done = await list(ann, '?unread=false');
    expect(done.body.data.map((n: { title: string }) => n.title)).toEqual(['third']);
  });

  it('refuses bad query values and anonymous callers', async () => {
    for (const query of ['?unread=yes', '?size=101', '?page=-1', '?size=0']) {
      const res = await list(ann, query);
      expect([query, res.status, res.body.error]).toEqual([query, 400, 'VALIDATION_ERROR']);
    }
    expect((await list(undefined)).status).toBe(401);
  });
});

describe('marking a notification read', () => {
  it('sets readAt once; reading it again keeps the first time', async () => {
    await notify(ann, 'to read', 0);
    const [target] = (await list(ann, '?unread=true')).body.data;
    const first = await read(ann, target.id);
    expect(first.status).toBe(200);
    expect(first.body.data).toMatchObject({ id: target.id, title: target.title });
    expect(Date.parse(first.body.data.readAt)).toBeGreaterThan(Date.now() - 60_000);
    const second = await read(ann, target.id);
    expect(second.body.data.readAt).toBe(first.body.data.readAt);
  });

  it("answers 404 for another user's notification, leaving it unread, and for an unknown id", async () => {
    const [bobs] = (await list(bob)).body.data;
    const res = await read(ann, bobs.id);
    expect(res.status).toBe(404);
    expect(res.body.error).toBe('NOT_FOUND');
    expect((await list(bob)).body.data[0].readAt).toBeNull();
    expect((await read(ann, crypto.randomUUID())).status).toBe(404);
    expect((await read(ann, 'nope')).status).toBe(400);
  });
});

describe('one notification per user, type and event', () => {
  it('ignores the same event twice', async () => {
    const eventId = uuidv7();
    const draft = {
      userId: bob.id,
      type: 'COUPON_ISSUED' as const,
      title: { en: 't', ko: 't' },
      body: { en: 'b', ko: 'b' },
      orderId: null,
      eventId,
    };
    const em = () => shop.ctx.orm.em.fork();
    expect(await em().transactional((tx) => insertNotification(tx, draft, new Date()))).toBe(true);
    expect(await em().transactional((tx) => insertNotification(tx, draft, new Date()))).toBe(false);
  });
});

describe("the reader's language", () => {
  it('answers in Korean for Accept-Language: ko, in English otherwise, and in English where a row has no Korean', async () => {
    const reader = await shop.createUser('BUYER');
    await notify(reader, 'Both languages', 2);
    // A row written before notifications kept their Korean text.
    await shop.ctx.orm.em.fork().transactional((em) =>
      em.getConnection().execute(
        `insert into notifications (id, user_id, type, title, body, order_id, event_id, created_at)
         values (?, ?, 'ORDER_CREATED', 'English only', 'English body', null, ?, now())`,
        [uuidv7(), reader.id, uuidv7()],
      ),
    );
    const list = (lang?: string) =>
      shop.request('GET', '/api/v1/notifications?sort=createdAt,asc', {
        token: reader.token,
        ...(lang ? { headers: { 'accept-language': lang } } : {}),
      });
    const titles = (res: { body: { data: { title: string; body: string }[] } }) =>
      res.body.data.map((n) => [n.title, n.body]);
    expect(titles(await list())).toEqual([
      ['Both languages', 'Both languages body'],
      ['English only', 'English body'],
    ]);
    expect(titles(await list('ko-KR,ko;q=0.9'))).toEqual([
      ['Both languages (ko)', 'Both languages 본문'],
      ['English only', 'English body'],
    ]);
    const id = (await list()).body.data[0].id;
    const read = await shop.request('POST', `/api/v1/notifications/${id}/read`, {
      token: reader.token,
      headers: { 'accept-language': 'ko' },
    });
    expect([read.status, read.body.data.title]).toEqual([200, 'Both languages (ko)']);
  });
});
