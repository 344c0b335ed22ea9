import { randomBytes } from 'node:crypto';

// Random bytes are drawn in blocks: one call per id is a measurable share of a busy request path.
const POOL_IDS = 256;
let pool = Buffer.alloc(0);
let offset = 0;

function sixteenRandomBytes(): Buffer {
  if (offset + 16 > pool.length) {
    pool = randomBytes(16 * POOL_IDS);
    offset = 0;
  }
  const bytes = Buffer.from(pool.subarray(offset, offset + 16));
  offset += 16;
  return bytes;
}

/** UUID v7: time-ordered, so primary-key indexes of busy tables stay append-mostly. */
export function uuidv7(now = Date.now()): string {
  const bytes = sixteenRandomBytes();
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (value: string): boolean => UUID.test(value);
