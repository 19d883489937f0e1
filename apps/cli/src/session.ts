import fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { DEFAULT_MAX_TOKEN_BYTES, jsonOf, parseSessionJws } from '@gatehouse/session';
import { parseDuration } from './args.js';
import { UsageError } from './commands/pki.js';
import { readStoredSession, sessionFilePath } from './session-store.js';

type Env = Record<string, string | undefined>;

/**
 * The employee's session token for calls that need one: GATEHOUSE_SESSION_TOKEN, or the file
 * named by GATEHOUSE_SESSION_FILE, or else the session `gatehouse login` stored in the config
 * folder. The token is never printed.
 */
export function sessionToken(env: Env): string {
  const token = optionalSessionToken(env);
  if (token) return token;
  throw new UsageError(
    'this command needs your session: run `gatehouse login` first (or set GATEHOUSE_SESSION_TOKEN or GATEHOUSE_SESSION_FILE)',
  );
}

/**
 * The session for calls that work with or without one (e.g. sealing the secrets service): as
 * {@link sessionToken}, but undefined when no session is configured or stored. A configured
 * session file that cannot be read is still an error.
 */
export function optionalSessionToken(env: Env): string | undefined {
  const inline = env['GATEHOUSE_SESSION_TOKEN'];
  if (inline) return inline.trim();
  const file = env['GATEHOUSE_SESSION_FILE'];
  if (file) {
    try {
      return fs.readFileSync(file, 'utf8').trim();
    } catch {
      throw new UsageError(`cannot read the session file ${file} (GATEHOUSE_SESSION_FILE)`);
    }
  }
  try {
    return readStoredSession(env);
  } catch (err) {
    throw new UsageError(`cannot read your stored session ${sessionFilePath(env)} (${(err as NodeJS.ErrnoException).code ?? String(err)}); run \`gatehouse login\` again`);
  }
}

/** What to do when a call made with the session is refused for the session's sake. */
export function sessionHint(err: grpc.ServiceError): string | undefined {
  if (err.code === grpc.status.UNAUTHENTICATED) return 'Your session is missing, expired, revoked or used from another IP: run `gatehouse login`.';
  if (err.code === grpc.status.PERMISSION_DENIED) {
    return 'Your session or roles do not allow this (a REGISTER_IP_ONLY session allows only `gatehouse ip register`, then `gatehouse session refresh`).';
  }
  return undefined;
}

/** Default of GATEHOUSE_SESSION_REFRESH_MARGIN: refresh on use when the session expires within 10 minutes. */
export const DEFAULT_REFRESH_MARGIN_MS = 10 * 60_000;

/**
 * GATEHOUSE_SESSION_REFRESH_MARGIN in milliseconds: a command run with the stored session
 * refreshes it first when it expires within this margin ("10m", "1h", "90s"; "0" never).
 */
export function refreshMarginMs(env: Env): number {
  const raw = env['GATEHOUSE_SESSION_REFRESH_MARGIN']?.trim();
  if (!raw) return DEFAULT_REFRESH_MARGIN_MS;
  if (/^0+[hms]?$/.test(raw)) return 0;
  const seconds = parseDuration('GATEHOUSE_SESSION_REFRESH_MARGIN', 'the value', raw);
  if (seconds > 24 * 3600) throw new UsageError('GATEHOUSE_SESSION_REFRESH_MARGIN: the value must be at most 24h');
  return seconds * 1000;
}

/**
 * When a session token says it expires (its `exp`), read without verifying it: only to decide
 * whether to refresh. Identity verifies; a token that cannot be read is simply not refreshed.
 */
export function sessionExpiry(token: string): Date | undefined {
  try {
    const claims = jsonOf(parseSessionJws(token, DEFAULT_MAX_TOKEN_BYTES).payload, 'payload') as { exp?: unknown };
    return typeof claims.exp === 'number' && Number.isFinite(claims.exp) ? new Date(claims.exp * 1000) : undefined;
  } catch {
    return undefined;
  }
}
