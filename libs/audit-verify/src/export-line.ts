import { InvalidArgumentError } from '@gatehouse/core';
import { auditV1 } from '@gatehouse/contracts';

/** The four record kinds of an export line, in the ExportResponse oneof. */
export type ExportRecordKind = 'header' | 'entry' | 'checkpoint' | 'trailer';

const KINDS: ReadonlySet<string> = new Set<ExportRecordKind>(['header', 'entry', 'checkpoint', 'trailer']);

/**
 * One NDJSON line of an export file (no trailing newline): the proto3 JSON form of the
 * ExportResponse as the generated `toJSON` writes it. Writer and verifier share this function,
 * so the canonical form the fast verification path expects is defined in one place.
 */
export function exportLine(msg: auditV1.ExportResponse): string {
  return JSON.stringify(auditV1.ExportResponse.toJSON(msg));
}

/** A parsed line: its record kind and the raw JSON object of that record. */
export interface RawExportRecord {
  kind: ExportRecordKind;
  json: Record<string, unknown>;
}

/**
 * Parses a line into its record kind and raw JSON, refusing anything that is not a JSON object
 * holding exactly one of header, entry, checkpoint, trailer. Throws InvalidArgumentError.
 */
export function parseExportRecord(line: string): RawExportRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new InvalidArgumentError('line', 'is not valid JSON');
  }
  if (!isObject(parsed)) throw new InvalidArgumentError('line', 'is not a JSON object');
  const keys = Object.keys(parsed);
  const kind = keys[0];
  if (keys.length !== 1 || kind === undefined || !KINDS.has(kind)) {
    throw new InvalidArgumentError('line', `must hold exactly one of header, entry, checkpoint, trailer; has ${keys.length === 0 ? 'none' : keys.join(', ')}`);
  }
  const json = parsed[kind];
  if (!isObject(json)) throw new InvalidArgumentError(`line.${kind}`, 'is not a JSON object');
  return { kind: kind as ExportRecordKind, json };
}

/** Parses one export line back into its ExportResponse. Throws InvalidArgumentError if malformed. */
export function parseExportLine(line: string): auditV1.ExportResponse {
  const { kind, json } = parseExportRecord(line);
  return auditV1.ExportResponse.fromJSON({ [kind]: json });
}

/** A plain JSON object (not null, not an array). */
export function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
