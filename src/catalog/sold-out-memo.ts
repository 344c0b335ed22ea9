import type { AppContext } from '../context';
import { perContext } from '../per-context';

/**
 * What this process last heard the stock gate say about sold-out products, for a moment: during a
 * flash sale thousands of buyers a second ask about a product the gate already refused, and the
 * memo answers them without the Redis round trip. Units that come back through this process
 * (a settle, a give-back, a rebuild) clear it at once; through another process they are offered
 * here at most SOLD_OUT_MEMO_MS later.
 */
export const SOLD_OUT_MEMO_MS = 100;

export interface Shortage {
  productId: string;
  requested: number;
  available: number;
}

class SoldOutMemo {
  private readonly entries = new Map<string, { available: number; until: number }>();

  /** The lines the memo knows to be short now, or undefined when it knows of none. */
  shortOf(lines: readonly { productId: string; quantity: number }[], now: number): Shortage[] | undefined {
    if (this.entries.size === 0) return undefined;
    const short: Shortage[] = [];
    for (const { productId, quantity } of lines) {
      const entry = this.entries.get(productId);
      if (!entry) continue;
      if (entry.until <= now) this.entries.delete(productId);
      else if (entry.available < quantity)
        short.push({ productId, requested: quantity, available: entry.available });
    }
    return short.length > 0 ? short : undefined;
  }

  /** Whether the memo knows of any sold-out product now (expired entries are dropped on the way). */
  knowsAny(now: number): boolean {
    if (this.entries.size === 0) return false;
    for (const [productId, entry] of this.entries) if (entry.until <= now) this.entries.delete(productId);
    return this.entries.size > 0;
  }

  remember(short: readonly Shortage[], now: number): void {
    for (const s of short)
      this.entries.set(s.productId, { available: s.available, until: now + SOLD_OUT_MEMO_MS });
  }

  /** Units came back (to these products, or to any). */
  forget(productIds?: readonly string[]): void {
    if (!productIds) this.entries.clear();
    else for (const id of productIds) this.entries.delete(id);
  }
}

export const soldOutMemo = perContext((_ctx: AppContext) => new SoldOutMemo());
