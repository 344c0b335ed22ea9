import pg, { type PoolClient, type QueryResult } from 'pg';

/**
 * A transaction's edges sent with its statements, one round trip (and one socket write each way, the
 * costly part on this kind of machine) fewer for each: its BEGIN goes out with its first statement, as
 * PgJDBC sends it, and its COMMIT with a last write that asked to wait for it (`atCommit`).
 *
 * kysely opens a transaction with `query('begin', [])` and waits for the answer before it sends the
 * first statement. Here that BEGIN is answered at once without being sent; the transaction's first
 * statement then goes out as BEGIN's Parse/Bind/Execute followed by its own messages and one Sync, so
 * PostgreSQL starts the transaction and runs the statement in one exchange. A write whose values were
 * marked with `atCommit()` (a step's last write, whose checks run in SQL: ./write-batch.ts) is answered
 * at once too, and goes out with the COMMIT (and with the BEGIN, when it is the transaction's only
 * statement): PostgreSQL runs it, and commits only if it succeeded — after an error it skips to the
 * Sync, so the COMMIT never runs and the holder's ROLLBACK follows as before. Its error (translated by
 * the `atCommit` mark) is then the COMMIT's. A statement sent while a write waits for the COMMIT sends
 * that write first, in order, and fails with its error if it failed (a statement that cannot carry it,
 * a callback or a cursor, leaves it to the COMMIT); a ROLLBACK drops it unsent. A transaction that ends
 * before any statement costs nothing at all.
 *
 * Only the plain forms are held back: `query('begin' | 'commit' | 'rollback', [])` (kysely's; any other
 * opening — an isolation level, a callback — goes out as written). A statement sent in another form
 * than `query(text, values)` or `query({ name, text, values })` (a cursor, a callback), or without
 * values (pg's simple protocol, which takes several statements in one text), gets what is held sent
 * before it, in order, the old way.
 *
 * One thing does change: a write that rides with its COMMIT and whose answer never comes (the
 * connection lost, a client-side `query_timeout`) may have committed, where before it had certainly
 * not — as for any COMMIT lost in flight. The shop's steps are safe to run again (command receipts,
 * processed messages, compare-and-sets); what they do after commit is left to the sweeps and the stock
 * gate's reconciliation.
 */
export function holdTransactionEdges(
  client: PoolClient,
  send: Send,
  nameOf: (text: string) => string | undefined,
): HeldEdges {
  let open = false;
  let beginHeld = false;
  let waiting: { statement: Statement; mark: AtCommit } | null = null;
  /** What was held failed, and the statement sent after it could not carry the error (a callback, a cursor). */
  let failed: Promise<Error> | null = null;
  const reset = () => {
    open = false;
    beginHeld = false;
    waiting = null;
    failed = null;
  };

  /**
   * What is held goes out now, in its own exchange, before `next`: its error becomes next's — or,
   * when next is not a promise (a callback, a cursor), the COMMIT's.
   */
  const sendHeldThen = (next: () => unknown): unknown => {
    const held = waiting;
    const begin = beginHeld;
    beginHeld = false;
    waiting = null;
    const sent: Promise<unknown> = held
      ? pipelined(send, { begin, statement: held.statement, commit: false })
      : (send('begin', []) as Promise<unknown>);
    const translate = async (error: unknown) => (held ? held.mark.translate(error) : (error as Error));
    const after = next();
    if (!isPromise(after)) {
      sent.catch((error: unknown) => {
        failed ??= translate(error);
      });
      return after;
    }
    return sent.then(
      () => after,
      async (error: unknown) => {
        after.catch(() => undefined);
        throw await translate(error);
      },
    );
  };

  const query: Send = (config, ...rest) => {
    const plain = isEmptyValues(rest);
    if (config === 'begin' && plain && !open) {
      open = true;
      beginHeld = true;
      return Promise.resolve(answer('BEGIN'));
    }
    if (!open) return send(config, ...rest);
    if (config === 'commit' && plain) {
      const held = waiting;
      const begin = beginHeld;
      const failure = failed;
      reset();
      // PostgreSQL answers COMMIT in a failed transaction with ROLLBACK, not an error: the failure is ours to tell.
      if (failure)
        return (send(config, ...rest) as Promise<unknown>).then(async () => Promise.reject(await failure));
      if (held)
        return pipelined(send, { begin, statement: held.statement, commit: true }).then(
          () => answer('COMMIT'),
          async (error: unknown) => {
            throw await held.mark.translate(error);
          },
        );
      return begin ? Promise.resolve(answer('COMMIT')) : send(config, ...rest);
    }
    if (config === 'rollback' && plain) {
      const begin = beginHeld;
      reset();
      return begin ? Promise.resolve(answer('ROLLBACK')) : send(config, ...rest);
    }
    if (failed) {
      // Sent into a transaction that failed already: it fails too, with what failed first.
      const failure = failed;
      const result = send(config, ...rest);
      return isPromise(result) ? result.then(undefined, async () => Promise.reject(await failure)) : result;
    }
    const statement = asStatement(config, rest, nameOf);
    const ready = statement !== null && isPreparedIfNamed(client, statement);
    const mark = ready ? marks.get(statement.values) : undefined;
    if (mark && !waiting) {
      waiting = { statement: statement!, mark };
      return Promise.resolve(answer('SELECT'));
    }
    // A statement without values (or name) keeps pg's simple protocol, which allows several in one text.
    const ridesBegin = ready && (statement.values.length > 0 || statement.name !== undefined);
    if (waiting || (beginHeld && !ridesBegin)) return sendHeldThen(() => send(config, ...rest));
    if (!beginHeld) return send(config, ...rest);
    beginHeld = false;
    return pipelined(send, { begin: true, statement: statement!, commit: false });
  };
  // A client given back with something still held (a holder that never ended its transaction) must
  // not open a transaction for its next holder.
  return { query, forget: reset };
}

export type Send = (config: unknown, ...rest: unknown[]) => unknown;

export interface HeldEdges {
  query: Send;
  forget(): void;
}

/** How a write that waits for the COMMIT turns its failure into the error its caller chose. */
export interface AtCommit {
  translate(error: unknown): Error | Promise<Error>;
}

const marks = new WeakMap<unknown[], AtCommit>();

/**
 * Marks a statement's values (the array the driver receives) as those of a transaction's last write:
 * in a transaction it is answered at once, with no rows, and sent with the COMMIT (see above). Its
 * caller must not need its result: checks belong in its SQL, failing it.
 */
export function atCommit(values: unknown[], mark: AtCommit): void {
  marks.set(values, mark);
}

interface Statement {
  name?: string;
  text: string;
  values: unknown[];
}

const isPromise = (value: unknown): value is Promise<unknown> =>
  typeof (value as { then?: unknown } | null)?.then === 'function';

const isEmptyValues = (rest: unknown[]) =>
  rest.length === 0 || (rest.length === 1 && Array.isArray(rest[0]) && rest[0].length === 0);

/** `nameOf`: a registered hot statement's name (./prepared-statements.ts), which it keeps here too. */
function asStatement(
  config: unknown,
  rest: unknown[],
  nameOf: (text: string) => string | undefined,
): Statement | null {
  if (typeof config === 'string' && rest.length <= 1 && (rest[0] === undefined || Array.isArray(rest[0])))
    return { name: nameOf(config), text: config, values: (rest[0] as unknown[] | undefined) ?? [] };
  if (rest.length > 0 || typeof config !== 'object' || config === null) return null;
  const { name, text, values, ...other } = config as Record<string, unknown>;
  if (Object.keys(other).length > 0 || typeof text !== 'string') return null;
  if (name !== undefined && typeof name !== 'string') return null;
  if (values !== undefined && !Array.isArray(values)) return null;
  return { name, text, values: values ?? [] };
}

/**
 * A named statement not yet prepared on this connection goes the old way: BEGIN's or COMMIT's
 * ParseComplete would be taken by pg for the statement's own, and a statement that then failed to
 * parse would be thought prepared on this connection for good.
 */
function isPreparedIfNamed(client: PoolClient, { name }: Statement): boolean {
  if (name === undefined) return true;
  const connection = (client as unknown as { connection: Connection }).connection;
  return Boolean(connection.parsedStatements[name]);
}

function pipelined(send: Send, edges: Edges): Promise<QueryResult> {
  return new Promise((resolve, reject) => {
    send(new PipelinedStatement(edges, (error, result) => (error ? reject(error) : resolve(result))));
  });
}

interface Edges {
  begin: boolean;
  statement: Statement;
  commit: boolean;
}

interface Connection {
  parsedStatements: Record<string, string>;
  stream: { cork(): void; uncork(): void };
  parse(message: { text: string }): void;
  bind(message: Record<string, never>): void;
  execute(message: { portal?: string; rows?: number }): void;
  sync(): void;
}

type Callback = (error: Error | null, result: QueryResult) => void;

/** pg's Query as it is at run time (its typings declare `submit` a field and omit the handlers). */
interface RuntimeQuery {
  portal: string;
  submit(connection: Connection): Error | null | undefined;
  handleCommandComplete(message: unknown, connection: Connection): void;
}
const Query = pg.Query as unknown as new (
  config: Statement & { queryMode: 'extended' },
  values: undefined,
  callback: Callback,
) => RuntimeQuery;

const runUnnamed = (connection: Connection, text: string) => {
  connection.parse({ text });
  connection.bind({});
  connection.execute({});
};

/** A statement with its transaction's BEGIN before it and/or its COMMIT after it, in one exchange. */
export class PipelinedStatement extends Query {
  /** Whether BEGIN goes before the statement and COMMIT after it (read by the tests' statement counters). */
  readonly edges: { begin: boolean; commit: boolean };
  private completed = 0;

  constructor({ begin, statement, commit }: Edges, callback: Callback) {
    super({ ...statement, queryMode: 'extended' }, undefined, callback);
    this.edges = { begin, commit };
  }

  override submit(connection: Connection): Error | null | undefined {
    connection.stream.cork();
    try {
      if (this.edges.begin) runUnnamed(connection, 'begin');
      return super.submit(connection);
    } finally {
      connection.stream.uncork();
    }
  }

  /** Called by pg's Query after the statement's Describe: its Execute, then COMMIT's, then one Sync. */
  _getRows(connection: Connection): void {
    connection.execute({ portal: this.portal });
    if (this.edges.commit) runUnnamed(connection, 'commit');
    connection.sync();
  }

  /** BEGIN's CommandComplete comes first and COMMIT's last: neither is the statement's result. */
  override handleCommandComplete(message: unknown, connection: Connection): void {
    const index = this.completed++;
    if (index === (this.edges.begin ? 1 : 0)) super.handleCommandComplete(message, connection);
  }
}

const answer = (command: string) =>
  ({ command, rowCount: null, oid: 0, rows: [], fields: [] }) as unknown as QueryResult;
