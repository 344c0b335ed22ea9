import { createServer } from 'node:net';

/**
 * A free port for a server a test starts (redis-server, an embedded PostgreSQL), chosen below the
 * kernel's ephemeral range (32768+): there, the suite's own client sockets could take it between
 * this check and the server's bind.
 */
export async function freeListeningPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 10_000);
    if (await isPortFree(port)) return port;
  }
}

/** Whether a server could listen on 127.0.0.1:`port` now. */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
