import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Role, SignInView } from '@gatehouse/console-api';
import type { Backends, Caller } from '../backends.js';
import type { Sealer } from '../sealed.js';

/** What the session cookie holds, sealed: the identity token never reaches the page's script. */
export interface CookieSession {
  token: string;
  sessionId: string;
  accountId: string;
  roles: Role[];
}

/** What the sign-in cookie holds between the steps: identity's sign-in id and where it stands. */
export interface CookieSignIn {
  signInId: string;
  view: SignInView;
}

/** One API request as a handler sees it; handlers translate between this and the services. */
export interface ApiContext {
  req: IncomingMessage;
  res: ServerResponse;
  body: Record<string, unknown>;
  params: Record<string, string>;
  query: URLSearchParams;
  backends: Backends;
  /** The browser's IP, without a session. */
  anonymous: Caller;
  /** The signed-in employee, or NOT_SIGNED_IN. */
  session(): CookieSession & Caller;
  setSession(s: CookieSession | undefined, absoluteExpiresAt?: string): void;
  signIn(): CookieSignIn;
  setSignIn(s: CookieSignIn | undefined): void;
  sealer: Sealer;
  dailyCutoff(): Date;
}
