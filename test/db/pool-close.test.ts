import type { Pool } from 'pg';
import { describe, expect, it } from 'vitest';
import { createTestShop } from '../support/test-shop';

/**
 * A shop's close waits for the clients its pool handed out. One whose holder never gives it back (seen
 * under load in the suite: a client checked out and never used) must not keep the close waiting
 * forever: past DATABASE_CLOSE_GRACE_MS its connection is ended and the close finishes.
 */
describe('closing a shop whose pool still has a client checked out', () => {
  it('ends that client’s connection after the grace period and finishes', async () => {
    const shop = await createTestShop({ DATABASE_CLOSE_GRACE_MS: '300' });
    const pool = (await shop.ctx.orm.em.getConnection().getNativeClient()) as Pool;
    const held = await pool.connect(); // never released
    const ended = new Promise<void>((resolve) => held.once('end', () => resolve()));
    expect(pool.totalCount - pool.idleCount).toBeGreaterThanOrEqual(1);

    await shop.close(); // the hook's timeout is the deadline: without the grace, this never returns

    await ended;
    expect(pool.totalCount).toBe(0);
  });

  it('leaves a client its holder gives back alone: the close ends the pool as usual', async () => {
    const shop = await createTestShop({ DATABASE_CLOSE_GRACE_MS: '60000' });
    const pool = (await shop.ctx.orm.em.getConnection().getNativeClient()) as Pool;
    const lent = await pool.connect();
    let lentOut = true;
    let endedWhileLent = false;
    lent.once('end', () => {
      endedWhileLent = lentOut;
    });
    const closed = shop.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    lentOut = false;
    lent.release();
    await closed;
    expect(endedWhileLent).toBe(false);
    expect(pool.totalCount).toBe(0);
  });
});
