import type dns from 'node:dns';
import { DestinationPolicy, parseAllowlist } from '../../../src/delivery/address-guard';
import {
  classifyAddress,
  formatAddress,
  parseAddress,
  parseIPv4Loose,
} from '../../../src/net/ip-address';
import { ConfigError, DestinationRefusedError } from '../../../src/errors';

const REFUSED: Array<[string, RegExp]> = [
  // IPv4
  ['127.0.0.1', /loopback/],
  ['127.255.255.254', /loopback/],
  ['0.0.0.0', /this network/],
  ['0.1.2.3', /this network/],
  ['10.0.0.1', /private/],
  ['10.255.255.255', /private/],
  ['172.16.0.1', /private/],
  ['172.31.255.255', /private/],
  ['192.168.1.1', /private/],
  ['169.254.169.254', /link-local/],
  ['169.254.0.1', /link-local/],
  ['100.64.0.1', /CGNAT/],
  ['100.127.255.255', /CGNAT/],
  ['198.18.0.1', /benchmarking/],
  ['198.19.255.255', /benchmarking/],
  ['192.0.0.8', /IETF protocol/],
  ['192.0.2.1', /documentation/],
  ['198.51.100.7', /documentation/],
  ['203.0.113.9', /documentation/],
  ['192.88.99.1', /6to4 relay/],
  ['224.0.0.1', /multicast/],
  ['239.255.255.250', /multicast/],
  ['240.0.0.1', /reserved/],
  ['254.1.2.3', /reserved/],
  ['255.255.255.255', /broadcast/],
  // IPv4 spellings (inet_aton / WHATWG)
  ['2130706433', /loopback/],
  ['0177.0.0.1', /loopback/],
  ['0x7f.1', /loopback/],
  ['0x7F000001', /loopback/],
  ['017700000001', /loopback/],
  ['127.1', /loopback/],
  ['127.0.1', /loopback/],
  ['127.0.0.1.', /loopback/],
  ['0', /this network/],
  ['10.1', /private/],
  ['0xa9.0xfe.0xa9.0xfe', /link-local/],
  ['0251.0376.0251.0376', /link-local/],
  ['2852039166', /link-local/],
  // IPv6
  ['::', /unspecified/],
  ['::1', /loopback/],
  ['[::1]', /loopback/],
  ['0:0:0:0:0:0:0:1', /loopback/],
  ['fc00::1', /unique-local/],
  ['fd12:3456:789a::1', /unique-local/],
  ['fe80::1', /link-local/],
  ['fe80::1%eth0', /link-local/],
  ['febf:ffff::1', /link-local/],
  ['fec0::1', /site-local/],
  ['ff02::1', /multicast/],
  ['ff05::2', /multicast/],
  ['100::1', /discard/],
  ['::ffff:127.0.0.1', /IPv4-mapped form of loopback/],
  ['::ffff:7f00:1', /IPv4-mapped form of loopback/],
  ['[::ffff:7f00:1]', /IPv4-mapped form of loopback/],
  ['0:0:0:0:0:ffff:10.0.0.1', /IPv4-mapped form of private/],
  ['::ffff:169.254.169.254', /IPv4-mapped form of link-local/],
  ['::ffff:0.0.0.0', /IPv4-mapped form of "this network"/],
  ['::127.0.0.1', /IPv4-compatible/],
  ['::8.8.8.8', /IPv4-compatible/],
  ['::ffff:0:7f00:1', /SIIT/],
  ['64:ff9b::127.0.0.1', /NAT64 form of loopback/],
  ['64:ff9b::a00:1', /NAT64 form of private/],
  ['64:ff9b::a9fe:a9fe', /NAT64 form of link-local/],
  ['64:ff9b:1::1', /local-use NAT64/],
  ['64:ff9b:1:ffff::8.8.8.8', /local-use NAT64/],
  ['2002:7f00:1::', /6to4 form of loopback/],
  ['2002:a9fe:a9fe::1', /6to4 form of link-local/],
  ['2002:c0a8:101::1', /6to4 form of private/],
  ['2001::1', /Teredo/],
  ['2001:0:4136:e378:8000:63bf:3fff:fdd2', /Teredo/],
  ['2001:2::1', /IETF protocol/],
  ['2001:db8::1', /documentation/],
  ['2001:0db8:85a3::8a2e:370:7334', /documentation/],
  ['3fff::1', /documentation/],
  ['5f00::1', /not global unicast/],
  ['4000::1', /not global unicast/],
  ['e000::1', /not global unicast/],
  ['not-an-ip', /not an IP address/],
  ['1.2.3.4.5', /not an IP address/],
  ['256.1.1.1', /not an IP address/],
];

const ALLOWED = [
  '8.8.8.8',
  '1.1.1.1',
  '93.184.215.14',
  '100.63.255.255',
  '100.128.0.0',
  '172.15.255.255',
  '172.32.0.0',
  '192.167.255.255',
  '198.17.255.255',
  '198.20.0.0',
  '223.255.255.255',
  '134744072', // 8.8.8.8 as one number
  '2606:4700:4700::1111',
  '2a00:1450:4001:80b::200e',
  '::ffff:8.8.8.8',
  '64:ff9b::8.8.8.8',
  '2002:808:808::1',
];

describe('classifyAddress', () => {
  test.each(REFUSED)('refuses %s', (ip, reason) => {
    const verdict = classifyAddress(ip);
    expect(verdict.allowed).toBe(false);
    expect(verdict.reason).toMatch(reason);
  });

  test.each(ALLOWED)('allows global unicast %s', (ip) => {
    expect(classifyAddress(ip)).toEqual({ allowed: true });
  });

  test('loose IPv4 parsing matches inet_aton / WHATWG', () => {
    const dotted = (t: string): string | undefined => {
      const b = parseIPv4Loose(t);
      return b ? Array.from(b).join('.') : undefined;
    };
    expect(dotted('0x7f.1')).toBe('127.0.0.1');
    expect(dotted('127.1')).toBe('127.0.0.1');
    expect(dotted('1.2.3')).toBe('1.2.0.3');
    expect(dotted('0x')).toBe('0.0.0.0');
    expect(dotted('4294967295')).toBe('255.255.255.255');
    expect(dotted('4294967296')).toBeUndefined();
    expect(dotted('1.256.1')).toBeUndefined();
    expect(dotted('08.0.0.1')).toBeUndefined();
    expect(dotted('example.com')).toBeUndefined();
  });

  test('IPv6 text is formatted per RFC 5952', () => {
    const fmt = (t: string): string =>
      formatAddress(parseAddress(t) as NonNullable<ReturnType<typeof parseAddress>>);
    expect(fmt('0:0:0:0:0:ffff:7f00:1')).toBe('::ffff:7f00:1');
    expect(fmt('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(fmt('::')).toBe('::');
    expect(fmt('1:2:3:4:5:6:7:8')).toBe('1:2:3:4:5:6:7:8');
    expect(fmt('0x7f.1')).toBe('127.0.0.1');
  });
});

describe('DestinationPolicy.checkUrl', () => {
  const policy = new DestinationPolicy({ allowHttp: true });

  test('WHATWG URL already normalizes numeric IPv4 spellings', () => {
    expect(new URL('http://0x7f.1/').hostname).toBe('127.0.0.1');
    expect(new URL('http://2130706433/').hostname).toBe('127.0.0.1');
    expect(new URL('http://0177.0.0.1/').hostname).toBe('127.0.0.1');
    expect(new URL('http://127.1/').hostname).toBe('127.0.0.1');
    expect(new URL('http://%31%32%37.0.0.1/').hostname).toBe('127.0.0.1');
    expect(new URL('http://[0:0:0:0:0:ffff:127.0.0.1]/').hostname).toBe('[::ffff:7f00:1]');
  });

  test.each([
    'https://127.0.0.1/',
    'https://2130706433/',
    'https://0177.0.0.1/',
    'https://0x7f.1/',
    'https://0x7f000001:8443/hook',
    'https://127.1/',
    'https://127.0.0.1./',
    'https://%31%32%37.0.0.1/',
    'https://0/',
    'https://[::1]/',
    'https://[::]/',
    'https://[::ffff:127.0.0.1]/',
    'https://[0:0:0:0:0:ffff:7f00:1]/',
    'https://[64:ff9b::7f00:1]/',
    'https://[2002:7f00:1::]/',
    'https://[fe80::1]/',
    'https://[fd00::1]/',
    'https://169.254.169.254/latest/meta-data/',
    'https://0xa9fea9fe/',
    'https://10.0.0.1/',
    'https://100.100.100.200/',
    'https://localhost/',
    'https://LOCALHOST./',
    'https://api.localhost/',
    'http://127.0.0.1:8080/',
  ])('refuses %s', (url) => {
    expect(() => policy.checkUrl(url)).toThrow(DestinationRefusedError);
  });

  test('refusal carries the stable code and is not retriable', () => {
    let caught: unknown;
    try {
      policy.checkUrl('https://2130706433/');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(DestinationRefusedError);
    const e = caught as DestinationRefusedError;
    expect(e.code).toBe('FLOWHOOK_ERR_DESTINATION_REFUSED');
    expect(e.retriable).toBe(false);
    expect(e.message).toMatch(/127\.0\.0\.1.*loopback/);
  });

  test('https only unless allowHttp; other schemes never', () => {
    const strict = new DestinationPolicy();
    expect(() => strict.checkUrl('http://example.com/')).toThrow(/scheme http: is not allowed/);
    expect(strict.checkUrl('https://example.com/hook').hostname).toBe('example.com');
    expect(policy.checkUrl('http://example.com/').host).toBe('example.com');
    expect(() => policy.checkUrl('ftp://example.com/')).toThrow(DestinationRefusedError);
    expect(() => policy.checkUrl('file:///etc/passwd')).toThrow(DestinationRefusedError);
  });

  test('URLs with credentials or that do not parse are refused', () => {
    expect(() => policy.checkUrl('https://user:pw@example.com/')).toThrow(/credentials/);
    expect(() => policy.checkUrl('https://user@example.com/')).toThrow(/credentials/);
    expect(() => policy.checkUrl('not a url')).toThrow(/not a valid absolute URL/);
  });

  test('public literal addresses and names pass; the host key keeps the port', () => {
    expect(policy.checkUrl('https://8.8.8.8/')).toMatchObject({
      address: '8.8.8.8',
      exempt: false,
    });
    expect(policy.checkUrl('https://[2606:4700::1111]:8443/').host).toBe('[2606:4700::1111]:8443');
    expect(policy.checkUrl('https://Hooks.Example.com./x').hostname).toBe('hooks.example.com');
  });
});

describe('allowlist', () => {
  test('parses CIDRs, addresses and host names', () => {
    const list = parseAllowlist(
      ' 10.0.0.0/8, fd00::/8 127.0.0.1,[::1], crm.internal,*.svc.cluster.local ',
    );
    expect(list.cidrs.map((c) => [c.family, c.prefix])).toEqual([
      [4, 8],
      [6, 8],
      [4, 32],
      [6, 128],
    ]);
    expect(list.hosts).toEqual(['crm.internal', '*.svc.cluster.local']);
    expect(parseAllowlist(undefined)).toEqual({ cidrs: [], hosts: [] });
    expect(parseAllowlist(['10.0.0.0/8', 'crm.internal']).hosts).toEqual(['crm.internal']);
    expect(
      new DestinationPolicy({ allowlist: ['10.0.0.0/8'] }).checkUrl('https://10.9.9.9/').exempt,
    ).toBe(true);
    expect(parseAllowlist('')).toEqual({ cidrs: [], hosts: [] });
  });

  test.each([
    '10.0.0.0/33',
    '::1/129',
    '10.0.0.0/x',
    'bad-host!',
    '2130706433',
    '10.1',
    '0x7f.1',
    'a..b',
  ])('rejects the entry %s with a ConfigError naming the setting', (entry) => {
    let caught: unknown;
    try {
      parseAllowlist(`8.8.8.8/32,${entry}`);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).problems).toEqual([
      expect.objectContaining({ name: 'FLOWHOOK_DESTINATION_ALLOWLIST', value: entry }),
    ]);
  });

  const policy = new DestinationPolicy({
    allowlist: '10.0.0.0/8, fd00::/8, 127.0.0.0/8, crm.internal, *.svc.cluster.local',
  });

  test('CIDR matches are exempt; everything else is still refused', () => {
    expect(policy.checkUrl('https://10.1.2.3/').exempt).toBe(true);
    expect(policy.checkUrl('https://0xa010203/').exempt).toBe(true); // 10.1.2.3
    expect(policy.checkUrl('https://[fd00::5]/').exempt).toBe(true);
    expect(policy.checkUrl('https://[::ffff:127.0.0.1]/').exempt).toBe(true); // mapped form matches v4 CIDR
    expect(() => policy.checkUrl('https://192.168.1.1/')).toThrow(DestinationRefusedError);
    expect(() => policy.checkUrl('https://[fe80::1]/')).toThrow(DestinationRefusedError);
    expect(() => policy.checkUrl('https://169.254.169.254/')).toThrow(DestinationRefusedError);
  });

  test('host names match exactly or by *. suffix (not the apex)', () => {
    expect(policy.checkUrl('https://CRM.internal./').exempt).toBe(true);
    expect(policy.checkUrl('https://a.b.svc.cluster.local/').exempt).toBe(true);
    expect(policy.checkUrl('https://svc.cluster.local/').exempt).toBe(false);
    expect(policy.checkUrl('https://evilcrm.internal/').exempt).toBe(false);
  });
});

describe('DestinationPolicy.lookup', () => {
  type Answer = dns.LookupAddress;
  const resolverOf =
    (answers: Record<string, Answer[]>) =>
    async (hostname: string): Promise<Answer[]> =>
      answers[hostname] ?? [];

  function lookup(
    policy: DestinationPolicy,
    hostname: string,
    all: boolean,
  ): Promise<{ address: string | Answer[]; family?: number }> {
    return new Promise((resolve, reject) => {
      policy.lookup(hostname, { all }, (err, address, family) => {
        if (err) reject(err);
        else resolve({ address, family });
      });
    });
  }

  const policy = new DestinationPolicy({
    allowlist: 'crm.internal',
    resolver: resolverOf({
      'public.example': [
        { address: '93.184.215.14', family: 4 },
        { address: '2606:2800:21f:cb07:6820:80da:af6b:8b2c', family: 6 },
      ],
      'mixed.example': [
        { address: '93.184.215.14', family: 4 },
        { address: '10.0.0.7', family: 4 },
      ],
      'mapped.example': [{ address: '::ffff:169.254.169.254', family: 6 }],
      'crm.internal': [{ address: '10.1.1.1', family: 4 }],
    }),
  });

  test('returns every checked answer (all: true) or the first one', async () => {
    await expect(lookup(policy, 'public.example', true)).resolves.toEqual({
      address: [
        { address: '93.184.215.14', family: 4 },
        { address: '2606:2800:21f:cb07:6820:80da:af6b:8b2c', family: 6 },
      ],
      family: undefined,
    });
    await expect(lookup(policy, 'public.example', false)).resolves.toEqual({
      address: '93.184.215.14',
      family: 4,
    });
  });

  test('one private answer among public ones refuses the name', async () => {
    await expect(lookup(policy, 'mixed.example', true)).rejects.toMatchObject({
      code: 'FLOWHOOK_ERR_DESTINATION_REFUSED',
      message: expect.stringContaining('mixed.example (10.0.0.7)'),
    });
    await expect(lookup(policy, 'mapped.example', false)).rejects.toBeInstanceOf(
      DestinationRefusedError,
    );
  });

  test('allow-listed names skip the address check; unknown names are ENOTFOUND', async () => {
    await expect(lookup(policy, 'crm.internal', false)).resolves.toEqual({
      address: '10.1.1.1',
      family: 4,
    });
    await expect(lookup(policy, 'nothing.example', false)).rejects.toMatchObject({
      code: 'ENOTFOUND',
    });
  });

  test('the default (system) resolver is checked too: localhost resolves to loopback', async () => {
    const system = new DestinationPolicy();
    await expect(lookup(system, 'localhost', true)).rejects.toMatchObject({
      code: 'FLOWHOOK_ERR_DESTINATION_REFUSED',
      message: expect.stringMatching(/localhost \((127\.0\.0\.1|::1)\)/),
    });
    const allowed = new DestinationPolicy({ allowlist: 'localhost' });
    const { address } = await lookup(allowed, 'localhost', true);
    expect(Array.isArray(address) && address.length > 0).toBe(true);
  });

  test('literal addresses handed to lookup are checked without resolving', async () => {
    await expect(lookup(policy, '127.0.0.1', false)).rejects.toBeInstanceOf(
      DestinationRefusedError,
    );
    await expect(lookup(policy, '8.8.8.8', true)).resolves.toEqual({
      address: [{ address: '8.8.8.8', family: 4 }],
      family: undefined,
    });
  });
});
