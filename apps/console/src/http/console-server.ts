import { randomBytes } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CSRF_COOKIE, CSRF_HEADER, PLAIN_ROUTES, SESSION_COOKIE, SIGN_IN_COOKIE, type RouteKey, type Routes } from '@gatehouse/console-api';
import { auditV1 } from '@gatehouse/contracts';
import { exportLine } from '@gatehouse/audit-verify';
import type { Logger } from '@gatehouse/service-kit';
import { refusalOf, rpc, rpcStream, type Backends, type Caller } from '../backends.js';
import type { ApiContext, CookieSession, CookieSignIn } from '../api/context.js';
import { employeeHandlers } from '../api/employee.js';
import { officerHandlers } from '../api/officer.js';
import { signInHandlers, signInView } from '../api/sign-in.js';
import type { DevGoogle } from '../dev-google.js';
import { authorizeLocation, idTokenNonce, newPendingAuthorization, redeemCode, sameSecret, type OidcEndpoints, type PendingAuthorization } from '../oidc.js';
import type { Sealer } from '../sealed.js';
import { alertView } from '../views.js';
import type { ClientIpResolver } from './client-ip.js';
import { ApiRefusal, SECURITY_HEADERS, clearCookie, cookiesOf, escapeHtml, jsonBody, redirect, sendHtml, sendJson, sendRefusal, setCookie } from './http-kit.js';
import type { StaticFiles } from './static-files.js';

type Handler = (ctx: ApiContext) => unknown;
/** Every route of the contract has exactly one handler: a missing or extra one fails the typecheck. */
const HANDLERS: { [K in RouteKey]: (ctx: ApiContext) => Routes[K]['answer'] | Promise<Routes[K]['answer']> } = {
  ...signInHandlers,
  ...employeeHandlers,
  ...officerHandlers,
};

interface CompiledRoute {
  method: string;
  pattern: RegExp;
  names: string[];
  handler: Handler;
}

function compile(): CompiledRoute[] {
  return Object.entries(HANDLERS).map(([key, handler]) => {
    const [method = '', path = ''] = key.split(' ');
    const names: string[] = [];
    const pattern = new RegExp(`^${path.replace(/:([a-z]+)/g, (_m, n: string) => (names.push(n), '([A-Za-z0-9_.:-]{1,128})'))}$`);
    return { method, pattern, names, handler: handler as Handler };
  });
}

export interface ConsoleServerOptions {
  backends: Backends;
  sealer: Sealer;
  clientIp: ClientIpResolver;
  staticFiles: StaticFiles;
  oidc: OidcEndpoints;
  devGoogle?: DevGoogle;
  /** The origin browsers use (the Origin a state-changing request must carry when it sends one). */
  publicOrigin: string;
  secureCookies: boolean;
  dailyCutoff: () => Date;
  logger: Logger;
}

const SIGN_IN_TTL_MS = 15 * 60_000;
const OIDC_TTL_MS = 10 * 60_000;
const SESSION_COOKIE_MAX_MS = 24 * 3600_000;

/**
 * The console's HTTP server (the backend-for-frontend): the page, the JSON API of
 * @gatehouse/console-api, the OIDC redirect pair, live alerts over SSE and the audit export.
 * Every answer carries the security headers; API answers are never cached; every POST must pass
 * the CSRF check (double-submit cookie and header, and a same-origin Origin when one is sent).
 */
export class ConsoleServer {
  private readonly routes = compile();
  private readonly server: http.Server;
  private readonly streams = new Set<AbortController>();

  constructor(private readonly o: ConsoleServerOptions) {
    this.server = http.createServer({ requestTimeout: 30_000, headersTimeout: 10_000, maxHeaderSize: 16_384 }, (req, res) => {
      this.handle(req, res).catch((err: unknown) => this.fail(res, err));
    });
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve((this.server.address() as AddressInfo).port));
    });
  }

  /** Stops accepting, ends the live streams, and lets requests in flight finish within `graceMs`. */
  async close(graceMs: number): Promise<void> {
    for (const s of this.streams) s.abort();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const timer = setTimeout(() => this.server.closeAllConnections(), graceMs);
    await closed;
    clearTimeout(timer);
  }

  private fail(res: ServerResponse, err: unknown): void {
    const translated = refusalOf(err);
    if (translated instanceof ApiRefusal) {
      if (!res.headersSent) sendRefusal(res, translated);
      else res.end();
      return;
    }
    // An unknown error: the cause is logged here, never sent.
    this.o.logger.error({ err }, 'console request failed');
    if (!res.headersSent) sendRefusal(res, new ApiRefusal('INTERNAL', 'the console failed to handle the request; the cause is in its log'));
    else res.end();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    const cookies = cookiesOf(req);
    const method = req.method ?? 'GET';
    const clientIp = this.o.clientIp.of(req);
    if (!cookies.get(CSRF_COOKIE)) {
      // Readable by the page (double submit), so not HttpOnly; SameSite=Strict like the others.
      setCookie(res, CSRF_COOKIE, randomBytes(24).toString('base64url'), { secure: this.o.secureCookies, httpOnly: false });
    }

    if (this.o.devGoogle && url.pathname === PLAIN_ROUTES.devAuthorize && (method === 'GET' || method === 'POST')) return this.o.devGoogle.authorize(req, res, url);
    if (this.o.devGoogle && url.pathname === PLAIN_ROUTES.devToken && method === 'POST') return this.o.devGoogle.token(req, res);
    if (url.pathname === PLAIN_ROUTES.googleStart && method === 'GET') return this.googleStart(res);
    if (url.pathname === PLAIN_ROUTES.googleCallback && method === 'GET') return this.googleCallback(url, cookies, clientIp, res);

    if (url.pathname.startsWith('/api/')) {
      if (method === 'POST') this.checkCsrf(req, cookies);
      else if (method !== 'GET') throw new ApiRefusal('BAD_REQUEST', `${method} is not supported here`);
      const ctx = this.context(req, res, url, cookies, clientIp);
      if (url.pathname === PLAIN_ROUTES.alertStream && method === 'GET') return this.alertStream(ctx);
      if (url.pathname === PLAIN_ROUTES.auditExport && method === 'GET') return this.auditExport(ctx);
      for (const r of this.routes) {
        if (r.method !== method) continue;
        const m = r.pattern.exec(url.pathname);
        if (!m) continue;
        r.names.forEach((n, i) => (ctx.params[n] = m[i + 1] ?? ''));
        if (method === 'POST') ctx.body = await jsonBody(req);
        const answer = await r.handler(ctx);
        return sendJson(res, 200, answer);
      }
      throw new ApiRefusal('NOT_FOUND', `no API route ${method} ${url.pathname}`);
    }
    if (method === 'GET' && this.o.staticFiles.serve(url.pathname, res)) return;
    sendHtml(res, 404, '<!doctype html><html lang="en"><title>Not found</title><p>Not found. <a href="/">Back to the console</a></p></html>');
  }

  private checkCsrf(req: IncomingMessage, cookies: Map<string, string>): void {
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== this.o.publicOrigin) throw new ApiRefusal('CSRF', `refused: the request comes from ${origin.slice(0, 100)}, not from the console's origin`);
    const cookie = cookies.get(CSRF_COOKIE) ?? '';
    const header = req.headers[CSRF_HEADER];
    if (!cookie || typeof header !== 'string' || !sameSecret(cookie, header)) {
      throw new ApiRefusal('CSRF', `refused: the request lacks the CSRF token (the ${CSRF_HEADER} header must repeat the ${CSRF_COOKIE} cookie)`);
    }
  }

  private context(req: IncomingMessage, res: ServerResponse, url: URL, cookies: Map<string, string>, clientIp: string): ApiContext {
    const { sealer, secureCookies } = this.o;
    return {
      req,
      res,
      body: {},
      params: {},
      query: url.searchParams,
      backends: this.o.backends,
      anonymous: { clientIp },
      sealer,
      dailyCutoff: this.o.dailyCutoff,
      session: () => {
        const s = sealer.open<CookieSession>('session', cookies.get(SESSION_COOKIE));
        if (!s) throw new ApiRefusal('NOT_SIGNED_IN', 'you are not signed in (or your session ended): sign in again');
        return { ...s, clientIp };
      },
      setSession: (s, absoluteExpiresAt) => {
        if (!s) return clearCookie(res, SESSION_COOKIE, secureCookies);
        const until = absoluteExpiresAt ? Math.min(Date.parse(absoluteExpiresAt) - Date.now(), SESSION_COOKIE_MAX_MS) : SESSION_COOKIE_MAX_MS;
        setCookie(res, SESSION_COOKIE, sealer.seal('session', s, until), { secure: secureCookies, maxAgeSeconds: until / 1000 });
      },
      signIn: () => {
        const s = sealer.open<CookieSignIn>('sign-in', cookies.get(SIGN_IN_COOKIE));
        if (!s) throw new ApiRefusal('NOT_SIGNED_IN', 'no sign-in is under way: start with "Sign in with Google"');
        return s;
      },
      setSignIn: (s) => {
        if (!s) return clearCookie(res, SIGN_IN_COOKIE, secureCookies);
        setCookie(res, SIGN_IN_COOKIE, sealer.seal('sign-in', s, SIGN_IN_TTL_MS), { secure: secureCookies, maxAgeSeconds: SIGN_IN_TTL_MS / 1000 });
      },
    };
  }

  private googleStart(res: ServerResponse): void {
    const p = newPendingAuthorization();
    setCookie(res, 'gh_oidc', this.o.sealer.seal('oidc', p, OIDC_TTL_MS), { secure: this.o.secureCookies, maxAgeSeconds: OIDC_TTL_MS / 1000 });
    redirect(res, authorizeLocation(this.o.oidc, p));
  }

  private async googleCallback(url: URL, cookies: Map<string, string>, clientIp: string, res: ServerResponse): Promise<void> {
    const refuse = (why: string) =>
      sendHtml(res, 400, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in failed</title></head><body><main><h1>Sign-in failed</h1><p role="alert">${escapeHtml(why)}</p><p><a href="/#/sign-in">Start again</a></p></main></body></html>`);
    const pending = this.o.sealer.open<PendingAuthorization>('oidc', cookies.get('gh_oidc'));
    clearCookie(res, 'gh_oidc', this.o.secureCookies);
    const state = url.searchParams.get('state') ?? '';
    if (url.searchParams.get('error')) return refuse(`Google refused the sign-in: ${url.searchParams.get('error')?.slice(0, 100)}`);
    if (!pending) return refuse('the sign-in expired or was started in another browser: start again');
    if (!sameSecret(state, pending.state)) return refuse('the state parameter does not match this browser\'s sign-in (a forged or replayed callback)');
    const code = url.searchParams.get('code') ?? '';
    if (!code || code.length > 4096) return refuse('the callback carries no authorization code');
    let idToken: string;
    try {
      idToken = await redeemCode(this.o.oidc, code, pending.verifier);
    } catch (err) {
      return refuse((err as Error).message);
    }
    if (idTokenNonce(idToken) !== pending.nonce) return refuse('the ID token\'s nonce does not match this sign-in (a replayed token)');
    const b = this.o.backends.identity;
    let begun;
    try {
      begun = await rpc(b, b.beginSignIn, { googleIdToken: idToken }, { clientIp });
    } catch (err) {
      const r = refusalOf(err);
      if (r instanceof ApiRefusal) return refuse(r.message);
      throw err;
    }
    const view = signInView(begun.state);
    setCookie(res, SIGN_IN_COOKIE, this.o.sealer.seal('sign-in', { signInId: begun.state?.signInId ?? '', view } satisfies CookieSignIn, SIGN_IN_TTL_MS), {
      secure: this.o.secureCookies,
      maxAgeSeconds: SIGN_IN_TTL_MS / 1000,
    });
    redirect(res, '/#/sign-in');
  }

  /** Live alerts: WatchAlerts relayed as Server-Sent Events named `alert`, with a heartbeat comment every 15 s. */
  private async alertStream(ctx: ApiContext): Promise<void> {
    const s: Caller = ctx.session();
    const b = this.o.backends.audit;
    const first = await rpc(b, b.listAlerts, auditV1.ListAlertsRequest.fromPartial({ pageSize: 1 }), s);
    const abort = new AbortController();
    this.streams.add(abort);
    const res = ctx.res;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(': connected\n\n');
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), 15_000);
    ctx.req.on('close', () => abort.abort());
    try {
      const stream = rpcStream(b, b.watchAlerts, { afterCursor: first.watchCursor }, s, abort.signal);
      for await (const m of stream as AsyncIterable<auditV1.WatchAlertsResponse>) {
        const change = m.change === auditV1.AlertChange.ALERT_CHANGE_ACKNOWLEDGED ? 'acknowledged' : 'raised';
        res.write(`event: alert\nid: ${String(m.cursor)}\ndata: ${JSON.stringify({ change, alert: alertView(m.alert) })}\n\n`);
      }
    } catch (err) {
      if (!abort.signal.aborted) {
        const r = refusalOf(err);
        res.write(`event: error\ndata: ${JSON.stringify({ error: r instanceof ApiRefusal ? { code: r.code, message: r.message } : { code: 'INTERNAL', message: 'the alert stream failed' } })}\n\n`);
        if (!(r instanceof ApiRefusal)) this.o.logger.error({ err }, 'alert stream failed');
      }
    } finally {
      clearInterval(heartbeat);
      this.streams.delete(abort);
      res.end();
    }
  }

  /** The audit export as NDJSON, the format `gatehouse audit export` writes and `audit verify` reads. */
  private async auditExport(ctx: ApiContext): Promise<void> {
    const s: Caller = ctx.session();
    const b = this.o.backends.audit;
    const abort = new AbortController();
    ctx.req.on('close', () => abort.abort());
    const stream = rpcStream(b, b.export, auditV1.ExportRequest.fromPartial({ fromSequence: 0 }), s, abort.signal);
    const iterator = (stream as AsyncIterable<auditV1.ExportResponse>)[Symbol.asyncIterator]();
    const first = await iterator.next(); // a refusal surfaces before any byte is sent
    ctx.res.writeHead(200, { 'content-type': 'application/x-ndjson', 'content-disposition': 'attachment; filename="gatehouse-audit-export.ndjson"', 'cache-control': 'no-store' });
    if (!first.done) ctx.res.write(`${exportLine(first.value)}\n`);
    for (let n = await iterator.next(); !n.done; n = await iterator.next()) {
      if (!ctx.res.write(`${exportLine(n.value)}\n`)) await new Promise((r) => ctx.res.once('drain', r));
    }
    ctx.res.end();
  }
}
