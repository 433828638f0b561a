import type { Profile } from './documents';

/**
 * The identity flowhook uses for a profile: the record key on flowhook.state, the recommended
 * key of event topics, WebhookJob.profile_id. The profile's own `id` when it has one; otherwise
 * a prefixed form of the first identifier present (external id, then email lower-cased, then
 * phone number), so that ids from different namespaces cannot collide. Null when the profile
 * carries no identifier at all (decoding refuses such events).
 */
export function profileKey(profile: Profile): string | null {
  if (nonEmpty(profile.id)) return profile.id;
  if (nonEmpty(profile.external_id)) return `external:${profile.external_id}`;
  if (nonEmpty(profile.email)) return `email:${profile.email.trim().toLowerCase()}`;
  if (nonEmpty(profile.phone_number)) return `phone:${profile.phone_number.replace(/\s+/g, '')}`;
  return null;
}

function nonEmpty(v: string | undefined): v is string {
  return typeof v === 'string' && v.trim() !== '';
}
