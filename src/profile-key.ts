import type { Profile } from './documents';

/**
 * The identity flowhook uses for a profile: the record key on flowhook.state, the recommended
 * key of event topics, WebhookJob.profile_id. This is the one place the policy lives.
 *
 * The first identifier present wins, in this order:
 *   1. `id` (Klaviyo's profile id), as is;
 *   2. `external_id` → `external:<id>`;
 *   3. `email` → `email:<address, trimmed, lower-cased>`;
 *   4. `phone_number` → `phone:<number without spaces>`;
 *   5. `anonymous_id` → `anonymous:<id>`;
 *   6. `_kx` (Klaviyo's exchange id) → `kx:<id>`.
 * The prefixes keep ids from different namespaces from colliding. Null when the profile carries
 * no identifier at all (decoding refuses such events).
 */
export function profileKey(profile: Profile): string | null {
  if (nonEmpty(profile.id)) return profile.id;
  if (nonEmpty(profile.external_id)) return `external:${profile.external_id}`;
  if (nonEmpty(profile.email)) return `email:${profile.email.trim().toLowerCase()}`;
  if (nonEmpty(profile.phone_number)) return `phone:${profile.phone_number.replace(/\s+/g, '')}`;
  if (nonEmpty(profile.anonymous_id)) return `anonymous:${profile.anonymous_id}`;
  if (nonEmpty(profile._kx)) return `kx:${profile._kx}`;
  return null;
}

function nonEmpty(v: string | undefined): v is string {
  return typeof v === 'string' && v.trim() !== '';
}
