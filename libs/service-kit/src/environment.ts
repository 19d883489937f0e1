import { commonV1 } from '@gatehouse/contracts';
import { InvalidArgumentError } from '@gatehouse/core';

/** The two data environments (P1) in the words the domains use. */
export type DataEnvironment = 'live' | 'staging';

/** A request's environment: LIVE or STAGING, nothing else (INVALID_ARGUMENT naming `field`). */
export function environmentFromProto(e: commonV1.Environment, field = 'environment'): DataEnvironment {
  if (e === commonV1.Environment.ENVIRONMENT_LIVE) return 'live';
  if (e === commonV1.Environment.ENVIRONMENT_STAGING) return 'staging';
  throw new InvalidArgumentError(field, 'must be ENVIRONMENT_LIVE or ENVIRONMENT_STAGING');
}

/** The proto enum of a domain environment. */
export function environmentToProto(e: DataEnvironment): commonV1.Environment {
  return e === 'live' ? commonV1.Environment.ENVIRONMENT_LIVE : commonV1.Environment.ENVIRONMENT_STAGING;
}
