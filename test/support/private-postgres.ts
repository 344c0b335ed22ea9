import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { createOrm, migrate } from '../../src/db/orm';
import { freeListeningPort } from './ports';

const exec = promisify(execFile);

// pg_ctl starts the server as a daemon: a test file that fails before its afterAll must not leave it
// running. Whatever is still up when the test file's process exits is stopped with it.
const running = new Map<string, string[]>();
process.once('exit', () => {
  for (const [dir, command] of running) {
    try {
      execFileSync(command[0]!, command.slice(1), { stdio: 'ignore' });
    } catch {
      // already stopped
    }
    rmSync(dir, { recursive: true, force: true });
  }
});

export interface PrivatePostgres {
  port: number;
  /** A migrated database of the shop's schema on this cluster. */
  url: string;
  /** `pg_ctl stop -m immediate`: every connection drops at once, as when the server dies. */
  stop: () => Promise<void>;
  start: () => Promise<void>;
  destroy: () => Promise<void>;
}

/** The installed PostgreSQL binaries (Debian: /usr/lib/postgresql/<version>/bin), newest first. */
function binaries(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) throw new Error(`no PostgreSQL server binaries under ${root} (initdb, pg_ctl)`);
  return join(root, versions[0]!, 'bin');
}

/**
 * A PostgreSQL cluster of the test's own (initdb on a free port into a temporary directory), so a
 * test can stop and start the server under load without disturbing the shared one. PostgreSQL
 * refuses to run as root: as root, its programs run as the `postgres` OS user.
 */
export async function startPrivatePostgres(database = 'shop'): Promise<PrivatePostgres> {
  const bin = binaries();
  const port = await freeListeningPort();
  const dir = mkdtempSync(join(tmpdir(), 'shop-pg-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { stdout } = await exec('id', ['-u', 'postgres']);
    const { stdout: gid } = await exec('id', ['-g', 'postgres']);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
    chmodSync(dir, 0o700);
  }
  const run = (program: string, args: string[]) =>
    asRoot
      ? exec('runuser', ['-u', 'postgres', '--', join(bin, program), ...args])
      : exec(join(bin, program), args);
  await run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off -c max_connections=60`;
  const stopArgs = [join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', '-w', 'stop'];
  const start = async () => {
    await run('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', '-t', '60', 'start']);
    running.set(dir, asRoot ? ['runuser', '-u', 'postgres', '--', ...stopArgs] : stopArgs);
  };
  const stop = async () => {
    await run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    running.delete(dir);
  };
  await start();
  const admin = new pg.Client({ connectionString: `postgresql://postgres@127.0.0.1:${port}/postgres` });
  await admin.connect();
  await admin.query(`create database "${database}"`);
  await admin.end();
  const url = `postgresql://postgres@127.0.0.1:${port}/${database}`;
  const orm = await createOrm(url, 2);
  try {
    await migrate(orm);
  } finally {
    await orm.close();
  }
  return {
    port,
    url,
    stop,
    start,
    destroy: async () => {
      await stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
