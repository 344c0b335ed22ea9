import type { HttpClient } from './http-client';

/** POST /api/v1/orders with one line; resolves with the HTTP status as the outcome label. */
export async function placeOrder(
  http: HttpClient,
  token: string,
  productId: string,
  quantity = 1,
): Promise<string> {
  const res = await http.request('POST', '/api/v1/orders', {
    headers: { authorization: `Bearer ${token}` },
    body: { items: [{ productId, quantity }] },
  });
  return String(res.status);
}

export function pick<T>(items: T[]): T {
  return items[Math.floor(Math.random() * items.length)]!;
}
