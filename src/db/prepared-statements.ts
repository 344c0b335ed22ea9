import { createHash } from 'node:crypto';
import type { RawBuilder } from 'kysely';
import type { Pool, PoolClient, QueryConfig } from 'pg';
import { type HeldEdges, holdTransactionEdges, type Send } from './transaction-edges';

/**
 * Named prepared statements for the few hot statements (the placement batch's lock and write, the
 * outbox claim). kysely sends every statement unnamed, so PostgreSQL parses and plans it again on
 * each execution; a named one is parsed once per connection and, after five executions, may run a
 * cached generic plan. A call site marks a statement with `preparedStatement()`; `query()`/`run()`
 * register its compiled text; the pool's clients send a registered text as `{ name, text, values }`; pg
 * prepares it on first use on each connection (a replaced connection prepares it again).
 *
 * The name is a hash of the text, so two texts never share a name. The registry is capped: a marked
 * statement whose text varies without bound runs unnamed past the cap instead of growing every
 * connection's set of prepared statements.
 */
const MAX_STATEMENTS = 64;
const names = new Map<string, string>();
const marked = new WeakSet<RawBuilder<unknown>>();

/** Marks a statement to run as a named prepared statement. */
export function preparedStatement<S extends RawBuilder<unknown>>(statement: S): S {
  marked.add(statement);
  return statement;
}

export function isPrepared(statement: RawBuilder<unknown>): boolean {
  return marked.has(statement);
}

/** Registers a marked statement's compiled text (see `query()` in sql.ts). */
export function registerStatement(text: string): void {
  if (names.has(text) || names.size >= MAX_STATEMENTS) return;
  names.set(text, `hot_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`);
}

type Query = (config: string | QueryConfig, ...rest: unknown[]) => unknown;

/**
 * Makes every client of the pool send a registered text as a named statement, and a transaction's
 * BEGIN and COMMIT together with its statements (./transaction-edges.ts; off with `pipeline: false`).
 */
export function nameRegisteredStatements(pool: Pool, { pipeline = true } = {}): void {
  const held = new WeakMap<PoolClient, HeldEdges>();
  pool.on('release', (_error: unknown, client: PoolClient) => held.get(client)?.forget());
  pool.on('connect', (client: PoolClient) => {
    // The client's own query, looked up at each call: instrumentation that wraps it later still sees it.
    const inherited = Object.getPrototypeOf(client) as { query: Query };
    // kysely calls query(text, values); every other form (a callback, a cursor) passes through.
    const query: Query = (config, ...rest) => {
      const name = typeof config === 'string' && rest.length === 1 ? names.get(config) : undefined;
      return name
        ? inherited.query.call(client, { name, text: config as string, values: rest[0] as unknown[] })
        : inherited.query.call(client, config, ...rest);
    };
    if (!pipeline) {
      client.query = query as PoolClient['query'];
      return;
    }
    const send = holdTransactionEdges(client, query as Send, (text) => names.get(text));
    held.set(client, send);
    client.query = send.query as PoolClient['query'];
  });
}
