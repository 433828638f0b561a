// Private-address guard: webhook destinations that are, or resolve to,
// loopback, private, link-local, CGNAT, metadata or any other non-global address are refused
// unless allow-listed. The check runs on the address actually connected to: `lookup` is
// installed on the HTTP agents, so every new connection resolves, checks every answer and
// connects only to checked addresses (no DNS-rebinding bypass), and literal-IP URLs (which
// skip DNS) are checked by `checkUrl` before a request is made.

import dns from 'node:dns';
import net from 'node:net';
import { ConfigError, type ConfigProblem, DestinationRefusedError } from '../errors';
import {
  cidrContains,
  classifyParsed,
  formatAddress,
  parseAddress,
  parseCidr,
  parseIPv4Loose,
  type Cidr,
  type ParsedAddress,
} from '../net/ip-address';
import { BoundedCache } from './bounded-cache';

// ---- allowlist ------------------------------------------------------------------------------

export interface Allowlist {
  cidrs: Cidr[];
  /** Lower-case host names; `*.example.com` matches every subdomain of example.com. */
  hosts: string[];
}

export const EMPTY_ALLOWLIST: Allowlist = { cidrs: [], hosts: [] };

function normalizeHostname(hostname: string): string {
  let h = hostname.toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

/**
 * Parses `FLOWHOOK_DESTINATION_ALLOWLIST`: a comma (or whitespace) separated list of CIDRs
 * (`10.0.0.0/8`, `fd00::/8`), addresses (`10.1.2.3`, `::1`) and host names
 * (`crm.internal`, `*.svc.cluster.local`). Throws ConfigError naming each bad entry.
 */
export function parseAllowlist(text: string | readonly string[] | undefined): Allowlist {
  const allowlist: Allowlist = { cidrs: [], hosts: [] };
  const problems: ConfigProblem[] = [];
  const joined = typeof text === 'string' ? text : (text ?? []).join(',');
  for (const entry of joined.split(/[\s,]+/).filter((e) => e !== '')) {
    const unbracketed = entry.replace(/^\[(.*)\](\/\d+)?$/, '$1$2');
    const cidr = parseCidr(unbracketed);
    if (cidr) {
      allowlist.cidrs.push(cidr);
      continue;
    }
    const looksNumeric = /^[0-9.]+$/.test(entry) || /^0x/i.test(entry) || entry.includes(':');
    const hostname = normalizeHostname(entry);
    if (
      !entry.includes('/') &&
      !looksNumeric &&
      parseIPv4Loose(hostname) === undefined &&
      /^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/.test(
        hostname,
      )
    ) {
      allowlist.hosts.push(hostname);
      continue;
    }
    problems.push({
      name: 'FLOWHOOK_DESTINATION_ALLOWLIST',
      value: entry,
      allowed:
        'a CIDR (10.0.0.0/8, fd00::/8), an address written as a dotted quad or IPv6, or a host name (*.example.com)',
    });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return allowlist;
}

function hostAllowed(allowlist: Allowlist, hostname: string): boolean {
  const h = normalizeHostname(hostname);
  return allowlist.hosts.some((entry) =>
    entry.startsWith('*.')
      ? h.endsWith(entry.slice(1)) && h.length > entry.length - 1
      : h === entry,
  );
}

function addressAllowlisted(allowlist: Allowlist, address: ParsedAddress): boolean {
  return allowlist.cidrs.some((cidr) => cidrContains(cidr, address));
}

// ---- policy ---------------------------------------------------------------------------------

/** Resolves a host name to every address; `family` 0 means both. Replaceable in tests. */
export type Resolver = (hostname: string, family: 0 | 4 | 6) => Promise<dns.LookupAddress[]>;

export const systemResolver: Resolver = (hostname, family) =>
  dns.promises.lookup(hostname, { all: true, family, order: 'verbatim' });

export interface DestinationPolicyOptions {
  /** Parsed allowlist, or its text form (FLOWHOOK_DESTINATION_ALLOWLIST), or its entries. */
  allowlist?: Allowlist | string | readonly string[];
  /** Allow `http:` destinations (FLOWHOOK_ALLOW_HTTP). Default false: https only. */
  allowHttp?: boolean;
  resolver?: Resolver;
}

/** A checked destination; shared by every attempt to the same URL, so never modified. */
export interface CheckedUrl {
  readonly url: URL;
  /** Host name without brackets or trailing dot, lower case. */
  readonly hostname: string;
  /** `url.host` (host[:port]), the key for per-host limits and circuit breaking. */
  readonly host: string;
  /** True when the host name or its literal address is allow-listed. */
  readonly exempt: boolean;
  /** Set when the URL host is a literal IP address (these skip DNS). */
  readonly address?: string;
}

export class DestinationPolicy {
  readonly allowlist: Allowlist;
  readonly allowHttp: boolean;
  private readonly resolver: Resolver;
  /**
   * Results of checkUrl by URL text. The check depends only on the text and this policy, and
   * a flow sends every job to the same few URLs: remembering it spares a parse per attempt.
   * Refusals are not kept (they are rare and end in the DLQ).
   */
  private readonly checkedUrls = new BoundedCache<string, CheckedUrl>(10_000);

  constructor(options: DestinationPolicyOptions = {}) {
    const given = options.allowlist;
    this.allowlist =
      typeof given === 'string' || Array.isArray(given)
        ? parseAllowlist(given)
        : ((given as Allowlist | undefined) ?? EMPTY_ALLOWLIST);
    this.allowHttp = options.allowHttp ?? false;
    this.resolver = options.resolver ?? systemResolver;
  }

  /**
   * Checks a destination URL before any request: scheme, credentials, and (for literal IP
   * hosts, which never reach DNS) the address. Host names are checked at connection time
   * by `lookup`. Throws DestinationRefusedError.
   */
  checkUrl(input: string | URL): CheckedUrl {
    if (typeof input !== 'string') return this.checkUrlOnce(input);
    return this.checkedUrls.get(input, (text) => this.checkUrlOnce(text));
  }

  private checkUrlOnce(input: string | URL): CheckedUrl {
    let url: URL;
    try {
      url = typeof input === 'string' ? new URL(input) : input;
    } catch {
      throw new DestinationRefusedError('destination URL is not a valid absolute URL');
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && this.allowHttp)) {
      throw new DestinationRefusedError(
        `destination scheme ${url.protocol} is not allowed (https only${this.allowHttp ? ' or http' : '; set FLOWHOOK_ALLOW_HTTP to allow http'})`,
        { details: { scheme: url.protocol } },
      );
    }
    if (url.username !== '' || url.password !== '') {
      throw new DestinationRefusedError(
        'destination URL carries credentials; put them in a header with {{ secrets.NAME }}',
      );
    }
    const hostname = normalizeHostname(url.hostname);
    const host = url.host;
    const parsed = parseAddress(hostname);
    if (parsed) {
      const literal = formatAddress(parsed);
      this.checkParsed(parsed, literal, hostname);
      const exempt = addressAllowlisted(this.allowlist, parsed);
      return { url, hostname, host, exempt, address: literal };
    }
    if (hostAllowed(this.allowlist, hostname)) return { url, hostname, host, exempt: true };
    if (hostname === 'localhost' || hostname.endsWith('.localhost')) {
      throw new DestinationRefusedError(`destination ${hostname} is refused: loopback name`, {
        details: { hostname },
      });
    }
    return { url, hostname, host, exempt: false };
  }

  /** Throws DestinationRefusedError unless the address is global or allow-listed. */
  checkAddress(address: string, hostname?: string): void {
    const parsed = parseAddress(address);
    if (!parsed) {
      throw new DestinationRefusedError(`resolved address is not an IP address`, {
        details: { hostname },
      });
    }
    this.checkParsed(parsed, address, hostname);
  }

  private checkParsed(parsed: ParsedAddress, text: string, hostname?: string): void {
    if (addressAllowlisted(this.allowlist, parsed)) return;
    const verdict = classifyParsed(parsed);
    if (!verdict.allowed) {
      const subject = hostname && hostname !== text ? `${hostname} (${text})` : text;
      throw new DestinationRefusedError(
        `destination ${subject} is refused: ${verdict.reason}; allow-list it in FLOWHOOK_DESTINATION_ALLOWLIST if intended`,
        { details: { hostname, address: text, reason: verdict.reason } },
      );
    }
  }

  /**
   * Resolves a host name and checks every answer. If any answer is refused the whole name is
   * refused (a public name has no business resolving to a private address too).
   */
  async resolve(hostname: string, family: 0 | 4 | 6 = 0): Promise<dns.LookupAddress[]> {
    const name = normalizeHostname(hostname);
    const literal = parseAddress(name);
    if (literal) {
      this.checkParsed(literal, name);
      return [{ address: formatAddress(literal), family: literal.family }];
    }
    const answers = await this.resolver(name, family);
    if (answers.length === 0) {
      throw Object.assign(new Error(`no addresses for ${name}`), { code: 'ENOTFOUND' });
    }
    if (hostAllowed(this.allowlist, name)) return answers;
    for (const answer of answers) this.checkAddress(answer.address, name);
    return answers;
  }

  /**
   * A `net`/`dns.lookup`-compatible function. Installed on the HTTP agents, so it runs for
   * every new connection; the socket connects only to addresses it returned.
   */
  readonly lookup: net.LookupFunction = (hostname, options, callback) => {
    const family =
      options.family === 4 || options.family === 'IPv4'
        ? 4
        : options.family === 6 || options.family === 'IPv6'
          ? 6
          : 0;
    this.resolve(hostname, family).then(
      (addresses) => {
        if (options.all) {
          callback(null, addresses);
        } else {
          const first = addresses[0] as dns.LookupAddress;
          callback(null, first.address, first.family);
        }
      },
      (error: unknown) => {
        callback(error instanceof Error ? error : new Error(String(error)), '');
      },
    );
  };
}
