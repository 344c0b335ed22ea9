import { describe, expect, it } from 'vitest';
import { commandStatus, resourcePath } from '../../src/http/command-response';

// Commands return domain outcomes; only the HTTP layer turns them into a status and a path (API.md).
describe('a command outcome becomes an HTTP status only in src/http', () => {
  const id = '0193a0e0-0000-7000-8000-000000000001';

  it('created answers 201 (PLACE), also when an Idempotency-Key replays it', () => {
    expect(commandStatus({ kind: 'order', id, result: 'created' }, false)).toBe(201);
    expect(commandStatus({ kind: 'order', id, result: 'created' }, true)).toBe(201);
  });

  it('pending answers 202 (PAY, REFUND, cancelling a paid order); a replayed payment or refund 200', () => {
    expect(commandStatus({ kind: 'payment', id, result: 'pending' }, false)).toBe(202);
    expect(commandStatus({ kind: 'refund', id, result: 'pending' }, false)).toBe(202);
    expect(commandStatus({ kind: 'payment', id, result: 'pending' }, true)).toBe(200);
    expect(commandStatus({ kind: 'refund', id, result: 'pending' }, true)).toBe(200);
    expect(commandStatus({ kind: 'order', id, result: 'pending' }, true)).toBe(202);
  });

  it('updated answers 200 (CANCEL, CONFIRM, RESTOCK, ADJUST)', () => {
    expect(commandStatus({ kind: 'order', id, result: 'updated' }, false)).toBe(200);
    expect(commandStatus({ kind: 'inventory', id, result: 'updated' }, true)).toBe(200);
  });

  it('a receipt names its resource by the API path of what the outcome names', () => {
    expect(resourcePath({ kind: 'order', id })).toBe(`/api/v1/orders/${id}`);
    expect(resourcePath({ kind: 'payment', id })).toBe(`/api/v1/payments/${id}`);
    expect(resourcePath({ kind: 'refund', id })).toBe(`/api/v1/refunds/${id}`);
    expect(resourcePath({ kind: 'inventory', id })).toBe(`/api/v1/inventory/${id}`);
  });
});
