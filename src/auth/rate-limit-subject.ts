import { isIPv6 } from 'node:net';

/**
 * What a per-address limit counts: an IPv4 address itself (an IPv4-mapped IPv6 address as its IPv4),
 * an IPv6 address by its /64 — one subscriber's network, which hands its host any of 2^64 addresses,
 * so counting whole addresses would give one client as many allowances as it has addresses.
 */
export function rateLimitSubject(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) return mapped[1]!;
  const bare = address.split('%')[0]!; // a zone id (fe80::1%eth0) names the interface, not the host
  if (!isIPv6(bare)) return address;
  const [head = '', tail] = bare.split('::');
  const hextets = (part: string) => (part === '' ? [] : part.split(':'));
  const width = (parts: string[]) => parts.reduce((n, p) => n + (p.includes('.') ? 2 : 1), 0);
  const left = hextets(head);
  const right = tail === undefined ? [] : hextets(tail);
  const zeros = tail === undefined ? [] : Array<string>(8 - width(left) - width(right)).fill('0');
  const prefix = [...left, ...zeros, ...right].slice(0, 4).map((h) => Number.parseInt(h, 16).toString(16));
  return `${prefix.join(':')}::/64`;
}
