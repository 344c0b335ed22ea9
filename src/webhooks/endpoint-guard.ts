import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * SSRF protection for webhook endpoints: in production an endpoint may not reach loopback, private,
 * link-local, carrier-grade NAT, multicast, reserved or documentation addresses (IPv4 or IPv6). The
 * host is resolved and *every* address checked when the endpoint is registered, and the address
 * actually connected to is checked again at each delivery (a DNS answer may change after
 * registration: DNS rebinding).
 */
const NOT_PUBLIC = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  // AS112 and AMT relays (RFC 7535, 7450): anycast infrastructure, not endpoints.
  ['192.31.196.0', 24],
  ['192.52.193.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['192.175.48.0', 24],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  NOT_PUBLIC.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  // IPv4-compatible (deprecated) addresses. IPv4-mapped ones (::ffff:a.b.c.d) need no entry:
  // BlockList checks them against the IPv4 subnets above.
  ['::', 96],
  // IPv4-translated addresses (RFC 2765), and NAT64: 64:ff9b::7f00:1 is 127.0.0.1 behind a
  // translator, so the well-known prefix and the local-use one are refused whole.
  ['::ffff:0:0:0', 96],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  // Documentation (RFC 9637) and SRv6 segment identifiers (RFC 9602).
  ['3fff::', 20],
  ['5f00::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const) {
  NOT_PUBLIC.addSubnet(net, prefix, 'ipv6');
}

export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return !NOT_PUBLIC.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** The URL's host without IPv6 brackets. */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/** Resolves the host; the reason it may not be used, or undefined if every address is public. */
export async function nonPublicReason(url: URL): Promise<string | undefined> {
  const host = hostOf(url);
  if (isIP(host)) return isPublicAddress(host) ? undefined : `${host} is not a public address`;
  let addresses: LookupAddress[];
  try {
    addresses = await lookup(host, { all: true, verbatim: true });
  } catch {
    return `${host} does not resolve`;
  }
  if (addresses.length === 0) return `${host} does not resolve`;
  const blocked = addresses.find((a) => !isPublicAddress(a.address));
  return blocked ? `${host} resolves to ${blocked.address}, which is not a public address` : undefined;
}

/** A `lookup` for http.request that refuses to connect to a non-public address. */
export const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
    if (error) return callback(error, '', 0);
    const blocked = addresses.find((a) => !isPublicAddress(a.address));
    if (blocked || addresses.length === 0) {
      const refusal = Object.assign(new Error(`${hostname} resolves to a non-public address`), {
        code: 'EADDRNOTPUBLIC',
      });
      return callback(refusal, '', 0);
    }
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
    const [first] = addresses as [LookupAddress];
    callback(null, first.address, first.family);
  });
};
