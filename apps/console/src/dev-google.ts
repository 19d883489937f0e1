import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { systemClock } from '@gatehouse/core';
import { DEV_CLIENT_ID, DevIdTokenIssuer } from '@gatehouse/dev-issuer';
import { escapeHtml, sendHtml, sendJson } from './http/http-kit.js';
import { pkceChallenge, sameSecret } from './oidc.js';
import type { Sealer } from './sealed.js';

/**
 * Dev mode's stand-in for Google's authorization server (issue 16 item 2): an authorize page
 * that asks for the e-mail of the account to sign in as, and a token endpoint that checks the
 * PKCE verifier and answers a Google-shaped ID token signed with identity's dev issuer key (the
 * key identity trusts in dev). Refused outside dev by the wiring. The authorization code is
 * sealed (any console replica can redeem it), lives 60 s and is redeemed once per replica.
 */
export class DevGoogle {
  private readonly issuer: DevIdTokenIssuer;
  private readonly redeemed = new Map<string, number>();

  constructor(
    privateKeyPem: string,
    private readonly sealer: Sealer,
    private readonly redirectUri: string,
  ) {
    this.issuer = new DevIdTokenIssuer({ clock: systemClock, privateKeyPem });
  }

  /** GET: the page; POST (the form): the redirect back with a code. */
  async authorize(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const q = req.method === 'POST' ? new URLSearchParams(await formBody(req)) : url.searchParams;
    const p = {
      clientId: q.get('client_id') ?? '',
      redirectUri: q.get('redirect_uri') ?? '',
      state: q.get('state') ?? '',
      nonce: q.get('nonce') ?? '',
      challenge: q.get('code_challenge') ?? '',
      method: q.get('code_challenge_method') ?? '',
    };
    const bad =
      p.clientId !== DEV_CLIENT_ID ? 'unknown client_id' :
      p.redirectUri !== this.redirectUri ? 'redirect_uri is not the registered one' :
      p.method !== 'S256' || !/^[A-Za-z0-9_-]{43}$/.test(p.challenge) ? 'a PKCE S256 code_challenge is required' :
      !p.state || !p.nonce || p.state.length > 128 || p.nonce.length > 128 ? 'state and nonce are required' : undefined;
    if (bad) return sendHtml(res, 400, page('Sign-in refused', `<p role="alert">${escapeHtml(bad)}</p>`));
    if (req.method !== 'POST') {
      const hidden = Object.entries({ client_id: p.clientId, redirect_uri: p.redirectUri, state: p.state, nonce: p.nonce, code_challenge: p.challenge, code_challenge_method: p.method })
        .map(([k, v]) => `<input type="hidden" name="${k}" value="${escapeHtml(v)}">`)
        .join('');
      return sendHtml(
        res,
        200,
        page(
          'Choose an account (dev stand-in for Google)',
          `<p>Dev mode: this page stands in for Google's sign-in. Enter the Google account to sign in as.</p>
<form method="post" action="/dev/google/authorize">${hidden}
<p><label for="email">Google account e-mail</label><br><input id="email" name="email" type="email" required autocomplete="off"></p>
<p><label for="name">Name on the Google profile</label><br><input id="name" name="name" type="text" autocomplete="off"></p>
<p><button type="submit">Continue</button></p></form>`,
        ),
      );
    }
    const email = (q.get('email') ?? '').trim();
    if (!/^[^@\s]{1,64}@[A-Za-z0-9.-]{1,190}$/.test(email)) return sendHtml(res, 400, page('Sign-in refused', '<p role="alert">enter an e-mail address</p>'));
    const name = (q.get('name') ?? '').trim().slice(0, 100) || email.split('@')[0] || 'someone';
    const code = this.sealer.seal('dev-google-code', { email, name, nonce: p.nonce, challenge: p.challenge, redirectUri: p.redirectUri }, 60_000);
    const back = new URL(p.redirectUri);
    back.searchParams.set('code', code);
    back.searchParams.set('state', p.state);
    res.writeHead(303, { location: back.toString(), 'cache-control': 'no-store' });
    res.end();
  }

  /** POST application/x-www-form-urlencoded, as RFC 6749 §4.1.3. */
  async token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const q = new URLSearchParams(await formBody(req));
    const refuse = (error: string, description: string) => sendJson(res, 400, { error, error_description: description });
    if (q.get('grant_type') !== 'authorization_code') return refuse('unsupported_grant_type', 'grant_type must be authorization_code');
    const code = q.get('code') ?? '';
    const c = this.sealer.open<{ email: string; name: string; nonce: string; challenge: string; redirectUri: string }>('dev-google-code', code);
    if (!c) return refuse('invalid_grant', 'the code is unknown or expired');
    const id = createHash('sha256').update(code).digest('base64url');
    const now = Date.now();
    for (const [k, exp] of this.redeemed) if (exp < now) this.redeemed.delete(k);
    if (this.redeemed.has(id)) return refuse('invalid_grant', 'the code was already redeemed');
    if (q.get('client_id') !== DEV_CLIENT_ID || q.get('redirect_uri') !== c.redirectUri) return refuse('invalid_grant', 'client_id or redirect_uri differs from the authorization request');
    if (!sameSecret(pkceChallenge(q.get('code_verifier') ?? ''), c.challenge)) return refuse('invalid_grant', 'the PKCE code_verifier does not match the code_challenge');
    this.redeemed.set(id, now + 120_000);
    const idToken = this.issuer.issue({ email: c.email, audience: DEV_CLIENT_ID, name: c.name, nonce: c.nonce });
    sendJson(res, 200, { id_token: idToken, token_type: 'Bearer', expires_in: 3600 });
  }
}

async function formBody(req: IncomingMessage): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 16_384) break;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}
