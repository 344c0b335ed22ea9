import { describe, expect, it } from 'vitest';
import { dropOldest } from '../../src/bounded-map';

describe('dropOldest', () => {
  it('leaves a map within its bound alone', () => {
    const map = new Map([...Array(8).keys()].map((i) => [i, i]));
    dropOldest(map, 8);
    expect([...map.keys()]).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('drops the oldest entries first, down to an eighth below the bound', () => {
    const map = new Map<number, number>();
    for (let i = 0; i < 17; i++) {
      map.set(i, i);
      dropOldest(map, 16);
    }
    // The 17th insert went over 16: the oldest 3 went, leaving 14 (= 16 − 16/8).
    expect([...map.keys()]).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
  });

  it('keeps an entry moved to the end (a least-recently-used cache) over older ones', () => {
    const map = new Map([...Array(16).keys()].map((i) => [i, i]));
    map.delete(0);
    map.set(0, 0);
    map.set(16, 16);
    dropOldest(map, 16);
    expect(map.has(0)).toBe(true);
    expect(map.has(1)).toBe(false);
    expect(map.size).toBe(14);
  });

  it('never holds more than the bound after any insert', () => {
    const map = new Map<number, number>();
    for (let i = 0; i < 10_000; i++) {
      map.set(i, i);
      dropOldest(map, 1000);
      expect(map.size).toBeLessThanOrEqual(1000);
    }
    expect(map.has(9999)).toBe(true);
  });
});
