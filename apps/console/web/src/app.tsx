import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { ComponentChildren } from 'preact';
import type { MeView } from '@gatehouse/console-api';
import { ApiCallError, call, onSessionLost } from './api';
import { AccessLogPage } from './access-log-page';
import { AuditPage } from './audit-page';
import { useAction } from './hooks';
import { mayOpen, NAV_PAGES, navigate, useHashPage } from './navigation';
import type { PageId } from './navigation';
import { OfficerPage } from './officer-page';
import { SignInPage } from './sign-in-page';
import { SupportPage } from './support-page';
import { TodayPage } from './today-page';
import { ErrorAlert, PageTitle } from './ui';

type SessionState =
  | { state: 'loading' }
  | { state: 'failed'; error: unknown }
  | { state: 'signed-out'; notice?: string }
  | { state: 'signed-in'; me: MeView };

/**
 * The console shell: asks GET /api/me once, then shows the sign-in page or the pages the
 * employee's roles and session scope allow, behind a hash router.
 */
export function App() {
  const page = useHashPage();
  const [session, setSession] = useState<SessionState>({ state: 'loading' });

  const loadMe = useCallback(async () => {
    setSession({ state: 'loading' });
    try {
      setSession({ state: 'signed-in', me: await call('GET /api/me') });
    } catch (error: unknown) {
      if (error instanceof ApiCallError && error.status === 401) setSession({ state: 'signed-out' });
      else setSession({ state: 'failed', error });
    }
  }, []);

  useEffect(() => {
    void loadMe();
  }, [loadMe]);

  useEffect(() => {
    onSessionLost((error) => setSession({ state: 'signed-out', notice: `Your session ended: ${error.message}` }));
    return () => onSessionLost(undefined);
  }, []);

  // Keep the hash in step with the session: signed out means #/sign-in, signed in never shows it.
  useEffect(() => {
    if (session.state === 'signed-out' && page !== 'sign-in') navigate('sign-in', true);
    if (session.state === 'signed-in' && (page === undefined || page === 'sign-in')) navigate('today', true);
  }, [session.state, page]);

  const signedOut = useCallback(() => setSession({ state: 'signed-out' }), []);
  const setMe = useCallback((me: MeView) => setSession({ state: 'signed-in', me }), []);

  if (session.state === 'loading') {
    return (
      <Shell>
        <p class="muted">Loading…</p>
      </Shell>
    );
  }
  if (session.state === 'failed') {
    return (
      <Shell>
        <PageTitle>Gatehouse console</PageTitle>
        <ErrorAlert error={session.error} />
        <button type="button" onClick={() => void loadMe()}>
          Try again
        </button>
      </Shell>
    );
  }
  if (session.state === 'signed-out') {
    return (
      <Shell>
        <SignInPage notice={session.notice} onSignedIn={setMe} />
      </Shell>
    );
  }
  return <SignedIn me={session.me} page={page ?? 'today'} onMe={setMe} onSignedOut={signedOut} />;
}

/** Header and main landmark for the signed-out states. */
function Shell({ children }: { children: ComponentChildren }) {
  return (
    <div class="layout layout-plain">
      <header class="topbar">
        <span class="brand">Gatehouse console</span>
      </header>
      <main id="main" class="content">
        {children}
      </main>
    </div>
  );
}

function SignedIn(props: { me: MeView; page: PageId; onMe: (me: MeView) => void; onSignedOut: () => void }) {
  const { me, page, onMe, onSignedOut } = props;
  const signOut = useAction();
  const main = useRef<HTMLElement>(null);
  const firstPage = useRef(true);

  // Move focus to the new page's heading on navigation (not on first load).
  useEffect(() => {
    if (firstPage.current) {
      firstPage.current = false;
      return;
    }
    main.current?.querySelector<HTMLElement>('h1')?.focus();
  }, [page]);

  const doSignOut = () =>
    void signOut
      .run(async () => {
        await call('POST /api/sign-out', {});
      })
      .then((ok) => {
        if (ok) onSignedOut();
      });

  const visible = NAV_PAGES.filter((entry) => mayOpen(me, entry.id));
  const shown = page === 'sign-in' ? 'today' : page;

  return (
    <div class="layout">
      <a class="skip-link" href="#main" onClick={skipToMain}>
        Skip to main content
      </a>
      <header class="topbar">
        <span class="brand">Gatehouse console</span>
        <span class="who">
          <span data-testid="signed-in-as">{me.displayName || me.email}</span>
          <button type="button" class="secondary" onClick={doSignOut} disabled={signOut.busy}>
            Sign out
          </button>
        </span>
      </header>
      <nav class="sidebar" aria-label="Console pages">
        <ul>
          {visible.map((entry) => (
            <li key={entry.id}>
              <a href={`#/${entry.id}`} aria-current={entry.id === shown ? 'page' : undefined}>
                {entry.title}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" class="content" ref={main} tabIndex={-1}>
        <ErrorAlert error={signOut.error} />
        <PageBody me={me} page={shown} onMe={onMe} onSignedOut={onSignedOut} />
      </main>
    </div>
  );
}

/** The skip link targets the main landmark without changing the hash route. */
function skipToMain(event: MouseEvent) {
  event.preventDefault();
  document.getElementById('main')?.focus();
}

function PageBody(props: { me: MeView; page: PageId; onMe: (me: MeView) => void; onSignedOut: () => void }) {
  const { me, page } = props;
  if (!mayOpen(me, page)) {
    return (
      <>
        <PageTitle>Not available</PageTitle>
        <p>
          {me.scope === 'register_ip_only'
            ? 'This session may only register today’s IP. Register it on the Today page first.'
            : 'This page is not available to your roles.'}
        </p>
        <p>
          <a href="#/today">Go to Today</a>
        </p>
      </>
    );
  }
  switch (page) {
    case 'support':
      return <SupportPage />;
    case 'officer':
      return <OfficerPage />;
    case 'audit':
      return <AuditPage />;
    case 'access-log':
      return <AccessLogPage />;
    default:
      return <TodayPage me={me} onMe={props.onMe} onSignedOut={props.onSignedOut} />;
  }
}
