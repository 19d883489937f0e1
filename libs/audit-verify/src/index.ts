export { exportLine, parseExportLine, parseExportRecord, type ExportRecordKind, type RawExportRecord } from './export-line.js';
export { TrustedKeySet, checkpointFields, type TrustedKey, type CheckpointProblem } from './trusted-keys.js';
export { EntryChecker, type EntryStatus } from './entry-check.js';
export {
  ExportVerifier,
  verifyExport,
  verifyExportChunks,
  trustedCheckpointFromText,
  type Damage,
  type TrustedCheckpoint,
  type VerifyOptions,
  type VerifyReport,
  type VerifyRunOptions,
} from './verify-export.js';
/** Test support: a synthetic, signed log exported as the service does (verifier and CLI tests). */
export { SyntheticLog, newTestKey } from './test-support/synthetic-log.js';
