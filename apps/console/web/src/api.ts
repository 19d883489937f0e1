import { CSRF_COOKIE, CSRF_HEADER } from '@gatehouse/console-api';
import type { ApiError, RouteKey, Routes } from '@gatehouse/console-api';

/** Options of one call: `:name` path parameters and query parameters (empty ones are dropped). */
export interface CallOptions {
  params?: Record<string, string>;
  query?: Record<string, string | undefined>;
}

/**
 * A refusal from the console's API. `message` is the service's own text, shown verbatim;
 * `anomalyId` is set when the impersonation burst rule opened an anomaly to justify.
 */
export class ApiCallError extends Error {
  override readonly name = 'ApiCallError';
  readonly status: number;
  readonly code: string;
  readonly anomalyId: string | undefined;

  constructor(status: number, code: string, message: string, anomalyId?: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.anomalyId = anomalyId;
  }
}

/** Routes whose 401 is part of signing in, not a session that ended. */
const SIGN_IN_ROUTE = /^(GET \/api\/me$|(GET|POST) \/api\/sign-in(\/|$))/;

let sessionLost: ((error: ApiCallError) => void) | undefined;

/**
 * Registers what happens when a signed-in call answers 401: the session expired or was revoked
 * elsewhere, so the app drops its state and returns to the sign-in page.
 */
export function onSessionLost(handler: ((error: ApiCallError) => void) | undefined): void {
  sessionLost = handler;
}

/** Reads one cookie; the CSRF cookie is deliberately readable by script (double submit). */
export function readCookie(name: string): string {
  for (const part of document.cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      const raw = part.slice(eq + 1).trim();
      try {
        return decodeURIComponent(raw);
      } catch {
        return raw;
      }
    }
  }
  return '';
}

function buildPath(template: string, params: Record<string, string> | undefined): string {
  return template.replace(/:([A-Za-z][A-Za-z0-9_]*)/g, (_match, name: string) => {
    const value = params?.[name];
    if (value === undefined) throw new Error(`Missing path parameter ":${name}" for ${template}`);
    return encodeURIComponent(value);
  });
}

function buildQuery(query: Record<string, string | undefined> | undefined): string {
  if (!query) return '';
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== '') search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

function isApiError(value: unknown): value is ApiError {
  if (typeof value !== 'object' || value === null || !('error' in value)) return false;
  const error = (value as { error: unknown }).error;
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { code?: unknown }).code === 'string' &&
    typeof (error as { message?: unknown }).message === 'string'
  );
}

async function refusal(response: Response): Promise<ApiCallError> {
  let payload: unknown;
  try {
    payload = await response.json();
  } catch {
    payload = undefined;
  }
  if (isApiError(payload)) {
    const { code, message, anomalyId } = payload.error;
    return new ApiCallError(response.status, code, message, anomalyId || undefined);
  }
  const text = response.statusText || 'Request failed';
  return new ApiCallError(response.status, `HTTP_${response.status}`, `${text} (HTTP ${response.status})`);
}

/**
 * Calls one route of the console API, typed by the shared contract so a renamed field fails
 * the build. POSTs send JSON with the double-submit CSRF header; refusals throw ApiCallError.
 */
export async function call<K extends RouteKey>(
  key: K,
  body?: Routes[K]['body'],
  opts: CallOptions = {},
): Promise<Routes[K]['answer']> {
  const space = key.indexOf(' ');
  const method = key.slice(0, space);
  const url = buildPath(key.slice(space + 1), opts.params) + buildQuery(opts.query);
  const headers: Record<string, string> = { accept: 'application/json' };
  const init: RequestInit = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (method !== 'GET') {
    headers['content-type'] = 'application/json';
    headers[CSRF_HEADER] = readCookie(CSRF_COOKIE);
    init.body = JSON.stringify(body ?? {});
  }
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch {
    throw new ApiCallError(0, 'NETWORK', 'The console server could not be reached. Check your connection and try again.');
  }
  if (!response.ok) {
    const error = await refusal(response);
    if (response.status === 401 && !SIGN_IN_ROUTE.test(key)) sessionLost?.(error);
    throw error;
  }
  return (await response.json()) as Routes[K]['answer'];
}

/** The text to show for anything a call or handler threw: the service's message when it has one. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
