import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The OpenID Connect authorization-code flow with PKCE (RFC 7636), `state` and `nonce`, as a
 * public web client of Google (or, in dev, of the console's stand-in). Pure: the server module
 * does the redirects and the token request.
 */
export interface OidcEndpoints {
  authorizeUrl: string;
  tokenUrl: string;
  clientId: string;
  clientSecret?: string;
  redirectUri: string;
}

/** What the browser carries (sealed) between the redirect out and the callback. */
export interface PendingAuthorization {
  state: string;
  nonce: string;
  verifier: string;
}

const b64url = (b: Buffer) => b.toString('base64url');

export function newPendingAuthorization(): PendingAuthorization {
  return { state: b64url(randomBytes(24)), nonce: b64url(randomBytes(24)), verifier: b64url(randomBytes(48)) };
}

export const pkceChallenge = (verifier: string): string => b64url(createHash('sha256').update(verifier).digest());

export function authorizeLocation(e: OidcEndpoints, p: PendingAuthorization): string {
  const u = new URL(e.authorizeUrl);
  u.searchParams.set('response_type', 'code');
  u.searchParams.set('client_id', e.clientId);
  u.searchParams.set('redirect_uri', e.redirectUri);
  u.searchParams.set('scope', 'openid email profile');
  u.searchParams.set('state', p.state);
  u.searchParams.set('nonce', p.nonce);
  u.searchParams.set('code_challenge', pkceChallenge(p.verifier));
  u.searchParams.set('code_challenge_method', 'S256');
  u.searchParams.set('prompt', 'select_account');
  return u.toString();
}

export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The ID token's claims, read without checking the signature: identity verifies it; the console only checks its nonce. */
export function idTokenNonce(idToken: string): string | undefined {
  const part = idToken.split('.')[1];
  if (!part || idToken.length > 16_384) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as { nonce?: unknown };
    return typeof claims.nonce === 'string' ? claims.nonce : undefined;
  } catch {
    return undefined;
  }
}

/** Redeems the code at the token endpoint (a server-to-server POST), returning the ID token. */
export async function redeemCode(e: OidcEndpoints, code: string, verifier: string, signal?: AbortSignal): Promise<string> {
  const form = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: e.redirectUri, client_id: e.clientId, code_verifier: verifier });
  if (e.clientSecret) form.set('client_secret', e.clientSecret);
  const res = await fetch(e.tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: form, signal: signal ?? AbortSignal.timeout(10_000) });
  const body = (await res.json().catch(() => ({}))) as { id_token?: unknown; error?: unknown; error_description?: unknown };
  if (!res.ok || typeof body.id_token !== 'string') {
    const why = typeof body.error === 'string' ? `${body.error}${typeof body.error_description === 'string' ? `: ${body.error_description}` : ''}` : `HTTP ${res.status}`;
    throw new Error(`the token endpoint refused the authorization code (${why.slice(0, 200)})`);
  }
  return body.id_token;
}
