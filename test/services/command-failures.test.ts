import { type Job, UnrecoverableError } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { failureAnswer, isFinalFailure } from '../../src/commands/command-failures';
import { DomainError } from '../../src/errors/domain-error';

const jobAfter = (attemptsMade: number, attempts: number) => ({ attemptsMade, opts: { attempts } }) as Job;

describe('when a command job has failed for good', () => {
  it('on its last attempt, or at once for an UnrecoverableError', () => {
    expect(isFinalFailure(jobAfter(0, 20), new Error('db down'))).toBe(false);
    expect(isFinalFailure(jobAfter(18, 20), new Error('db down'))).toBe(false);
    expect(isFinalFailure(jobAfter(19, 20), new Error('db down'))).toBe(true);
    expect(isFinalFailure(jobAfter(0, 20), new UnrecoverableError('bad data'))).toBe(true);
  });
});

describe('the answer a failed command ends with', () => {
  it('keeps the API code an error carries (a job whose data does not parse is VALIDATION_ERROR)', () => {
    const unparsable = Object.assign(new UnrecoverableError('items: expected array'), {
      code: 'VALIDATION_ERROR',
    });
    expect(failureAnswer(unparsable, 1)).toEqual({
      httpStatus: 400,
      error: { error: 'VALIDATION_ERROR', message: 'The request is invalid' },
    });
    expect(failureAnswer(new DomainError('OUT_OF_STOCK'), 1)).toEqual({
      httpStatus: 409,
      error: { error: 'OUT_OF_STOCK', message: 'Not enough stock' },
    });
  });

  it('is INTERNAL otherwise, without the internal message (a PostgreSQL code is not an API code)', () => {
    const pgError = Object.assign(new Error('insert into "orders" violates foreign key'), { code: '23503' });
    const answer = failureAnswer(pgError, 20);
    expect(answer.httpStatus).toBe(500);
    expect(answer.error).toEqual({
      error: 'INTERNAL',
      message: 'The command could not be carried out (20 attempts)',
      messageKo: '명령을 처리하지 못했습니다 (20회 시도)',
    });
  });
});
