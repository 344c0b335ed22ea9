import type { z } from '@hono/zod-openapi';
import { PlaceOrderBody } from './schemas/order.schemas';

export const ORDERS_PATH = '/api/v1/orders';
/** The label the router's POST /orders gets in the HTTP histogram (one series for the lanes and it). */
export const ORDERS_ROUTE = '/api/v1/orders';

export type PlaceOrder = z.infer<typeof PlaceOrderBody>;

const utf8 = new TextDecoder();
const READ_BODIES_KEPT = 64;
const MAX_KEPT_BODY_LENGTH = 1_024;

/**
 * Reads an order body as the route's validator does (JSON, then PlaceOrderBody): the order, or
 * undefined when the router must refuse it. A flash sale's buyers send the same few bodies, so the
 * orders of the last ones read are kept by their text, frozen (what reads them only reads), and the
 * JSON parse and the schema run once per body.
 */
export function placeOrderReader(): (body: ArrayBuffer | Uint8Array) => PlaceOrder | undefined {
  const read = new Map<string, PlaceOrder | undefined>();
  return (body) => {
    const text = utf8.decode(body);
    if (read.has(text)) return read.get(text);
    const order = parsePlaceOrder(text);
    if (read.size >= READ_BODIES_KEPT) read.clear();
    if (text.length <= MAX_KEPT_BODY_LENGTH) read.set(text, order);
    return order;
  };
}

function parsePlaceOrder(text: string): PlaceOrder | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = PlaceOrderBody.safeParse(json);
  if (!parsed.success) return undefined;
  const order = parsed.data;
  for (const list of [order.items, order.productIds]) {
    if (!list) continue;
    for (const entry of list) if (typeof entry === 'object') Object.freeze(entry);
    Object.freeze(list);
  }
  return Object.freeze(order);
}
