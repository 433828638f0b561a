import type { ActivityReader } from '../activity/types';
import type { AuditActor } from '../app/audit';

/** Who releases or discards a held webhook (the signed-in principal, as audited). */
export type ReviewActor = AuditActor;

/**
 * What the admin API needs from the review queue's storage (implemented with the activity
 * store): release sends the held job (same webhook-id); discard drops it. Both throw
 * NotFoundError for an id that is not held (any more).
 */
export interface ReviewActions {
  release(id: string, actor: ReviewActor): Promise<void>;
  discard(id: string, actor: ReviewActor): Promise<void>;
}

/** Services the admin role is given beside its RoleContext; absent ones answer 503. */
export interface AdminServices {
  activity?: ActivityReader;
  review?: ReviewActions;
}
