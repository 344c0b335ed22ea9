import pg from 'pg';

/**
 * Every statement this process sends to `database` while `fn` runs, observed at the pg driver
 * (so it counts what really reaches PostgreSQL, whatever layer issued it).
 */
export async function statementsDuring(database: string, fn: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    if (this.database === database) {
      const text = args[0];
      seen.push(typeof text === 'string' ? text : String((text as { text?: string })?.text));
    }
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  try {
    await fn();
  } finally {
    pg.Client.prototype.query = original;
  }
  return seen;
}
