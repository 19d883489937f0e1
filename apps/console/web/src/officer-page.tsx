import { LockedAccounts, PendingAccounts } from './officer-accounts';
import { OpenAlerts } from './officer-alerts';
import { Allowlist } from './officer-allowlist';
import { Anomalies, ImpersonationLocks } from './officer-anomalies';
import { PageTitle, Section } from './ui';

/**
 * The security officer's queue: everything waiting for a decision on one page (accounts,
 * live alerts, burst anomalies, locks) plus the allowlist they manage.
 */
export function OfficerPage() {
  return (
    <>
      <PageTitle>Officer queue</PageTitle>
      <PendingAccounts />
      <OpenAlerts />
      <Anomalies />
      <Section title="Locks">
        <LockedAccounts />
        <ImpersonationLocks />
      </Section>
      <Allowlist />
    </>
  );
}
