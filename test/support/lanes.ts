import http from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import { expect } from 'vitest';
import { createApp, MAX_BODY_BYTES } from '../../src/app';
import { createHttpServer } from '../../src/http/http-server';
import type { Fetch, NodeListener } from '../../src/http/lane-support';
import { createMetrics, type Metrics } from '../../src/observability/metrics';
import { sample } from './prometheus';
import type { TestShop } from './test-shop';

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface SendOptions {
  body?: string;
  headers?: Record<string, string>;
  /** Sent without Content-Length, in several writes, as a streaming client sends it. */
  chunked?: boolean;
}

/** One request over a real socket (as clients reach the shop: @hono/node-server, Content-Length). */
export function send(port: number, method: string, path: string, options: SendOptions = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...options.headers };
    if (options.body !== undefined) {
      headers['content-type'] ??= 'application/json';
      if (!options.chunked) headers['content-length'] = Buffer.byteLength(options.body);
    }
    const req = http.request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    if (options.body !== undefined) {
      const piece = 256 * 1024;
      for (let i = 0; i < options.body.length; i += piece) req.write(options.body.slice(i, i + piece));
    }
    req.end();
  });
}

/**
 * A lane under test and the router beside it, both over real sockets and on the same shop: `lane`
 * serves the lane in front of a router that counts what it is handed (`routed()`), `router` serves
 * the router alone (createApp without lanes), for the answer the lane must give byte for byte.
 */
export interface LaneBench {
  lanePort: number;
  routerPort: number;
  /** How many requests the lane handed to the router so far. */
  routed: () => number;
  /** The lane's own histogram registry and the router's /metrics text. */
  laneMetrics: Metrics;
  routerMetricsText: () => Promise<string>;
  close: () => Promise<void>;
}

type Lane = (ctx: TestShop['ctx'], metrics: Metrics, maxBodyBytes: number, fetch: Fetch) => Fetch;

const listen = (fetch: Fetch) =>
  new Promise<{ server: ServerType; port: number }>((resolve) => {
    const server = serve({ fetch: fetch as never, port: 0, hostname: '127.0.0.1' }, (info) =>
      resolve({ server, port: info.port }),
    );
  });

const listenNode = (server: http.Server) =>
  new Promise<{ server: http.Server; port: number }>((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port }));
  });

/** A lane on Node's own request (in front of @hono/node-server's listener, as npm start's server runs it). */
export type NodeLane = (ctx: TestShop['ctx'], metrics: Metrics, next: NodeListener) => NodeListener;

/** `lane`: the lane on the web Request (app.fetch), or `{ node }` the same lane on Node's own request. */
export async function startLaneBench(shop: TestShop, lane: Lane | { node: NodeLane }): Promise<LaneBench> {
  const router = createApp(shop.ctx, { lanes: false });
  const laneMetrics = createMetrics(shop.ctx);
  let routed = 0;
  const countingRouter: Fetch = (request, ...rest) => {
    routed++;
    return router.fetch(request, ...(rest as []));
  };
  const laneServer =
    typeof lane === 'function'
      ? await listen(lane(shop.ctx, laneMetrics, MAX_BODY_BYTES, countingRouter))
      : await listenNode(
          createHttpServer({
            fetch: countingRouter,
            nodeFront: (next) => lane.node(shop.ctx, laneMetrics, next),
          }),
        );
  const routerServer = await listen(router.fetch as Fetch);
  return {
    lanePort: laneServer.port,
    routerPort: routerServer.port,
    routed: () => routed,
    laneMetrics,
    routerMetricsText: async () => (await router.request('/metrics')).text(),
    close: async () => {
      await new Promise((resolve) => laneServer.server.close(resolve));
      await new Promise((resolve) => routerServer.server.close(resolve));
      laneMetrics.dispose();
    },
  };
}

const PER_REQUEST = new Set(['x-request-id', 'date', 'connection', 'keep-alive']);

/** The lane's answer is the router's: status, body bytes, every header but the per-request ones. */
export function expectSameAnswer(lane: Answer, router: Answer, what: string): void {
  expect(lane.status, what).toBe(router.status);
  expect(lane.body, what).toBe(router.body);
  const names = (a: Answer) =>
    Object.keys(a.headers)
      .filter((h) => !PER_REQUEST.has(h))
      .sort();
  expect(names(lane), what).toEqual(names(router));
  for (const name of names(lane)) expect(lane.headers[name], `${what}: ${name}`).toBe(router.headers[name]);
}

/** A lane's sold-out refusal of one unit of `productId`: its request id, code, message in `lang`, details. */
export function expectSoldOutRefusal(answer: Answer, lang: string, productId: string): void {
  expect(answer.headers['x-request-id']).toBe(`sold-out-${lang.slice(0, 2)}`);
  const body = JSON.parse(answer.body);
  expect(body.error).toBe('OUT_OF_STOCK');
  expect(body.message).toBe(lang.startsWith('ko') ? '재고가 부족합니다' : 'Not enough stock');
  expect(body.details).toEqual([
    { field: 'productId', message: 'not enough available stock', productId, requested: 1, available: 0 },
  ]);
}

/** The headers of a sold-out refusal's request in `lang` (its request id names the language). */
export const soldOutHeaders = (user: { token: string }, lang: string) =>
  withToken(user, { 'accept-language': lang, 'x-request-id': `sold-out-${lang.slice(0, 2)}` });

/** The count of one series of the HTTP histogram in a /metrics text. */
export const histogramCount = (text: string, labels: Record<string, string>) =>
  sample(text, 'shop_http_request_duration_seconds_count', labels) ?? 0;

/**
 * A client that sends the headers of a `POST path` with a JSON body of `body.length` bytes, then 10 of
 * them, and goes away: a lane that reads bodies must neither answer nor hand such a request on.
 */
export async function sendCutOffMidBody(
  port: number,
  path: string,
  token: string,
  body: string,
): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(
    `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${token}\r\n` +
      `content-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  socket.destroy();
}

/** The orders path the placement lanes answer, a one-line order's body, and a user's bearer headers. */
export const ORDERS = '/api/v1/orders';
export const orderOf = (productId: string, quantity = 1) =>
  JSON.stringify({ items: [{ productId, quantity }] });
export const withToken = (user: { token: string }, headers: Record<string, string> = {}) => ({
  authorization: `Bearer ${user.token}`,
  ...headers,
});
