import { useState } from 'preact/hooks';
import { PLAIN_ROUTES } from '@gatehouse/console-api';
import type { AuditQuery } from '@gatehouse/console-api';
import { call } from './api';
import { localInputToIso } from './format';
import { useResource } from './hooks';
import { ErrorAlert, Loading, PageTitle, Section, SelectField, TextField, Time } from './ui';

const PAGE_SIZE = 50;

const SERVICES: ReadonlyArray<readonly [string, string]> = [
  ['', 'any'],
  ['identity', 'identity'],
  ['allowlist', 'allowlist'],
  ['secrets', 'secrets'],
  ['impersonation', 'impersonation'],
  ['audit', 'audit'],
];

const OUTCOMES: ReadonlyArray<readonly [string, string]> = [
  ['', 'any'],
  ['success', 'success'],
  ['failure', 'failure'],
  ['denied', 'denied'],
  ['attempted', 'attempted'],
];

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
  const [request, setRequest] = useState<{ filters: Filters; pageToken: string; previous: string[] }>({
    filters: NO_FILTERS,
    pageToken: '',
    previous: [],
  });
  const page = useResource(
    () => call('GET /api/audit', undefined, { query: toQuery(request.filters, request.pageToken) }),
    [request],
  );

  const set = (key: keyof Filters) => (value: string) => setForm((current) => ({ ...current, [key]: value }));

  const onSearch = (event: Event) => {
    event.preventDefault();
    setRequest({ filters: form, pageToken: '', previous: [] });
  };

  const entries = page.data?.entries ?? [];
  const nextToken = page.data?.nextPageToken ?? '';

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
        <Loading when={page.loading} />
        <ErrorAlert error={page.error} />
        {page.data && entries.length === 0 && <p class="muted">No entries match.</p>}
        {entries.length > 0 && (
          <div class="table-wrap">
            <table data-testid="audit-results">
              <thead>
                <tr>
                  <th scope="col">Sequence</th>
                  <th scope="col">Occurred at</th>
                  <th scope="col">Service</th>
                  <th scope="col">Action</th>
                  <th scope="col">Outcome</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Subject</th>
                  <th scope="col">Summary</th>
                </tr>
              </thead>
              <tbody>
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
              </tbody>
            </table>
          </div>
        )}
        <div class="button-row">
          {request.previous.length > 0 && (
            <button
              type="button"
              class="secondary"
              disabled={page.loading}
              onClick={() =>
                setRequest((current) => ({
                  filters: current.filters,
                  pageToken: current.previous[current.previous.length - 1] ?? '',
                  previous: current.previous.slice(0, -1),
                }))
              }
            >
              Previous page
            </button>
          )}
          {nextToken && (
            <button
              type="button"
              disabled={page.loading}
              onClick={() =>
                setRequest((current) => ({
                  filters: current.filters,
                  pageToken: nextToken,
                  previous: [...current.previous, current.pageToken],
                }))
              }
            >
              Next page
            </button>
          )}
        </div>
      </Section>
      <Checkpoint />
    </>
  );
}

function Checkpoint() {
  const checkpoint = useResource(() => call('GET /api/audit/checkpoint'), []);
  const data = checkpoint.data;
  return (
    <Section
      title="Checkpoint"
      actions={
        <button type="button" class="secondary small" aria-label="Refresh checkpoint" onClick={checkpoint.reload}>
          Refresh
        </button>
      }
    >
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
