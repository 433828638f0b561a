// IP addresses as URL hosts spell them, CIDR ranges, and which addresses a webhook may reach:
// only global unicast. Pure functions, shared by flow validation (a warning) and the delivery
// guard (a refusal), so both judge an address the same way.

import net from 'node:net';

export interface AddressClassification {
  allowed: boolean;
  /** Why the address is refused (absent when allowed). */
  reason?: string;
}

/** An address as 4 or 16 bytes, network order. */
export interface ParsedAddress {
  family: 4 | 6;
  bytes: Uint8Array;
}

// ---- parsing --------------------------------------------------------------------------------

function parseIPv4Part(part: string): number | undefined {
  if (part === '') return undefined;
  let digits = part;
  let radix = 10;
  if (/^0[xX]/.test(part)) {
    digits = part.slice(2);
    radix = 16;
    if (digits === '') return 0; // WHATWG: "0x" is zero
    if (!/^[0-9a-fA-F]+$/.test(digits)) return undefined;
  } else if (part.length > 1 && part.startsWith('0')) {
    digits = part.slice(1);
    radix = 8;
    if (!/^[0-7]+$/.test(digits)) return undefined;
  } else if (!/^[0-9]+$/.test(digits)) {
    return undefined;
  }
  const value = parseInt(digits, radix);
  return Number.isSafeInteger(value) ? value : undefined;
}

/**
 * Parses an IPv4 address the way the WHATWG URL host parser and inet_aton do: one to four
 * parts, each decimal, octal (leading 0) or hexadecimal (0x); the last part fills the
 * remaining bytes (`127.1`, `2130706433`, `0x7f.1`, `0177.0.0.1` are all 127.0.0.1).
 */
export function parseIPv4Loose(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  if (parts.length === 0 || parts.length > 4) return undefined;
  const numbers: number[] = [];
  for (const part of parts) {
    const n = parseIPv4Part(part);
    if (n === undefined) return undefined;
    numbers.push(n);
  }
  const last = numbers.pop() as number;
  if (numbers.some((n) => n > 255)) return undefined;
  if (last >= 256 ** (4 - numbers.length)) return undefined;
  let value = last;
  numbers.forEach((n, i) => {
    value += n * 256 ** (3 - i);
  });
  return Uint8Array.of(
    Math.floor(value / 2 ** 24) % 256,
    Math.floor(value / 2 ** 16) % 256,
    Math.floor(value / 2 ** 8) % 256,
    value % 256,
  );
}

/** Parses an IPv6 address (brackets and a zone id are accepted and ignored). */
export function parseIPv6(text: string): Uint8Array | undefined {
  let s = text;
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (!net.isIPv6(s)) return undefined;
  const words = (half: string): number[] | undefined => {
    if (half === '') return [];
    const out: number[] = [];
    for (const group of half.split(':')) {
      if (group.includes('.')) {
        if (!net.isIPv4(group)) return undefined;
        const [a, b, c, d] = group.split('.').map(Number) as [number, number, number, number];
        out.push(a * 256 + b, c * 256 + d);
      } else {
        out.push(parseInt(group, 16));
      }
    }
    return out;
  };
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const head = words(halves[0] as string);
  const tail = halves.length === 2 ? words(halves[1] as string) : [];
  if (head === undefined || tail === undefined) return undefined;
  const fill = 8 - head.length - tail.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0)) return undefined;
  const all = [...head, ...new Array<number>(fill).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  all.forEach((w, i) => {
    bytes[2 * i] = w >> 8;
    bytes[2 * i + 1] = w & 0xff;
  });
  return bytes;
}

/** Parses any IP spelling accepted by URL hosts: loose IPv4 forms, IPv6 (bracketed or not). */
export function parseAddress(text: string): ParsedAddress | undefined {
  const v4 = parseIPv4Loose(text);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = parseIPv6(text);
  if (v6) return { family: 6, bytes: v6 };
  return undefined;
}

export function formatAddress(address: ParsedAddress): string {
  if (address.family === 4) {
    const b = address.bytes;
    return `${b[0] as number}.${b[1] as number}.${b[2] as number}.${b[3] as number}`;
  }
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) {
    words.push((address.bytes[i] as number) * 256 + (address.bytes[i + 1] as number));
  }
  // RFC 5952: compress the longest run (at least two) of zero words.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && words[j] === 0) j += 1;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = (ws: number[]): string => ws.map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLength))}`;
}

// ---- CIDR -----------------------------------------------------------------------------------

export interface Cidr {
  family: 4 | 6;
  bytes: Uint8Array;
  prefix: number;
}

function prefixMatches(bytes: Uint8Array, network: Uint8Array, prefix: number): boolean {
  let bits = prefix;
  for (let i = 0; bits > 0; i += 1, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((bytes[i] as number) & mask) !== ((network[i] as number) & mask)) return false;
  }
  return true;
}

/** Parses `a.b.c.d/n`, `x::y/n`, or a bare address (a /32 or /128). Strict dotted quads only. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const addressText = slash >= 0 ? text.slice(0, slash) : text;
  const prefixText = slash >= 0 ? text.slice(slash + 1) : undefined;
  let family: 4 | 6;
  let bytes: Uint8Array | undefined;
  if (net.isIPv4(addressText)) {
    family = 4;
    bytes = parseIPv4Loose(addressText);
  } else {
    family = 6;
    bytes = parseIPv6(addressText);
  }
  if (!bytes) return undefined;
  const max = family === 4 ? 32 : 128;
  let prefix = max;
  if (prefixText !== undefined) {
    if (!/^[0-9]{1,3}$/.test(prefixText)) return undefined;
    prefix = Number(prefixText);
    if (prefix > max) return undefined;
  }
  return { family, bytes, prefix };
}

export function cidrContains(cidr: Cidr, address: ParsedAddress): boolean {
  if (cidr.family === address.family) return prefixMatches(address.bytes, cidr.bytes, cidr.prefix);
  // An IPv4-mapped IPv6 address is matched by the IPv4 ranges too.
  if (cidr.family === 4 && address.family === 6 && isMapped(address.bytes)) {
    return prefixMatches(address.bytes.subarray(12), cidr.bytes, cidr.prefix);
  }
  return false;
}

// ---- classification -------------------------------------------------------------------------

const V4_REFUSED: Array<[string, string]> = [
  ['0.0.0.0/8', '"this network" (0.0.0.0/8)'],
  ['10.0.0.0/8', 'private (RFC 1918)'],
  ['100.64.0.0/10', 'shared address space / CGNAT (100.64.0.0/10)'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local / cloud metadata (169.254.0.0/16)'],
  ['172.16.0.0/12', 'private (RFC 1918)'],
  ['192.0.0.0/24', 'IETF protocol assignments (192.0.0.0/24)'],
  ['192.0.2.0/24', 'documentation (TEST-NET-1)'],
  ['192.88.99.0/24', '6to4 relay anycast (192.88.99.0/24)'],
  ['192.168.0.0/16', 'private (RFC 1918)'],
  ['198.18.0.0/15', 'benchmarking (198.18.0.0/15)'],
  ['198.51.100.0/24', 'documentation (TEST-NET-2)'],
  ['203.0.113.0/24', 'documentation (TEST-NET-3)'],
  ['224.0.0.0/4', 'multicast'],
  ['255.255.255.255/32', 'broadcast'],
  ['240.0.0.0/4', 'reserved (240.0.0.0/4)'],
];

const V6_REFUSED: Array<[string, string]> = [
  ['64:ff9b:1::/48', 'local-use NAT64 (64:ff9b:1::/48)'],
  ['100::/64', 'discard-only (100::/64)'],
  ['fc00::/7', 'unique-local (fc00::/7)'],
  ['fe80::/10', 'link-local (fe80::/10)'],
  ['fec0::/10', 'site-local (fec0::/10)'],
  ['ff00::/8', 'multicast (ff00::/8)'],
  ['2001:db8::/32', 'documentation (2001:db8::/32)'],
  ['2001::/32', 'Teredo (2001::/32)'],
  ['2001::/23', 'IETF protocol assignments (2001::/23)'],
  ['3fff::/20', 'documentation (3fff::/20)'],
];

function compile(table: Array<[string, string]>): Array<[Cidr, string]> {
  return table.map(([text, reason]) => [parseCidr(text) as Cidr, reason]);
}
const V4_TABLE = compile(V4_REFUSED);
const V6_TABLE = compile(V6_REFUSED);
const GLOBAL_UNICAST = parseCidr('2000::/3') as Cidr;
const NAT64 = parseCidr('64:ff9b::/96') as Cidr;
const SIX_TO_FOUR = parseCidr('2002::/16') as Cidr;
const SIIT = parseCidr('::ffff:0:0:0/96') as Cidr;

function isMapped(bytes: Uint8Array): boolean {
  return bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
}

function classifyV4(bytes: Uint8Array): AddressClassification {
  const address: ParsedAddress = { family: 4, bytes };
  for (const [cidr, reason] of V4_TABLE) {
    if (cidrContains(cidr, address)) return { allowed: false, reason };
  }
  return { allowed: true };
}

function embedded(label: string, bytes: Uint8Array): AddressClassification {
  const inner = classifyV4(bytes);
  return inner.allowed ? inner : { allowed: false, reason: `${label} of ${inner.reason}` };
}

function classifyV6(bytes: Uint8Array): AddressClassification {
  const address: ParsedAddress = { family: 6, bytes };
  const zeroUpTo = (n: number): boolean => bytes.subarray(0, n).every((b) => b === 0);
  if (zeroUpTo(16)) return { allowed: false, reason: 'unspecified (::)' };
  if (zeroUpTo(15) && bytes[15] === 1) return { allowed: false, reason: 'loopback (::1)' };
  if (isMapped(bytes)) return embedded('IPv4-mapped form', bytes.subarray(12));
  if (zeroUpTo(12)) return { allowed: false, reason: 'IPv4-compatible (deprecated ::a.b.c.d)' };
  if (cidrContains(SIIT, address)) return { allowed: false, reason: 'IPv4-translated (SIIT)' };
  if (cidrContains(NAT64, address)) return embedded('NAT64 form', bytes.subarray(12));
  for (const [cidr, reason] of V6_TABLE) {
    if (cidrContains(cidr, address)) return { allowed: false, reason };
  }
  if (cidrContains(SIX_TO_FOUR, address)) return embedded('6to4 form', bytes.subarray(2, 6));
  if (!cidrContains(GLOBAL_UNICAST, address)) {
    return { allowed: false, reason: 'not global unicast' };
  }
  return { allowed: true };
}

/**
 * Whether a webhook may connect to this address: only global unicast addresses are allowed.
 * Accepts every spelling a URL host may use (`2130706433`, `0x7f.1`, `[::ffff:7f00:1]`, …).
 * The allowlist is not consulted here (see `DestinationPolicy`).
 */
export function classifyAddress(ip: string): AddressClassification {
  const parsed = parseAddress(ip);
  if (!parsed) return { allowed: false, reason: 'not an IP address' };
  return classifyParsed(parsed);
}

export function classifyParsed(address: ParsedAddress): AddressClassification {
  return address.family === 4 ? classifyV4(address.bytes) : classifyV6(address.bytes);
}
