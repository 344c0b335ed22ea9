import pg from 'pg';
import { PipelinedStatement } from '../../../src/db/transaction-edges';

export interface CapturedStatement {
  text: string;
  values: unknown[];
  /** The shop sent it with its transaction's COMMIT (src/db/transaction-edges.ts): a replay does too. */
  withCommit?: boolean;
}

/**
 * Work the shop's own code did against a database, as sent at the driver, with the values that
 * identify this one instance of it: a replay (raw/sql-replay.ts) gives each repetition fresh ones.
 */
export interface CapturedWork {
  statements: CapturedStatement[];
  /** Run once before a replay (e.g. the day's order-number sequence, created outside any transaction). */
  setup: CapturedStatement[];
  userId: string;
  productId: string;
  orderNo: string;
  /**
   * When the work ran: every Date parameter inside this span is one of the work's own `now`s, which a
   * replay turns into a date far in the future (see NOT_DUE_BEFORE in sql-replay.ts).
   */
  clock: { from: Date; to: Date };
  /** Generated values that are not UUIDs (e.g. `pay-<sha256 prefix>` command ids): fresh per replay. */
  generated: string[];
}

interface SentStatement extends CapturedStatement {
  client: unknown;
}

/** The dependency monitor's probe, sent by whichever pooled connection is free: never part of the work. */
const PROBE = /^\s*select 1\s*$/i;

/**
 * Every statement sent through `pg.Client.prototype.query` (which MikroORM and kysely both end in)
 * while `work` runs, in order, with the connection that sent it; a BEGIN or COMMIT sent with a statement
 * (src/db/transaction-edges.ts) as a statement of its own (an empty transaction sends nothing, so shows none). Recording at the driver rather
 * than copying SQL by hand means a raw ceiling follows the product: add a statement to a step and
 * the replay issues it too.
 */
export async function recordStatements(work: () => Promise<unknown>): Promise<SentStatement[]> {
  const sent: SentStatement[] = [];
  const prototype = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = prototype.query;
  prototype.query = function (this: unknown, ...args: unknown[]) {
    const [first, second] = args;
    let statement: CapturedStatement | undefined;
    if (typeof first === 'string') {
      statement = { text: first, values: Array.isArray(second) ? [...second] : [] };
    } else if (first && typeof first === 'object' && 'text' in first) {
      const config = first as { text: string; values?: unknown[] };
      const values = config.values ?? (Array.isArray(second) ? second : []);
      statement = { text: config.text, values: [...values] };
    }
    // A statement may carry its transaction's BEGIN and COMMIT (src/db/transaction-edges.ts).
    const edges = first instanceof PipelinedStatement ? first.edges : undefined;
    if (edges?.begin) sent.push({ client: this, text: 'begin', values: [] });
    if (statement && !PROBE.test(statement.text))
      sent.push({ client: this, ...statement, ...(edges?.commit ? { withCommit: true } : {}) });
    if (edges?.commit) sent.push({ client: this, text: 'commit', values: [] });
    return original.apply(this, args);
  };
  try {
    await work();
  } finally {
    prototype.query = original;
  }
  return sent;
}

/**
 * The statements of the one transaction `work` commits, kept only from the connection that opened
 * it and only from its BEGIN to its COMMIT (the ORM may check the database on first use, elsewhere).
 */
export async function recordTransaction(work: () => Promise<unknown>): Promise<CapturedStatement[]> {
  const sent = await recordStatements(work);
  const begin = sent.findIndex((s) => /^\s*(begin|start transaction)\b/i.test(s.text));
  if (begin < 0) throw new Error('the work sent no BEGIN: nothing to replay');
  const client = sent[begin]!.client;
  const ours = sent.slice(begin).filter((s) => s.client === client);
  const commit = ours.findIndex((s) => /^\s*commit\b/i.test(s.text));
  if (commit < 0) throw new Error('the transaction did not COMMIT');
  return ours.slice(0, commit + 1).map(({ client: _client, ...statement }) => statement);
}

/** Every statement of `work` (autocommit statements and whole transactions), in the order sent. */
export async function recordAll(work: () => Promise<unknown>): Promise<CapturedStatement[]> {
  const sent = await recordStatements(work);
  return sent.map(({ client: _client, ...statement }) => statement);
}
