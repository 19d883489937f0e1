import { MongoOutboxRepository, SqliteOutboxRepository } from '@gatehouse/audit-client';
import type { HostedService } from '@gatehouse/service-host';

/**
 * Waits until every hosted service's audit outbox has shipped what it holds (nudging the
 * relays), so a test can look at what the audit side received. Gives up after `timeoutMs`.
 */
export async function drainOutbox(hosted: readonly HostedService[], timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let pending = 0;
    for (const h of hosted) {
      h.relay?.nudge();
      const outbox = h.store.backend === 'sqlite' ? new SqliteOutboxRepository(h.store.store) : new MongoOutboxRepository(h.store.store);
      pending += await outbox.countPending();
    }
    if (pending === 0 || Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 25));
  }
}
