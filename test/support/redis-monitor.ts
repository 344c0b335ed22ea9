import { connect, type Socket } from 'node:net';
import type { Redis } from '../../src/messaging/redis';
import type { TestShop } from './test-shop';
import { TEST_REDIS_URL } from './test-shop';
import { eventually } from './worker-process';

/**
 * Counts, by command name, the Redis commands naming this shop's key prefix while `work` runs —
 * commands run inside Lua scripts (BullMQ's, the gates') included, as INFO commandstats counts them.
 */
export function redisCommandsDuring(
  shop: TestShop,
  work: () => Promise<unknown>,
  redisUrl = TEST_REDIS_URL,
): Promise<Map<string, number>> {
  return redisCommandsNaming({ prefix: shop.config.redisPrefix, redis: shop.ctx.redis, redisUrl }, work);
}

/**
 * The same for any key prefix; `redis` is a connection to the monitored server, used to mark the end
 * of the work.
 */
export async function redisCommandsNaming(
  target: { prefix: string; redis: Pick<Redis, 'get'>; redisUrl?: string },
  work: () => Promise<unknown>,
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const { prefix, redis, redisUrl = TEST_REDIS_URL } = target;
  const marker = `${prefix}:monitor-marker`;
  let markerSeen = false;
  const monitor = await monitorRedis(redisUrl, (args) => {
    if (args[1] === marker) {
      markerSeen = true;
      return;
    }
    if (!args.some((arg) => arg.includes(prefix))) return;
    const name = args[0]!.toLowerCase();
    counts.set(name, (counts.get(name) ?? 0) + 1);
  });
  try {
    await work();
    // MONITOR lines trail the replies a little: the last ones are awaited by a marker command.
    await redis.get(marker);
    await eventually(async () => markerSeen || undefined, 5000, 10);
  } finally {
    monitor.destroy();
  }
  return counts;
}

export const totalOf = (counts: Map<string, number>) => [...counts.values()].reduce((sum, n) => sum + n, 0);

/**
 * A MONITOR connection of its own, on a plain socket: ioredis's monitor() enters monitoring mode a
 * microtask after MONITOR's OK, so under traffic the lines that arrive with the OK were taken for
 * replies to no command ("Command queue state error", an uncaught exception in a loaded suite).
 * Resolves once Redis has answered OK; `onCommand` gets each command's arguments, unescaped.
 */
function monitorRedis(redisUrl: string, onCommand: (args: string[]) => void): Promise<Socket> {
  const url = new URL(redisUrl);
  const socket = connect({ host: url.hostname, port: Number(url.port || 6379) });
  const password = decodeURIComponent(url.password);
  const auth = password
    ? [url.username ? ['AUTH', decodeURIComponent(url.username), password] : ['AUTH', password]]
    : [];
  for (const command of [...auth, ['MONITOR']]) socket.write(resp(command));
  return new Promise((resolve, reject) => {
    let buffered = '';
    let okSeen = 0;
    socket.setEncoding('utf8');
    socket.once('error', reject);
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let end = buffered.indexOf('\r\n');
      while (end >= 0) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        end = buffered.indexOf('\r\n');
        if (line.startsWith('-')) reject(new Error(`MONITOR refused: ${line.slice(1)}`));
        else if (line === '+OK' && okSeen <= auth.length) {
          okSeen++;
          if (okSeen === auth.length + 1) resolve(socket);
        } else if (line.startsWith('+')) onCommand(argsOf(line));
      }
    });
  });
}

const resp = (args: string[]) =>
  `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;

/** `+1700000000.123 [0 127.0.0.1:5000] "get" "key"` → ["get", "key"] (Redis's sdscatrepr escapes undone). */
function argsOf(line: string): string[] {
  return [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map(([, quoted]) =>
    quoted!.replace(/\\(x[0-9a-f]{2}|.)/g, (_, escaped: string) => {
      if (escaped.length === 3) return String.fromCharCode(Number.parseInt(escaped.slice(1), 16));
      return { n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b' }[escaped] ?? escaped;
    }),
  );
}
