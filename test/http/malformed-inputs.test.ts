import Ajv2020 from 'ajv/dist/2020';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { query, sql } from '../../src/db/sql';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

// SPEC §8.7: malformed JSON, wrong types, negative or huge numbers, unknown ids, oversized bodies and
// other users' resources get a clear 4xx in the envelope — never a 500, a hang or a partial write.
// The cases are generated from /openapi.json, so every documented route is covered, new ones too.

let shop: TestShop;
let admin: TestUser;
let operations: { method: string; path: string; body: boolean }[];

beforeAll(async () => {
  shop = await createTestShop({ WORKERS: 'all', REPLY_TIMEOUT_MS: '3000' });
  admin = await shop.createUser('ADMIN');
  const doc = (await shop.request('GET', '/openapi.json')).body;
  operations = Object.entries(doc.paths as Record<string, Record<string, { requestBody?: unknown }>>).flatMap(
    ([path, methods]) =>
      Object.entries(methods)
        .filter(([method]) => ['get', 'post', 'put', 'patch', 'delete'].includes(method))
        .map(([method, op]) => ({ method: method.toUpperCase(), path, body: op.requestBody !== undefined })),
  );
});
afterAll(() => shop?.close());

/**
 * Tables whose rows a refused request must not touch (command receipts record refusals by design, and
 * a command answered 202 under load is remembered until it ends).
 */
async function rowCounts(): Promise<Record<string, number>> {
  const tables = await query<{ table_name: string }>(
    shop.ctx.orm.em.fork(),
    sql`select table_name from information_schema.tables
        where table_schema = 'public' and table_type = 'BASE TABLE'
          and table_name not in ('commands', 'queued_commands', 'mikro_orm_migrations', 'processed_messages')`,
  );
  const counts: Record<string, number> = {};
  for (const { table_name } of tables) {
    const [row] = await query<{ n: number }>(
      shop.ctx.orm.em.fork(),
      sql`select count(*)::int as n from ${sql.id(table_name)}`,
    );
    counts[table_name] = row!.n;
  }
  return counts;
}

const fill = (path: string, value: string) => path.replace(/\{[^}]+\}/g, value);

async function expectClientError(
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
) {
  const res = await shop.request(method, path, {
    token: admin.token,
    headers: { 'idempotency-key': `k-${Math.random()}`, ...options.headers },
    ...(options.body !== undefined ? { body: options.body } : {}),
  });
  const where = `${method} ${path} ${JSON.stringify(options.body)?.slice(0, 60)}`;
  expect(res.status, where).toBeGreaterThanOrEqual(400);
  expect(res.status, `${where}: ${JSON.stringify(res.body)}`).toBeLessThan(500);
  expect(typeof res.body?.error, where).toBe('string');
  expect(typeof res.body?.message, where).toBe('string');
  expect(JSON.stringify(res.body), where).not.toMatch(/\bat .+\.(ts|js):\d+/);
  return res;
}

describe('malformed input on every documented route', () => {
  // Every test here checks that its own requests wrote nothing in the database: counted before it, and
  // again after it (a difference fails that test).
  let countsBefore: Record<string, number>;
  beforeEach(async () => {
    countsBefore = await rowCounts();
  });
  afterEach(async () => {
    expect(await rowCounts(), 'rows written by the refused requests').toEqual(countsBefore);
  });

  it('covers the API (sanity: the document lists the core routes)', () => {
    const paths = new Set(operations.map((o) => o.path));
    for (const path of [
      '/api/v1/orders',
      '/api/v1/products/{id}',
      '/api/v1/cart/items',
      '/api/v1/auth/register',
    ]) {
      expect(paths).toContain(path);
    }
  });

  it('refuses malformed ids in the path with 400 or 404, never a 500', async () => {
    for (const op of operations.filter((o) => o.path.includes('{'))) {
      for (const id of ['not-a-uuid', '1', "1' or '1'='1", '%00']) {
        await expectClientError(
          op.method,
          fill(op.path, encodeURIComponent(id)),
          op.body ? { body: {} } : {},
        );
      }
    }
  });

  it('refuses broken bodies: malformed JSON, wrong JSON types, wrong content type', async () => {
    for (const op of operations.filter((o) => o.body)) {
      const path = fill(op.path, crypto.randomUUID());
      for (const body of ['{"broken": ', '[]', 'null', '"text"', '12', '{"a":{"b":{"c":[1,2,{"d":']) {
        await expectClientError(op.method, path, { body });
      }
      await expectClientError(op.method, path, {
        body: 'quantity=1',
        headers: { 'content-type': 'text/plain' },
      });
    }
  });

  it('refuses wrong types, negative, huge and fractional numbers in every field', async () => {
    const doc = (await shop.request('GET', '/openapi.json')).body;
    // The document's own schemas decide which bodies are invalid: those must get a 4xx, not a 2xx.
    // (Formats such as uuid or email are not checked here, so a body they would refuse counts as
    // valid and only has to avoid a 500.)
    const ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: false });
    ajv.addSchema({ ...doc, $id: 'openapi' });
    let refused = 0;
    for (const op of operations.filter((o) => o.body)) {
      const schema =
        doc.paths[op.path][op.method.toLowerCase()].requestBody?.content?.['application/json']?.schema;
      expect(schema, `${op.method} ${op.path} documents its JSON body`).toBeDefined();
      const validate = ajv.compile(schema.$ref ? { $ref: `openapi${schema.$ref}` } : schema);
      const resolved = schema.$ref ? doc.components.schemas[schema.$ref.split('/').pop()] : schema;
      const fields = Object.keys(resolved?.properties ?? {});
      const path = fill(op.path, crypto.randomUUID());
      for (const field of fields) {
        for (const value of [-1, 1e15, 1.5, '12', true, [], {}, 'x'.repeat(10_000), null]) {
          const body = { [field]: value };
          const res = await shop.request(op.method, path, {
            token: admin.token,
            headers: { 'idempotency-key': `k-${Math.random()}` },
            body,
          });
          const where = `${op.method} ${op.path} ${field}=${JSON.stringify(value).slice(0, 20)} → ${res.status}`;
          expect(res.status, where).toBeLessThan(500);
          if (!validate(body)) {
            refused += 1;
            expect(res.status, `${where} (invalid by the document)`).toBeGreaterThanOrEqual(400);
            expect(typeof res.body?.error, where).toBe('string');
          }
        }
      }
    }
    expect(refused).toBeGreaterThan(100);
  });

  it('refuses bodies over 1 MiB with 413 PAYLOAD_TOO_LARGE', async () => {
    const huge = JSON.stringify({ padding: 'x'.repeat(1024 * 1024 + 10) });
    for (const op of operations.filter((o) => o.body)) {
      const res = await expectClientError(op.method, fill(op.path, crypto.randomUUID()), { body: huge });
      expect([res.status, res.body.error]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    }
  });

  it('refuses bad paging and unknown query values on list routes', async () => {
    const doc = (await shop.request('GET', '/openapi.json')).body;
    const queryParams = (path: string) =>
      new Set<string>(
        (doc.paths[path].get.parameters ?? [])
          .filter((p: { in: string }) => p.in === 'query')
          .map((p: { name: string }) => p.name),
      );
    let paged = 0;
    for (const op of operations.filter((o) => o.method === 'GET' && !o.path.includes('{'))) {
      const params = queryParams(op.path);
      for (const q of ['page=-1', 'size=101', 'size=0', 'page=abc', 'size=1e3']) {
        const res = await shop.request('GET', `${op.path}?${q}`, { token: admin.token });
        expect(res.status, `${op.path}?${q}`).toBeLessThan(500);
        // A route that documents the parameter refuses a bad value; others may ignore it.
        if (params.has(q.split('=')[0]!)) {
          expect([res.status, res.body?.error], `${op.path}?${q}`).toEqual([400, 'VALIDATION_ERROR']);
        }
      }
      if (params.has('page') && params.has('size')) paged += 1;
    }
    expect(paged, 'list routes with page and size').toBeGreaterThanOrEqual(3);
  });

  it('answers unknown routes and methods with 404 in the envelope', async () => {
    const res = await expectClientError('GET', '/api/v1/nothing-here');
    expect(res.body.error).toBe('NOT_FOUND');
    await expectClientError('DELETE', '/api/v1/orders');
  });
});
