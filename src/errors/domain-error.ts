import { ERROR_CODES, type ErrorCode } from './error-codes';

export interface ErrorDetail {
  field?: string;
  message: string;
  [key: string]: unknown;
}

/**
 * A failure the client can act on: it carries an API error code (which fixes the HTTP status)
 * and optional details. `message` overrides the code's default English text.
 */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly details?: ErrorDetail[],
    /** Extra response headers, e.g. Retry-After on RATE_LIMITED. */
    readonly headers?: Record<string, string>,
  ) {
    super(message ?? ERROR_CODES[code].en);
    this.name = 'DomainError';
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }

  /** True when the message is the code's default, so it may be shown translated. */
  get hasDefaultMessage(): boolean {
    return this.message === ERROR_CODES[this.code].en;
  }

  toJSON() {
    return { error: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

export const isDomainError = (error: unknown): error is DomainError => error instanceof DomainError;
