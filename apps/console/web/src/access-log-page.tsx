import { useState } from 'preact/hooks';
import type { AccessLogView } from '@gatehouse/console-api';
import { call } from './api';
import { REASON_NAMES, ROLE_NAMES } from './format';
import { useResource } from './hooks';
import { ErrorAlert, Loading, PageTitle, Section, TextField, Time } from './ui';

interface Request {
  domain: string;
  pageToken: string;
  previous: string[];
}

/**
 * The per-customer access log: which employee (by name, never e-mail) impersonated whom in a
 * customer's domain, why, and what they touched, so an officer or manager can answer the customer.
 */
export function AccessLogPage() {
  const [domain, setDomain] = useState('');
  const [request, setRequest] = useState<Request | undefined>(undefined);
  const page = useResource<AccessLogView | undefined>(
    () =>
      request
        ? call('GET /api/access-log', undefined, { query: { domain: request.domain, pageToken: request.pageToken } })
        : Promise.resolve(undefined),
    [request],
  );

  const onShow = (event: Event) => {
    event.preventDefault();
    setRequest({ domain: domain.trim(), pageToken: '', previous: [] });
  };

  const entries = page.data?.entries ?? [];
  const nextToken = page.data?.nextPageToken ?? '';

  return (
    <>
      <PageTitle>Access log</PageTitle>
      <Section title="Customer">
        <form class="inline-form" onSubmit={onShow} aria-label="Access log query">
          <TextField label="Customer domain" value={domain} onValue={setDomain} placeholder="customer.example" />
          <button type="submit">Show access</button>
        </form>
      </Section>
      {request && (
        <Section title={`Access to ${request.domain || 'all domains'}`}>
          <Loading when={page.loading} />
          <ErrorAlert error={page.error} />
          {page.data && entries.length === 0 && <p class="muted">No employee accessed this domain.</p>}
          {entries.length > 0 && (
            <div class="table-wrap">
              <table data-testid="access-log">
                <thead>
                  <tr>
                    <th scope="col">Employee</th>
                    <th scope="col">Role</th>
                    <th scope="col">Customer user</th>
                    <th scope="col">Reason</th>
                    <th scope="col">Justification</th>
                    <th scope="col">Ticket</th>
                    <th scope="col">Started</th>
                    <th scope="col">Ended</th>
                    <th scope="col">State</th>
                    <th scope="col">Records touched</th>
                  </tr>
                </thead>
                <tbody>
                  {entries.map((entry) => (
                    <tr key={entry.grantId} data-testid={`access-${entry.grantId}`}>
                      <td>{entry.employee}</td>
                      <td>{entry.employeeRole ? (ROLE_NAMES[entry.employeeRole] ?? entry.employeeRole) : '—'}</td>
                      <td>{entry.targetUserId}</td>
                      <td>{entry.reason ? (REASON_NAMES[entry.reason] ?? entry.reason) : '—'}</td>
                      <td>{entry.justification || '—'}</td>
                      <td>{entry.ticketRef || '—'}</td>
                      <td>
                        <Time iso={entry.startedAt} />
                      </td>
                      <td>{entry.endedAt ? <Time iso={entry.endedAt} /> : '—'}</td>
                      <td>{entry.state}</td>
                      <td>
                        {entry.touched.length === 0 ? (
                          'none'
                        ) : (
                          <ul class="plain-list">
                            {entry.touched.map((record, index) => (
                              <li key={index}>{record}</li>
                            ))}
                          </ul>
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
                  setRequest({
                    domain: request.domain,
                    pageToken: request.previous[request.previous.length - 1] ?? '',
                    previous: request.previous.slice(0, -1),
                  })
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
                  setRequest({
                    domain: request.domain,
                    pageToken: nextToken,
                    previous: [...request.previous, request.pageToken],
                  })
                }
              >
                Next page
              </button>
            )}
          </div>
        </Section>
      )}
    </>
  );
}
