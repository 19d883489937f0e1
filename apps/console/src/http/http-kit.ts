import type { IncomingMessage, ServerResponse } from 'node:http';
import { HTTP_STATUS_OF, QUERY_LIMITS, type ApiError } from '@gatehouse/console-api';

/**
 * A refusal the console answers itself or translated from a service: the gRPC status name (or
 * the console's own code), the message shown to the user, and for the burst rule the anomaly.
 */
export class ApiRefusal extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly anomalyId?: string,
  ) {
    super(message);
    this.name = 'ApiRefusal';
  }
}

/** Headers on every answer (issue 16 item 2): a strict CSP with no inline script, no framing, no sniffing. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
};

/** API answers are never cached: they carry personal data and session state. */
export const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' } as const;

/** Parses the Cookie header (first value of each name wins). */
export function cookiesOf(req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  const header = req.headers.cookie;
  if (!header || header.length > 16_384) return out;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    const name = part.slice(0, i).trim();
    if (!out.has(name)) out.set(name, decodeURIComponent(part.slice(i + 1).trim()));
  }
  return out;
}

/** How the console's cookies are set: HttpOnly unless readable, Secure except on plain-HTTP dev, SameSite=Strict, path /. */
export interface CookieOptions {
  secure: boolean;
  httpOnly?: boolean;
  maxAgeSeconds?: number;
}

export function setCookie(res: ServerResponse, name: string, value: string, o: CookieOptions): void {
  const parts = [`${name}=${encodeURIComponent(value)}`, 'Path=/', 'SameSite=Strict'];
  if (o.httpOnly !== false) parts.push('HttpOnly');
  if (o.secure) parts.push('Secure');
  if (o.maxAgeSeconds !== undefined) parts.push(`Max-Age=${Math.max(0, Math.floor(o.maxAgeSeconds))}`);
  const prev = res.getHeader('set-cookie');
  const list = Array.isArray(prev) ? prev : prev === undefined ? [] : [String(prev)];
  res.setHeader('set-cookie', [...list, parts.join('; ')]);
}

export function clearCookie(res: ServerResponse, name: string, secure: boolean): void {
  setCookie(res, name, '', { secure, maxAgeSeconds: 0 });
}

/** Reads a JSON object body of at most QUERY_LIMITS.maxBodyBytes; anything else is BAD_REQUEST. */
export async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'] ?? '';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > QUERY_LIMITS.maxBodyBytes) throw new ApiRefusal('BAD_REQUEST', `the request body is larger than ${QUERY_LIMITS.maxBodyBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  if (!type.startsWith('application/json')) throw new ApiRefusal('BAD_REQUEST', 'the request body must be application/json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ApiRefusal('BAD_REQUEST', 'the request body is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ApiRefusal('BAD_REQUEST', 'the request body must be a JSON object');
  return parsed as Record<string, unknown>;
}

/** A string field of a body or query: absent is '', anything but a bounded string is BAD_REQUEST naming the field. */
export function text(source: Record<string, unknown>, field: string, o: { required?: boolean; max?: number } = {}): string {
  const v = source[field];
  if (v === undefined || v === null) {
    if (o.required) throw new ApiRefusal('BAD_REQUEST', `${field} is required`);
    return '';
  }
  if (typeof v !== 'string') throw new ApiRefusal('BAD_REQUEST', `${field} must be a string`);
  const max = o.max ?? QUERY_LIMITS.maxFieldLength;
  if (v.length > max) throw new ApiRefusal('BAD_REQUEST', `${field} is longer than ${max} characters`);
  if (o.required && v.trim() === '') throw new ApiRefusal('BAD_REQUEST', `${field} is required`);
  return v;
}

/** A list of strings (at most 50, each bounded). */
export function textList(source: Record<string, unknown>, field: string): string[] {
  const v = source[field];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.length > 50 || v.some((x) => typeof x !== 'string' || x.length > 256)) {
    throw new ApiRefusal('BAD_REQUEST', `${field} must be a list of at most 50 strings of at most 256 characters`);
  }
  return v as string[];
}

/** One of the allowed values, or BAD_REQUEST listing them. */
export function oneOf<const T extends string>(source: Record<string, unknown>, field: string, values: readonly T[]): T {
  const v = source[field];
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) throw new ApiRefusal('BAD_REQUEST', `${field} must be one of ${values.join(', ')}`);
  return v as T;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { ...NO_STORE, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

export function sendRefusal(res: ServerResponse, r: ApiRefusal): void {
  const body: ApiError = { error: { code: r.code, message: r.message, ...(r.anomalyId ? { anomalyId: r.anomalyId } : {}) } };
  sendJson(res, HTTP_STATUS_OF[r.code] ?? 500, body);
}

/** Escapes text for the few server-rendered HTML pages (the dev authorize page, errors). */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

export function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { ...NO_STORE, 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html) });
  res.end(html);
}

export function redirect(res: ServerResponse, location: string): void {
  res.writeHead(303, { ...NO_STORE, location });
  res.end();
}
