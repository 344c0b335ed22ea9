import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { DomainError, type ErrorDetail, isDomainError, type LocalizedText } from '../errors/domain-error';
import { ERROR_CODES, type ErrorCode, type Language } from '../errors/error-codes';
import { isInfrastructureUnavailable, isMalformedValue } from '../errors/infrastructure-error';
import type { Logger } from '../logger';
import type { AppEnv } from './app-env';
import { requestLog } from './middleware/request-context';

/** The error envelope of API.md, translated when the client asked for Korean. */
export function errorBody(error: DomainError, lang: Language) {
  return {
    error: error.code,
    message: error.messageIn(lang),
    ...(error.details ? { details: error.details } : {}),
  };
}

/** The envelope of a refusal built without an Error (no stack trace): for answers on hot paths. */
export function refusalBody(code: ErrorCode, lang: Language, details?: ErrorDetail[]) {
  return { error: code, message: ERROR_CODES[code][lang], ...(details ? { details } : {}) };
}

export const NOT_JSON_BODY: LocalizedText = {
  en: 'The request body must be application/json',
  ko: '요청 본문은 application/json 형식이어야 합니다',
};

/** The Korean of the 400s hono's validators throw (the English is hono's own text, shown as it is). */
const HONO_400_KO: Record<string, string> = {
  'Malformed JSON in request body': '요청 본문의 JSON 형식이 올바르지 않습니다',
};

/** A 400 HTTPException's text in both languages: hono's English, its Korean (or the code's default). */
const badRequestMessages = (message: string): LocalizedText | undefined =>
  message ? { en: message, ko: HONO_400_KO[message] ?? ERROR_CODES.VALIDATION_ERROR.ko } : undefined;

/** Maps anything thrown by a handler to the envelope; never leaks a stack trace. */
export function toDomainError(err: unknown): DomainError {
  if (isDomainError(err)) return err;
  if (err instanceof HTTPException) {
    if (err.status === 413) return new DomainError('PAYLOAD_TOO_LARGE');
    if (err.status === 415) return new DomainError('VALIDATION_ERROR', NOT_JSON_BODY);
    if (err.status === 401) return new DomainError('UNAUTHORIZED');
    if (err.status === 404) return new DomainError('NOT_FOUND');
    if (err.status === 400) return new DomainError('VALIDATION_ERROR', badRequestMessages(err.message));
  }
  if (isMalformedValue(err)) {
    return new DomainError('VALIDATION_ERROR', {
      en: 'A value contains characters the database cannot store',
      ko: '데이터베이스에 저장할 수 없는 문자가 포함된 값이 있습니다',
    });
  }
  if (isInfrastructureUnavailable(err)) return new DomainError('SERVICE_UNAVAILABLE');
  return new DomainError('INTERNAL');
}

/** What the error handler answers for anything thrown: status, envelope, extra headers. */
export interface ErrorAnswer {
  status: number;
  body: ReturnType<typeof errorBody>;
  headers: Record<string, string>;
}

/**
 * The answer to anything thrown, in the client's language; an unexpected error or an unavailable
 * dependency is logged through `log` (made only then). handleError sends it; so do the lanes in front of
 * the router.
 */
export function errorAnswer(err: unknown, lang: Language, log: () => Logger | undefined): ErrorAnswer {
  const error = toDomainError(err);
  if (error.code === 'INTERNAL') log()?.error({ err }, 'unhandled error');
  else if (error.code === 'SERVICE_UNAVAILABLE') log()?.warn({ err: String(err) }, 'dependency unavailable');
  const headers: Record<string, string> = { ...error.headers };
  if (error.code === 'UNAUTHORIZED') headers['WWW-Authenticate'] ??= 'Bearer';
  if (error.code === 'SERVICE_UNAVAILABLE') headers['Retry-After'] = '5';
  return { status: error.status, body: errorBody(error, lang), headers };
}

export function handleError(err: unknown, c: Context<AppEnv>): Response {
  const answer = errorAnswer(err, c.get('lang') ?? 'en', () => requestLog(c));
  return c.json(answer.body, answer.status as 400, answer.headers);
}

export function handleNotFound(c: Context<AppEnv>): Response {
  return c.json(
    errorBody(
      new DomainError('NOT_FOUND', {
        en: `No route for ${c.req.method} ${c.req.path}`,
        ko: `${c.req.method} ${c.req.path} 경로를 찾을 수 없습니다`,
      }),
      c.get('lang') ?? 'en',
    ),
    404,
  );
}
