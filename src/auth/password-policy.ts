import { readFileSync } from 'node:fs';

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;

/** The common passwords shipped beside this module (common-passwords.txt), lower-cased. */
const COMMON_PASSWORDS: ReadonlySet<string> = new Set(
  readFileSync(new URL('./common-passwords.txt', import.meta.url), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.toLowerCase()),
);

/**
 * Why a new password is refused, or undefined when it is acceptable. The length (8…128) is checked by
 * the schema; this adds what a length rule misses: a blank password and the passwords every guessing
 * list starts with.
 */
export function weakPasswordReason(password: string): string | undefined {
  if (password.trim() === '') return 'must not be blank or whitespace only';
  if (COMMON_PASSWORDS.has(password.toLowerCase())) return 'is one of the most common passwords';
  return undefined;
}
