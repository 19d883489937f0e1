import { useState } from 'preact/hooks';
import { PLAIN_ROUTES } from '@gatehouse/console-api';
import type { AuditQuery } from '@gatehouse/console-api';
import { call } from './api';
import { choices, localInputToIso } from './format';
import { useResource } from './hooks';
import { FIRST_PAGE, PagedTable } from './lists';
import type { PageCursor } from './lists';
import { ErrorAlert, Loading, PageTitle, RefreshButton, Section, SelectField, TextField, Time } from './ui';

const PAGE_SIZE = 50;

/** Select text for a filter value; the empty value matches any. */
const orAny = (value: string): string => value || 'any';

const SERVICES = choices<string>(['', 'identity', 'allowlist', 'secrets', 'impersonation', 'audit'], orAny);

const OUTCOMES = choices<string>(['', 'success', 'failure', 'denied', 'attempted'], orAny);

/** The filters as the form holds them (datetime-local values for the time range). */
interface Filters {
  service: string;
  action: string;
  outcome: string;
  actorId: string;
  subjectId: string;
  customerDomain: string;
  sourceIp: string;
  from: string;
  to: string;
}

const NO_FILTERS: Filters = {
  service: '',
  action: '',
  outcome: '',
  actorId: '',
  subjectId: '',
  customerDomain: '',
  sourceIp: '',
  from: '',
  to: '',
};

/** The GET /api/audit query for the filters and a page; empty values are left out. */
function toQuery(filters: Filters, pageToken: string): Record<string, string | undefined> {
  const query: Record<keyof AuditQuery, string> = {
    service: filters.service,
    action: filters.action.trim(),
    outcome: filters.outcome,
    actorId: filters.actorId.trim(),
    subjectId: filters.subjectId.trim(),
    customerDomain: filters.customerDomain.trim(),
    sourceIp: filters.sourceIp.trim(),
    occurredAfter: localInputToIso(filters.from),
    occurredBefore: localInputToIso(filters.to),
    pageToken,
    pageSize: String(PAGE_SIZE),
  };
  return query;
}

/**
 * The audit log for the security officer: typed filters over the tamper-evident log, paging,
 * the export download, and the signed checkpoint with the key to pin for verification.
 */
export function AuditPage() {
  const [form, setForm] = useState<Filters>(NO_FILTERS);
  const [request, setRequest] = useState<PageCursor & { filters: Filters }>({ filters: NO_FILTERS, ...FIRST_PAGE });
  const page = useResource(
    () => call('GET /api/audit', undefined, { query: toQuery(request.filters, request.pageToken) }),
    [request],
  );

  const set = (key: keyof Filters) => (value: string) => setForm((current) => ({ ...current, [key]: value }));

  const onSearch = (event: Event) => {
    event.preventDefault();
    setRequest({ filters: form, ...FIRST_PAGE });
  };

  const entries = page.data?.entries ?? [];

  return (
    <>
      <PageTitle>Audit log</PageTitle>
      <Section title="Query">
        <form class="form-grid" onSubmit={onSearch} aria-label="Audit query">
          <SelectField label="Service" value={form.service} options={SERVICES} onValue={set('service')} />
          <TextField label="Action" value={form.action} onValue={set('action')} placeholder="e.g. session.revoke" />
          <SelectField label="Outcome" value={form.outcome} options={OUTCOMES} onValue={set('outcome')} />
          <TextField label="Actor id" value={form.actorId} onValue={set('actorId')} />
          <TextField label="Subject id" value={form.subjectId} onValue={set('subjectId')} />
          <TextField label="Customer domain" value={form.customerDomain} onValue={set('customerDomain')} />
          <TextField label="Source IP" value={form.sourceIp} onValue={set('sourceIp')} />
          <TextField label="From" type="datetime-local" value={form.from} onValue={set('from')} />
          <TextField label="To" type="datetime-local" value={form.to} onValue={set('to')} />
          <div class="form-actions">
            <button type="submit">Search</button>
          </div>
        </form>
        <p>
          <a href={PLAIN_ROUTES.auditExport} download>
            Download export
          </a>
        </p>
      </Section>
      <Section title="Entries">
        {page.data && (
          <p>
            The log holds <strong data-testid="tree-size">{page.data.treeSize}</strong> entries.
            {request.previous.length > 0 && <> Page {request.previous.length + 1}.</>}
          </p>
        )}
        <PagedTable
          resource={page}
          count={entries.length}
          empty="No entries match."
          testId="audit-results"
          columns={['Sequence', 'Occurred at', 'Service', 'Action', 'Outcome', 'Actor', 'Subject', 'Summary']}
          cursor={request}
          onPage={(move) => setRequest((current) => ({ filters: current.filters, ...move(current) }))}
        >
          {entries.map((entry) => (
            <tr key={entry.sequence}>
              <td>{entry.sequence}</td>
              <td>
                <Time iso={entry.occurredAt} />
              </td>
              <td>{entry.service}</td>
              <td>
                <code>{entry.action}</code>
              </td>
              <td>
                <span class={`badge outcome-${entry.outcome}`}>{entry.outcome}</span>
              </td>
              <td>{entry.actor}</td>
              <td>{entry.subject}</td>
              <td>
                {entry.summary}
                {(entry.customerDomain || entry.sourceIp) && (
                  <div class="muted">
                    {[entry.customerDomain, entry.sourceIp].filter((part) => part !== '').join(' · ')}
                  </div>
                )}
              </td>
            </tr>
          ))}
        </PagedTable>
      </Section>
      <Checkpoint />
    </>
  );
}

function Checkpoint() {
  const checkpoint = useResource(() => call('GET /api/audit/checkpoint'), []);
  const data = checkpoint.data;
  return (
    <Section title="Checkpoint" actions={<RefreshButton label="Refresh checkpoint" onRefresh={checkpoint.reload} />}>
      <Loading when={checkpoint.loading && !data} />
      <ErrorAlert error={checkpoint.error} />
      {data && (
        <>
          <dl class="facts">
            <dt>Origin</dt>
            <dd>{data.origin}</dd>
            <dt>Tree size</dt>
            <dd data-testid="checkpoint-tree-size">{data.treeSize}</dd>
            <dt>Root hash</dt>
            <dd>
              <code class="wrap" data-testid="checkpoint-root-hash">
                {data.rootHash}
              </code>
            </dd>
            <dt>Signed at</dt>
            <dd>
              <Time iso={data.signedAt} />
            </dd>
            <dt>Key id</dt>
            <dd>
              <code data-testid="checkpoint-key-id">{data.keyId}</code>
            </dd>
          </dl>
          <h3>Signed checkpoint</h3>
          <p class="muted">
            Save it as a file for <code>gatehouse audit verify --trusted-checkpoint</code>.
          </p>
          <pre data-testid="checkpoint-note">{data.text}</pre>
          <h3>Verification key</h3>
          <p>
            Pin this public key (key id and base64, as <code>gatehouse audit keys</code> prints it) and pass it to{' '}
            <code>gatehouse audit verify --public-key</code>: a checkpoint signed by any other key does not come from
            this audit log.
          </p>
          <pre data-testid="checkpoint-public-key">{data.publicKey}</pre>
        </>
      )}
    </Section>
  );
}
