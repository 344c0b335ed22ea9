/**
 * Where the load generator's round trip goes (not a scenario; run by hand under the bench lock):
 *
 *   flock /work/wt/bench.lock npx tsx test/bench/raw/client-round-trip.ts [concurrency=8] [clients=undici,lean]
 *
 * A bare node:http server in a child process answers every POST with a prepared 409 (thirteen extra
 * headers, like the shop's security headers); a closed loop of `concurrency` users loads it for 3 s
 * through undici's Pool (the load generator's client until 2026-12-06) and through the lean client
 * (support/lean-http.ts). Prints req/s, the round trip, each side's CPU per request and cores, and the
 * sockets the server saw.
 */
import { fork } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { Pool } from 'undici';
import { LeanPool } from '../support/lean-http';

interface ServerSample {
  user: number;
  system: number;
  sockets: number;
}

function serveConstant409(): Server {
  const body = JSON.stringify({ error: { code: 'OUT_OF_STOCK', message: 'x'.repeat(60) } });
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    'X-Request-Id': '0190a0a0-0000-7000-8000-000000000000',
  };
  for (let i = 0; i < 13; i++) headers[`X-Security-${i}`] = 'same-origin; something';
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    sockets.add(req.socket);
    req.resume();
    req.on('end', () => {
      res.writeHead(409, headers);
      res.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  process.on('message', () => {
    process.send?.({ ...process.cpuUsage(), sockets: sockets.size } satisfies ServerSample);
    sockets.clear();
  });
  return server;
}

type Send = () => Promise<number>;

function clientsFor(base: string, connections: number): Record<string, () => Send> {
  const body = JSON.stringify({
    items: [{ productId: '0190a0a0-0000-7000-8000-000000000001', quantity: 1 }],
  });
  const headers = { authorization: `Bearer ${'t'.repeat(200)}`, 'content-type': 'application/json' };
  return {
    undici: () => {
      const pool = new Pool(base, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
      return async () => {
        const res = await pool.request({ method: 'POST', path: '/api/v1/orders', headers, body });
        await res.body.dump();
        return res.statusCode;
      };
    },
    lean: () => {
      const pool = new LeanPool(base, connections);
      return async () => (await pool.request('POST', '/api/v1/orders', headers, body, false)).status;
    },
  };
}

async function main() {
  const concurrency = Number(process.argv[2] ?? 8);
  const names = (process.argv[3] ?? 'undici,lean').split(',');
  const child = fork(import.meta.filename, ['--server'], { execArgv: ['--import', 'tsx'] });
  const port = await new Promise<number>((resolve) => child.once('message', (m) => resolve(Number(m))));
  const serverSample = () =>
    new Promise<ServerSample>((resolve) => {
      child.once('message', (m) => resolve(m as ServerSample));
      child.send('sample');
    });
  const clients = clientsFor(`http://127.0.0.1:${port}`, concurrency);
  const loop = async (send: Send, ms: number) => {
    const stop = performance.now() + ms;
    let n = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < stop) {
          await send();
          n++;
        }
      }),
    );
    return n;
  };
  for (const name of names) {
    const send = clients[name]?.();
    if (!send) throw new Error(`no client ${name}`);
    await loop(send, 500);
    const c0 = process.cpuUsage();
    const s0 = await serverSample();
    const t0 = performance.now();
    const n = await loop(send, 3000);
    const ms = performance.now() - t0;
    const c = process.cpuUsage(c0);
    const s1 = await serverSample();
    const clientMs = (c.user + c.system) / 1000;
    const serverMs = (s1.user + s1.system - s0.user - s0.system) / 1000;
    console.log(
      `${name} @${concurrency}: ${Math.round((n / ms) * 1000)}/s, round trip ${((concurrency * ms) / n).toFixed(2)} ms; ` +
        `client ${(clientMs / n).toFixed(3)} ms/req (${(clientMs / ms).toFixed(2)} cores), ` +
        `server ${(serverMs / n).toFixed(3)} ms/req (${(serverMs / ms).toFixed(2)} cores), ${s1.sockets} sockets`,
    );
  }
  child.kill();
}

if (process.argv[2] === '--server') {
  const server = serveConstant409();
  server.listen(0, '127.0.0.1', () => process.send?.((server.address() as { port: number }).port));
} else {
  await main();
}
