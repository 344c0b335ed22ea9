import { z } from 'zod';

export const UNSTORABLE_TEXT_MESSAGE = 'must not contain NUL characters or unpaired UTF-16 surrogates';

/**
 * True when PostgreSQL can store the string: no NUL (text and jsonb refuse U+0000) and no lone
 * surrogate (it has no UTF-8 form; jsonb refuses the escape).
 */
export function isStorableText(value: string): boolean {
  return !value.includes('\u0000') && value.isWellFormed();
}

/**
 * The one string type for text that comes from outside (request bodies, query parameters, job data):
 * a zod string that refuses NUL and lone surrogates, so they answer 400 naming the field instead of
 * failing in SQL. Chain the usual checks after it: `text().trim().min(1).max(100)`.
 */
export const text = () => z.string().refine(isStorableText, UNSTORABLE_TEXT_MESSAGE);
