/**
 * Who a Gatehouse certificate speaks for. The identity lives in one SAN URI,
 * `urn:gatehouse:<kind>:<name>`, so callers are named by something the CA vouched for and that
 * cannot be confused with free text such as the CN.
 */

/** The three kinds of machine caller; each RPC's policy names which kinds (and names) it accepts. */
export type CallerKind = 'service' | 'backend' | 'operator';

/** Every kind, in a fixed order (for validation and messages). */
export const CALLER_KINDS: readonly CallerKind[] = ['service', 'backend', 'operator'];

/** Names are short lowercase slugs: safe in a URI, a file name and a log line alike. */
const NAME_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;

/** True when `value` is one of the caller kinds. */
export function isCallerKind(value: unknown): value is CallerKind {
  return typeof value === 'string' && (CALLER_KINDS as readonly string[]).includes(value);
}

/** True when `value` is a valid caller name (`^[a-z][a-z0-9-]{0,62}$`). */
export function isCallerName(value: unknown): value is string {
  return typeof value === 'string' && NAME_PATTERN.test(value);
}

/** Throws a clear error unless `name` is a valid caller name; used before anything is issued or read. */
export function assertCallerName(name: unknown): asserts name is string {
  if (!isCallerName(name)) {
    throw new Error(
      `invalid Gatehouse caller name ${JSON.stringify(name)}: it must match ^[a-z][a-z0-9-]{0,62}$ ` +
        '(a lowercase letter, then up to 62 lowercase letters, digits or hyphens)',
    );
  }
}

/** Throws a clear error unless `kind` is a caller kind. */
export function assertCallerKind(kind: unknown): asserts kind is CallerKind {
  if (!isCallerKind(kind)) {
    throw new Error(`invalid Gatehouse caller kind ${JSON.stringify(kind)}: expected one of ${CALLER_KINDS.join(', ')}`);
  }
}

/** The SAN URI that carries a caller's identity. */
export function identityUri(kind: CallerKind, name: string): string {
  return `urn:gatehouse:${kind}:${name}`;
}

/** Prefix every Gatehouse identity URI starts with; anything else with it is malformed. */
export const IDENTITY_URI_PREFIX = 'urn:gatehouse:';

/** Parses an exact identity URI; undefined for anything else (wrong kind, bad name, extra parts). */
export function parseIdentityUri(uri: string): { kind: CallerKind; name: string } | undefined {
  const match = /^urn:gatehouse:([a-z]+):([a-z][a-z0-9-]{0,62})$/.exec(uri);
  if (!match) return undefined;
  const [, kind, name] = match;
  if (!isCallerKind(kind) || !isCallerName(name)) return undefined;
  return { kind, name };
}
