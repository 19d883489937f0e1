import fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { AuditServiceClient, auditEventV1, auditV1, commonV1 } from '@gatehouse/contracts';
import { exportLine, trustedCheckpointFromText, verifyExportChunks, type TrustedCheckpoint, type TrustedKey } from '@gatehouse/audit-verify';
import { keyIdOf } from '@gatehouse/merkle';
import { call, dial, stream } from '@gatehouse/service-kit';
import { parseTime } from '../args.js';
import { securityFor, type CliSettings } from '../settings.js';
import { sessionToken } from '../session.js';
import { UsageError } from './pki.js';

/** Options of the audit commands (all optional; parsed by cli.ts). */
export interface AuditArgs {
  from?: string | undefined;
  to?: string | undefined;
  trusted?: string | undefined;
  limit?: string | undefined;
  actor?: string | undefined;
  subject?: string | undefined;
  action?: string | undefined;
  service?: string | undefined;
  outcome?: string | undefined;
  domain?: string | undefined;
  ip?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  desc?: boolean;
  /** Oldest first even with --limit. */
  asc?: boolean;
  json?: boolean;
  publicKey?: string | undefined;
  note?: string | undefined;
  /** verify: the export must cover at least this many entries. */
  trustedSize?: string | undefined;
  /** verify: a checkpoint saved earlier (`audit checkpoint --out`, or an earlier export) the export must extend. */
  trustedCheckpoint?: string | undefined;
  /** checkpoint: the new file to save it to. */
  out?: string | undefined;
}

type Out = (line: string) => void;

async function client(settings: CliSettings): Promise<AuditServiceClient> {
  return dial(AuditServiceClient, settings.address('audit'), await securityFor(settings, 'audit'));
}

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} must be a non-negative whole number`);
  return Number(v);
}

function date(name: string, v: string | undefined): Date | undefined {
  return v === undefined ? undefined : parseTime('audit query', `--${name}`, v);
}

/** Accepts full enum names (ACTION_IDENTITY_OTP_VERIFY) or their tail (identity_otp_verify). */
function enumList<T>(name: string, v: string | undefined, prefix: string, fromJSON: (s: string) => T, unknown: T): T[] {
  if (!v) return [];
  return v.split(',').map((raw) => {
    const full = raw.trim().toUpperCase().startsWith(prefix) ? raw.trim().toUpperCase() : `${prefix}${raw.trim().toUpperCase().replace(/[.-]/g, '_')}`;
    const value = fromJSON(full);
    if (value === unknown) throw new UsageError(`--${name}: unknown value ${JSON.stringify(raw)}`);
    return value;
  });
}

/**
 * One line per entry for people; --json gives the LogEntry as JSON for machines. The sequence is
 * the order audit appended the entry; `occurred=` is when it happened (the emitter's clock) and
 * `causal=<service>:<n>` the order its service recorded it, which is the causal order between
 * that service's events (issue 13 item 9). An outcome names its intent (`intent=`).
 */
export function formatEntry(e: auditV1.LogEntry, json: boolean): string {
  if (json) return JSON.stringify(auditV1.LogEntry.toJSON({ ...e, leafInput: Buffer.alloc(0), leafHash: Buffer.alloc(0) }));
  const ev = e.event;
  const strip = (s: string, p: string) => (s.startsWith(p) ? s.slice(p.length).toLowerCase() : s);
  return [
    `#${e.sequence}`,
    `occurred=${ev?.occurredAt?.toISOString() ?? '-'}`,
    `appended=${e.appendedAt?.toISOString() ?? '-'}`,
    ev?.causalCounter ? `causal=${strip(auditEventV1.serviceToJSON(ev.service), 'SERVICE_')}:${ev.causalCounter}` : '',
    strip(auditEventV1.actionToJSON(ev?.action ?? 0), 'ACTION_'),
    strip(auditEventV1.outcomeToJSON(ev?.outcome ?? 0), 'OUTCOME_'),
    `actor=${ev?.actor?.id || '-'}`,
    ev?.subject ? `subject=${strip(auditEventV1.subjectKindToJSON(ev.subject.kind), 'SUBJECT_KIND_')}:${ev.subject.id}` : '',
    ev?.sourceIp ? `ip=${ev.sourceIp}` : '',
    ev?.customerDomain ? `domain=${ev.customerDomain}` : '',
    ev?.intentEventId ? `intent=${ev.intentEventId}` : '',
    Object.keys(ev?.details ?? {}).length ? JSON.stringify(ev?.details) : '',
  ]
    .filter(Boolean)
    .join('  ');
}

/**
 * `gatehouse audit query`: filtered entries, paging through the server's cursor. With --limit the
 * newest come first (what an investigator wants to see); --asc or no limit: oldest first.
 */
export async function auditQuery(settings: CliSettings, env: Record<string, string | undefined>, a: AuditArgs, out: Out): Promise<number> {
  const c = await client(settings);
  const bearer = sessionToken(env);
  const limit = int('limit', a.limit) ?? 100;
  const descending = a.desc === true || (a.limit !== undefined && a.asc !== true);
  const filter = auditV1.EventFilter.fromPartial({
    occurred: a.since || a.until ? { startTime: date('since', a.since), endTime: date('until', a.until) } : undefined,
    services: enumList('service', a.service, 'SERVICE_', auditEventV1.serviceFromJSON, auditEventV1.Service.UNRECOGNIZED),
    actions: enumList('action', a.action, 'ACTION_', auditEventV1.actionFromJSON, auditEventV1.Action.UNRECOGNIZED),
    outcomes: enumList('outcome', a.outcome, 'OUTCOME_', auditEventV1.outcomeFromJSON, auditEventV1.Outcome.UNRECOGNIZED),
    actorId: a.actor,
    subjectId: a.subject,
    customerDomain: a.domain,
    sourceIp: a.ip,
  });
  let token = '';
  let shown = 0;
  try {
    do {
      const res = await call(
        c,
        c.query,
        auditV1.QueryRequest.fromPartial({
          filter,
          fromSequence: int('from', a.from),
          toSequence: int('to', a.to),
          order: descending ? auditV1.QueryOrder.QUERY_ORDER_DESCENDING : auditV1.QueryOrder.QUERY_ORDER_ASCENDING,
          pageSize: Math.min(1000, limit - shown),
          pageToken: token,
        }),
        { bearer },
      );
      for (const e of res.entries) out(formatEntry(e, a.json ?? false));
      shown += res.entries.length;
      token = res.nextPageToken;
    } while (token && shown < limit);
  } finally {
    c.close();
  }
  if (shown === 0) out(a.json ? '[]' : 'no events');
  return 0;
}

/** `gatehouse audit tail`: follows Watch, resuming after a disconnect from the next sequence. */
export async function auditTail(settings: CliSettings, env: Record<string, string | undefined>, a: AuditArgs, out: Out, signal: AbortSignal): Promise<number> {
  const bearer = sessionToken(env);
  let next = int('from', a.from);
  let delay = 500;
  while (!signal.aborted) {
    const c = await client(settings);
    try {
      const s = stream(c, c.watch, auditV1.WatchRequest.fromPartial({ fromSequence: next }), { bearer, signal });
      for await (const m of s as AsyncIterable<auditV1.WatchResponse>) {
        delay = 500;
        if (m.entry) {
          out(formatEntry(m.entry, a.json ?? false));
          next = m.entry.sequence + 1;
        } else if (m.heartbeat) next = m.heartbeat.nextSequence;
      }
    } catch (err) {
      const e = err as grpc.ServiceError;
      if (signal.aborted || e.code === grpc.status.CANCELLED) break;
      if (e.code !== grpc.status.UNAVAILABLE) throw err;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(10_000, delay * 2);
    } finally {
      c.close();
    }
  }
  return 0;
}

/** `gatehouse audit export > file`: NDJSON, one ExportResponse per line. */
export async function auditExport(settings: CliSettings, env: Record<string, string | undefined>, a: AuditArgs, out: Out): Promise<number> {
  const c = await client(settings);
  try {
    const s = stream(
      c,
      c.export,
      auditV1.ExportRequest.fromPartial({ fromSequence: int('from', a.from) ?? 0, toTreeSize: int('to', a.to), trustedTreeSize: int('trusted', a.trusted) }),
      { bearer: sessionToken(env) },
    );
    for await (const m of s as AsyncIterable<auditV1.ExportResponse>) out(exportLine(m));
  } finally {
    c.close();
  }
  return 0;
}

/** Reads a trusted public key: 32 raw bytes in base64, or an `audit keys` line "<key id> <base64>". */
export function readTrustedKey(spec: string): TrustedKey {
  const text = fs.existsSync(spec) ? fs.readFileSync(spec, 'utf8').trim() : spec.trim();
  const b64 = text.split(/\s+/).pop() ?? '';
  const raw = Buffer.from(b64, 'base64');
  if (raw.length !== 32) throw new UsageError('--public-key must be the audit signing key: 32 bytes in base64 (see `gatehouse audit keys`), or a file holding it');
  return { keyId: keyIdOf(raw), publicKey: raw };
}

/**
 * `gatehouse audit verify <file> --public-key <key>`: checks an export offline against its
 * checkpoints and the trusted key; names the first bad sequence and the damage; exit 1 if bad.
 */
export async function auditVerify(file: string | undefined, a: AuditArgs, out: Out): Promise<number> {
  if (!file) throw new UsageError('audit verify: give the export file: gatehouse audit verify <file> --public-key <key>');
  if (!a.publicKey) throw new UsageError('audit verify: --public-key is required (the key you trust, from `gatehouse audit keys`); keys inside the file prove nothing');
  const key = readTrustedKey(a.publicKey);
  if (!fs.existsSync(file)) throw new UsageError(`audit verify: ${file} does not exist`);
  let trustedCheckpoint: TrustedCheckpoint | undefined;
  if (a.trustedCheckpoint !== undefined) {
    if (!fs.existsSync(a.trustedCheckpoint)) throw new UsageError(`audit verify: --trusted-checkpoint ${a.trustedCheckpoint} does not exist`);
    try {
      trustedCheckpoint = trustedCheckpointFromText(fs.readFileSync(a.trustedCheckpoint, 'utf8'), [key]);
    } catch (err) {
      throw new UsageError(`audit verify: --trusted-checkpoint ${a.trustedCheckpoint}: ${(err as Error).message}`);
    }
  }
  const trustedSize = int('trusted-size', a.trustedSize);
  const report = await verifyExportChunks(fs.createReadStream(file, { highWaterMark: 1 << 20 }), {
    trustedKeys: [key],
    ...(trustedCheckpoint ? { trustedCheckpoint } : {}),
    ...(trustedSize !== undefined ? { trustedSize } : {}),
  });
  if (a.json) out(JSON.stringify(report));
  else if (report.ok) out(`OK: ${report.entries} entries, tree size ${report.treeSize}, ${report.checkpointsVerified} checkpoint(s) verified with key ${key.keyId}`);
  else out(`BAD: ${report.damage} at sequence ${report.firstBadSequence ?? '?'}: ${report.detail}`);
  return report.ok ? 0 : 1;
}

/**
 * `gatehouse audit checkpoint --out FILE`: saves the latest signed checkpoint (one
 * {"checkpoint":...} line, as in an export) to pin, like the key, for `verify --trusted-checkpoint`.
 */
export async function auditCheckpoint(settings: CliSettings, a: AuditArgs, out: Out): Promise<number> {
  const c = await client(settings);
  try {
    const res = await call(c, c.getCheckpoint, { fresh: true });
    const line = exportLine(auditV1.ExportResponse.fromPartial({ checkpoint: res.checkpoint }));
    if (a.out) {
      fs.writeFileSync(a.out, `${line}\n`, { flag: 'wx' });
      out(`saved the checkpoint of tree size ${res.checkpoint?.treeSize ?? 0} (key ${res.checkpoint?.keyId ?? '?'}) to ${a.out}`);
    } else out(line);
  } finally {
    c.close();
  }
  return 0;
}

/** `gatehouse audit keys`: the checkpoint keys, to pin for offline verification. */
export async function auditKeys(settings: CliSettings, out: Out): Promise<number> {
  const c = await client(settings);
  try {
    const res = await call(c, c.getSigningKeys, {});
    for (const k of res.keys) out(`${k.keyId} ${commonV1.keyStatusToJSON(k.status)} ${Buffer.from(k.publicKey).toString('base64')}`);
  } finally {
    c.close();
  }
  return 0;
}

/** `gatehouse audit hash <value>`: the HMAC form hashed_details hold, to search for a known value. */
export async function auditHash(settings: CliSettings, env: Record<string, string | undefined>, value: string | undefined, out: Out): Promise<number> {
  if (!value) throw new UsageError('audit hash: give the value: gatehouse audit hash <value>');
  const c = await client(settings);
  try {
    out((await call(c, c.hashValue, { value }, { bearer: sessionToken(env) })).hashedValue);
  } finally {
    c.close();
  }
  return 0;
}

function formatAlert(a: auditV1.Alert): string {
  return [
    a.alertId,
    auditV1.alertStateToJSON(a.state).replace('ALERT_STATE_', '').toLowerCase(),
    auditV1.alertSeverityToJSON(a.severity).replace('ALERT_SEVERITY_', '').toLowerCase(),
    a.raisedAt?.toISOString() ?? '-',
    a.ruleId,
    a.summary,
  ].join('  ');
}

/** `gatehouse alerts [list|watch|ack <id> --note ...]`. */
export async function alerts(settings: CliSettings, env: Record<string, string | undefined>, sub: string | undefined, id: string | undefined, a: AuditArgs, out: Out, signal: AbortSignal): Promise<number> {
  const c = await client(settings);
  const bearer = sessionToken(env);
  try {
    if (sub === undefined || sub === 'list') {
      const res = await call(c, c.listAlerts, auditV1.ListAlertsRequest.fromPartial({ pageSize: int('limit', a.limit) ?? 50 }), { bearer });
      for (const al of res.alerts) out(a.json ? JSON.stringify(auditV1.Alert.toJSON(al)) : formatAlert(al));
      return 0;
    }
    if (sub === 'watch') {
      const s = stream(c, c.watchAlerts, auditV1.WatchAlertsRequest.fromPartial({}), { bearer, signal });
      try {
        for await (const m of s as AsyncIterable<auditV1.WatchAlertsResponse>) {
          if (m.alert) out(a.json ? JSON.stringify(auditV1.WatchAlertsResponse.toJSON(m)) : `${auditV1.alertChangeToJSON(m.change).replace('ALERT_CHANGE_', '').toLowerCase()}  ${formatAlert(m.alert)}`);
        }
      } catch (err) {
        if (!signal.aborted && (err as grpc.ServiceError).code !== grpc.status.CANCELLED) throw err;
      }
      return 0;
    }
    if (sub === 'ack') {
      if (!id) throw new UsageError('alerts ack: give the alert id: gatehouse alerts ack <id> --note "what was checked"');
      if (!a.note) throw new UsageError('alerts ack: --note is required (say what was checked and why the alert is closed)');
      const res = await call(c, c.acknowledgeAlert, { alertId: id, note: a.note }, { bearer });
      out(`acknowledged ${res.alert ? formatAlert(res.alert) : id}`);
      return 0;
    }
    throw new UsageError(`alerts: unknown subcommand ${JSON.stringify(sub)} (list, watch, ack)`);
  } finally {
    c.close();
  }
}
