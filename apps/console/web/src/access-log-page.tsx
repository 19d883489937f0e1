import { useState } from 'preact/hooks';
import type { AccessLogView } from '@gatehouse/console-api';
import { call } from './api';
import { REASON_NAMES, ROLE_NAMES } from './format';
import { useResource } from './hooks';
import { FIRST_PAGE, PagedTable } from './lists';
import type { PageCursor } from './lists';
import { PageTitle, Section, TextField, Time } from './ui';

const COLUMNS = [
  'Employee',
  'Role',
  'Customer user',
  'Reason',
  'Justification',
  'Ticket',
  'Started',
  'Ended',
  'State',
  'Records touched',
] as const;

interface Request extends PageCursor {
  domain: string;
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
    setRequest({ domain: domain.trim(), ...FIRST_PAGE });
  };

  const entries = page.data?.entries ?? [];

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
          <PagedTable
            resource={page}
            count={entries.length}
            empty="No employee accessed this domain."
            testId="access-log"
            columns={COLUMNS}
            cursor={request}
            onPage={(move) => setRequest({ domain: request.domain, ...move(request) })}
          >
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
          </PagedTable>
        </Section>
      )}
    </>
  );
}
