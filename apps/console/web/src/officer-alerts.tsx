import { useEffect, useMemo, useState } from 'preact/hooks';
import { PLAIN_ROUTES } from '@gatehouse/console-api';
import type { AlertEvent, AlertView } from '@gatehouse/console-api';
import { call } from './api';
import { useResource } from './hooks';
import { CardList } from './lists';
import { NoteForm, RefreshButton, Section, Time } from './ui';

/** How many live changes are kept on top of the loaded list before the oldest are dropped. */
const MAX_EVENTS = 500;

type LiveState = 'connecting' | 'live' | 'reconnecting' | 'unsupported';

function isAlertEvent(value: unknown): value is AlertEvent {
  if (typeof value !== 'object' || value === null) return false;
  const { change, alert } = value as { change?: unknown; alert?: unknown };
  return (
    (change === 'raised' || change === 'acknowledged') &&
    typeof alert === 'object' &&
    alert !== null &&
    typeof (alert as { alertId?: unknown }).alertId === 'string'
  );
}

/**
 * Applies live changes to the loaded list: a raised alert goes on top (or replaces the same
 * alert), an acknowledged one is updated in place. Order-independent of the initial load.
 */
export function applyAlertEvents(loaded: readonly AlertView[], events: readonly AlertEvent[]): AlertView[] {
  const list = [...loaded];
  for (const event of events) {
    const at = list.findIndex((a) => a.alertId === event.alert.alertId);
    if (event.change === 'raised') {
      if (at >= 0) list.splice(at, 1);
      list.unshift(event.alert);
    } else if (at >= 0) {
      list[at] = event.alert;
    }
  }
  return list;
}

/** Open alerts, kept current by the alert stream (Server-Sent Events named `alert`). */
export function OpenAlerts() {
  const alerts = useResource(() => call('GET /api/alerts', undefined, { query: { state: 'open' } }), []);
  const [events, setEvents] = useState<AlertEvent[]>([]);
  const [live, setLive] = useState<LiveState>('connecting');

  const record = (event: AlertEvent) => setEvents((current) => [...current, event].slice(-MAX_EVENTS));

  useEffect(() => {
    if (typeof EventSource === 'undefined') {
      setLive('unsupported');
      return;
    }
    const source = new EventSource(PLAIN_ROUTES.alertStream);
    const onAlert = (message: MessageEvent) => {
      let data: unknown;
      try {
        data = JSON.parse(String(message.data));
      } catch {
        return;
      }
      if (isAlertEvent(data)) record(data);
    };
    source.addEventListener('alert', onAlert);
    source.onopen = () => setLive('live');
    // EventSource reconnects by itself; only say so.
    source.onerror = () => setLive(source.readyState === EventSource.CLOSED ? 'unsupported' : 'reconnecting');
    return () => {
      source.removeEventListener('alert', onAlert);
      source.close();
    };
  }, []);

  const reload = () => {
    setEvents([]);
    alerts.reload();
  };

  const list = useMemo(() => applyAlertEvents(alerts.data?.alerts ?? [], events), [alerts.data, events]);
  const liveText: Record<LiveState, string> = {
    connecting: 'Connecting to live updates…',
    live: 'Live',
    reconnecting: 'Live updates interrupted, reconnecting…',
    unsupported: 'Live updates unavailable; use Refresh.',
  };

  return (
    <Section
      title="Open alerts"
      actions={
        <span class="head-actions">
          <span class={`live live-${live}`} data-testid="alerts-live">
            {liveText[live]}
          </span>
          <RefreshButton label="Refresh alerts" onRefresh={reload} />
        </span>
      }
    >
      <CardList resource={alerts} count={list.length} empty="No open alerts." testId="alerts" live="polite">
        {list.map((alert) => (
          <AlertCard key={alert.alertId} alert={alert} onChanged={(next) => record({ change: 'acknowledged', alert: next })} />
        ))}
      </CardList>
    </Section>
  );
}

function AlertCard({ alert, onChanged }: { alert: AlertView; onChanged: (alert: AlertView) => void }) {
  const acknowledge = async (note: string) => {
    onChanged(await call('POST /api/alerts/:id/acknowledge', { note }, { params: { id: alert.alertId } }));
  };
  return (
    <article
      class={`card item alert-card severity-${alert.severity}`}
      aria-label={`Alert ${alert.ruleName}`}
      data-testid={`alert-${alert.alertId}`}
    >
      <h3>
        <span class={`badge severity-${alert.severity}`} data-testid="alert-severity">
          {alert.severity}
        </span>{' '}
        {alert.ruleName}
      </h3>
      <p data-testid="alert-summary">{alert.summary}</p>
      <dl class="facts compact">
        <dt>Count</dt>
        <dd data-testid="alert-count">{alert.count}</dd>
        <dt>Raised</dt>
        <dd>
          <Time iso={alert.raisedAt} />
        </dd>
        <dt>State</dt>
        <dd data-testid="alert-state">{alert.state}</dd>
        {alert.state === 'acknowledged' && (
          <>
            <dt>Acknowledged by</dt>
            <dd>{alert.acknowledgedBy || '—'}</dd>
            <dt>Note</dt>
            <dd>{alert.acknowledgementNote || '—'}</dd>
          </>
        )}
      </dl>
      <NoteForm label="Acknowledgement note" submit="Acknowledge" open={alert.state === 'open'} send={acknowledge} />
    </article>
  );
}
