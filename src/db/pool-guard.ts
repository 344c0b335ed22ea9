import type { Pool, PoolClient } from 'pg';

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
  const guarded = (callback?: unknown) => {
    if (typeof callback === 'function') return connect(callback as never);
    return connect().then((client: PoolClient) => {
      const release = client.release.bind(client);
      let released = false;
      const releaseOnce = (error?: Error | boolean) => {
        if (released) return;
        released = true;
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
