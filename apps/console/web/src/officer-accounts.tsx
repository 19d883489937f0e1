import { useState } from 'preact/hooks';
import { ROLES } from '@gatehouse/console-api';
import type { AccountView, ApprovedView, Role } from '@gatehouse/console-api';
import { call } from './api';
import { ROLE_NAMES } from './format';
import { useAction, useOutcome, useResource } from './hooks';
import { CardList } from './lists';
import {
  CheckboxField,
  ErrorAlert,
  NoteForm,
  Notice,
  RefreshButton,
  Section,
  Subsection,
  TextField,
  Time,
} from './ui';

interface Outcome {
  email: string;
  text: string;
  pendingChangeId?: string;
}

/**
 * Pending accounts: the officer sets name, roles and phone and approves, or rejects with a
 * reason. A privileged role waits for a second officer; the answer's change id says so.
 */
export function PendingAccounts() {
  const accounts = useResource(() => call('GET /api/accounts', undefined, { query: { state: 'pending' } }), []);
  const [outcome, done] = useOutcome<Outcome | undefined>(accounts.reload, undefined);
  const list = accounts.data?.accounts ?? [];

  return (
    <Section
      title="Pending accounts"
      actions={<RefreshButton label="Refresh pending accounts" onRefresh={accounts.reload} />}
    >
      {outcome && (
        <Notice>
          {outcome.text}
          {outcome.pendingChangeId && (
            <>
              {' '}
              The role change <code data-testid="pending-change-id">{outcome.pendingChangeId}</code> waits for a second
              officer.
            </>
          )}
        </Notice>
      )}
      <CardList resource={accounts} count={list.length} empty="No pending accounts.">
        {list.map((account) => (
          <PendingAccount key={account.accountId} account={account} onDone={done} />
        ))}
      </CardList>
    </Section>
  );
}

function PendingAccount({ account, onDone }: { account: AccountView; onDone: (outcome: Outcome) => void }) {
  const approve = useAction();
  const reject = useAction();
  const [displayName, setDisplayName] = useState(account.displayName);
  const [roles, setRoles] = useState<Role[]>(account.roles);
  const [phoneNumber, setPhoneNumber] = useState('');
  const [note, setNote] = useState('');
  const [rejectionReason, setRejectionReason] = useState('');

  const toggle = (role: Role, on: boolean) =>
    setRoles((current) => (on ? ROLES.filter((r) => r === role || current.includes(r)) : current.filter((r) => r !== role)));

  const onApprove = (event: Event) => {
    event.preventDefault();
    reject.clear();
    void approve.run(async () => {
      const answer: ApprovedView = await call(
        'POST /api/accounts/:id/approve',
        { displayName: displayName.trim(), roles, phoneNumber: phoneNumber.trim(), note },
        { params: { id: account.accountId } },
      );
      onDone({
        email: account.email,
        text: `Approved ${account.email}.`,
        ...(answer.pendingChangeId ? { pendingChangeId: answer.pendingChangeId } : {}),
      });
    });
  };

  const onReject = () => {
    approve.clear();
    if (!rejectionReason.trim()) {
      reject.fail(new Error('Give a rejection reason in the field above, then press Reject.'));
      return;
    }
    void reject.run(async () => {
      await call('POST /api/accounts/:id/reject', { reason: rejectionReason.trim() }, { params: { id: account.accountId } });
      onDone({ email: account.email, text: `Rejected ${account.email}.` });
    });
  };

  return (
    <article class="card item" aria-label={`Pending account ${account.email}`}>
      <h3>{account.email}</h3>
      <p class="muted">
        Requested <Time iso={account.createdAt} />
        {account.phoneNumberMask && <> · phone {account.phoneNumberMask}</>}
      </p>
      <form onSubmit={onApprove}>
        <TextField label="Display name" value={displayName} onValue={setDisplayName} />
        <fieldset class="roles">
          <legend>Roles</legend>
          {ROLES.map((role) => (
            <CheckboxField
              key={role}
              label={`${ROLE_NAMES[role] ?? role} (${role})`}
              checked={roles.includes(role)}
              onChecked={(on) => toggle(role, on)}
            />
          ))}
        </fieldset>
        <TextField label="Phone number" type="tel" value={phoneNumber} onValue={setPhoneNumber} autoComplete="off" />
        <TextField label="Note" value={note} onValue={setNote} />
        <div class="button-row">
          <button type="submit" disabled={approve.busy || reject.busy}>
            Approve
          </button>
        </div>
      </form>
      <ErrorAlert error={approve.error} />
      <div class="reject">
        <TextField label="Rejection reason" value={rejectionReason} onValue={setRejectionReason} />
        <button type="button" class="danger" onClick={onReject} disabled={approve.busy || reject.busy}>
          Reject
        </button>
      </div>
      <ErrorAlert error={reject.error} />
    </article>
  );
}

/** Locked accounts (too many failed sign-ins): the officer unlocks them with a note. */
export function LockedAccounts() {
  const accounts = useResource(() => call('GET /api/accounts', undefined, { query: { locked: '1' } }), []);
  const [outcome, done] = useOutcome(accounts.reload, '');
  const list = accounts.data?.accounts ?? [];
  return (
    <Subsection
      title="Locked accounts"
      actions={<RefreshButton label="Refresh locked accounts" onRefresh={accounts.reload} />}
    >
      <CardList resource={accounts} count={list.length} empty="No locked accounts." outcome={outcome}>
        {list.map((account) => (
          <LockedAccount key={account.accountId} account={account} onDone={done} />
        ))}
      </CardList>
    </Subsection>
  );
}

function LockedAccount({ account, onDone }: { account: AccountView; onDone: (text: string) => void }) {
  const unlock = async (note: string) => {
    await call('POST /api/accounts/:id/unlock', { note }, { params: { id: account.accountId } });
    onDone(`Unlocked ${account.email}.`);
  };
  return (
    <article class="card item" aria-label={`Locked account ${account.email}`}>
      <h4>{account.displayName ? `${account.displayName} (${account.email})` : account.email}</h4>
      <p class="muted">
        Locked <Time iso={account.lockedAt} /> · state {account.state}
      </p>
      <NoteForm label="Unlock note" submit="Unlock" send={unlock} />
    </article>
  );
}
