import { OpenAPIHono, type z } from '@hono/zod-openapi';
import { DomainError, type ErrorDetail } from '../errors/domain-error';
import type { ErrorCode } from '../errors/error-codes';
import { ERROR_CODES } from '../errors/error-codes';
import type { AppEnv } from './app-env';
import { errorEnvelope } from './envelope';

/** Every resource router: zod validation failures become 400 VALIDATION_ERROR with field details. */
export function createRouter() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error, result.target);
    },
  });
}

export function validationError(error: z.ZodError, target: string): DomainError {
  const details: ErrorDetail[] = error.issues.map((issue) => ({
    field: [target === 'json' ? 'body' : target, ...issue.path.map(String)].join('.'),
    message: issue.message,
  }));
  return new DomainError('VALIDATION_ERROR', undefined, details);
}

/** The request body of a route: JSON, required, validated by `schema`. */
export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  body: { content: { 'application/json': { schema } }, required: true },
});

export const jsonContent = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { 'application/json': { schema } },
  description,
});

/** Documents the error answers a route can give, grouped by HTTP status. */
export function errorResponses(...codes: ErrorCode[]) {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of ['VALIDATION_ERROR', ...codes] as ErrorCode[]) {
    const status = ERROR_CODES[code].status;
    byStatus.set(status, [...new Set([...(byStatus.get(status) ?? []), code])]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => [status, jsonContent(errorEnvelope, list.join(', '))]),
  ) as Record<number, ReturnType<typeof jsonContent<typeof errorEnvelope>>>;
}

export const bearerSecurity = [{ bearerAuth: [] }];
