import pg, { type PoolClient, type QueryResult } from 'pg';

/**
 * A transaction's BEGIN sent in the same write as its first statement, as PgJDBC does: one round trip
 * (and one socket write each way, the costly part on this kind of machine) fewer per transaction.
 *
 * kysely opens a transaction with `query('begin', [])` and waits for the answer before it sends the
 * first statement. Here that BEGIN is answered at once without being sent; the transaction's first
 * statement then goes out as BEGIN's Parse/Bind/Execute followed by its own messages and one Sync, so
 * PostgreSQL starts the transaction and runs the statement in one exchange. An error in the statement
 * leaves the transaction aborted exactly as before (the holder's ROLLBACK follows); a transaction
 * that ends before any statement (COMMIT or ROLLBACK with BEGIN still held) costs nothing at all.
 *
 * Only the plain form is held back: `query('begin', [])` (kysely's BEGIN; any other opening — an
 * isolation level, a callback — goes out as written). A first statement sent in another form than
 * kysely's `query(text, values)` or `query({ name, text, values })` (a cursor, a callback) gets the
 * held BEGIN sent before it, in order, the old way.
 */
export function holdBegin(
  client: PoolClient,
  send: Send,
  nameOf: (text: string) => string | undefined,
): HeldBeginSend {
  let held = false;
  const query: Send = (config, ...rest) => {
    if (!held && config === 'begin' && isEmptyValues(rest)) {
      held = true;
      return Promise.resolve(answer('BEGIN'));
    }
    if (!held) return send(config, ...rest);
    held = false;
    if ((config === 'commit' || config === 'rollback') && isEmptyValues(rest))
      return Promise.resolve(answer(config.toUpperCase()));
    const statement = asStatement(config, rest, nameOf);
    if (!statement || !canRideWithBegin(client, statement)) {
      void (send('begin', []) as Promise<unknown>).catch(() => undefined);
      return send(config, ...rest);
    }
    return new Promise((resolve, reject) => {
      send(new BegunStatement(statement, (error, result) => (error ? reject(error) : resolve(result))));
    });
  };
  // A client given back with its BEGIN still held (a holder that never ended its transaction) must not
  // open a transaction for its next holder.
  return { query, forget: () => (held = false) };
}

export type Send = (config: unknown, ...rest: unknown[]) => unknown;

export interface HeldBeginSend {
  query: Send;
  forget(): void;
}

interface Statement {
  name?: string;
  text: string;
  values: unknown[];
}

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
 * A named statement not yet prepared on this connection goes the old way: BEGIN's ParseComplete would
 * be taken by pg for the statement's own, and a statement that then failed to parse would be thought
 * prepared on this connection for good.
 */
function canRideWithBegin(client: PoolClient, { name }: Statement): boolean {
  if (name === undefined) return true;
  const connection = (client as unknown as { connection: Connection }).connection;
  return Boolean(connection.parsedStatements[name]);
}

interface Connection {
  parsedStatements: Record<string, string>;
  stream: { cork(): void; uncork(): void };
  parse(message: { text: string }): void;
  bind(message: Record<string, never>): void;
  execute(message: Record<string, never>): void;
}

type Callback = (error: Error | null, result: QueryResult) => void;

/** pg's Query as it is at run time (its typings declare `submit` a field and omit the handlers). */
interface RuntimeQuery {
  submit(connection: Connection): Error | null | undefined;
  handleCommandComplete(message: unknown, connection: Connection): void;
}
const Query = pg.Query as unknown as new (
  config: Statement & { queryMode: 'extended' },
  values: undefined,
  callback: Callback,
) => RuntimeQuery;

/** The first statement of a transaction, preceded on the wire by the transaction's BEGIN. */
export class BegunStatement extends Query {
  private beginAnswered = false;

  constructor(statement: Statement, callback: Callback) {
    super({ ...statement, queryMode: 'extended' }, undefined, callback);
  }

  override submit(connection: Connection): Error | null | undefined {
    connection.stream.cork();
    try {
      connection.parse({ text: 'begin' });
      connection.bind({});
      connection.execute({});
      return super.submit(connection);
    } finally {
      connection.stream.uncork();
    }
  }

  /** BEGIN's CommandComplete comes first: it is not the statement's result. */
  override handleCommandComplete(message: unknown, connection: Connection): void {
    if (this.beginAnswered) super.handleCommandComplete(message, connection);
    else this.beginAnswered = true;
  }
}

const answer = (command: string) =>
  ({ command, rowCount: null, oid: 0, rows: [], fields: [] }) as unknown as QueryResult;
