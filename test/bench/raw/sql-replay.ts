import { randomBytes } from 'node:crypto';
import pg, { type PoolClient } from 'pg';
import { atCommit, holdTransactionEdges, type Send } from '../../../src/db/transaction-edges';
import { uuidv7 } from '../../../src/ids';
import { type LoadOptions, type LoadResult, runClosedLoop } from '../support/load';
import type { CapturedWork } from './statement-recorder';

/** The values one replayed transaction uses in place of the captured ones. */
type Substitutions = Map<string, string>;
type Instantiate = (subs: Substitutions) => unknown;

export interface ReplayStatement {
  text: string;
  /** Undefined sends the statement through the simple protocol, as BEGIN/COMMIT were sent. */
  values: ((subs: Substitutions) => unknown[]) | undefined;
  /** Sent with the COMMIT, as the shop sent it (src/db/transaction-edges.ts). */
  withCommit?: boolean;
}

/** A transaction to issue over and over, with a fresh set of identifying values each time. */
export interface ReplayPlan {
  statements: ReplayStatement[];
  /** Builds one transaction's substitutions: captured value → value to send instead. */
  substitutions: (vu: number, seq: number) => Substitutions;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
/** Replayed order numbers sit far above anything the shop's daily sequence reaches in a run. */
let replayOrderCounter = 90_000_000;
/**
 * What the captured `now` becomes in a replay. Replayed outbox rows would otherwise be due at once,
 * and the running shop's relay would deliver them during the raw phase, competing with it for CPU:
 * the relay's work belongs to the end-to-end figure, not to the transaction's ceiling.
 */
const NOT_DUE_BEFORE = new Date('2100-01-01T00:00:00Z');

/**
 * Turns captured work (a placement, a whole checkout) into a plan: the captured user becomes the
 * virtual user's buyer, the captured product one of `products` (a random one per repetition, or the
 * same one when the list has one entry: the hot row), and every other UUID (order, items,
 * transitions, outbox rows, command ids, payment, gateway charge), the order number and the other
 * generated values (`pay-<digest>` command ids) become fresh values per repetition — wherever they
 * appear, including inside JSON parameters (snapshot, outbox payloads) and derived strings
 * (`expire-<orderId>`, `paid-<paymentId>`). Date parameters inside the work's own clock span become
 * NOT_DUE_BEFORE. The statements themselves are sent exactly as captured.
 */
export function capturedReplayPlan(capture: CapturedWork, buyers: string[], products: string[]): ReplayPlan {
  const uuids = new Set<string>();
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (typeof value === 'string') for (const [uuid] of value.matchAll(UUID)) uuids.add(uuid);
  };
  for (const statement of capture.statements) visit(statement.values);
  for (const [what, value] of Object.entries({ user: capture.userId, product: capture.productId })) {
    if (!uuids.has(value)) throw new Error(`the captured work never mentions its ${what} (${value})`);
  }
  const isNow = (d: Date) =>
    d.getTime() >= capture.clock.from.getTime() && d.getTime() <= capture.clock.to.getTime();
  const dated = capture.statements.some((s) => s.values.flat().some((v) => v instanceof Date && isNow(v)));
  if (!dated)
    throw new Error('the captured timestamps are not Date parameters: cannot keep replayed rows undue');
  const serialized = JSON.stringify(capture.statements.map((s) => s.values));
  for (const value of [capture.orderNo, ...capture.generated]) {
    if (!serialized.includes(value)) throw new Error(`the captured work never mentions '${value}'`);
  }
  uuids.delete(capture.userId);
  uuids.delete(capture.productId);
  const tokens = [capture.userId, capture.productId, capture.orderNo, ...capture.generated, ...uuids];
  const day = capture.orderNo.slice(0, 8);

  return {
    statements: capture.statements.map(({ text, values, withCommit }) => {
      if (values.length === 0) return { text, values: undefined };
      const parts = values.map((v) => compile(v, tokens, isNow));
      return { text, values: (subs) => parts.map((part) => part(subs)), withCommit };
    }),
    substitutions: (vu) => {
      const subs: Substitutions = new Map();
      subs.set(capture.userId, buyers[vu % buyers.length]!);
      subs.set(capture.productId, products[Math.floor(Math.random() * products.length)]!);
      subs.set(capture.orderNo, `${day}${String(++replayOrderCounter).padStart(8, '0')}`);
      for (const value of capture.generated) subs.set(value, freshLike(value));
      for (const uuid of uuids) subs.set(uuid, uuidv7());
      return subs;
    },
  };
}

/** The same shape with new hex digits: `pay-<40 hex>` → `pay-<40 other hex>`. */
function freshLike(value: string): string {
  return value.replace(/[0-9a-f]{16,}/g, (hex) =>
    randomBytes(Math.ceil(hex.length / 2))
      .toString('hex')
      .slice(0, hex.length),
  );
}

/** Runs the capture's one-off statements (e.g. the day's order-number sequence) on the database. */
export async function runSetup(databaseUrl: string, capture: CapturedWork): Promise<void> {
  if (capture.setup.length === 0) return;
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    for (const statement of capture.setup) await client.query(statement.text, statement.values);
  } finally {
    await client.end();
  }
}

/** SPEC's single-row ceiling: the conditional reservation of one unit of one product, and commit. */
export function singleRowReservationPlan(productId: string): ReplayPlan {
  return {
    statements: [
      { text: 'begin', values: undefined },
      {
        text: 'update inventory set reserved = reserved + 1 where product_id = $1 and stock - reserved >= 1',
        values: () => [productId],
      },
      { text: 'commit', values: undefined },
    ],
    substitutions: () => new Map(),
  };
}

function compile(value: unknown, tokens: string[], isNow: (d: Date) => boolean): Instantiate {
  if (Array.isArray(value)) {
    const parts = value.map((v) => compile(v, tokens, isNow));
    return (subs) => parts.map((part) => part(subs));
  }
  if (value instanceof Date && isNow(value)) return () => NOT_DUE_BEFORE;
  if (typeof value !== 'string') return () => value;
  if (tokens.includes(value)) return (subs) => subs.get(value) ?? value;
  const inside = tokens.filter((t) => value.includes(t));
  if (inside.length === 0) return () => value;
  const pattern = new RegExp(inside.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
  return (subs) => value.replace(pattern, (match) => subs.get(match) ?? match);
}

/**
 * Issues the plan's statements in a closed loop over `concurrency` dedicated connections (one per
 * virtual user, like the shop's pool under load, and like it sending a BEGIN with the first statement
 * of its transaction and a COMMIT with the write the shop sent it with). Each completed sequence (one transaction, or a whole checkout's) is one "ok".
 */
export async function replayTransactions(
  databaseUrl: string,
  plan: ReplayPlan,
  options: LoadOptions,
): Promise<LoadResult> {
  const clients = await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      // As the shop's pool sends them: a transaction's BEGIN with its first statement, its COMMIT with
      // the write the shop sent with it.
      const send = holdTransactionEdges(
        client as PoolClient,
        client.query.bind(client) as Send,
        () => undefined,
      );
      client.query = send.query as typeof client.query;
      return client;
    }),
  );
  try {
    return await runClosedLoop(async (vu, seq) => {
      const client = clients[vu]!;
      const subs = plan.substitutions(vu, seq);
      try {
        for (const statement of plan.statements) {
          if (statement.values) {
            const values = statement.values(subs);
            if (statement.withCommit) atCommit(values, { translate: (error) => error as Error });
            await client.query(statement.text, values);
          } else await client.query(statement.text);
        }
        return 'ok';
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        throw error;
      }
    }, options);
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
}
