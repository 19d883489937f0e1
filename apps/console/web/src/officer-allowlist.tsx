import { useState } from 'preact/hooks';
import type { EntryScope, EntryView } from '@gatehouse/console-api';
import { call } from './api';
import { choices, localInputToIso } from './format';
import { useAction, useOutcome, useResource } from './hooks';
import { DataTable, ResourceStatus } from './lists';
import { ErrorAlert, Notice, RefreshButton, Section, SelectField, SubmitOrCancel, TextField, Time } from './ui';

const SCOPES = choices<EntryScope>(['live', 'staging', 'all']);

/**
 * The IP allowlist: every entry with who added it and why; adding and removing both need a
 * reason, which lands in the audit log.
 */
export function Allowlist() {
  const entries = useResource(() => call('GET /api/allowlist'), []);
  const [outcome, done] = useOutcome<{ text: string; warnings: string[] } | undefined>(entries.reload, undefined);
  const list = entries.data?.entries ?? [];

  return (
    <Section title="Allowlist" actions={<RefreshButton label="Refresh allowlist" onRefresh={entries.reload} />}>
      {outcome && (
        <Notice>
          {outcome.text}
          {outcome.warnings.length > 0 && (
            <ul class="warnings" data-testid="allowlist-warnings">
              {outcome.warnings.map((warning, index) => (
                <li key={index}>{warning}</li>
              ))}
            </ul>
          )}
        </Notice>
      )}
      <ResourceStatus resource={entries} count={list.length} empty="The allowlist is empty." />
      {list.length > 0 && (
        <EntriesTable entries={list} onRemoved={(entry) => done({ text: `Removed ${entry.cidr}.`, warnings: [] })} />
      )}
      <AddEntry onAdded={(entry, warnings) => done({ text: `Added ${entry.cidr}.`, warnings })} />
    </Section>
  );
}

function EntriesTable(props: { entries: EntryView[]; onRemoved: (entry: EntryView) => void }) {
  const remove = useAction();
  const [removing, setRemoving] = useState<string | undefined>(undefined);
  const [reason, setReason] = useState('');

  const submit = (entry: EntryView) =>
    void remove
      .run(async () => {
        await call('POST /api/allowlist/:id/remove', { reason: reason.trim() }, { params: { id: entry.entryId } });
      })
      .then((ok) => {
        if (!ok) return;
        setRemoving(undefined);
        setReason('');
        props.onRemoved(entry);
      });

  /** First press asks for the reason; pressing again with a reason (or "Confirm removal") removes. */
  const onRemove = (entry: EntryView) => {
    if (removing === entry.entryId && reason.trim()) {
      submit(entry);
      return;
    }
    if (removing !== entry.entryId) {
      remove.clear();
      setReason('');
    }
    setRemoving(entry.entryId);
  };

  return (
    <DataTable columns={['CIDR', 'Label', 'Scope', 'Expires', 'Added by', 'Reason', 'Added']} actions>
      {props.entries.map((entry) => (
        <EntryRows
          key={entry.entryId}
          entry={entry}
          removing={removing === entry.entryId}
          reason={reason}
          busy={remove.busy}
          error={removing === entry.entryId ? remove.error : undefined}
          onReason={setReason}
          onRemove={() => onRemove(entry)}
          onConfirm={() => {
            if (!reason.trim()) {
              remove.fail(new Error('Give a removal reason first.'));
              return;
            }
            submit(entry);
          }}
          onCancel={() => {
            setRemoving(undefined);
            setReason('');
            remove.clear();
          }}
        />
      ))}
    </DataTable>
  );
}

function EntryRows(props: {
  entry: EntryView;
  removing: boolean;
  reason: string;
  busy: boolean;
  error: unknown;
  onReason: (reason: string) => void;
  onRemove: () => void;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const { entry } = props;
  return (
    <>
      <tr data-testid={`entry-${entry.entryId}`}>
        <td>
          <code>{entry.cidr}</code>
        </td>
        <td>{entry.label}</td>
        <td>{entry.scope}</td>
        <td>{entry.expiresAt ? <Time iso={entry.expiresAt} /> : 'never'}</td>
        <td>{entry.createdBy}</td>
        <td>{entry.reason}</td>
        <td>
          <Time iso={entry.createdAt} />
        </td>
        <td>
          <button
            type="button"
            class="danger"
            aria-label={`Remove entry ${entry.cidr}`}
            aria-expanded={props.removing}
            disabled={props.busy}
            onClick={props.onRemove}
          >
            Remove
          </button>
        </td>
      </tr>
      {props.removing && (
        <tr class="inline-form-row">
          <td colSpan={8}>
            <form
              class="inline-form"
              onSubmit={(event) => {
                event.preventDefault();
                props.onConfirm();
              }}
            >
              <TextField
                label="Removal reason"
                value={props.reason}
                onValue={props.onReason}
                hint={`Why ${entry.cidr} is removed; it is recorded in the audit log.`}
              />
              <SubmitOrCancel submit="Confirm removal" danger busy={props.busy} onCancel={props.onCancel} />
            </form>
            <ErrorAlert error={props.error} />
          </td>
        </tr>
      )}
    </>
  );
}

function AddEntry({ onAdded }: { onAdded: (entry: EntryView, warnings: string[]) => void }) {
  const add = useAction();
  const [cidr, setCidr] = useState('');
  const [label, setLabel] = useState('');
  const [scope, setScope] = useState<EntryScope>('live');
  const [expiresAt, setExpiresAt] = useState('');
  const [reason, setReason] = useState('');

  const onSubmit = (event: Event) => {
    event.preventDefault();
    void add.run(async () => {
      const answer = await call('POST /api/allowlist', {
        cidr: cidr.trim(),
        label: label.trim(),
        scope,
        expiresAt: localInputToIso(expiresAt),
        reason: reason.trim(),
      });
      setCidr('');
      setLabel('');
      setExpiresAt('');
      setReason('');
      onAdded(answer.entry, answer.warnings);
    });
  };

  return (
    <form class="form-grid add-entry" onSubmit={onSubmit} aria-label="Add allowlist entry">
      <h3 class="form-title">Add an entry</h3>
      <TextField label="CIDR" value={cidr} onValue={setCidr} placeholder="203.0.113.0/24" />
      <TextField label="Label" value={label} onValue={setLabel} />
      <SelectField label="Scope" value={scope} options={SCOPES} onValue={setScope} />
      <TextField
        label="Expires at"
        type="datetime-local"
        value={expiresAt}
        onValue={setExpiresAt}
        hint="Optional; your local time. Empty means no expiry."
      />
      <TextField label="Reason" value={reason} onValue={setReason} />
      <div class="form-actions">
        <button type="submit" disabled={add.busy}>
          Add entry
        </button>
      </div>
      <ErrorAlert error={add.error} />
    </form>
  );
}
