import { describe, expect, it } from 'vitest';
import { rateLimitSubject } from '../../src/auth/rate-limit-subject';

describe('the subject a per-address limit counts', () => {
  it('is an IPv4 address itself, also when mapped into IPv6', () => {
    expect(rateLimitSubject('203.0.113.7')).toBe('203.0.113.7');
    expect(rateLimitSubject('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(rateLimitSubject('::FFFF:203.0.113.7')).toBe('203.0.113.7');
  });

  it('is the /64 of an IPv6 address, however it is written', () => {
    const subject = '2001:db8:85a3:42::/64';
    for (const address of [
      '2001:db8:85a3:42::1',
      '2001:0db8:85a3:0042:ffff:ffff:ffff:ffff',
      '2001:db8:85a3:42:1::',
      '2001:DB8:85A3:42:0:0:0:9',
      '2001:db8:85a3:42::1%eth0',
    ]) {
      expect(rateLimitSubject(address), address).toBe(subject);
    }
    expect(rateLimitSubject('2001:db8:85a3:43::1')).not.toBe(subject);
    expect(rateLimitSubject('::1')).toBe('0:0:0:0::/64');
    expect(rateLimitSubject('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64');
  });

  it('leaves anything else as it is', () => {
    expect(rateLimitSubject('unknown')).toBe('unknown');
  });
});
