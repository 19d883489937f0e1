/**
 * The audit domain's view of an event. Enum values are their proto names as strings
 * ("ACTION_IDENTITY_OTP_VERIFY"): readable in storage and rules, and stable because proto
 * enum values are never renamed. The rpc layer converts to and from the generated types, so
 * the domain stays free of generated code.
 */
export type { AuditEventData } from '@gatehouse/audit-client';
import type { AuditEventData } from '@gatehouse/audit-client';

/** An event as the log holds it: with its sequence and what the leaf commits to. */
export interface LogRecord {
  sequence: number;
  event: AuditEventData;
  appendedAt: Date;
  /** `<kind>:<name>` of the caller's certificate. */
  submittedBy: string;
  /** The LeafData bytes the Merkle leaf commits to. */
  leafInput: Uint8Array;
  /** SHA-256(0x00 || leafInput). */
  leafHash: Uint8Array;
}
