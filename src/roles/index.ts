import { AdminRole } from '../admin/role';
import type { RoleName } from '../config/settings';
import { DelayRole } from '../delay/role';
import { DeliveryRole } from '../delivery/role';
import type { RoleFactory } from '../service/role';
import { TriggerRole } from '../trigger/role';

/** The roles this build can run, by name. */
export const ROLE_FACTORIES: Partial<Record<RoleName, RoleFactory>> = {
  trigger: (context) => new TriggerRole(context),
  delivery: (context) => new DeliveryRole(context),
  delay: (context) => new DelayRole(context),
  admin: (context) => new AdminRole(context),
};
