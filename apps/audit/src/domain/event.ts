/**
 * The audit domain's view of an event. Enum values are their proto names as strings
 * ("ACTION_IDENTITY_OTP_VERIFY"): readable in storage and rules, and stable because proto
 * enum values are never renamed. The rpc layer converts to and from the generated types, so
 * the domain stays free of generated code.
 */
export interface AuditEventData {
  eventId: string;
  occurredAt: Date;
  service: string;
  action: string;
  outcome: string;
  actor: { kind: string; id: string; displayName: string };
  subject?: { kind: string; id: string; displayName: string } | undefined;
  customerDomain: string;
  sourceIp: string;
  environment: string;
  requestId: string;
  details: Record<string, string>;
  /** After Append: values in "hmac-sha256:<hex>" form, never clear. */
  hashedDetails: Record<string, string>;
}

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
