import type { Pool, PoolClient } from 'pg';

/** Per guarded pool: the clients it handed out and did not get back, and how many a close ended. */
const guards = new WeakMap<Pool, { held: Set<PoolClient>; endedAtClose: number }>();

/**
 * Gives back to the pool, destroyed, a client whose connection ends while it is checked out.
 *
 * Why: kysely 0.29 never releases the connection of a transaction whose BEGIN, COMMIT or ROLLBACK
 * throws (kysely-org/kysely#1990), which is exactly what happens when PostgreSQL stops under load.
 * Each such client stays counted by the pool forever: a few outages starve it ("timeout exceeded when
 * trying to connect") and `pool.end()` never returns. A client whose connection is gone is useless to
 * its holder anyway, so releasing it with an error (pg-pool then discards it) is always safe; the
 * holder's own release, if it ever comes, becomes a no-op.
 */
export function releaseClientsThatDie(pool: Pool): void {
  const connect = pool.connect.bind(pool);
  const held = new Set<PoolClient>();
  guards.set(pool, { held, endedAtClose: 0 });
  const guarded = (callback?: unknown) => {
    if (typeof callback === 'function') return connect(callback as never);
    return connect().then((client: PoolClient) => {
      const release = client.release.bind(client);
      let released = false;
      held.add(client);
      const releaseOnce = (error?: Error | boolean) => {
        if (released) return;
        released = true;
        held.delete(client);
        client.removeListener('end', onEnd);
        release(error);
      };
      const onEnd = () => releaseOnce(new Error('connection ended while checked out'));
      client.once('end', onEnd);
      client.release = releaseOnce;
      return client;
    });
  };
  pool.connect = guarded as Pool['connect'];
}

/**
 * Ends the connections of the clients `pool` handed out (through its promise API) and did not get
 * back: each is then released as dead (above), so `pool.end()` can finish. For a close whose pool
 * would otherwise wait forever on a holder that never releases. Returns how many there were.
 */
export function endCheckedOutClients(pool: Pool): number {
  const guard = guards.get(pool);
  if (!guard) return 0;
  const held = [...guard.held];
  for (const client of held) void client.end().catch(() => undefined);
  guard.endedAtClose += held.length;
  return held.length;
}

/** How many clients endCheckedOutClients ended for `pool` (a test shop reports them: a leak to find). */
export const clientsEndedAtClose = (pool: Pool): number => guards.get(pool)?.endedAtClose ?? 0;
