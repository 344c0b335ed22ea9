import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestShop, type TestShop } from '../support/test-shop';

let shop: TestShop;
beforeAll(async () => {
  shop = await createTestShop({ LOGIN_MAX_FAILURES: '3' });
});
afterAll(() => shop?.close());

const register = (body: unknown, headers?: Record<string, string>) =>
  shop.request('POST', '/api/v1/auth/register', { body, ...(headers ? { headers } : {}) });

describe('registration', () => {
  it('registers a buyer by default and never returns the password hash', async () => {
    const res = await register({ email: 'Ann@Example.com', password: 'correct-horse', name: 'Ann' });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({ email: 'ann@example.com', name: 'Ann', role: 'BUYER' });
    expect(JSON.stringify(res.body)).not.toMatch(/password/i);
  });

  it('registers a seller with a business number, normalised to NNN-NN-NNNNN', async () => {
    const res = await register({
      email: 'shop@example.com',
      password: 'correct-horse',
      name: 'Shop',
      role: 'SELLER',
      businessNumber: '1234567890',
    });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({ role: 'SELLER', businessNumber: '123-45-67890' });
  });

  it('refuses a seller without a business number, naming the field', async () => {
    const res = await register({
      email: 's2@example.com',
      password: 'correct-horse',
      name: 'S',
      role: 'SELLER',
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('VALIDATION_ERROR');
    expect(res.body.details).toContainEqual(expect.objectContaining({ field: 'body.businessNumber' }));
  });

  it('refuses registering as ADMIN', async () => {
    const res = await register({
      email: 'a@example.com',
      password: 'correct-horse',
      name: 'A',
      role: 'ADMIN',
    });
    expect(res.status).toBe(400);
  });

  it('answers 409 DUPLICATE_EMAIL for a taken email, whatever its case', async () => {
    await register({ email: 'dup@example.com', password: 'correct-horse', name: 'D' });
    const res = await register({ email: 'DUP@example.com', password: 'correct-horse', name: 'D' });
    expect(res.status).toBe(409);
    expect(res.body.error).toBe('DUPLICATE_EMAIL');
  });

  it('answers in Korean when asked', async () => {
    const res = await register({ email: 'bad' }, { 'accept-language': 'ko-KR,ko;q=0.9,en;q=0.8' });
    expect(res.status).toBe(400);
    expect(res.body.message).toBe('요청 값이 올바르지 않습니다');
  });

  it('refuses passwords shorter than 8 or longer than 128 characters', async () => {
    for (const password of ['short', 'x'.repeat(129)]) {
      const res = await register({ email: `p${password.length}@example.com`, password, name: 'P' });
      expect(res.status).toBe(400);
    }
  });
});

describe('login', () => {
  it('returns a token that authenticates /auth/me', async () => {
    await register({ email: 'login@example.com', password: 'correct-horse', name: 'L' });
    const login = await shop.request('POST', '/api/v1/auth/login', {
      body: { email: 'LOGIN@example.com', password: 'correct-horse' },
    });
    expect(login.status).toBe(200);
    const me = await shop.request('GET', '/api/v1/auth/me', { token: login.body.data.token });
    expect(me.status).toBe(200);
    expect(me.body.data.email).toBe('login@example.com');
  });

  it('answers 401 for a wrong password and for an unknown email alike', async () => {
    const registered = await register({
      email: 'wrong-password@example.com',
      password: 'correct-horse',
      name: 'W',
    });
    expect(registered.status).toBe(201);
    const wrong = await shop.request('POST', '/api/v1/auth/login', {
      body: { email: 'wrong-password@example.com', password: 'wrong-password' },
    });
    const unknown = await shop.request('POST', '/api/v1/auth/login', {
      body: { email: 'nobody@example.com', password: 'wrong-password' },
    });
    expect([wrong.status, unknown.status]).toEqual([401, 401]);
    expect(wrong.body.error).toBe('UNAUTHORIZED');
    expect(wrong.body.message).toBe(unknown.body.message);
    // The account is there and its own password opens it: only the password was wrong.
    const right = await shop.request('POST', '/api/v1/auth/login', {
      body: { email: 'wrong-password@example.com', password: 'correct-horse' },
    });
    expect(right.status).toBe(200);
  });

  it('locks an account with 429 after too many failures, even for the right password', async () => {
    await register({ email: 'locked@example.com', password: 'correct-horse', name: 'L' });
    for (let i = 0; i < 3; i++) {
      const res = await shop.request('POST', '/api/v1/auth/login', {
        body: { email: 'locked@example.com', password: 'nope-nope' },
      });
      expect(res.status).toBe(401);
    }
    const res = await shop.request('POST', '/api/v1/auth/login', {
      body: { email: 'locked@example.com', password: 'correct-horse' },
    });
    expect(res.status).toBe(429);
    expect(res.body.error).toBe('RATE_LIMITED');
  });
});

describe('tokens', () => {
  it('answers 401 without a token, with a tampered one and with a malformed header', async () => {
    const user = await shop.createUser('BUYER');
    const tampered = `${user.token.slice(0, -4)}AAAA`;
    expect((await shop.request('GET', '/api/v1/auth/me')).status).toBe(401);
    expect((await shop.request('GET', '/api/v1/auth/me', { token: tampered })).status).toBe(401);
    const malformed = await shop.request('GET', '/api/v1/auth/me', {
      headers: { authorization: 'Basic abc' },
    });
    expect(malformed.status).toBe(401);
    expect(malformed.body.error).toBe('UNAUTHORIZED');
  });

  it('answers 401 for an expired token, even one it accepted (and remembered) while it was valid', async () => {
    const { jwtTokens } = await import('../../src/auth/tokens');
    const user = await shop.createUser('BUYER');
    // JWT expiries are whole seconds: a 1 s token signed late in a second expired at the next one,
    // sometimes before the first request. 3 s leaves at least 2 s for it; then wait past `exp` itself.
    const shortLived = jwtTokens(shop.config.jwtSecret, 3);
    const token = await shortLived.sign({ id: user.id, role: 'BUYER', tokenVersion: 0 });
    expect((await shop.request('GET', '/api/v1/auth/me', { token })).status).toBe(200);
    const { exp } = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number };
    while (Date.now() <= exp * 1000 + 100) await new Promise((r) => setTimeout(r, 100));
    expect((await shop.request('GET', '/api/v1/auth/me', { token })).status).toBe(401);
  });

  it('says why it refused a token: invalid, expired, or revoked by a logout', async () => {
    const { SignJWT } = await import('jose');
    const user = await shop.createUser('BUYER');
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ role: 'BUYER', tv: 0 })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(user.id)
      .setIssuer('shop-backend')
      .setIssuedAt(now - 7200)
      .setExpirationTime(now - 3600)
      .sign(new TextEncoder().encode(shop.config.jwtSecret));
    const refusal = async (token: string) => {
      const res = await shop.request('GET', '/api/v1/auth/me', { token });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('UNAUTHORIZED');
      return [res.body.message as string, res.headers.get('www-authenticate')];
    };
    expect(await refusal(`${user.token.slice(0, -4)}AAAA`)).toEqual([
      'Invalid token',
      'Bearer error="invalid_token", error_description="invalid"',
    ]);
    expect(await refusal(expired)).toEqual([
      'The token has expired; sign in again',
      'Bearer error="invalid_token", error_description="expired"',
    ]);
    expect((await shop.request('POST', '/api/v1/auth/logout', { token: user.token })).status).toBe(204);
    expect(await refusal(user.token)).toEqual([
      'The token was revoked (signed out, or the password or role changed); sign in again',
      'Bearer error="invalid_token", error_description="revoked"',
    ]);
    // Without a token at all: the plain challenge.
    const anonymous = await shop.request('GET', '/api/v1/auth/me');
    expect([anonymous.status, anonymous.headers.get('www-authenticate')]).toEqual([401, 'Bearer']);
  });
});

describe('roles', () => {
  it('lets an admin change a role, and nobody else', async () => {
    const admin = await shop.createUser('ADMIN');
    const buyer = await shop.createUser('BUYER');
    const seller = await shop.createUser('SELLER');
    const path = `/api/v1/admin/users/${buyer.id}/role`;
    expect((await shop.request('PATCH', path, { token: buyer.token, body: { role: 'ADMIN' } })).status).toBe(
      403,
    );
    expect((await shop.request('PATCH', path, { token: seller.token, body: { role: 'ADMIN' } })).status).toBe(
      403,
    );
    const res = await shop.request('PATCH', path, { token: admin.token, body: { role: 'SELLER' } });
    expect(res.status).toBe(200);
    expect(res.body.data.role).toBe('SELLER');
  });

  it('answers 404 for an unknown user and 400 for a malformed id or role', async () => {
    const admin = await shop.createUser('ADMIN');
    const unknown = await shop.request('PATCH', `/api/v1/admin/users/${crypto.randomUUID()}/role`, {
      token: admin.token,
      body: { role: 'SELLER' },
    });
    expect(unknown.status).toBe(404);
    const badId = await shop.request('PATCH', '/api/v1/admin/users/42/role', {
      token: admin.token,
      body: { role: 'SELLER' },
    });
    expect(badId.status).toBe(400);
    const badRole = await shop.request('PATCH', `/api/v1/admin/users/${admin.id}/role`, {
      token: admin.token,
      body: { role: 'KING' },
    });
    expect(badRole.status).toBe(400);
  });
});
