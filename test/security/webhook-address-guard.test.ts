import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDomainError } from '../../src/errors/domain-error';
import { isPublicAddress } from '../../src/webhooks/endpoint-guard';
import { registerWebhook } from '../../src/webhooks/webhooks.service';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

// Issue 14 item 6: in production the webhook guard accepted http://[64:ff9b::7f00:1]/ — NAT64's
// well-known prefix maps it to 127.0.0.1. Special-purpose IPv6 ranges are refused now.

let shop: TestShop;
let admin: TestUser;
beforeAll(async () => {
  shop = await createTestShop();
  admin = await shop.createUser('ADMIN');
});
afterAll(() => shop?.close());

const SPECIAL = [
  '64:ff9b::7f00:1', // NAT64 → 127.0.0.1
  '64:ff9b::a9fe:a9fe', // NAT64 → 169.254.169.254 (cloud metadata)
  '64:ff9b::a00:1', // NAT64 → 10.0.0.1
  '64:ff9b:1::7f00:1', // local-use NAT64
  '::ffff:0:7f00:1', // IPv4-translated 127.0.0.1
  '3fff::1', // documentation (RFC 9637)
  '5f00::1', // SRv6 SIDs
  '2001:db8::1',
  '2002:7f00:1::1', // 6to4 of 127.0.0.1
  '2001::1', // Teredo
  '100::1', // discard
];

describe('webhook address guard', () => {
  it.each(SPECIAL)('treats %s as not public', (address) => {
    expect(isPublicAddress(address)).toBe(false);
  });

  it('still treats ordinary public addresses as public', () => {
    for (const address of [
      '2606:4700::6810:85e5',
      '2a00:1450:4001:830::200e',
      '93.184.215.14',
      '::ffff:93.184.215.14',
    ])
      expect(isPublicAddress(address), address).toBe(true);
  });

  it('refuses http://[64:ff9b::7f00:1]/ as a webhook URL in production', async () => {
    const production = { ...shop.ctx, config: { ...shop.ctx.config, isProduction: true } };
    const error = await registerWebhook(
      production,
      { id: admin.id, role: 'ADMIN' },
      { url: 'http://[64:ff9b::7f00:1]/hook', events: ['*'], secret: 'a-long-enough-secret' },
    ).then(
      () => undefined,
      (e: unknown) => (isDomainError(e) ? e : Promise.reject(e)),
    );
    expect(error?.code).toBe('VALIDATION_ERROR');
    expect(error?.details?.[0]).toMatchObject({ field: 'body.url' });
  });
});
