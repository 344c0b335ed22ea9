import { createHmac } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { jwtTokens, verifyHs256 } from '../../src/auth/tokens';

// Issue 12 item 3: tokens are verified with node:crypto's HMAC instead of jose's WebCrypto round trip.
// Every refusal jose made for our tokens must still be made.

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256';
const key = new TextEncoder().encode(SECRET);
const ID = '0190f0e0-0000-7000-8000-000000000001';
const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A token with any header and claims, signed with HMAC-SHA256 over exactly what is sent. */
function forge(header: Record<string, unknown>, claims: Record<string, unknown>, secret = SECRET) {
  const signingInput = `${b64(header)}.${b64(claims)}`;
  return `${signingInput}.${createHmac('sha256', secret).update(signingInput).digest('base64url')}`;
}
const valid = () => ({ sub: ID, role: 'BUYER', tv: 0, iss: 'shop-backend', iat: now(), exp: now() + 60 });

describe('HS256 verification', () => {
  it('accepts what the shop signs (jose), with its claims', async () => {
    const tokens = jwtTokens(SECRET, 60);
    const token = await tokens.sign({ id: ID, role: 'SELLER', tokenVersion: 3 });
    expect(await tokens.verify(token)).toEqual({ id: ID, role: 'SELLER', tokenVersion: 3 });
    expect(verifyHs256(forge({ alg: 'HS256', typ: 'JWT' }, valid()), key, now())).toMatchObject({ sub: ID });
  });

  it('refuses a wrong key, a changed payload, a changed or non-canonical signature', async () => {
    const token = forge({ alg: 'HS256' }, valid());
    const [head, body, signature] = token.split('.') as [string, string, string];
    const other = forge({ alg: 'HS256' }, { ...valid(), role: 'ADMIN' });
    expect(verifyHs256(forge({ alg: 'HS256' }, valid(), 'another secret'), key, now())).toBeUndefined();
    expect(verifyHs256(`${head}.${other.split('.')[1]}.${signature}`, key, now())).toBeUndefined();
    const flipped = `${signature.slice(0, -1)}${signature.endsWith('A') ? 'B' : 'A'}`;
    expect(verifyHs256(`${head}.${body}.${flipped}`, key, now())).toBeUndefined();
    expect(verifyHs256(`${head}.${body}.${signature}=`, key, now())).toBeUndefined();
    expect(verifyHs256(`${head}.${body}.${signature}.x`, key, now())).toBeUndefined();
    expect(verifyHs256(`${head}.${body}`, key, now())).toBeUndefined();
  });

  it('refuses other algorithms, alg none, critical headers and unencoded payloads', async () => {
    for (const header of [
      { alg: 'none' },
      { alg: 'HS512' },
      { alg: 'HS256', crit: ['exp'] },
      { alg: 'HS256', b64: false },
    ])
      expect(verifyHs256(forge(header, valid()), key, now()), JSON.stringify(header)).toBeUndefined();
    const hs512 = await new SignJWT(valid()).setProtectedHeader({ alg: 'HS512' }).sign(key);
    expect(verifyHs256(hs512, key, now())).toBeUndefined();
    expect(verifyHs256(`${b64({ alg: 'none' })}.${b64(valid())}.`, key, now())).toBeUndefined();
  });

  it('refuses an expired token, one not yet valid, another issuer, and claims that are not an object', () => {
    const header = { alg: 'HS256' };
    expect(verifyHs256(forge(header, { ...valid(), exp: now() }), key, now())).toBeUndefined();
    expect(verifyHs256(forge(header, { ...valid(), exp: undefined }), key, now())).toBeUndefined();
    expect(verifyHs256(forge(header, { ...valid(), exp: String(now() + 60) }), key, now())).toBeUndefined();
    expect(verifyHs256(forge(header, { ...valid(), nbf: now() + 30 }), key, now())).toBeUndefined();
    expect(verifyHs256(forge(header, { ...valid(), nbf: now() - 1 }), key, now())).toBeDefined();
    expect(verifyHs256(forge(header, { ...valid(), iat: 'yesterday' }), key, now())).toBeUndefined();
    expect(verifyHs256(forge(header, { ...valid(), iss: 'someone-else' }), key, now())).toBeUndefined();
    const array = `${b64(header)}.${b64([1])}`;
    const signed = `${array}.${createHmac('sha256', SECRET).update(array).digest('base64url')}`;
    expect(verifyHs256(signed, key, now())).toBeUndefined();
  });

  it('refuses through the token service what it cannot speak for (no UUID subject, unknown role, bad version)', async () => {
    const tokens = jwtTokens(SECRET, 60);
    const header = { alg: 'HS256' };
    for (const claims of [
      { ...valid(), sub: 'admin' },
      { ...valid(), role: 'ROOT' },
      { ...valid(), tv: 1.5 },
      { ...valid(), tv: '0' },
    ])
      expect(await tokens.verify(forge(header, claims)), JSON.stringify(claims)).toBeUndefined();
  });
});
