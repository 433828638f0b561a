import type { RoleName } from '../config/settings';
import type { RoleFactory } from '../service/role';

/** The roles this build can run, by name. */
export const ROLE_FACTORIES: Partial<Record<RoleName, RoleFactory>> = {};
