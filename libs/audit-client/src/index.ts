// @gatehouse/audit-client: the transactional outbox (storage part).
export {
  checkEventId,
  MAX_EVENT_ID_LENGTH,
  MAX_OUTBOX_ERROR_LENGTH,
  type OutboxAck,
  type OutboxEvent,
  type OutboxRecord,
  type OutboxRepository,
} from './outbox-repository.js';
export { SqliteOutboxRepository, outboxSqliteMigrations } from './outbox-sqlite-repository.js';
export { MongoOutboxRepository, outboxMongoIndexes } from './outbox-mongo-repository.js';
export { AuditRelay, type AuditAck, type AuditSender, type RelayOptions, type ShipResult } from './relay.js';
export { AuditEmitter, type AuditEventInput, type ConfirmedEvent, type EmitterOptions } from './emitter.js';
export { grpcAuditSender } from './grpc-sender.js';
export { auditedUnitOfWork, type AuditedTransaction, type AuditedUnitOfWork } from './audited-unit-of-work.js';
export { auditedUnitsInTurn } from './units-in-turn.js';
export { auditedKeyCreation } from './audited-key-creation.js';
export {
  validateEvent,
  validateBatch,
  secretLooking,
  isCanonicalIp,
  serviceForCaller,
  APPEND_LIMITS,
  type AuditEventData,
} from './event-rules.js';
export { eventDataFromProto } from './event-data.js';
export {
  outboxAuditSink,
  toAuditEventInput,
  type AuditIntent,
  type AuditSink,
  type DomainAuditEvent,
  type EventActor,
  type EventSubject,
} from './domain-events.js';
