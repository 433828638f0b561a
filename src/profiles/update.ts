// Decoding of profile-update records (FLOWHOOK_PROFILE_TOPICS) into one ProfileUpdate.
//
// Accepted inputs:
//   1. canonical JSON (schemas/profile.schema.json): { profile, time?, id?, patch_properties?,
//      consent?, lists?, segments? };
//   2. the body of Klaviyo's POST /api/profile-import (JSON:API: data.type "profile",
//      data.id?, data.attributes.{email, phone_number, external_id, anonymous_id, _kx,
//      first_name, last_name, organization, title, locale, image, location, properties,
//      subscriptions?}, data.meta.patch_properties?); `subscriptions.{email,sms}.marketing
//      .consent` (SUBSCRIBED / UNSUBSCRIBED / NEVER_SUBSCRIBED) sets consent;
//   3. either of those framed by a Confluent Schema Registry.
// A member that is null clears that field (Klaviyo's rule); locale and image become the
// properties $locale and $image. Without `time`, the record timestamp is the update's time;
// without `id`, it is derived from the record's topic, partition and offset (stable across
// reprocessing).

import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import profileSchema from '../../schemas/profile.schema.json';
import type { JsonObject, Profile } from '../documents';
import { EventDecodeError } from '../errors';
import { readRecordValue, type DecodeOptions } from '../events/decode';
import { formatAjvErrors } from '../json-path';
import { profileKey } from '../profile-key';
import type { ClearedField, ConsentChannel, ConsentStatus, PropertyPatch } from './record';

export interface ProfileUpdate {
  id: string;
  /** Epoch ms. */
  timeMs: number;
  /** The fields the update sets (identifiers included). */
  profile: Profile;
  /** Fields the update clears (null in the input). */
  cleared: ClearedField[];
  patch?: PropertyPatch;
  consent: Partial<Record<ConsentChannel, ConsentStatus>>;
  lists: { add: string[]; remove: string[] };
  segments: { add: string[]; remove: string[] };
}

export interface RecordOrigin {
  topic: string;
  partition: number;
  offset: string;
  /** The record timestamp (epoch ms). */
  timestampMs: number;
}

const ajv = new Ajv2020({ allErrors: true, verbose: true, allowUnionTypes: true });
addFormats(ajv);
const validateCanonical = ajv.compile(profileSchema);

const STRING_FIELDS = [
  'id',
  'email',
  'phone_number',
  'external_id',
  'anonymous_id',
  '_kx',
  'first_name',
  'last_name',
  'organization',
  'title',
] as const;

const KLAVIYO_CONSENT: Record<string, ConsentStatus> = {
  SUBSCRIBED: 'subscribed',
  UNSUBSCRIBED: 'unsubscribed',
  NEVER_SUBSCRIBED: 'never_subscribed',
};

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);

/** Decodes one profile-update record. Throws EventDecodeError (dead-letter it with its reason). */
export async function decodeProfileUpdate(
  value: Buffer | null | undefined,
  origin: RecordOrigin,
  options: DecodeOptions = {},
): Promise<ProfileUpdate> {
  const read = await readRecordValue(value, options, 'profile update');
  return profileUpdateFromValue(read.value, origin);
}

export function profileUpdateFromValue(value: unknown, origin: RecordOrigin): ProfileUpdate {
  if (isObject(value) && isObject(value.data)) return fromKlaviyo(value.data, origin);
  if (isObject(value) && 'profile' in value) return fromCanonical(value, origin);
  throw new EventDecodeError(
    'unknown_format',
    'not a flowhook profile update ({ profile, time?, … }) nor a Klaviyo profile-import body ({ data: { type: "profile", attributes } })',
  );
}

function fromCanonical(value: Record<string, unknown>, origin: RecordOrigin): ProfileUpdate {
  if (!validateCanonical(value)) {
    const problems = formatAjvErrors(validateCanonical.errors, profileSchema);
    const first = problems[0];
    throw new EventDecodeError(
      'schema_invalid',
      `invalid profile update: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
      { path: first?.path, details: { problems } },
    );
  }
  const update = base(value.profile as Record<string, unknown>, origin, value.id, value.time);
  if (isObject(value.patch_properties)) update.patch = patchOf(value.patch_properties);
  if (isObject(value.consent)) {
    for (const channel of ['email', 'sms'] as const) {
      const s = value.consent[channel];
      if (typeof s === 'string') update.consent[channel] = s as ConsentStatus;
    }
  }
  for (const kind of ['lists', 'segments'] as const) {
    const change = value[kind];
    if (isObject(change)) {
      update[kind] = {
        add: (change.add as string[] | undefined) ?? [],
        remove: (change.remove as string[] | undefined) ?? [],
      };
    }
  }
  return update;
}

function fromKlaviyo(data: Record<string, unknown>, origin: RecordOrigin): ProfileUpdate {
  const fail = (path: string, message: string) =>
    new EventDecodeError('schema_invalid', `invalid Klaviyo profile import: ${path}: ${message}`, {
      path,
    });
  if (data.type !== 'profile') throw fail('$.data.type', "must be 'profile'");
  if (!isObject(data.attributes)) throw fail('$.data.attributes', 'must be an object');
  const attrs = data.attributes;
  const fields: Record<string, unknown> = { ...attrs };
  delete fields.locale;
  delete fields.image;
  delete fields.subscriptions;
  if (typeof data.id === 'string' && data.id !== '') fields.id = data.id;
  for (const k of STRING_FIELDS) {
    const v = fields[k];
    if (v !== undefined && v !== null && typeof v !== 'string')
      throw fail(`$.data.attributes.${k}`, 'must be a string or null');
  }
  if (fields.properties !== undefined && fields.properties !== null && !isObject(fields.properties))
    throw fail('$.data.attributes.properties', 'must be an object');
  if (fields.location !== undefined && fields.location !== null && !isObject(fields.location))
    throw fail('$.data.attributes.location', 'must be an object or null');
  const extras: [string, unknown][] = [
    ['$locale', attrs.locale],
    ['$image', attrs.image],
  ];
  for (const [k, v] of extras) {
    if (v === undefined) continue;
    fields.properties = { ...((fields.properties as JsonObject | undefined) ?? {}), [k]: v };
  }
  const update = base(fields, origin, undefined, undefined);
  const meta = data.meta;
  if (isObject(meta) && isObject(meta.patch_properties))
    update.patch = patchOf(meta.patch_properties);
  const subs = attrs.subscriptions;
  if (isObject(subs)) {
    for (const channel of ['email', 'sms'] as const) {
      const marketing = isObject(subs[channel]) ? subs[channel].marketing : undefined;
      const consent = isObject(marketing) ? marketing.consent : undefined;
      if (consent === undefined) continue;
      const status = typeof consent === 'string' ? KLAVIYO_CONSENT[consent] : undefined;
      if (status === undefined) {
        throw fail(
          `$.data.attributes.subscriptions.${channel}.marketing.consent`,
          'must be SUBSCRIBED, UNSUBSCRIBED or NEVER_SUBSCRIBED',
        );
      }
      update.consent[channel] = status;
    }
  }
  return update;
}

/** Profile fields, cleared fields, id and time of an update; refuses one without identifier. */
function base(
  fields: Record<string, unknown>,
  origin: RecordOrigin,
  id: unknown,
  time: unknown,
): ProfileUpdate {
  const profile: Profile & Record<string, unknown> = {};
  const cleared: ClearedField[] = [];
  for (const k of STRING_FIELDS) {
    const v = fields[k];
    if (v === null) cleared.push(k);
    else if (typeof v === 'string' && v !== '') profile[k] = v;
  }
  for (const k of ['location', 'properties'] as const) {
    const v = fields[k];
    if (v === null) {
      cleared.push(k);
      continue;
    }
    if (!isObject(v)) continue;
    const set: Record<string, unknown> = {};
    for (const [name, inner] of Object.entries(v)) {
      if (inner === null) cleared.push(`${k}.${name}`);
      else set[name] = inner;
    }
    profile[k] = set as never;
  }
  if (profileKey(profile) === null) {
    throw new EventDecodeError(
      'schema_invalid',
      'a profile update needs an identifier: id, email, phone_number, external_id, anonymous_id or _kx',
      { path: '$.profile' },
    );
  }
  const timeMs = typeof time === 'string' ? Date.parse(time) : origin.timestampMs;
  return {
    id:
      typeof id === 'string' && id !== ''
        ? id
        : `profile-update:${origin.topic}:${origin.partition}:${origin.offset}`,
    timeMs: Number.isNaN(timeMs) ? origin.timestampMs : timeMs,
    profile,
    cleared,
    consent: {},
    lists: { add: [], remove: [] },
    segments: { add: [], remove: [] },
  };
}

function patchOf(p: Record<string, unknown>): PropertyPatch {
  const patch: PropertyPatch = {};
  if (isObject(p.append)) patch.append = p.append as JsonObject;
  if (isObject(p.unappend)) patch.unappend = p.unappend as JsonObject;
  if (typeof p.unset === 'string') patch.unset = [p.unset];
  else if (Array.isArray(p.unset)) patch.unset = p.unset.filter((x) => typeof x === 'string');
  return patch;
}
