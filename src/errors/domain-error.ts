import { ERROR_CODES, type ErrorCode, type Language } from './error-codes';

export interface ErrorDetail {
  field?: string;
  message: string;
  [key: string]: unknown;
}

/**
 * A message in every language the API answers in (API.md, Envelope: English, or Korean when the
 * client asks for it). A custom message must come in both, so none can be left untranslated.
 */
export interface LocalizedText {
  readonly en: string;
  readonly ko: string;
}

/**
 * A failure the client can act on: it carries an API error code (which fixes the HTTP status)
 * and optional details. `messages` overrides the code's default texts; `message` is the English one
 * (what logs show).
 */
export class DomainError extends Error {
  /** The message in each language: the one given, or the code's defaults. */
  readonly messages: LocalizedText;

  constructor(
    readonly code: ErrorCode,
    messages?: LocalizedText,
    readonly details?: ErrorDetail[],
    /** Extra response headers, e.g. Retry-After on RATE_LIMITED. */
    readonly headers?: Record<string, string>,
  ) {
    const text = messages ?? ERROR_CODES[code];
    super(text.en);
    this.messages = text;
    this.name = 'DomainError';
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }

  /** True when the message is the code's default (in both languages). */
  get hasDefaultMessage(): boolean {
    const defaults = ERROR_CODES[this.code];
    return this.messages.en === defaults.en && this.messages.ko === defaults.ko;
  }

  /** The message in the client's language. */
  messageIn(lang: Language): string {
    return this.messages[lang];
  }

  /**
   * The refusal as a command's receipt and reply carry it: the English message, and the Korean one
   * (`messageKo`) when it is not the code's default, so the API process answers in either language.
   */
  toJSON(): { error: ErrorCode; message: string; messageKo?: string; details?: ErrorDetail[] } {
    return {
      error: this.code,
      message: this.message,
      ...(this.hasDefaultMessage ? {} : { messageKo: this.messages.ko }),
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

/**
 * The messages of a refusal read back from a receipt or a reply (DomainError.toJSON): its Korean text
 * when it has one, the code's defaults for a default message; a custom message stored without Korean
 * (by an older process) is shown in Korean as the code's default.
 */
export function storedMessages(code: ErrorCode, message: string, messageKo?: string): LocalizedText {
  if (messageKo !== undefined) return { en: message, ko: messageKo };
  const defaults = ERROR_CODES[code] as LocalizedText | undefined;
  if (!defaults) return { en: message, ko: message };
  return message === defaults.en ? defaults : { en: message, ko: defaults.ko };
}

export const isDomainError = (error: unknown): error is DomainError => error instanceof DomainError;

/** 429 RATE_LIMITED with Retry-After: the caller may try again in `retryAfterS` seconds. */
export const rateLimited = (messages: LocalizedText, retryAfterS: number): DomainError =>
  new DomainError('RATE_LIMITED', messages, undefined, { 'Retry-After': String(retryAfterS) });
