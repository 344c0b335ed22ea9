import { hash, verify } from '@node-rs/argon2';

// Algorithm.Argon2id of @node-rs/argon2 (an ambient const enum, so it cannot be imported here).
const ARGON2ID = 2;

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hashed: string, password: string): Promise<boolean>;
}

/** Argon2id (OWASP parameters by default: 19 MiB, 2 passes, 1 lane); hashing runs off the event loop. */
export function argon2Hasher(memoryCostKib: number): PasswordHasher {
  const options = { algorithm: ARGON2ID, memoryCost: memoryCostKib, timeCost: 2, parallelism: 1 };
  return {
    hash: (password) => hash(password, options),
    verify: async (hashed, password) => {
      try {
        return await verify(hashed, password);
      } catch {
        return false;
      }
    },
  };
}
