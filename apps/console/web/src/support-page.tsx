import { useState } from 'preact/hooks';
import type { AnomaliesView, GrantsView, ImpersonationReason, StartedView } from '@gatehouse/console-api';
import { ApiCallError, call } from './api';
import { choices, REASON_NAMES, splitList } from './format';
import { useAction, useResource } from './hooks';
import type { Resource } from './hooks';
import { DataTable, ResourceStatus, RowAction } from './lists';
import {
  ErrorAlert,
  Notice,
  PageTitle,
  RefreshButton,
  Section,
  SelectField,
  SubmitOrCancel,
  TextArea,
  TextField,
  Time,
} from './ui';

const REASONS = choices<ImpersonationReason>(
  ['customer_support_case', 'bug_investigation', 'incident_response'],
  (reason) => REASON_NAMES[reason] ?? reason,
);

/**
 * Support: start a justified impersonation (the token is shown once), end active grants, and
 * justify the burst anomaly the impersonation service opens when too many customers are touched.
 */
export function SupportPage() {
  const grants = useResource(() => call('GET /api/impersonations'), []);
  const anomalies = useResource(() => call('GET /api/anomalies'), []);
  const [burstId, setBurstId] = useState<string | undefined>(undefined);

  return (
    <>
      <PageTitle>Support</PageTitle>
      <StartImpersonation
        onStarted={() => grants.reload()}
        onBurst={(anomalyId) => {
          setBurstId(anomalyId);
          anomalies.reload();
        }}
      />
      {burstId && (
        <JustifyBurst
          key={burstId}
          anomalyId={burstId}
          onDone={() => anomalies.reload()}
          onCancel={() => setBurstId(undefined)}
        />
      )}
      <ActiveGrants grants={grants} />
      <YourAnomalies anomalies={anomalies} onJustify={setBurstId} />
    </>
  );
}

function StartImpersonation(props: { onStarted: () => void; onBurst: (anomalyId: string) => void }) {
  const start = useAction();
  const copy = useAction();
  const [targetUserId, setTargetUserId] = useState('');
  const [customerDomain, setCustomerDomain] = useState('');
  const [reason, setReason] = useState<ImpersonationReason>('customer_support_case');
  const [justification, setJustification] = useState('');
  const [ticketRef, setTicketRef] = useState('');
  const [duration, setDuration] = useState('30');
  const [started, setStarted] = useState<StartedView | undefined>(undefined);
  const [copied, setCopied] = useState(false);

  const onSubmit = (event: Event) => {
    event.preventDefault();
    // A new start forgets the previous token at once.
    setStarted(undefined);
    setCopied(false);
    void start.run(async () => {
      try {
        const answer = await call('POST /api/impersonations', {
          targetUserId: targetUserId.trim(),
          customerDomain: customerDomain.trim(),
          reason,
          justification,
          ticketRef: ticketRef.trim(),
          durationMinutes: Number.parseInt(duration, 10) || 0,
        });
        setStarted(answer);
        props.onStarted();
      } catch (error: unknown) {
        if (error instanceof ApiCallError && error.code === 'FAILED_PRECONDITION' && error.anomalyId) {
          props.onBurst(error.anomalyId);
        }
        throw error;
      }
    });
  };

  const onCopy = () => {
    const token = started?.impersonationToken;
    if (!token) return;
    void copy.run(async () => {
      try {
        await navigator.clipboard.writeText(token);
        setCopied(true);
      } catch {
        // Clipboard access may be refused; the field stays selectable.
      }
    });
  };

  return (
    <Section title="Start an impersonation">
      <form onSubmit={onSubmit} class="form-grid" aria-label="Start an impersonation">
        <TextField label="Customer user id" value={targetUserId} onValue={setTargetUserId} />
        <TextField label="Customer domain" value={customerDomain} onValue={setCustomerDomain} />
        <SelectField label="Reason" value={reason} options={REASONS} onValue={setReason} />
        <TextArea label="Justification" value={justification} onValue={setJustification} />
        <TextField label="Ticket" value={ticketRef} onValue={setTicketRef} />
        <TextField
          label="Duration (minutes)"
          type="number"
          value={duration}
          onValue={setDuration}
          min={1}
          max={60}
          inputMode="numeric"
        />
        <div class="form-actions">
          <button type="submit" disabled={start.busy}>
            Start impersonation
          </button>
        </div>
      </form>
      <ErrorAlert error={start.error} />
      {started && (
        <div class="token-box" data-testid="started-grant">
          <Notice>
            Impersonation of <code>{started.grant.targetUserId}</code> at {started.grant.customerDomain} started; grant{' '}
            <code>{started.grant.grantId}</code> expires at <Time iso={started.grant.expiresAt} />.
          </Notice>
          <TextField label="Impersonation token" value={started.impersonationToken} readOnly />
          <p class="warning">This token will not be shown again. Copy it now.</p>
          <div class="button-row">
            <button type="button" onClick={onCopy}>
              Copy token
            </button>
            <button
              type="button"
              class="secondary"
              onClick={() => {
                setStarted(undefined);
                setCopied(false);
              }}
            >
              Dismiss token
            </button>
          </div>
          {copied && <Notice>Token copied to the clipboard.</Notice>}
        </div>
      )}
    </Section>
  );
}

function JustifyBurst(props: { anomalyId: string; onDone: () => void; onCancel: () => void }) {
  const justify = useAction();
  const [justification, setJustification] = useState('');
  const [tickets, setTickets] = useState('');
  const [sent, setSent] = useState(false);

  const onSubmit = (event: Event) => {
    event.preventDefault();
    void justify.run(async () => {
      await call(
        'POST /api/anomalies/:id/justify',
        { justification, ticketRefs: splitList(tickets) },
        { params: { id: props.anomalyId } },
      );
      setSent(true);
      props.onDone();
    });
  };

  return (
    <Section title="Justify the burst">
      <p>
        Anomaly <code data-testid="burst-anomaly-id">{props.anomalyId}</code>: explain why you needed these customers. A
        security officer accepts or rejects the justification.
      </p>
      {sent ? (
        <>
          <Notice>Justification sent. An officer will decide; see “Your anomalies” below.</Notice>
          <button type="button" class="secondary" onClick={props.onCancel}>
            Close
          </button>
        </>
      ) : (
        <form onSubmit={onSubmit} aria-label="Justify the burst">
          <TextArea label="Burst justification" value={justification} onValue={setJustification} />
          <TextField
            label="Ticket references"
            value={tickets}
            onValue={setTickets}
            hint="Comma separated, e.g. SUP-101, SUP-102"
          />
          <SubmitOrCancel submit="Submit justification" busy={justify.busy} onCancel={props.onCancel} />
        </form>
      )}
      <ErrorAlert error={justify.error} />
    </Section>
  );
}

function ActiveGrants({ grants }: { grants: Resource<GrantsView> }) {
  const end = useAction();
  const onEnd = (grantId: string) =>
    void end.run(async () => {
      await call('POST /api/impersonations/:id/end', {}, { params: { id: grantId } });
      grants.reload();
    });

  const list = grants.data?.grants ?? [];
  return (
    <Section title="Active grants" actions={<RefreshButton label="Refresh grants" onRefresh={grants.reload} />}>
      <ResourceStatus resource={grants} count={list.length} empty="No grants.">
        <ErrorAlert error={end.error} />
      </ResourceStatus>
      {list.length > 0 && (
        <DataTable
          columns={['Grant', 'Customer user', 'Domain', 'Reason', 'Ticket', 'Started', 'Expires', 'State']}
          actions
        >
          {list.map((g) => (
            <tr key={g.grantId} data-testid={`grant-${g.grantId}`}>
              <td>
                <code>{g.grantId}</code>
              </td>
              <td>{g.targetUserId}</td>
              <td>{g.customerDomain}</td>
              <td>{g.reason ? (REASON_NAMES[g.reason] ?? g.reason) : '—'}</td>
              <td>{g.ticketRef || '—'}</td>
              <td>
                <Time iso={g.startedAt} />
              </td>
              <td>
                <Time iso={g.expiresAt} />
              </td>
              <td>{g.state}</td>
              <RowAction
                when={g.state === 'active'}
                label={`End grant ${g.grantId}`}
                busy={end.busy}
                onClick={() => onEnd(g.grantId)}
              >
                End
              </RowAction>
            </tr>
          ))}
        </DataTable>
      )}
    </Section>
  );
}

function YourAnomalies(props: {
  anomalies: Resource<AnomaliesView>;
  onJustify: (anomalyId: string) => void;
}) {
  const { anomalies } = props;
  const list = anomalies.data?.anomalies ?? [];
  return (
    <Section title="Your anomalies" actions={<RefreshButton label="Refresh anomalies" onRefresh={anomalies.reload} />}>
      <ResourceStatus resource={anomalies} count={list.length} empty="No anomalies." />
      {list.length > 0 && (
        <DataTable
          columns={['Anomaly', 'Domain', 'Rule', 'Customers', 'Opened', 'State', 'Justification', 'Decision note']}
          actions
        >
          {list.map((a) => (
            <tr key={a.anomalyId} data-testid={`anomaly-${a.anomalyId}`}>
              <td>
                <code>{a.anomalyId}</code>
              </td>
              <td>{a.customerDomain}</td>
              <td>{a.ruleSummary}</td>
              <td>{a.targetUserIds.join(', ') || '—'}</td>
              <td>
                <Time iso={a.openedAt} />
              </td>
              <td>
                <span class={`badge state-${a.state}`} data-testid={`anomaly-state-${a.anomalyId}`}>
                  {a.state}
                </span>
              </td>
              <td>
                {a.justification || '—'}
                {a.ticketRefs.length > 0 && <div class="muted">Tickets: {a.ticketRefs.join(', ')}</div>}
              </td>
              <td>{a.resolutionNote || '—'}</td>
              <RowAction
                when={a.state === 'open'}
                label={`Justify anomaly ${a.anomalyId}`}
                onClick={() => props.onJustify(a.anomalyId)}
              >
                Justify
              </RowAction>
            </tr>
          ))}
        </DataTable>
      )}
    </Section>
  );
}
