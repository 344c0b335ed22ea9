import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, sql } from '../../src/db/sql';
import { isInfrastructureUnavailable } from '../../src/errors/infrastructure-error';
import { toDomainError } from '../../src/http/error-handler';
import { type ApiResponse, createTestShop, type TestShop, type TestUser } from '../support/test-shop';

// Issue 14 item 4: a NUL byte or a lone surrogate in any text input gave 500 or 503 (PostgreSQL cannot
// store them). Every body field and query parameter of every documented route is probed here, so a
// new route with a plain z.string() fails this test.

const NUL = 'a\u0000b';
const LONE_SURROGATE = 'a\ud800b';

let shop: TestShop;
let tokens: TestUser[];
let doc: any;

beforeAll(async () => {
  shop = await createTestShop();
  tokens = [await shop.createUser('ADMIN'), await shop.createUser('SELLER'), await shop.createUser('BUYER')];
  doc = (await shop.request('GET', '/openapi.json')).body;
});
afterAll(() => shop?.close());

const resolve = (schema: any): any =>
  schema?.$ref ? doc.components.schemas[schema.$ref.split('/').pop()] : schema;

/** Every string-valued location in a JSON schema, as a path and a body that puts `value` there. */
function stringSlots(schema: any, value: string, path: string[] = []): { path: string[]; body: unknown }[] {
  const s = resolve(schema);
  if (!s) return [];
  const variants = [...(s.anyOf ?? []), ...(s.oneOf ?? []), ...(s.allOf ?? [])];
  if (variants.length > 0) return variants.flatMap((v: any) => stringSlots(v, value, path)).slice(0, 1);
  if (s.type === 'string' || (Array.isArray(s.type) && s.type.includes('string'))) {
    return [{ path, body: value }];
  }
  if (s.type === 'array') {
    return stringSlots(s.items, value, [...path, '0']).map((slot) => ({ ...slot, body: [slot.body] }));
  }
  if (s.type === 'object' || s.properties) {
    return Object.entries(s.properties ?? {}).flatMap(([name, prop]) =>
      stringSlots(prop, value, [...path, name]).map((slot) => ({ ...slot, body: { [name]: slot.body } })),
    );
  }
  return [];
}

const fill = (path: string) => path.replace(/\{[^}]+\}/g, crypto.randomUUID());

/** Sends as each role until one gets past the role check; the answer to the first that does. */
async function send(method: string, path: string, options: { body?: unknown }) {
  let res: ApiResponse | undefined;
  for (const user of tokens) {
    res = await shop.request(method, path, {
      token: user.token,
      headers: { 'idempotency-key': `k-${crypto.randomUUID()}` },
      ...options,
    });
    if (res.status !== 403) return res;
  }
  return res!;
}

function operations() {
  return Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, methods]) =>
    Object.entries(methods)
      .filter(([method]) => ['get', 'post', 'put', 'patch', 'delete'].includes(method))
      .map(([method, op]) => ({ method: method.toUpperCase(), path, op })),
  );
}

describe('NUL and lone surrogates in text inputs', () => {
  it('refuses them in every body field with 400 VALIDATION_ERROR naming the field', async () => {
    let probed = 0;
    for (const { method, path, op } of operations()) {
      const schema = op.requestBody?.content?.['application/json']?.schema;
      for (const value of [NUL, LONE_SURROGATE]) {
        for (const slot of stringSlots(schema, value)) {
          const field = ['body', ...slot.path].join('.');
          const res = await send(method, fill(path), { body: slot.body });
          const where = `${method} ${path} ${field}=${JSON.stringify(value)}: ${res.status} ${JSON.stringify(res.body)}`;
          expect(res.status, where).toBe(400);
          expect(res.body.error, where).toBe('VALIDATION_ERROR');
          expect(
            res.body.details?.map((d: { field: string }) => d.field),
            where,
          ).toContain(field);
          probed++;
        }
      }
    }
    // Sanity: the probe reached the fields the issue named (register, products, coupons, webhooks…).
    expect(probed).toBeGreaterThan(30);
  });

  it('refuses a NUL in every string query parameter with 400 naming the parameter', async () => {
    let probed = 0;
    for (const { method, path, op } of operations()) {
      for (const param of (op.parameters ?? []) as any[]) {
        const schema = resolve(param.schema);
        if (param.in !== 'query' || schema?.type !== 'string') continue;
        const res = await send(method, `${fill(path)}?${param.name}=a%00b`, {});
        const where = `${method} ${path}?${param.name}: ${res.status} ${JSON.stringify(res.body)}`;
        expect(res.status, where).toBe(400);
        expect(
          res.body.details?.map((d: { field: string }) => d.field),
          where,
        ).toContain(`query.${param.name}`);
        probed++;
      }
    }
    expect(probed).toBeGreaterThan(5);
  });

  it('names the field in the message (register name, product keyword)', async () => {
    const register = await shop.request('POST', '/api/v1/auth/register', {
      body: { email: 'nul@example.com', password: 'a sturdy passphrase', name: NUL },
    });
    expect(register.status).toBe(400);
    expect(register.body.details).toContainEqual({
      field: 'body.name',
      message: expect.stringMatching(/NUL/),
    });
    const search = await shop.request('GET', '/api/v1/products?keyword=%00');
    expect([search.status, search.body.details?.[0]?.field]).toEqual([400, 'query.keyword']);
  });

  it('answers 401 to Bull Board Basic credentials containing NUL (never 4xx/5xx from SQL)', async () => {
    const credentials = Buffer.from(`admin${NUL}@example.com:whatever`).toString('base64');
    const res = await shop.request('GET', '/admin/queues', {
      headers: { authorization: `Basic ${credentials}` },
    });
    expect(res.status).toBe(401);
  });

  it('classifies PostgreSQL refusing a malformed value as a 400, never as "database down" (503)', async () => {
    const em = shop.ctx.orm.em.fork();
    const attempts = [
      () => em.getConnection().execute('select ?::text as v', [NUL]),
      () => em.getConnection().execute(`select ?::jsonb as v`, [JSON.stringify({ a: LONE_SURROGATE })]),
      () => em.getConnection().execute(`select '{"a":"\\u0000"}'::jsonb as v`),
      () => query(em, sql`select ${NUL}::text as v`),
    ];
    let refused = 0;
    for (const attempt of attempts) {
      const error = await attempt().then(
        () => undefined,
        (e: unknown) => e,
      );
      if (error === undefined) continue;
      refused++;
      expect(isInfrastructureUnavailable(error), String(error)).toBe(false);
      expect(toDomainError(error).status, String(error)).toBe(400);
    }
    expect(refused).toBeGreaterThanOrEqual(3);
  });
});
