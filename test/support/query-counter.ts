import pg from 'pg';
import { PipelinedStatement } from '../../src/db/transaction-edges';
import { DATABASE_PROBE } from '../../src/health/dependency-monitor';

/**
 * Calls `seen` with each statement this process sends to `database` while `fn` runs (its text, and its
 * name when it goes as a named prepared statement), observed at the pg driver — so it sees what really
 * reaches PostgreSQL, whatever layer issued it — except the dependency monitor's once-a-second ping,
 * which is not part of anything a test measures. A BEGIN or COMMIT that rides with a statement
 * (src/db/transaction-edges.ts) is seen as a statement of its own, before or after it; a transaction
 * that ran no statement sent nothing, so shows nothing.
 */
export async function watchStatements(
  database: string,
  seen: (text: string, name: string | undefined) => void,
  fn: () => Promise<unknown>,
): Promise<void> {
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    if (this.database === database) {
      const raw = args[0] as string | { text?: string; name?: string } | undefined;
      const text = typeof raw === 'string' ? raw : String(raw?.text);
      const edges = raw instanceof PipelinedStatement ? raw.edges : undefined;
      if (edges?.begin) seen('begin', undefined);
      if (text !== DATABASE_PROBE) seen(text, typeof raw === 'object' ? raw.name : undefined);
      if (edges?.commit) seen('commit', undefined);
    }
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  try {
    await fn();
  } finally {
    pg.Client.prototype.query = original;
  }
}

/** Every statement this process sends to `database` while `fn` runs (see watchStatements). */
export async function statementsDuring(database: string, fn: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  await watchStatements(database, (text) => seen.push(text), fn);
  return seen;
}

/**
 * "insert orders", "select inventory", "nextval"…: the verb and the table a statement touches. A
 * write batch (one statement of CTEs) lists its writes: "batch(insert orders, update inventory)".
 */
export function statementKind(statement: string): string {
  const s = statement.replace(/\s+/g, ' ').trim().toLowerCase();
  if (s === 'begin' || s === 'commit' || s === 'rollback') return s;
  if (s.startsWith('select nextval')) return 'nextval';
  if (s.startsWith('select') && s.includes('nextval(')) {
    const tables = [...s.matchAll(/join "?([a-z_]+)"?/g)].map((m) => m[1]);
    return `select ${tables.join(' + ')} + nextval`;
  }
  const locked = /^with \w+ as \( select .*? from "?([a-z_]+)"?.*? for update/.exec(s);
  if (locked) return `lock ${locked[1]}${s.includes('nextval(') ? ' + nextval' : ''}`;
  // A write recorded and a row read in one statement: "insert processed_messages + select orders".
  const recordThenRead =
    /^with \w+ as \( (insert into|update|delete from) "?([a-z_]+)"?.*\) select .* (?:from|join) "?([a-z_]+)"? \w+ on /.exec(
      s,
    );
  if (recordThenRead)
    return `${recordThenRead[1]!.split(' ')[0]} ${recordThenRead[2]} + select ${recordThenRead[3]}`;
  if (s.startsWith('with w0 as (')) {
    const writes = [...s.matchAll(/w\d+ as \((insert into|update|delete from) "?([a-z_]+)"?/g)];
    return `batch(${writes.map((w) => `${w[1]!.split(' ')[0]} ${w[2]}`).join(', ')})`;
  }
  const write = /^(insert into|update|delete from) "?([a-z_]+)"?/.exec(s);
  if (write) return `${write[1]!.split(' ')[0]} ${write[2]}`;
  const read = /^select .*? from "?([a-z_]+)"?/.exec(s);
  return read ? `select ${read[1]}` : s.slice(0, 30);
}
