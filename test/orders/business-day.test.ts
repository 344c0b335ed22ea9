import { describe, expect, it } from 'vitest';
import { businessDay } from '../../src/orders/order-number';

/** businessDay remembers the last minute it formatted per zone: the day must still turn at midnight. */
describe('businessDay', () => {
  it('turns at the zone’s midnight, asked second by second across it', () => {
    // Asia/Seoul is UTC+9: its 2026-11-21 starts at 2026-11-20T15:00:00Z.
    const midnight = Date.parse('2026-11-20T15:00:00Z');
    for (let s = -90; s < 90; s += 1) {
      const at = new Date(midnight + s * 1000);
      expect(businessDay(at, 'Asia/Seoul'), at.toISOString()).toBe(s < 0 ? '20261120' : '20261121');
    }
  });

  it('keeps zones apart when they alternate within one minute', () => {
    const at = new Date('2026-11-20T23:30:00Z');
    for (let i = 0; i < 3; i += 1) {
      expect(businessDay(at, 'Asia/Seoul')).toBe('20261121');
      expect(businessDay(at, 'America/Los_Angeles')).toBe('20261120');
      expect(businessDay(at, 'UTC')).toBe('20261120');
    }
  });

  it('turns at a zone whose offset is not whole hours (Asia/Kathmandu, UTC+5:45)', () => {
    const midnight = Date.parse('2026-11-20T18:15:00Z');
    expect(businessDay(new Date(midnight - 1), 'Asia/Kathmandu')).toBe('20261120');
    expect(businessDay(new Date(midnight), 'Asia/Kathmandu')).toBe('20261121');
  });

  it('answers for a time earlier than the last one asked (clocks are not monotonic)', () => {
    expect(businessDay(new Date('2026-11-21T00:00:00Z'), 'UTC')).toBe('20261121');
    expect(businessDay(new Date('2026-11-20T23:59:59Z'), 'UTC')).toBe('20261120');
  });
});
