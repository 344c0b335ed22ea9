import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient } from './support/http-client';
import { chunkedEnd } from './support/lean-http';

/** The load generator's HTTP client against node:http answering each framing it may meet. */
describe('the load generator HTTP client', () => {
  let server: Server;
  let baseUrl: string;
  const sockets = new Set<number>();

  beforeAll(async () => {
    server = createServer((req, res) => {
      sockets.add(req.socket.remotePort ?? 0);
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        const echo = JSON.stringify({
          method: req.method,
          url: req.url,
          auth: req.headers.authorization ?? null,
          body,
        });
        if (req.url === '/chunked') {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('héllo ');
          setImmediate(() => res.end('wörld'));
        } else if (req.url === '/close') {
          res.writeHead(200, { connection: 'close', 'content-length': '2' });
          res.end('ok');
        } else if (req.url === '/empty') {
          res.writeHead(204);
          res.end();
        } else {
          res.writeHead(req.url === '/conflict' ? 409 : 201, {
            'content-type': 'application/json',
            'content-length': String(Buffer.byteLength(echo)),
          });
          res.end(echo);
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends method, path, headers and a JSON body; reads status and a sized body', async () => {
    const http = createHttpClient(baseUrl, 2);
    const res = await http.request('POST', '/echo', {
      headers: { authorization: 'Bearer t' },
      body: { items: ['ü'] },
      readBody: true,
    });
    expect(res.status).toBe(201);
    expect(JSON.parse(res.body!)).toEqual({
      method: 'POST',
      url: '/echo',
      auth: 'Bearer t',
      body: '{"items":["ü"]}',
    });
    expect((await http.request('GET', '/conflict')).status).toBe(409);
    await http.close();
  });

  it('reads chunked bodies, bodiless answers and answers that close the connection', async () => {
    const http = createHttpClient(baseUrl, 1);
    expect(await http.request('GET', '/chunked', { readBody: true })).toEqual({
      status: 200,
      body: 'héllo wörld',
    });
    expect(await http.request('GET', '/empty', { readBody: true })).toEqual({ status: 204, body: '' });
    expect(await http.request('GET', '/close', { readBody: true })).toEqual({ status: 200, body: 'ok' });
    // The next request needs a new connection, and the pool has room for one only.
    expect((await http.request('GET', '/conflict')).status).toBe(409);
    await http.close();
  });

  it('keeps at most `connections` sockets, reused by the requests that wait for them', async () => {
    sockets.clear();
    const http = createHttpClient(baseUrl, 3);
    const statuses = await Promise.all(Array.from({ length: 30 }, (_, i) => http.request('GET', `/n${i}`)));
    expect(statuses.every((res) => res.status === 201)).toBe(true);
    expect(sockets.size).toBe(3);
    await http.close();
  });

  it('rejects a request whose connection is refused', async () => {
    const http = createHttpClient('http://127.0.0.1:1', 1);
    await expect(http.request('GET', '/')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await http.close();
  });

  it('reads framing headers in any spelling', async () => {
    const odd = createNetServer((socket) =>
      socket.once('data', () =>
        socket.write('HTTP/1.1 202 Accepted\r\nCONTENT-LENGTH: 3\r\nx: y\r\n\r\nabc'),
      ),
    );
    await new Promise<void>((resolve) => odd.listen(0, '127.0.0.1', resolve));
    const http = createHttpClient(`http://127.0.0.1:${(odd.address() as AddressInfo).port}`, 1);
    expect(await http.request('GET', '/', { readBody: true })).toEqual({ status: 202, body: 'abc' });
    await http.close();
    await new Promise((resolve) => odd.close(resolve));
  });

  it('finds the end of a chunked body only when the whole of it has arrived', () => {
    const whole = Buffer.from('5\r\nhello\r\n0\r\n\r\nNEXT');
    expect(chunkedEnd(whole, 0)).toBe(whole.length - 4);
    expect(chunkedEnd(whole.subarray(0, 12), 0)).toBe(-1);
    expect(chunkedEnd(whole.subarray(0, whole.length - 5), 0)).toBe(-1);
  });
});
