// Decoding of event records into the canonical FlowhookEvent (schemas/event.schema.json).
//
// Accepted inputs:
//   1. canonical JSON: { id, metric, time, profile, properties, backfill? };
//   2. the body of Klaviyo's POST /api/events (JSON:API, data.attributes.{metric, profile,
//      properties, time, value, value_currency, unique_id, backfill});
//   3. either of those framed by a Confluent Schema Registry (magic byte 0 + 4-byte schema id),
//      decoded through a SchemaRegistryDecoder (Avro or JSON Schema).
//
// Decisions:
//   - Klaviyo `value` becomes properties.$value and `value_currency` properties.$value_currency
//     (overriding those properties when both are given); `unique_id` becomes the event id;
//     profile attributes locale and image become profile properties $locale and $image, and
//     anonymous_id is also copied to $anonymous_id, unless already set; meta is dropped.
//   - Without an id (no unique_id), the id is derived deterministically:
//     "derived:" + sha256(metric, profile key, time to the second, properties) so that a
//     redelivered record dedups. Without a time, `receivedAt` is used (pass the Kafka record
//     timestamp, which is stable across redelivery; Klaviyo uses the time the request arrived).
//   - `time` is normalized to UTC ISO-8601 and must lie after 1990-01-01 and at most one year
//     after `receivedAt` (Klaviyo's rule). Numbers are accepted as Unix time (seconds below 1e11,
//     else milliseconds) - Avro records often carry a long.
//   - Optional members that are null are dropped. Registry-decoded records may carry
//     `properties` / `profile.properties` as JSON text (common in Avro); it is parsed.
//   - Unknown members are ignored; the profile must carry one identifier (id, email,
//     phone_number, external_id, anonymous_id or _kx, as Klaviyo accepts). The profile is not
//     altered: use profileKey(event.profile) (src/profile-key.ts, which documents the order)
//     for the state key and the job's profile_id.
//   - A record larger than maxBytes (default 5 MB, Klaviyo's limit) is refused as too_large.

import { createHash } from 'node:crypto';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import eventSchema from '../../schemas/event.schema.json';
import {
  type FlowhookEvent,
  type JsonObject,
  type JsonValue,
  type Profile,
  PROFILE_STRING_FIELDS,
  type ProfileLocation,
} from '../documents';
import { EventDecodeError } from '../errors';
import { parseJsonKeepingOrder } from '../json-order';
import { formatAjvErrors, type PathProblem } from '../json-path';
import { profileKey } from '../profile-key';

/** Decodes a Schema-Registry framed record (the lead wires @kafkajs/confluent-schema-registry). */
export interface SchemaRegistryDecoder {
  decode(buf: Buffer): Promise<unknown>;
}

export interface DecodeOptions {
  /** Needed for framed records; without it a framed record is refused (registry_not_configured). */
  registry?: SchemaRegistryDecoder | null;
  /** The event time when the input has none, and the reference for "not too far in the future". */
  receivedAt?: Date;
  /** Largest record accepted, in bytes. Default 5 MB. */
  maxBytes?: number;
}

export type EventInputFormat = 'canonical' | 'klaviyo';

export interface DecodedEvent {
  event: FlowhookEvent;
  format: EventInputFormat;
  /** Set when the record was framed by a Schema Registry. */
  schemaId?: number;
}

export const DEFAULT_MAX_EVENT_BYTES = 5 * 1024 * 1024;
const MIN_TIME = Date.UTC(1990, 0, 1);
const YEAR_MS = 366 * 86_400_000;

const ajv = new Ajv2020({ allErrors: true, verbose: true, allowUnionTypes: true });
addFormats(ajv);
const validateCanonical = ajv.compile(eventSchema);

const nullable = (t: string | string[]): { type: string[] } => ({
  type: [...(Array.isArray(t) ? t : [t]), 'null'],
});
const klaviyoSchema = {
  $id: 'https://flowhook.dev/schemas/klaviyo-event-create.input',
  description:
    "Klaviyo's EventCreateQueryV2 (POST /api/events body), nullable fields as type unions.",
  type: 'object',
  required: ['data'],
  properties: {
    data: {
      type: 'object',
      required: ['type', 'attributes'],
      properties: {
        type: { const: 'event' },
        attributes: {
          type: 'object',
          required: ['properties', 'metric', 'profile'],
          properties: {
            properties: { type: 'object', maxProperties: 400 },
            time: { ...nullable('string'), format: 'date-time' },
            value: nullable('number'),
            value_currency: nullable('string'),
            unique_id: { ...nullable('string'), maxLength: 512 },
            backfill: nullable('boolean'),
            metric: {
              type: 'object',
              required: ['data'],
              properties: {
                data: {
                  type: 'object',
                  required: ['type', 'attributes'],
                  properties: {
                    type: { const: 'metric' },
                    attributes: {
                      type: 'object',
                      required: ['name'],
                      properties: { name: { type: 'string', minLength: 1, maxLength: 127 } },
                    },
                  },
                },
              },
            },
            profile: {
              type: 'object',
              required: ['data'],
              properties: {
                data: {
                  type: 'object',
                  required: ['type', 'attributes'],
                  properties: {
                    type: { const: 'profile' },
                    id: nullable('string'),
                    attributes: {
                      type: 'object',
                      properties: {
                        email: nullable('string'),
                        phone_number: nullable('string'),
                        external_id: nullable('string'),
                        anonymous_id: nullable('string'),
                        _kx: nullable('string'),
                        first_name: nullable('string'),
                        last_name: nullable('string'),
                        organization: nullable('string'),
                        locale: nullable('string'),
                        title: nullable('string'),
                        image: nullable('string'),
                        location: nullable('object'),
                        properties: nullable('object'),
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
};
const validateKlaviyo = ajv.compile(klaviyoSchema);

// ---- entry points -------------------------------------------------------------------------------

/**
 * Decodes one event record. Throws EventDecodeError (check `.reason`, `.retriable`, `.path`):
 * put the record on flowhook.events.dlq with the reason, or retry when retriable.
 */
export async function decodeEvent(
  value: Buffer | null | undefined,
  options: DecodeOptions = {},
): Promise<DecodedEvent> {
  const read = await readRecordValue(value, options, 'event');
  const decoded = fromValue(read.value, options, read.schemaId !== undefined);
  return read.schemaId === undefined ? decoded : { ...decoded, schemaId: read.schemaId };
}

/**
 * The JSON value of a record (plain JSON, or framed by a Schema Registry and decoded through
 * it), after the size limit. Throws EventDecodeError. Shared by events and profile updates.
 */
export async function readRecordValue(
  value: Buffer | null | undefined,
  options: DecodeOptions,
  what: string,
): Promise<{ value: unknown; schemaId?: number }> {
  if (value === null || value === undefined || value.length === 0) {
    throw new EventDecodeError('empty', `the ${what} record has no value`);
  }
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_EVENT_BYTES;
  if (value.length > maxBytes) {
    throw new EventDecodeError(
      'too_large',
      `the ${what} record is ${value.length} bytes; the limit is ${maxBytes}`,
    );
  }
  if (value[0] === 0) return decodeFramed(value, options, what);
  return { value: parseJson(value, what) };
}

/** Decodes an already-parsed value (one event in either JSON form). Throws EventDecodeError. */
export function decodeEventValue(value: unknown, options: DecodeOptions = {}): DecodedEvent {
  return fromValue(value, options, false);
}

/** A record framed by a Confluent Schema Registry: magic byte 0, then a 4-byte schema id. */
export function isRegistryFramed(value: Buffer): boolean {
  return value.length >= 5 && value[0] === 0;
}

// ---- framing ------------------------------------------------------------------------------------

async function decodeFramed(
  buf: Buffer,
  options: DecodeOptions,
  what: string,
): Promise<{ value: unknown; schemaId: number }> {
  if (buf.length < 5) {
    throw new EventDecodeError(
      'unknown_format',
      'record starts with byte 0 but is too short for a Schema Registry frame',
    );
  }
  const schemaId = buf.readUInt32BE(1);
  const registry = options.registry;
  if (registry === null || registry === undefined) {
    throw new EventDecodeError(
      'registry_not_configured',
      `record is framed by a Schema Registry (schema id ${schemaId}) but no registry is configured (SCHEMA_REGISTRY_URL)`,
      { details: { schemaId } },
    );
  }
  let decoded: unknown;
  try {
    decoded = await registry.decode(buf);
  } catch (e) {
    const retriable = isRetriableRegistryError(e);
    throw new EventDecodeError(
      retriable ? 'registry_unavailable' : 'registry_decode_failed',
      `schema registry could not decode the record (schema id ${schemaId}): ${e instanceof Error ? e.message : String(e)}`,
      { cause: e, details: { schemaId } },
    );
  }
  if (Buffer.isBuffer(decoded)) decoded = parseJson(decoded, what);
  else if (typeof decoded === 'string') decoded = parseJson(Buffer.from(decoded, 'utf8'), what);
  return { value: decoded, schemaId };
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ESOCKETTIMEDOUT',
]);

/**
 * Whether trying again later can help: an explicit `retriable` flag wins; then HTTP statuses
 * 408, 429 and 5xx (the registry client's ResponseError carries `status`) and network error
 * codes are retriable; anything else (404 unknown schema, corrupt payload) is not.
 */
export function isRetriableRegistryError(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const err = e as {
    retriable?: unknown;
    status?: unknown;
    code?: unknown;
    cause?: unknown;
    message?: unknown;
  };
  if (typeof err.retriable === 'boolean') return err.retriable;
  if (typeof err.status === 'number')
    return err.status === 408 || err.status === 429 || err.status >= 500;
  if (typeof err.code === 'string' && NETWORK_CODES.has(err.code)) return true;
  if (
    typeof err.message === 'string' &&
    [...NETWORK_CODES].some((c) => (err.message as string).includes(c))
  ) {
    return true;
  }
  return err.cause !== undefined && err.cause !== e ? isRetriableRegistryError(err.cause) : false;
}

// ---- JSON ---------------------------------------------------------------------------------------

function parseJson(buf: Buffer, what: string): unknown {
  let text = buf.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return parseJsonKeepingOrder(text);
  } catch (e) {
    throw new EventDecodeError(
      'malformed_json',
      `the ${what} record is not valid JSON: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

// ---- forms --------------------------------------------------------------------------------------

function fromValue(value: unknown, options: DecodeOptions, framed: boolean): DecodedEvent {
  if (!isObject(value)) {
    throw new EventDecodeError(
      'unknown_format',
      Array.isArray(value)
        ? 'an event record holds one event, not an array'
        : `an event must be a JSON object (got ${value === null ? 'null' : typeof value})`,
    );
  }
  if (isObject(value.data) && (value.data.type === 'event' || isObject(value.data.attributes))) {
    return { event: fromKlaviyo(value, options, framed), format: 'klaviyo' };
  }
  if ('metric' in value)
    return { event: fromCanonical(value, options, framed), format: 'canonical' };
  throw new EventDecodeError(
    'unknown_format',
    'not a flowhook event ({ id, metric, time, profile, properties }) nor a Klaviyo Events API body ({ data: { type: "event", attributes } })',
  );
}

function schemaError(problems: PathProblem[], prefix: string): EventDecodeError {
  const first = problems[0] as PathProblem;
  return new EventDecodeError(
    'schema_invalid',
    `${prefix}${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
    { path: first.path, details: { problems } },
  );
}

function fromCanonical(
  value: Record<string, unknown>,
  options: DecodeOptions,
  framed: boolean,
): FlowhookEvent {
  const receivedAt = options.receivedAt ?? new Date();
  const profile = isObject(value.profile) ? normalizeProfile(value.profile, framed) : value.profile;
  const properties =
    value.properties === undefined || value.properties === null
      ? {}
      : framed
        ? maybeJsonText(value.properties)
        : value.properties;
  const draft: Record<string, unknown> = {
    id: value.id === null ? undefined : value.id,
    metric: value.metric,
    time: normalizeTime(value.time, receivedAt),
    profile,
    properties,
  };
  if (value.backfill !== undefined && value.backfill !== null) draft.backfill = value.backfill;
  return finish(draft, receivedAt, (p) => p, framed ? 'in the registry-decoded record: ' : '');
}

function fromKlaviyo(
  value: Record<string, unknown>,
  options: DecodeOptions,
  framed: boolean,
): FlowhookEvent {
  if (!validateKlaviyo(value)) {
    const problems = formatAjvErrors(validateKlaviyo.errors, klaviyoSchema);
    throw schemaError(
      problems,
      framed ? 'in the registry-decoded Klaviyo event: ' : 'invalid Klaviyo event: ',
    );
  }
  const receivedAt = options.receivedAt ?? new Date();
  const attrs = (value.data as { attributes: Record<string, unknown> }).attributes;
  const metric = (attrs.metric as { data: { attributes: { name: string } } }).data.attributes.name;
  const pData = (
    attrs.profile as { data: { id?: string | null; attributes: Record<string, unknown> } }
  ).data;
  const a = pData.attributes;
  const profileIn: Record<string, unknown> = { ...a };
  if (typeof pData.id === 'string' && pData.id !== '') profileIn.id = pData.id;
  const profile = normalizeProfile(profileIn, framed);
  const extras: [string, unknown][] = [
    ['$anonymous_id', a.anonymous_id],
    ['$locale', a.locale],
    ['$image', a.image],
  ];
  for (const [k, v] of extras) {
    if (typeof v !== 'string' || v === '') continue;
    profile.properties = profile.properties ?? {};
    if (!(k in profile.properties)) profile.properties[k] = v;
  }
  const properties = { ...(attrs.properties as JsonObject) };
  if (typeof attrs.value === 'number') properties.$value = attrs.value;
  if (typeof attrs.value_currency === 'string') properties.$value_currency = attrs.value_currency;
  const draft: Record<string, unknown> = {
    metric,
    time: normalizeTime(attrs.time, receivedAt),
    profile,
    properties,
  };
  if (typeof attrs.unique_id === 'string' && attrs.unique_id !== '') draft.id = attrs.unique_id;
  if (typeof attrs.backfill === 'boolean') draft.backfill = attrs.backfill;
  return finish(
    draft,
    receivedAt,
    klaviyoPath,
    framed ? 'in the registry-decoded Klaviyo event: ' : 'invalid Klaviyo event: ',
  );
}

/** Maps a canonical path back to where it came from in a Klaviyo body. */
function klaviyoPath(path: string): string {
  const attrs = '$.data.attributes';
  if (path === '$.id') return `${attrs}.unique_id`;
  if (path === '$.metric') return `${attrs}.metric.data.attributes.name`;
  if (path === '$.profile.id') return `${attrs}.profile.data.id`;
  if (path === '$.profile') return `${attrs}.profile.data.attributes`;
  if (path.startsWith('$.profile.'))
    return `${attrs}.profile.data.attributes${path.slice('$.profile'.length)}`;
  if (path.startsWith('$.')) return `${attrs}${path.slice(1)}`;
  return path;
}

function finish(
  draft: Record<string, unknown>,
  receivedAt: Date,
  mapPath: (p: string) => string,
  prefix: string,
): FlowhookEvent {
  if (
    draft.id === undefined &&
    typeof draft.metric === 'string' &&
    isObject(draft.profile) &&
    typeof draft.time === 'string'
  ) {
    draft.id = derivedEventId(draft.metric, draft.profile as Profile, draft.time, draft.properties);
  }
  if (!validateCanonical(draft)) {
    const problems = formatAjvErrors(validateCanonical.errors, eventSchema).map((p) => ({
      path: mapPath(p.path),
      message: p.message,
    }));
    throw schemaError(problems, prefix);
  }
  const t = Date.parse(draft.time as string);
  if (t < MIN_TIME || t > receivedAt.getTime() + YEAR_MS) {
    const path = mapPath('$.time');
    throw new EventDecodeError(
      'schema_invalid',
      `${prefix}${path}: must be after 1990-01-01 and at most one year in the future (got ${String(draft.time)})`,
      { path },
    );
  }
  return draft as unknown as FlowhookEvent;
}

// ---- normalization ------------------------------------------------------------------------------

/** Identifiers Klaviyo's web tracking sets; not standard fields templates and conditions see. */
const WEB_TRACKING_IDS = ['anonymous_id', '_kx'] as const;
/** An empty identifier is as good as none (Klaviyo ignores it). */
const IDENTIFIERS = new Set<string>([
  'id',
  'email',
  'phone_number',
  'external_id',
  ...WEB_TRACKING_IDS,
]);

function normalizeProfile(
  p: Record<string, unknown>,
  framed: boolean,
): Profile & Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of [...PROFILE_STRING_FIELDS, ...WEB_TRACKING_IDS]) {
    const v = p[k];
    if (v === null || v === undefined) continue;
    if (typeof v === 'string' && v === '' && IDENTIFIERS.has(k)) continue;
    out[k] = v;
  }
  if (isObject(p.location)) out.location = p.location as ProfileLocation;
  else if (p.location !== null && p.location !== undefined) out.location = p.location;
  if (p.properties !== null && p.properties !== undefined) {
    out.properties = framed ? maybeJsonText(p.properties) : p.properties;
  }
  return out as Profile & Record<string, unknown>;
}

function maybeJsonText(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  try {
    return parseJsonKeepingOrder(v);
  } catch {
    return v;
  }
}

function normalizeTime(v: unknown, receivedAt: Date): unknown {
  if (v === undefined || v === null) return receivedAt.toISOString();
  if (typeof v === 'number' && Number.isFinite(v)) {
    return new Date(Math.abs(v) < 1e11 ? v * 1000 : v).toISOString();
  }
  if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v)) {
    const t = Date.parse(v);
    if (!Number.isNaN(t) && /(Z|[+-]\d{2}:?\d{2})$/i.test(v)) return new Date(t).toISOString();
  }
  return v; // left as is: the schema reports it with its path
}

// ---- ids ----------------------------------------------------------------------------------------

/** JSON with object keys sorted, so equal values hash equally whatever the key order. */
export function stableStringify(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  if (isObject(v)) {
    return `{${Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableStringify(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/**
 * The id of an event that has none: stable for the same metric, profile, time (to the second,
 * like Klaviyo's default uniqueness) and properties.
 */
export function derivedEventId(
  metric: string,
  profile: Profile,
  time: string,
  properties: unknown,
): string {
  const t = Date.parse(time);
  const second = Number.isNaN(t) ? time : new Date(Math.floor(t / 1000) * 1000).toISOString();
  const digest = createHash('sha256')
    .update(stableStringify([metric, profileKey(profile) ?? '', second, properties as JsonValue]))
    .digest('hex');
  return `derived:${digest.slice(0, 40)}`;
}
