import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  decodeEvent,
  decodeEventValue,
  derivedEventId,
  isRetriableRegistryError,
  type SchemaRegistryDecoder,
} from '../../../src/events/decode';
import { orderedKeys } from '../../../src/json-order';
import { profileKey } from '../../../src/profile-key';
import { EventDecodeError } from '../../../src/errors';

const FIXTURES = join(__dirname, '../../fixtures/events');
const fixture = (name: string): Buffer => readFileSync(join(FIXTURES, name));
const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
const RECEIVED = new Date('2024-05-01T13:00:00Z');

async function decodeError(value: Buffer | null, options = {}): Promise<EventDecodeError> {
  try {
    await decodeEvent(value, { receivedAt: RECEIVED, ...options });
  } catch (e) {
    if (e instanceof EventDecodeError) return e;
    throw e;
  }
  throw new Error('expected decodeEvent to fail');
}

function frame(schemaId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt8(0, 0);
  header.writeUInt32BE(schemaId, 1);
  return Buffer.concat([header, payload]);
}

/** Stands in for @kafkajs/confluent-schema-registry: decodes frames whose payload is JSON. */
class FakeRegistry implements SchemaRegistryDecoder {
  calls = 0;
  constructor(
    private readonly schemas: Map<number, (payload: Buffer) => unknown>,
    private readonly failure?: unknown,
  ) {}
  async decode(buf: Buffer): Promise<unknown> {
    this.calls++;
    if (this.failure !== undefined) throw this.failure;
    const id = buf.readUInt32BE(1);
    const decoder = this.schemas.get(id);
    if (decoder === undefined)
      throw Object.assign(new Error(`Schema ${id} not found`), { status: 404 });
    return decoder(buf.subarray(5));
  }
}

describe('decodeEvent: canonical JSON', () => {
  it('decodes the fixture as is, normalizing time to UTC', async () => {
    const { event, format } = await decodeEvent(fixture('placed-order.json'), {
      receivedAt: RECEIVED,
    });
    expect(format).toBe('canonical');
    expect(event.id).toBe('evt_01HXPLACEDORDER0001');
    expect(event.metric).toBe('Placed Order');
    expect(event.time).toBe('2024-05-01T12:34:56.000Z');
    expect(event.profile.email).toBe('sarah.mason@klaviyo-demo.com');
    expect(event.properties.$value).toBe(129.99);
    expect(event.backfill).toBeUndefined();
  });

  it('keeps backfill', async () => {
    const { event } = await decodeEvent(fixture('placed-order-backfill.json'), {
      receivedAt: RECEIVED,
    });
    expect(event.backfill).toBe(true);
  });

  it('derives a stable id when there is none, and defaults time and properties', async () => {
    const input = {
      metric: 'Viewed Product',
      profile: { email: 'A@Example.com ' },
      properties: { b: 1, a: 2 },
    };
    const first = await decodeEvent(json(input), { receivedAt: RECEIVED });
    const again = await decodeEvent(json({ ...input, properties: { a: 2, b: 1 } }), {
      receivedAt: RECEIVED,
    });
    expect(first.event.id).toMatch(/^derived:[0-9a-f]{40}$/);
    expect(again.event.id).toBe(first.event.id);
    expect(first.event.time).toBe(RECEIVED.toISOString());
    const other = await decodeEvent(json({ ...input, properties: { a: 3 } }), {
      receivedAt: RECEIVED,
    });
    expect(other.event.id).not.toBe(first.event.id);
    const noProps = await decodeEvent(json({ metric: 'X', profile: { id: 'p' } }), {
      receivedAt: RECEIVED,
    });
    expect(noProps.event.properties).toEqual({});
  });

  it('ignores unknown members and drops null optional ones', async () => {
    const { event } = await decodeEvent(
      json({
        id: 'e',
        metric: 'M',
        time: '2024-05-01T00:00:00Z',
        profile: { id: 'p', email: null, extra: 1 },
        properties: {},
        junk: true,
      }),
      { receivedAt: RECEIVED },
    );
    expect(event).toEqual({
      id: 'e',
      metric: 'M',
      time: '2024-05-01T00:00:00.000Z',
      profile: { id: 'p' },
      properties: {},
    });
  });

  it.each<[string, unknown, string, RegExp]>([
    [
      'no profile identifier',
      JSON.parse(fixture('invalid/no-profile-identifier.json').toString()),
      '$.profile',
      /at least one identifier/,
    ],
    [
      'a numeric id',
      { id: 5, metric: 'M', profile: { id: 'p' }, properties: {} },
      '$.id',
      /must be string/,
    ],
    [
      'a metric name too long',
      { metric: 'x'.repeat(128), profile: { id: 'p' } },
      '$.metric',
      /must NOT have more than 127/,
    ],
    [
      'a time without offset',
      { metric: 'M', time: '2024-05-01T10:00:00', profile: { id: 'p' } },
      '$.time',
      /date-time/,
    ],
    [
      'a time before 1990',
      { metric: 'M', time: '1980-01-01T00:00:00Z', profile: { id: 'p' } },
      '$.time',
      /after 1990/,
    ],
    [
      'a time far in the future',
      { metric: 'M', time: '2030-01-01T00:00:00Z', profile: { id: 'p' } },
      '$.time',
      /one year/,
    ],
    [
      'properties not an object',
      { metric: 'M', profile: { id: 'p' }, properties: [1] },
      '$.properties',
      /must be object/,
    ],
    [
      'a bad location',
      { metric: 'M', profile: { id: 'p', location: { city: 3 } } },
      '$.profile.location.city',
      /string or null/,
    ],
    [
      'too many properties',
      {
        metric: 'M',
        profile: { id: 'p' },
        properties: Object.fromEntries(Array.from({ length: 401 }, (_, i) => [`p${i}`, i])),
      },
      '$.properties',
      /400/,
    ],
  ])('refuses %s with schema_invalid', async (_d, input, path, message) => {
    const e = await decodeError(json(input));
    expect(e.reason).toBe('schema_invalid');
    expect(e.retriable).toBe(false);
    expect(e.path).toBe(path);
    expect(e.message).toMatch(message);
    expect(e.code).toBe('FLOWHOOK_ERR_EVENT_DECODE');
  });
});

describe('decodeEvent: Klaviyo POST /api/events body', () => {
  it('maps the JSON:API body onto the canonical event', async () => {
    const { event, format } = await decodeEvent(fixture('placed-order.klaviyo.json'), {
      receivedAt: RECEIVED,
    });
    expect(format).toBe('klaviyo');
    expect(event.id).toBe('order-1234');
    expect(event.metric).toBe('Placed Order');
    expect(event.time).toBe('2024-05-01T12:34:56.000Z');
    expect(event.properties.$value).toBe(129.99);
    expect(event.properties.$value_currency).toBe('USD');
    expect(event.properties.OrderId).toBe('1234');
    expect(event.profile).toEqual({
      email: 'sarah.mason@klaviyo-demo.com',
      phone_number: '+15005550006',
      external_id: 'cust-42',
      first_name: 'Sarah',
      last_name: 'Mason',
      location: { city: 'New York', country: 'United States', timezone: 'America/New_York' },
      properties: { 'Favorite Color': 'blue', $locale: 'en-US' },
    });
    expect(profileKey(event.profile)).toBe('external:cust-42');
  });

  it.each([
    ['anonymous_id', { anonymous_id: 'anon-7' }, 'anonymous:anon-7'],
    ['_kx', { _kx: 'kx-exchange-7' }, 'kx:kx-exchange-7'],
  ])('accepts a Klaviyo event identified only by %s', async (_name, attributes, key) => {
    const { event } = await decodeEvent(
      json({
        data: {
          type: 'event',
          attributes: {
            metric: { data: { type: 'metric', attributes: { name: 'Viewed Product' } } },
            profile: { data: { type: 'profile', attributes } },
            properties: {},
          },
        },
      }),
      { receivedAt: RECEIVED },
    );
    expect(event.profile).toMatchObject(attributes);
    expect(profileKey(event.profile)).toBe(key);
  });

  it("keeps the document's key order for properties with integer-like keys", async () => {
    const { event } = await decodeEvent(
      Buffer.from(
        '{"metric": "Viewed Product", "profile": {"email": "a@b.c"}, "properties": {"sizes": {"xl": 1, "10": 2, "2": 3}}}',
      ),
      { receivedAt: RECEIVED },
    );
    expect(orderedKeys(event.properties.sizes as object)).toEqual(['xl', '10', '2']);
  });

  it('accepts a canonical event identified only by anonymous_id', async () => {
    const { event } = await decodeEvent(
      json({ metric: 'Viewed Product', profile: { anonymous_id: 'anon-8' }, properties: {} }),
      { receivedAt: RECEIVED },
    );
    expect(profileKey(event.profile)).toBe('anonymous:anon-8');
  });

  const body = (
    attributes: Record<string, unknown>,
    profile: Record<string, unknown> = { attributes: { email: 'a@b.c' } },
  ) => ({
    data: {
      type: 'event',
      attributes: {
        properties: {},
        metric: { data: { type: 'metric', attributes: { name: 'Started Checkout' } } },
        profile: { data: { type: 'profile', ...profile } },
        ...attributes,
      },
    },
  });

  it('uses the profile id, backfill and a deterministic id without unique_id', async () => {
    const input = body(
      { time: '2024-05-01T10:00:00.400Z', backfill: true, unique_id: null },
      { id: '01KLAVIYO', attributes: {} },
    );
    const a = await decodeEvent(json(input), { receivedAt: RECEIVED });
    const b = await decodeEvent(
      json(
        body(
          { time: '2024-05-01T10:00:00.900Z', backfill: true },
          { id: '01KLAVIYO', attributes: {} },
        ),
      ),
      {
        receivedAt: RECEIVED,
      },
    );
    expect(a.event.profile.id).toBe('01KLAVIYO');
    expect(a.event.backfill).toBe(true);
    expect(a.event.id).toMatch(/^derived:/);
    expect(b.event.id).toBe(a.event.id); // same second: Klaviyo's default uniqueness
    expect(a.event.id).toBe(
      derivedEventId('Started Checkout', { id: '01KLAVIYO' }, a.event.time, {}),
    );
  });

  it.each<[string, unknown, string]>([
    [
      'a missing metric',
      {
        data: {
          type: 'event',
          attributes: {
            properties: {},
            profile: { data: { type: 'profile', attributes: { email: 'a@b.c' } } },
          },
        },
      },
      '$.data.attributes.metric',
    ],
    [
      'a wrong resource type',
      {
        data: {
          type: 'event',
          attributes: {
            ...body({}).data.attributes,
            metric: { data: { type: 'metrics', attributes: { name: 'x' } } },
          },
        },
      },
      '$.data.attributes.metric.data.type',
    ],
    [
      'a profile without identifier',
      body({}, { attributes: { first_name: 'x' } }),
      '$.data.attributes.profile.data.attributes',
    ],
    ['a non-numeric value', body({ value: '12' }), '$.data.attributes.value'],
    ['a bad time', body({ time: 'yesterday' }), '$.data.attributes.time'],
  ])('refuses %s, pointing at the offending value', async (_d, input, path) => {
    const e = await decodeError(json(input));
    expect(e.reason).toBe('schema_invalid');
    expect(e.path).toBe(path);
    expect(e.message).toContain(path);
  });
});

describe('decodeEvent: Schema Registry frames', () => {
  const canonical = {
    id: 'e1',
    metric: 'Placed Order',
    time: '2024-05-01T12:00:00Z',
    profile: { id: 'p1' },
    properties: { a: 1 },
  };

  it('decodes a framed record through the registry', async () => {
    const registry = new FakeRegistry(new Map([[7, (p) => JSON.parse(p.toString()) as unknown]]));
    const decoded = await decodeEvent(frame(7, json(canonical)), {
      registry,
      receivedAt: RECEIVED,
    });
    expect(registry.calls).toBe(1);
    expect(decoded.schemaId).toBe(7);
    expect(decoded.format).toBe('canonical');
    expect(decoded.event.properties).toEqual({ a: 1 });
  });

  it('accepts Avro-style records: properties as JSON text, time as epoch millis, nulls', async () => {
    const avro = {
      id: 'e2',
      metric: 'Placed Order',
      time: Date.parse('2024-05-01T12:00:00Z'),
      profile: { id: 'p1', email: null, properties: '{"tier":"gold"}' },
      properties: '{"OrderId":"1"}',
      backfill: null,
    };
    const registry = new FakeRegistry(new Map([[9, () => avro]]));
    const { event } = await decodeEvent(frame(9, Buffer.from('avro-bytes')), {
      registry,
      receivedAt: RECEIVED,
    });
    expect(event).toEqual({
      id: 'e2',
      metric: 'Placed Order',
      time: '2024-05-01T12:00:00.000Z',
      profile: { id: 'p1', properties: { tier: 'gold' } },
      properties: { OrderId: '1' },
    });
  });

  it('decodes a framed Klaviyo body', async () => {
    const klaviyo = JSON.parse(fixture('placed-order.klaviyo.json').toString()) as unknown;
    const registry = new FakeRegistry(new Map([[3, () => klaviyo]]));
    const decoded = await decodeEvent(frame(3, Buffer.from('x')), {
      registry,
      receivedAt: RECEIVED,
    });
    expect(decoded.format).toBe('klaviyo');
    expect(decoded.event.id).toBe('order-1234');
  });

  it('refuses a framed record when no registry is configured', async () => {
    const e = await decodeError(frame(7, json(canonical)));
    expect(e.reason).toBe('registry_not_configured');
    expect(e.retriable).toBe(false);
    expect(e.message).toContain('schema id 7');
  });

  it('classifies registry failures: unknown schema is permanent, outages are retriable', async () => {
    const unknown = await decodeError(frame(99, json(canonical)), {
      registry: new FakeRegistry(new Map()),
    });
    expect(unknown.reason).toBe('registry_decode_failed');
    expect(unknown.retriable).toBe(false);

    const down = await decodeError(frame(7, json(canonical)), {
      registry: new FakeRegistry(
        new Map(),
        Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8081'), { code: 'ECONNREFUSED' }),
      ),
    });
    expect(down.reason).toBe('registry_unavailable');
    expect(down.retriable).toBe(true);

    const overloaded = await decodeError(frame(7, json(canonical)), {
      registry: new FakeRegistry(
        new Map(),
        Object.assign(new Error('Service Unavailable'), { status: 503 }),
      ),
    });
    expect(overloaded.reason).toBe('registry_unavailable');
  });

  it('validates what the registry returns', async () => {
    const registry = new FakeRegistry(new Map([[1, () => ({ metric: 'M', profile: {} })]]));
    const e = await decodeError(frame(1, Buffer.from('x')), { registry });
    expect(e.reason).toBe('schema_invalid');
    expect(e.message).toMatch(/^in the registry-decoded record: \$\.profile/);
  });

  it('isRetriableRegistryError honours an explicit flag and causes', () => {
    expect(isRetriableRegistryError({ retriable: true })).toBe(true);
    expect(isRetriableRegistryError(Object.assign(new Error('x'), { status: 404 }))).toBe(false);
    expect(isRetriableRegistryError(Object.assign(new Error('x'), { status: 429 }))).toBe(true);
    expect(
      isRetriableRegistryError(
        new Error('wrapped', { cause: Object.assign(new Error('t'), { code: 'ETIMEDOUT' }) }),
      ),
    ).toBe(true);
    expect(isRetriableRegistryError(new Error('invalid union index'))).toBe(false);
    expect(isRetriableRegistryError('boom')).toBe(false);
  });
});

describe('decodeEvent: malformed input', () => {
  it.each<[string, string, Buffer | null]>([
    ['a null value (tombstone)', 'empty', null],
    ['an empty value', 'empty', Buffer.alloc(0)],
    ['broken JSON', 'malformed_json', Buffer.from('{"metric": "x",')],
    ['plain text', 'malformed_json', Buffer.from('hello')],
    ['a JSON array', 'unknown_format', json([{ metric: 'x' }])],
    ['a JSON string', 'unknown_format', json('event')],
    ['an unrelated object', 'unknown_format', json({ hello: 'world' })],
    ['a truncated frame', 'unknown_format', Buffer.from([0, 0, 1])],
  ])('refuses %s as %s', async (_d, reason, value) => {
    const e = await decodeError(value);
    expect(e.reason).toBe(reason);
    expect(e.retriable).toBe(false);
  });

  it('refuses records over the size limit', async () => {
    const e = await decodeError(fixture('placed-order.json'), { maxBytes: 100 });
    expect(e.reason).toBe('too_large');
  });

  it('accepts a UTF-8 byte order mark', async () => {
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), fixture('placed-order.json')]);
    const { event } = await decodeEvent(withBom, { receivedAt: RECEIVED });
    expect(event.id).toBe('evt_01HXPLACEDORDER0001');
  });

  it('serializes the reason for the DLQ', async () => {
    const e = await decodeError(Buffer.from('{'));
    expect(e.toJSON()).toMatchObject({
      code: 'FLOWHOOK_ERR_EVENT_DECODE',
      reason: 'malformed_json',
      retriable: false,
    });
  });
});

describe('decodeEvent: robustness', () => {
  function paths(v: unknown, prefix: (string | number)[] = []): (string | number)[][] {
    const out: (string | number)[][] = [prefix];
    if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...prefix, i])));
    else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...prefix, k]));
    }
    return out;
  }

  it.each(['placed-order.json', 'placed-order.klaviyo.json'])(
    'only ever fails with EventDecodeError when any member of %s is replaced',
    async (file) => {
      const original = JSON.parse(fixture(file).toString()) as Record<string, unknown>;
      let refused = 0;
      for (const path of paths(original).slice(1)) {
        for (const replacement of [null, 7, '', [], {}, false, '2024-01-01T00:00:00Z']) {
          const doc = structuredClone(original) as Record<string | number, unknown>;
          let parent = doc;
          for (const key of path.slice(0, -1))
            parent = parent[key] as Record<string | number, unknown>;
          parent[path[path.length - 1] as string | number] = replacement;
          try {
            const { event } = await decodeEvent(json(doc), { receivedAt: RECEIVED });
            expect(typeof event.id).toBe('string');
            expect(typeof event.metric).toBe('string');
          } catch (e) {
            expect(e).toBeInstanceOf(EventDecodeError);
            refused++;
          }
        }
      }
      expect(refused).toBeGreaterThan(10);
    },
  );
});

describe('decodeEventValue', () => {
  it('decodes an already-parsed value synchronously', () => {
    const { event } = decodeEventValue(
      { id: 'x', metric: 'M', time: '2024-05-01T00:00:00Z', profile: { id: 'p' } },
      { receivedAt: RECEIVED },
    );
    expect(event.id).toBe('x');
  });
});

describe('profileKey', () => {
  it.each([
    [{ id: 'p1', email: 'a@b.c' }, 'p1'],
    [{ external_id: 'c-1', email: 'a@b.c' }, 'external:c-1'],
    [{ email: ' A@B.C ' }, 'email:a@b.c'],
    [{ phone_number: '+1 500 555 0006' }, 'phone:+15005550006'],
    [{ phone_number: '+15005550006', anonymous_id: 'anon-1' }, 'phone:+15005550006'],
    [{ anonymous_id: 'anon-1', _kx: 'kx-1' }, 'anonymous:anon-1'],
    [{ _kx: 'kx-1' }, 'kx:kx-1'],
    [{ first_name: 'x' }, null],
  ])('%j → %s', (profile, key) => {
    expect(profileKey(profile)).toBe(key);
  });
});
