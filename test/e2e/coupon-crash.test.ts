import { type ChildProcess, spawn } from 'node:child_process';
import http from 'node:http';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBuyers, createCoupon, gateOf, storedIssuance, waitFor } from '../support/coupons';
import { databaseUrl } from '../support/databases';
import { freeListeningPort } from '../support/ports';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

// Issue 12 item 3: winners wait in a batch for PostgreSQL. A shop killed while they wait has answered
// none of them 201, and its successor rebuilds the gate from PostgreSQL, so nobody lost a coupon that
// was promised and the claims of the crash are free again.

const ROOT = join(import.meta.dirname, '../..');
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});

let shop: TestShop;
let seller: TestUser;
beforeAll(async () => {
  shop = await createTestShop();
  seller = await shop.createUser('SELLER');
});
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await shop?.close();
});

/** `npm start` as a real process on this test file's database and Redis prefix, API only. */
async function startShopProcess(port: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      PORT: String(port),
      DATABASE_URL: shop.config.databaseUrl!,
      DATABASE_POOL_SIZE: '4',
      REDIS_URL: shop.config.redisUrl,
      REDIS_PREFIX: shop.config.redisPrefix,
      JWT_SECRET: shop.config.jwtSecret,
      LOG_LEVEL: 'info',
      SEED_DEMO: 'false',
      PASSWORD_HASH_MEMORY_KIB: '1024',
      WORKERS: 'none',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`shop exited early:\n${output}`);
      return output.includes('shop is listening');
    },
    'the shop process to listen',
    60_000,
  );
  return {
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
      children.delete(child);
    },
  };
}

/** POST /coupons/{id}/issue over a socket: the status, or the error that ended the request. */
function issueOverHttp(port: number, token: string, couponId: string) {
  return new Promise<string>((resolve) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: `/api/v1/coupons/${couponId}/issue`,
        headers: { authorization: `Bearer ${token}` },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(String(res.statusCode)));
        res.on('error', (error) => resolve(`error ${error.message}`));
      },
    );
    req.on('error', (error) => resolve(`error ${error.message}`));
    req.end();
  });
}

describe('a shop killed while its winners wait for PostgreSQL', () => {
  it('answered none of them 201, and the next start frees their claims (gate = PostgreSQL)', async () => {
    const port = await freeListeningPort();
    const buyers = await createBuyers(shop, 6);
    const coupon = await createCoupon(shop, seller, { totalQuantity: 10 });
    const first = await startShopProcess(port);
    const blocker = new pg.Client({ connectionString: databaseUrl(shop.databaseName) });
    await blocker.connect();
    let answers: string[];
    try {
      await blocker.query('begin');
      await blocker.query('lock table user_coupons in access exclusive mode');
      const pending = Promise.all(buyers.map((b) => issueOverHttp(port, b.token, coupon.id)));
      await waitFor(
        async () => {
          const { rows } = await blocker.query(
            `select 1 from pg_stat_activity
           where datname = current_database() and pid <> pg_backend_pid() and wait_event_type = 'Lock'`,
          );
          return rows.length > 0;
        },
        'a batch of winners waiting on the lock',
        30_000,
      );
      // Every buyer has claimed in Redis by now: the gate promises 6 coupons PostgreSQL does not have.
      await waitFor(async () => (await gateOf(shop, coupon.id)).users.length === 6, 'all six claims', 30_000);
      await first.kill();
      answers = await pending;
    } finally {
      await blocker.query('rollback').catch(() => undefined);
      await blocker.end();
    }
    expect(
      answers.filter((a) => a === '201'),
      answers.join(', '),
    ).toEqual([]);
    expect(
      answers.every((a) => a.startsWith('error')),
      answers.join(', '),
    ).toBe(true);
    // The killed shop never sent COMMIT: whatever its backend wrote is invisible and rolls back.
    expect(await storedIssuance(shop, coupon.id)).toMatchObject({ issued_count: 0, userIds: [] });

    const second = await startShopProcess(port);
    try {
      expect(await gateOf(shop, coupon.id)).toEqual({ users: [], remaining: 10 });
      const again = await Promise.all(buyers.map((b) => issueOverHttp(port, b.token, coupon.id)));
      expect(again, again.join(', ')).toEqual(buyers.map(() => '201'));
      const stored = await storedIssuance(shop, coupon.id);
      expect(stored.issued_count).toBe(6);
      expect(stored.userIds.sort()).toEqual(buyers.map((b) => b.id).sort());
    } finally {
      await second.kill();
    }
  }, 180_000); // two shop processes start on a busy box
});
