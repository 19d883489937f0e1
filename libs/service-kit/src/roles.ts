import { commonV1 } from '@gatehouse/contracts';
import { InvalidArgumentError } from '@gatehouse/core';

const R = commonV1.Role;

/** The five role names (as session tokens spell them) and their proto values: one table for every service. */
const ROLE_TO_PROTO: Readonly<Record<string, commonV1.Role>> = {
  security_officer: R.ROLE_SECURITY_OFFICER,
  manager: R.ROLE_MANAGER,
  team_lead: R.ROLE_TEAM_LEAD,
  developer: R.ROLE_DEVELOPER,
  support: R.ROLE_SUPPORT,
};

/** Roles as the proto spells them; a name this version does not know is left out (roles only grant). */
export function rolesToProto(roles: readonly string[]): commonV1.Role[] {
  return roles.flatMap((r) => (Object.hasOwn(ROLE_TO_PROTO, r) ? [ROLE_TO_PROTO[r] as commonV1.Role] : []));
}

/** Role names from a request: unspecified or unknown values are INVALID_ARGUMENT naming the field. */
export function rolesFromProto(roles: readonly commonV1.Role[], field = 'roles'): string[] {
  return roles.map((p) => {
    const found = Object.keys(ROLE_TO_PROTO).find((r) => ROLE_TO_PROTO[r] === p);
    if (!found) throw new InvalidArgumentError(field, `${commonV1.roleToJSON(p)} is not a role that can be granted`);
    return found;
  });
}
