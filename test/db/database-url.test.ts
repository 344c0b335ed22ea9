import { afterEach, describe, expect, it } from 'vitest';
import { createOrm, type Orm } from '../../src/db/orm';
import { ADMIN_URL, withAdminClient } from '../support/databases';

/**
 * DATABASE_URL is handed to the ORM whole. MikroORM alone builds pg's options from the URL's host,
 * port, user, password and path, and drops its parameters: `?sslmode=require` then connected in plain
 * text, `?host=/run/postgresql` over TCP, `?application_name=` not at all.
 */

let orm: Orm | undefined;
afterEach(async () => {
  await orm?.close(true);
  orm = undefined;
});

function urlWith(params: Record<string, string>): string {
  const url = new URL(ADMIN_URL);
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return url.toString();
}

async function firstRow<T>(url: string, statement: string): Promise<T> {
  orm = await createOrm(url, 1);
  const [row] = await orm.em.fork().getConnection().execute<T[]>(statement);
  return row!;
}

describe('DATABASE_URL parameters reach the connection', () => {
  it('application_name is the session’s', async () => {
    const row = await firstRow<{ name: string }>(
      urlWith({ application_name: 'shop-url-check' }),
      `select current_setting('application_name') as name`,
    );
    expect(row.name).toBe('shop-url-check');
  });

  it('host= a socket directory connects over the Unix socket, not TCP', async () => {
    const directory = await withAdminClient(async (client) => {
      const { rows } = await client.query<{ dirs: string }>(
        `select current_setting('unix_socket_directories') as dirs`,
      );
      return rows[0]!.dirs.split(',')[0]!.trim();
    });
    expect(directory, 'the server listens on a Unix socket').not.toBe('');
    const row = await firstRow<{ address: string | null }>(
      urlWith({ host: directory }),
      'select inet_client_addr()::text as address',
    );
    expect(row.address).toBeNull();
  });

  it('sslmode=require connects encrypted or not at all', async () => {
    const serverSsl = await withAdminClient(async (client) => (await client.query('show ssl')).rows[0].ssl);
    const url = urlWith({ sslmode: 'require', uselibpqcompat: 'true' });
    if (serverSsl === 'on') {
      const row = await firstRow<{ ssl: boolean }>(
        url,
        'select ssl from pg_stat_ssl where pid = pg_backend_pid()',
      );
      expect(row.ssl).toBe(true);
    } else {
      await expect(firstRow(url, 'select 1')).rejects.toThrow(/SSL/i);
    }
  });
});
