import { extendTransaction, faultPoint, type Transaction, type UnitOfWork } from '@gatehouse/core';
import { toAuditEventInput, type DomainAuditEvent } from './domain-events.js';
import type { AuditEmitter, AuditEventInput } from './emitter.js';

/**
 * The transaction a use case receives: pass it to repositories as usual, and stage the events
 * that record what it did with `audit()`. They go into the outbox in the same transaction, so
 * the state change and its trace are durable together or not at all (issue 14: a crash between
 * two commits used to leave an approval with no event).
 */
export interface AuditedTransaction<A extends string = string> extends Transaction {
  /**
   * Stages events of this unit. They are checked against audit's rules before the commit: an
   * event audit would refuse fails the unit, which rolls back instead of committing an
   * unshippable trace.
   */
  audit(...events: DomainAuditEvent<A>[]): void;
  /**
   * A crash-test kill point after a write (issue 14 item 5): `<service>.<use case>.<step>`.
   * Inert unless GATEHOUSE_TEST_FAULT_POINT names it.
   */
  faultPoint(step: string): void;
}

/** Runs a use case's writes and its audit events as one atomic unit (DESIGN.md §5). */
export interface AuditedUnitOfWork<A extends string = string> {
  /**
   * `useCase` names the unit for crash tests: besides the unit's own points, every unit can be
   * killed at `<service>.<useCase>.before-commit` (all written, nothing committed) and
   * `.after-commit` (committed, the caller not yet told).
   */
  run<T>(fn: (tx: AuditedTransaction<A>) => Promise<T>, useCase?: string): Promise<T>;
}

/**
 * The unit of work every service's domain uses for state changes. The store's own unit of work
 * (SQLite: one transaction, group-committed; MongoDB: one multi-document transaction) carries the
 * repositories' writes and the outbox rows; the relay is nudged only after the commit.
 */
export function auditedUnitOfWork<A extends string>(service: string, store: UnitOfWork, emitter: AuditEmitter): AuditedUnitOfWork<A> {
  return {
    async run<T>(fn: (tx: AuditedTransaction<A>) => Promise<T>, useCase = 'unit'): Promise<T> {
      const point = (step: string) => faultPoint(`${service}.${useCase}.${step}`);
      let staged = 0;
      const result = await store.run(async (tx) => {
        // Fresh per attempt: the MongoDB adapter re-runs the function after a transient conflict.
        const events: AuditEventInput[] = [];
        const audited = extendTransaction(tx, {
          audit: (...more: DomainAuditEvent<A>[]) => {
            for (const e of more) events.push(toAuditEventInput(service, e));
          },
          faultPoint: point,
        });
        const out = await fn(audited);
        if (events.length > 0) await emitter.record(tx, ...events);
        staged = events.length;
        point('before-commit');
        return out;
      });
      point('after-commit');
      if (staged > 0) emitter.nudge();
      return result;
    },
  };
}
