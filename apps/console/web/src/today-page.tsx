import { useState } from 'preact/hooks';
import type { DailyIpView, MeView, SessionScope } from '@gatehouse/console-api';
import { call } from './api';
import { formatCountdown, ROLE_NAMES } from './format';
import { useAction, useNow, useResource } from './hooks';
import { DataTable, ResourceStatus, RowAction } from './lists';
import { ErrorAlert, Notice, PageTitle, Section, Time } from './ui';

/** The scope as the page and its tests spell it. */
function scopeText(scope: SessionScope): string {
  return scope === 'register_ip_only' ? 'REGISTER_IP_ONLY' : 'FULL';
}

/**
 * Today: who is signed in, the session's scope and pinned IP, the home worker's daily IP
 * registration (with the cut-off countdown) and the employee's own sessions.
 */
export function TodayPage(props: { me: MeView; onMe: (me: MeView) => void; onSignedOut: () => void }) {
  const { me } = props;
  // Kept here: the registration section goes away once the session is full, the notice stays.
  const [registered, setRegistered] = useState<DailyIpView | undefined>(undefined);
  return (
    <>
      <PageTitle>Today</PageTitle>
      {registered && <DailyIpNotice daily={registered} />}
      <Section title="You">
        <dl class="facts">
          <dt>Name</dt>
          <dd data-testid="display-name">{me.displayName || '—'}</dd>
          <dt>E-mail</dt>
          <dd data-testid="email">{me.email}</dd>
          <dt>Roles</dt>
          <dd data-testid="roles">{me.roles.length ? me.roles.map((r) => ROLE_NAMES[r] ?? r).join(', ') : 'none'}</dd>
          <dt>Scope</dt>
          <dd>
            <span class="badge" data-testid="scope">
              {scopeText(me.scope)}
            </span>
          </dd>
          <dt>Pinned IP</dt>
          <dd>
            <code data-testid="pinned-ip">{me.pinnedIp}</code>
          </dd>
          <dt>Session expires</dt>
          <dd>
            <Time iso={me.expiresAt} /> (at the latest <Time iso={me.absoluteExpiresAt} />)
          </dd>
        </dl>
      </Section>
      {me.scope === 'register_ip_only' && <RegisterIp me={me} onMe={props.onMe} onRegistered={setRegistered} />}
      <Sessions key={me.scope} me={me} onSignedOut={props.onSignedOut} />
    </>
  );
}

function RegisterIp(props: { me: MeView; onMe: (me: MeView) => void; onRegistered: (daily: DailyIpView) => void }) {
  const { me } = props;
  const register = useAction();
  const now = useNow();
  const cutoff = Date.parse(me.dailyCutoffAt);
  const left = Number.isNaN(cutoff) ? 0 : cutoff - now;

  const onRegister = () =>
    void register.run(async () => {
      const daily = await call('POST /api/daily-ip', {});
      props.onRegistered(daily);
      props.onMe(await call('POST /api/me/refresh', {}));
    });

  return (
    <Section title="Daily IP registration">
      <p>
        This session can only register your home IP for today. Once it is registered the session becomes a full one.
      </p>
      <dl class="facts">
        <dt>Your IP</dt>
        <dd>
          <code data-testid="register-ip">{me.pinnedIp}</code>
        </dd>
        <dt>Cut-off</dt>
        <dd data-testid="cutoff">
          <Time iso={me.dailyCutoffAt} />
        </dd>
        <dt>Time left</dt>
        <dd>
          <span class="countdown" data-testid="countdown" role="timer" aria-live="off">
            {formatCountdown(left)}
          </span>
        </dd>
      </dl>
      <button type="button" onClick={onRegister} disabled={register.busy}>
        Register today's IP
      </button>
      <ErrorAlert error={register.error} />
    </Section>
  );
}

function DailyIpNotice({ daily }: { daily: DailyIpView }) {
  return (
    <Notice>
      {daily.alreadyRegistered ? 'Already registered' : 'Registered'} <code>{daily.ip}</code> until{' '}
      <Time iso={daily.expiresAt} />. {daily.remainingToday} registration{daily.remainingToday === 1 ? '' : 's'} left
      today.
    </Notice>
  );
}

function Sessions(props: { me: MeView; onSignedOut: () => void }) {
  const sessions = useResource(() => call('GET /api/sessions'), []);
  const revoke = useAction();
  const [revoked, setRevoked] = useState('');

  const onRevoke = (sessionId: string, current: boolean) =>
    void revoke.run(async () => {
      await call('POST /api/sessions/revoke', { sessionId });
      if (current) {
        props.onSignedOut();
        return;
      }
      setRevoked(sessionId);
      sessions.reload();
    });

  const list = sessions.data?.sessions ?? [];
  return (
    <Section title="Your sessions">
      <ResourceStatus resource={sessions} count={list.length} empty="No sessions.">
        <ErrorAlert error={revoke.error} />
        {revoked && <Notice>Session {revoked} revoked.</Notice>}
      </ResourceStatus>
      {list.length > 0 && (
        <DataTable
          caption="Your sessions"
          columns={['Session', 'Status', 'Scope', 'Pinned IP', 'Issued', 'Expires']}
          actions
        >
          {list.map((s) => (
            <tr key={s.sessionId} data-testid={`session-${s.sessionId}`}>
              <td>
                <code>{s.sessionId}</code>
                {s.current && <span class="marker"> (this session)</span>}
              </td>
              <td>{s.status}</td>
              <td>{scopeText(s.scope)}</td>
              <td>
                <code>{s.pinnedIp}</code>
              </td>
              <td>
                <Time iso={s.issuedAt} />
              </td>
              <td>
                <Time iso={s.expiresAt} />
              </td>
              <RowAction
                when={s.status === 'active'}
                label={`Revoke session ${s.sessionId}`}
                busy={revoke.busy}
                onClick={() => onRevoke(s.sessionId, s.current)}
              >
                Revoke
              </RowAction>
            </tr>
          ))}
        </DataTable>
      )}
    </Section>
  );
}
