/**
 * The raw ceiling of a cached product read: a bare node:http server doing exactly one Redis GET per
 * request (GET /p/<id> → GET <prefix>:{product:<id>}, the entry the shop itself cached) and writing the
 * value back. No routing framework, no auth middleware, no validation, no envelope. Started as a
 * child process by the product-reads scenario; prints `listening <port>` when ready.
 */
import http from 'node:http';
import { Redis } from 'ioredis';
import { hashTag } from '../../../src/messaging/redis';

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
const prefix = process.env.REDIS_PREFIX ?? 'shop';

const server = http.createServer((req, res) => {
  const id = req.url?.startsWith('/p/') ? req.url.slice(3) : '';
  redis.get(`${prefix}:${hashTag('product', id)}`).then(
    (value) => {
      if (value === null) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(value);
    },
    () => res.writeHead(503).end(),
  );
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening ${typeof address === 'object' && address ? address.port : 0}`);
});
process.once('SIGTERM', () => {
  server.close();
  redis.disconnect();
  process.exit(0);
});
