import { useState } from 'preact/hooks';
import type { AnomalyView, ImpersonationLockView } from '@gatehouse/console-api';
import { call } from './api';
import { useAction, useOutcome, useResource } from './hooks';
import { CardList } from './lists';
import { ErrorAlert, NoteForm, RefreshButton, Section, Subsection, TextField, Time } from './ui';

/** Justified anomalies first (they wait for a decision), then open ones, each once. */
async function loadAnomalies(): Promise<AnomalyView[]> {
  const [justified, open] = await Promise.all([
    call('GET /api/anomalies', undefined, { query: { state: 'justified' } }),
    call('GET /api/anomalies', undefined, { query: { state: 'open' } }),
  ]);
  const seen = new Set<string>();
  return [...justified.anomalies, ...open.anomalies].filter((a) => !seen.has(a.anomalyId) && !!seen.add(a.anomalyId));
}

/** Burst anomalies for the officer to accept or reject, with the employee's justification. */
export function Anomalies() {
  const anomalies = useResource(loadAnomalies, []);
  const [outcome, done] = useOutcome(anomalies.reload, '');
  const list = anomalies.data ?? [];
  return (
    <Section title="Anomalies" actions={<RefreshButton label="Refresh anomalies" onRefresh={anomalies.reload} />}>
      <CardList resource={anomalies} count={list.length} empty="No anomalies waiting." outcome={outcome}>
        {list.map((anomaly) => (
          <AnomalyCard key={anomaly.anomalyId} anomaly={anomaly} onDone={done} />
        ))}
      </CardList>
    </Section>
  );
}

function AnomalyCard({ anomaly, onDone }: { anomaly: AnomalyView; onDone: (text: string) => void }) {
  const resolve = useAction();
  const [note, setNote] = useState('');
  const decide = (resolution: 'accept' | 'reject') =>
    void resolve.run(async () => {
      const answer = await call(
        'POST /api/anomalies/:id/resolve',
        { resolution, note },
        { params: { id: anomaly.anomalyId } },
      );
      onDone(`Anomaly ${answer.anomalyId} ${answer.state}.`);
    });

  return (
    <article class="card item" aria-label={`Anomaly ${anomaly.anomalyId}`} data-testid={`anomaly-${anomaly.anomalyId}`}>
      <h3>
        <span class={`badge state-${anomaly.state}`}>{anomaly.state}</span> {anomaly.ruleSummary || 'Anomaly'}
      </h3>
      <dl class="facts compact">
        <dt>Anomaly</dt>
        <dd>
          <code>{anomaly.anomalyId}</code>
        </dd>
        <dt>Employee</dt>
        <dd data-testid="anomaly-employee">{anomaly.employee}</dd>
        <dt>Customer domain</dt>
        <dd data-testid="anomaly-domain">{anomaly.customerDomain}</dd>
        <dt>Customers</dt>
        <dd data-testid="anomaly-targets">{anomaly.targetUserIds.join(', ') || '—'}</dd>
        {anomaly.refusedTargetUserId && (
          <>
            <dt>Refused</dt>
            <dd>{anomaly.refusedTargetUserId}</dd>
          </>
        )}
        <dt>Opened</dt>
        <dd>
          <Time iso={anomaly.openedAt} />
        </dd>
        <dt>Justification</dt>
        <dd data-testid="anomaly-justification">{anomaly.justification || 'Not justified yet.'}</dd>
        <dt>Tickets</dt>
        <dd data-testid="anomaly-tickets">{anomaly.ticketRefs.join(', ') || '—'}</dd>
      </dl>
      <TextField label="Decision note" value={note} onValue={setNote} />
      <div class="button-row">
        <button type="button" onClick={() => decide('accept')} disabled={resolve.busy}>
          Accept
        </button>
        <button type="button" class="danger" onClick={() => decide('reject')} disabled={resolve.busy}>
          Reject
        </button>
      </div>
      <ErrorAlert error={resolve.error} />
    </article>
  );
}

/** Impersonation locks a rejected or unanswered burst leaves; the officer lifts them with a note. */
export function ImpersonationLocks() {
  const locks = useResource(() => call('GET /api/impersonation-locks'), []);
  const [outcome, done] = useOutcome(locks.reload, '');
  const list = locks.data?.locks ?? [];
  return (
    <Subsection
      title="Impersonation locks"
      actions={<RefreshButton label="Refresh impersonation locks" onRefresh={locks.reload} />}
    >
      <CardList resource={locks} count={list.length} empty="No impersonation locks." outcome={outcome}>
        {list.map((lock) => (
          <LockCard key={lock.accountId} lock={lock} onDone={done} />
        ))}
      </CardList>
    </Subsection>
  );
}

function LockCard({ lock, onDone }: { lock: ImpersonationLockView; onDone: (text: string) => void }) {
  const lift = async (note: string) => {
    await call('POST /api/impersonation-locks/:id/unlock', { note }, { params: { id: lock.accountId } });
    onDone(`Impersonation lock of ${lock.employee} lifted.`);
  };
  return (
    <article class="card item" aria-label={`Impersonation lock ${lock.employee}`}>
      <h4>{lock.employee}</h4>
      <dl class="facts compact">
        <dt>Locked</dt>
        <dd>{lock.locked ? 'yes' : 'no'}</dd>
        <dt>Locking anomaly</dt>
        <dd>
          <code>{lock.lockingAnomalyId || '—'}</code>
        </dd>
        <dt>Blocked domains</dt>
        <dd>{lock.blockedDomains.join(', ') || '—'}</dd>
      </dl>
      <NoteForm label="Lift note" submit="Lift impersonation lock" open={lock.locked} send={lift} />
    </article>
  );
}
