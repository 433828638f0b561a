// What a template sees: `person` (and the profile's standard fields as bare names), `event`,
// `organization`, `flow` and `now`. Nothing else is reachable.
import { LOCATION_FIELDS, type Profile, PROFILE_STRING_FIELDS } from '../documents';
import { keepKeyOrder, orderedKeys } from '../json-order';
import type { OrganizationInfo, TemplateInput } from './types';
import { MappingView, getMember, isPlainObject } from './values';

const hasOwn = Object.prototype.hasOwnProperty;

const PROFILE_FIELDS: ReadonlySet<string> = new Set(PROFILE_STRING_FIELDS);

/** Klaviyo's other spellings of profile fields: `$`-prefixed (legacy API) and capitalised. */
const PERSON_ALIASES: ReadonlyMap<string, string> = new Map([
  ['City', 'city'],
  ['Region', 'region'],
  ['Country', 'country'],
  ['Zipcode', 'zip'],
  ['zip_code', 'zip'],
  ['$id', 'id'],
  ['$email', 'email'],
  ['$phone_number', 'phone_number'],
  ['$external_id', 'external_id'],
  ['$first_name', 'first_name'],
  ['$last_name', 'last_name'],
  ['$organization', 'organization'],
  ['$title', 'title'],
  ['$address1', 'address1'],
  ['$address2', 'address2'],
  ['$city', 'city'],
  ['$region', 'region'],
  ['$country', 'country'],
  ['$zip', 'zip'],
  ['$timezone', 'timezone'],
  ['$latitude', 'latitude'],
  ['$longitude', 'longitude'],
  ['$ip', 'ip'],
]);

/** Names a template resolves at the top level, besides the profile's standard fields. */
export const ROOT_NAMES: ReadonlySet<string> = new Set([
  'person',
  'event',
  'organization',
  'flow',
  'now',
]);

function present(v: unknown): boolean {
  return v !== undefined && v !== null;
}

function fullName(profile: Profile): string | undefined {
  const parts = [getMember(profile, 'first_name'), getMember(profile, 'last_name')].filter(
    (p): p is string => typeof p === 'string' && p.length > 0,
  );
  return parts.length > 0 ? parts.join(' ') : undefined;
}

/** A standard profile field (or one of its aliases); undefined when it is not one. */
function standardField(profile: Profile, key: string): unknown {
  const name = PERSON_ALIASES.get(key) ?? key;
  if (PROFILE_FIELDS.has(name)) return getMember(profile, name);
  if (LOCATION_FIELDS.has(name)) return getMember(getMember(profile, 'location'), name);
  if (name === 'full_name') return fullName(profile);
  if (name === 'location') return getMember(profile, 'location');
  return undefined;
}

/** `person.KEY` / `person|lookup:KEY`: standard fields first, then custom properties. */
export function personField(profile: Profile, key: string): unknown {
  const v = standardField(profile, key);
  if (present(v)) return v;
  return getMember(getMember(profile, 'properties'), key);
}

/** Bare top-level names: the standard profile fields only (custom properties need `person.`). */
export function isBareProfileName(name: string): boolean {
  const n = PERSON_ALIASES.get(name) ?? name;
  return (
    PROFILE_FIELDS.has(n) ||
    LOCATION_FIELDS.has(n) ||
    n === 'full_name' ||
    (n === 'location' && name === n)
  );
}

/** The whole profile as one object (for `{{ person }}`, `tojson`, iteration). */
export function personFields(profile: Profile): Record<string, unknown> {
  // No prototype: a custom property named "__proto__" stays a plain key.
  const fields = Object.create(null) as Record<string, unknown>;
  const order: string[] = [];
  const set = (k: string, v: unknown): void => {
    if (!(k in fields)) order.push(k);
    fields[k] = v;
  };
  const props = getMember(profile, 'properties');
  if (isPlainObject(props)) {
    for (const k of orderedKeys(props)) {
      const v = getMember(props, k);
      if (v !== undefined) set(k, v);
    }
  }
  for (const k of PROFILE_FIELDS) {
    const v = getMember(profile, k);
    if (present(v)) set(k, v);
  }
  const name = fullName(profile);
  if (name !== undefined) set('full_name', name);
  const location = getMember(profile, 'location');
  if (isPlainObject(location)) {
    for (const k of LOCATION_FIELDS) {
      const v = getMember(location, k);
      if (present(v)) set(k, v);
    }
    set('location', location);
  }
  return keepKeyOrder(fields, order);
}

/** `person`: reads resolve standard fields, aliases and custom properties on demand. */
export class PersonView extends MappingView {
  private fields: Record<string, unknown> | undefined;

  constructor(private readonly profile: Profile) {
    super();
  }

  get(key: string): unknown {
    return personField(this.profile, key);
  }

  toJSON(): Record<string, unknown> {
    if (this.fields === undefined) this.fields = personFields(this.profile);
    return this.fields;
  }
}

const organizations = new WeakMap<OrganizationInfo, Record<string, unknown>>();

/** `organization`: name, url, address fields, and Klaviyo's full_address & co. */
export function organizationObject(org: OrganizationInfo): Record<string, unknown> {
  const cached = organizations.get(org);
  if (cached !== undefined) return cached;
  const out = Object.create(null) as Record<string, unknown>;
  const name = getMember(org, 'name');
  const url = getMember(org, 'url');
  if (typeof name === 'string') out.name = name;
  if (typeof url === 'string') out.url = url;
  const address = Object.create(null) as Record<string, string>;
  const raw = getMember(org, 'address');
  if (isPlainObject(raw)) {
    for (const k of Object.keys(raw)) {
      const v = getMember(raw, k);
      if (typeof v === 'string') address[k] = v;
    }
  }
  for (const [k, v] of Object.entries(address)) if (!hasOwn.call(out, k)) out[k] = v;
  out.address = address;
  if (address.address1 !== undefined) out.street_address = address.address1;
  if (address.address2 !== undefined) out.street_address2 = address.address2;
  if (address.zip !== undefined) out.zip_code = address.zip;
  const cityLine = [address.city, [address.region, address.zip].filter(Boolean).join(' ')]
    .filter((p) => p !== undefined && p.length > 0)
    .join(', ');
  const full = [address.address1, address.address2, cityLine, address.country]
    .filter((p): p is string => p !== undefined && p.length > 0)
    .join(', ');
  if (full.length > 0) out.full_address = full;
  organizations.set(org, out);
  return out;
}

/** Per-render view of the input: objects are built only when a template asks for them. */
export class RenderRoot {
  private person: PersonView | undefined;
  private flow: Record<string, unknown> | undefined;

  constructor(readonly input: TemplateInput) {}

  /** A top-level name. */
  get(name: string): unknown {
    switch (name) {
      case 'person':
        if (this.person === undefined) this.person = new PersonView(this.input.profile);
        return this.person;
      case 'event':
        return isPlainObject(this.input.event) ? this.input.event : undefined;
      case 'organization':
        return organizationObject(this.input.organization);
      case 'flow':
        if (this.flow === undefined) {
          this.flow = { id: this.input.flow.id, name: this.input.flow.name };
        }
        return this.flow;
      case 'now':
        return this.input.now;
      default:
        return isBareProfileName(name) ? standardField(this.input.profile, name) : undefined;
    }
  }

  /** `name.key`, with a fast path for `person.key` that builds no object. */
  member(name: string, key: string | number): unknown {
    if (name === 'person') return personField(this.input.profile, String(key));
    if (name === 'event') return getMember(this.input.event, key);
    return getMember(this.get(name), key);
  }
}
