import pg from 'pg';
import { uuidv7 } from '../../../src/ids';
import { type LoadOptions, type LoadResult, runClosedLoop } from '../support/load';
import type { CapturedPlacement } from './placement-capture';

/** The values one replayed transaction uses in place of the captured ones. */
type Substitutions = Map<string, string>;
type Instantiate = (subs: Substitutions) => unknown;

export interface ReplayStatement {
  text: string;
  /** Undefined sends the statement through the simple protocol, as BEGIN/COMMIT were sent. */
  values: ((subs: Substitutions) => unknown[]) | undefined;
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
 * Turns a captured placement into a plan: the captured user becomes the virtual user's buyer, the
 * captured product one of `products` (a random one per transaction, or the same one when the list
 * has one entry: the hot row), and every other UUID (order, items, transition, outbox rows, command
 * id) and the order number become fresh values per transaction — wherever they appear, including
 * inside JSON parameters (snapshot, outbox payloads) and derived strings (`expire-<orderId>`).
 * The statements themselves are sent exactly as captured.
 */
export function placementReplayPlan(
  capture: CapturedPlacement,
  buyers: string[],
  products: string[],
): ReplayPlan {
  const generated = new Set<string>();
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (typeof value === 'string') for (const [uuid] of value.matchAll(UUID)) generated.add(uuid);
  };
  for (const statement of capture.statements) visit(statement.values);
  for (const [what, value] of Object.entries({ user: capture.userId, product: capture.productId })) {
    if (!generated.has(value))
      throw new Error(`the captured placement never mentions its ${what} (${value})`);
  }
  const dated = capture.statements.some((s) =>
    s.values.flat().some((v) => v instanceof Date && v.getTime() === capture.placedAt.getTime()),
  );
  if (!dated)
    throw new Error('the captured timestamps are not Date parameters: cannot keep replayed rows undue');
  const mentionsOrderNo = capture.statements.some((s) => JSON.stringify(s.values).includes(capture.orderNo));
  if (!mentionsOrderNo) throw new Error(`the captured placement never mentions its order number`);
  generated.delete(capture.userId);
  generated.delete(capture.productId);
  const tokens = [capture.userId, capture.productId, capture.orderNo, ...generated];
  const day = capture.orderNo.slice(0, 8);

  return {
    statements: capture.statements.map(({ text, values }) => {
      if (values.length === 0) return { text, values: undefined };
      const parts = values.map((v) => compile(v, tokens, capture.placedAt));
      return { text, values: (subs) => parts.map((part) => part(subs)) };
    }),
    substitutions: (vu) => {
      const subs: Substitutions = new Map();
      subs.set(capture.userId, buyers[vu % buyers.length]!);
      subs.set(capture.productId, products[Math.floor(Math.random() * products.length)]!);
      subs.set(capture.orderNo, `${day}${String(++replayOrderCounter).padStart(8, '0')}`);
      for (const uuid of generated) subs.set(uuid, uuidv7());
      return subs;
    },
  };
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

function compile(value: unknown, tokens: string[], now: Date): Instantiate {
  if (Array.isArray(value)) {
    const parts = value.map((v) => compile(v, tokens, now));
    return (subs) => parts.map((part) => part(subs));
  }
  if (value instanceof Date && value.getTime() === now.getTime()) return () => NOT_DUE_BEFORE;
  if (typeof value !== 'string') return () => value;
  if (tokens.includes(value)) return (subs) => subs.get(value) ?? value;
  const inside = tokens.filter((t) => value.includes(t));
  if (inside.length === 0) return () => value;
  const pattern = new RegExp(inside.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
  return (subs) => value.replace(pattern, (match) => subs.get(match) ?? match);
}

/**
 * Issues the plan's transaction in a closed loop over `concurrency` dedicated connections (one per
 * virtual user, like the shop's pool under load). Each completed COMMIT is one "ok".
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
      return client;
    }),
  );
  try {
    return await runClosedLoop(async (vu, seq) => {
      const client = clients[vu]!;
      const subs = plan.substitutions(vu, seq);
      try {
        for (const statement of plan.statements) {
          if (statement.values) await client.query(statement.text, statement.values(subs));
          else await client.query(statement.text);
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
