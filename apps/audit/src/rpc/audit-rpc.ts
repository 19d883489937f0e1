import { createHash } from 'node:crypto';
import { AuditServiceService, SERVICE_NAMES, auditEventV1, auditV1, commonV1 } from '@gatehouse/contracts';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '@gatehouse/core';
import { callers, serverStream, unary, type CallerRule, type RequestContext, type ServiceBinding } from '@gatehouse/service-kit';
import type { AuditLog } from '../domain/audit-log.js';
import type { AlertService } from '../domain/alert-service.js';
import type { Acknowledger, AlertRecord } from '../domain/alert-store.js';
import type { LogFilter } from '../domain/ports.js';
import type { LiveFeed } from '../domain/live-feed.js';
import type { OwnEvents } from './own-events.js';
import { buf, checkpointToProto, entryToProto, eventFromProto, ruleToProto } from './convert.js';

/**
 * Who may call each AuditService RPC, by certificate kind (the contract's "Callers:" lines).
 * Reads additionally need an officer/manager session or a configured reader backend.
 */
export const auditPolicy: Readonly<Record<string, CallerRule>> = {
  Append: callers.anyAuthenticated,
  Query: callers.operatorsAndBackends,
  Watch: callers.operatorsAndBackends,
  Export: callers.operatorsAndBackends,
  GetCheckpoint: callers.anyAuthenticated,
  GetInclusionProof: callers.anyAuthenticated,
  GetConsistencyProof: callers.anyAuthenticated,
  GetSigningKeys: callers.anyAuthenticated,
  HashValue: callers.operators,
  ListAlertRules: callers.operators,
  ListAlerts: callers.operatorsAndBackends,
  WatchAlerts: callers.operatorsAndBackends,
  AcknowledgeAlert: callers.operatorsAndConsole,
};

/** Role checks on the employee's session (ASVS 8.2; decisions use the originating subject). */
export interface AuditAuthz {
  /** Log readers: security_officer or manager sessions, or a backend named as a reader. Returns who. */
  requireReader(ctx: RequestContext): Promise<string>;
  /** The security officer (acknowledging alerts, hashing values). */
  requireOfficer(ctx: RequestContext): Promise<Acknowledger>;
}

/** What the handlers need. */
export interface AuditRpcDeps {
  log: AuditLog;
  alerts: AlertService;
  feed: LiveFeed;
  alertFeed: LiveFeed;
  authz: AuditAuthz;
  signingKey: { keyId: string; publicKey: Uint8Array; createdAt: Date };
  origin: string;
  own: OwnEvents;
  /** How often streams re-read the store without a wake-up, and send heartbeats. */
  pollMs?: number;
  heartbeatMs?: number;
}

const E = auditEventV1;

function filterFromProto(req: auditV1.QueryRequest): LogFilter {
  const f = req.filter;
  const str = (v: string | undefined) => (v === undefined ? undefined : String(v));
  return {
    occurredFrom: f?.occurred?.startTime,
    occurredTo: f?.occurred?.endTime,
    services: (f?.services ?? []).map(E.serviceToJSON),
    actions: (f?.actions ?? []).map(E.actionToJSON),
    outcomes: (f?.outcomes ?? []).map(E.outcomeToJSON),
    actorId: str(f?.actorId),
    subjectKind: f?.subjectKind === undefined ? undefined : E.subjectKindToJSON(f.subjectKind),
    subjectId: str(f?.subjectId),
    customerDomain: str(f?.customerDomain),
    sourceIp: str(f?.sourceIp),
    environments: (f?.environments ?? []).map(commonV1.environmentToJSON),
    requestId: str(f?.requestId),
    fromSequence: req.fromSequence,
    toSequence: req.toSequence,
  };
}

/** Page tokens carry the last sequence and a digest of the filter they belong to. */
function pageToken(after: number, filterDigest: string): string {
  return Buffer.from(JSON.stringify({ a: after, f: filterDigest })).toString('base64url');
}
function readPageToken(token: string, filterDigest: string): number | undefined {
  if (token === '') return undefined;
  try {
    const t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { a?: unknown; f?: unknown };
    if (typeof t.a === 'number' && Number.isSafeInteger(t.a) && t.a >= 0 && t.f === filterDigest) return t.a;
  } catch {
    // fall through
  }
  throw new InvalidArgumentError('page_token', 'is malformed or belongs to another query');
}

function alertToProto(a: AlertRecord): auditV1.Alert {
  return auditV1.Alert.fromPartial({
    alertId: a.alertId,
    ruleId: a.ruleId,
    ruleName: a.ruleName,
    severity: auditV1.alertSeverityFromJSON(a.severity),
    state: auditV1.alertStateFromJSON(a.state),
    summary: a.summary,
    groupKey: a.groupKey,
    count: a.count,
    threshold: a.threshold,
    window: { seconds: Math.floor(a.windowMs / 1000), nanos: (a.windowMs % 1000) * 1_000_000 },
    firstSequence: a.firstSequence,
    lastSequence: a.lastSequence,
    raisedAt: a.raisedAt,
    acknowledgedAt: a.acknowledgedAt,
    acknowledgedBy: a.acknowledgedBy
      ? { accountId: a.acknowledgedBy.accountId, email: a.acknowledgedBy.email, roles: a.acknowledgedBy.roles.map((r) => commonV1.roleFromJSON(`ROLE_${r.toUpperCase()}`)) }
      : undefined,
    acknowledgementNote: a.note ?? '',
  });
}

/** The AuditService binding: handlers only translate between proto and domain. */
export function auditBinding(d: AuditRpcDeps): ServiceBinding {
  const pollMs = d.pollMs ?? 1_000;
  const heartbeatMs = d.heartbeatMs ?? 15_000;
  const signingKey = commonV1.SigningKey.fromPartial({
    keyId: d.signingKey.keyId,
    algorithm: commonV1.KeyAlgorithm.KEY_ALGORITHM_ED25519,
    publicKey: buf(d.signingKey.publicKey),
    notBefore: d.signingKey.createdAt,
    status: commonV1.KeyStatus.KEY_STATUS_ACTIVE,
  });

  return {
    name: SERVICE_NAMES.audit,
    definition: AuditServiceService,
    policy: auditPolicy,
    handlers: {
      Append: unary<auditV1.AppendRequest, auditV1.AppendResponse>(async (req, ctx) => {
        const caller = ctx.caller ?? { kind: 'operator' as const, name: 'insecure-loopback' };
        const results = await d.log.append(req.events.map(eventFromProto), caller);
        return { results: results.map((r) => ({ eventId: r.eventId, sequence: r.sequence, duplicate: r.duplicate, appendedAt: r.appendedAt })) };
      }),

      Query: unary<auditV1.QueryRequest, auditV1.QueryResponse>(async (req, ctx) => {
        await d.authz.requireReader(ctx);
        const filter = filterFromProto(req);
        const descending = req.order === auditV1.QueryOrder.QUERY_ORDER_DESCENDING;
        const digest = createHash('sha256').update(JSON.stringify([auditV1.EventFilter.toJSON(req.filter ?? auditV1.EventFilter.fromPartial({})), req.fromSequence, req.toSequence, descending])).digest('base64url').slice(0, 16);
        const limit = req.pageSize === 0 ? 100 : req.pageSize;
        const after = readPageToken(req.pageToken, digest);
        const records = await d.log.query(filter, { after, limit, descending, deadline: ctx.deadline });
        const last = records[records.length - 1];
        return {
          entries: records.map(entryToProto),
          nextPageToken: records.length === limit && last ? pageToken(last.sequence, digest) : '',
          treeSize: await d.log.treeSize(),
        };
      }),

      Watch: serverStream<auditV1.WatchRequest, auditV1.WatchResponse>(async (req, ctx, send) => {
        await d.authz.requireReader(ctx);
        let next = req.fromSequence ?? (await d.log.treeSize());
        const size = await d.log.treeSize();
        if (next > size) throw new InvalidArgumentError('from_sequence', `${next} is beyond the current tree size ${size}`);
        let lastBeat = Date.now();
        while (!ctx.signal.aborted) {
          const batch = await d.log.range(next, Number.MAX_SAFE_INTEGER, 500);
          for (const r of batch) {
            await send({ entry: entryToProto(r) });
            next = r.sequence + 1;
          }
          if (batch.length === 500) continue;
          if (Date.now() - lastBeat >= heartbeatMs) {
            await send({ heartbeat: { nextSequence: next, sentAt: new Date() } });
            lastBeat = Date.now();
          }
          await d.feed.wait(Math.min(pollMs, heartbeatMs), ctx.signal);
        }
      }),

      Export: serverStream<auditV1.ExportRequest, auditV1.ExportResponse>(async (req, ctx, send) => {
        const who = await d.authz.requireReader(ctx);
        const current = await d.log.treeSize();
        // After an integrity failure nothing new is signed: by default, up to the last signed checkpoint.
        const to = req.toTreeSize ?? (await d.log.exportableSize());
        if (to > current) throw new InvalidArgumentError('to_tree_size', `${to} exceeds the current tree size ${current}`);
        if (req.fromSequence > to) throw new InvalidArgumentError('from_sequence', `${req.fromSequence} exceeds to_tree_size ${to}`);
        const trusted = req.trustedTreeSize;
        if (trusted !== undefined && trusted > to) throw new InvalidArgumentError('trusted_tree_size', `${trusted} exceeds to_tree_size ${to}`);
        await d.own.exported(who, ctx.peerIp, ctx.requestId, { from: req.fromSequence, to });
        const final = await d.log.checkpointAt(to);
        const proof = trusted !== undefined && trusted > 0 ? (await d.log.consistencyProof(trusted, to)).proof : [];
        await send({
          header: {
            formatVersion: 1,
            origin: d.origin,
            fromSequence: req.fromSequence,
            checkpoint: checkpointToProto(final),
            signingKeys: [signingKey],
            prefixSubtreeHashes: (await d.log.prefixSubtrees(req.fromSequence)).map(buf),
            trustedTreeSize: trusted ?? 0,
            consistencyProof: proof.map(buf),
            exportedAt: new Date(),
          },
        });
        const intermediates = await d.log.checkpointsBetween(req.fromSequence, to - 1);
        let ci = 0;
        let entries = 0;
        let checkpoints = 0;
        for (let next = req.fromSequence; next < to && !ctx.signal.aborted; ) {
          const batch = await d.log.range(next, to, 1000);
          if (batch.length === 0) break;
          for (const r of batch) {
            await send({ entry: entryToProto(r) });
            entries += 1;
            next = r.sequence + 1;
            while (intermediates[ci] && intermediates[ci]!.treeSize <= next) {
              if (intermediates[ci]!.treeSize === next) {
                await send({ checkpoint: checkpointToProto(intermediates[ci]!) });
                checkpoints += 1;
              }
              ci += 1;
            }
          }
        }
        await send({ trailer: { entryCount: entries, checkpointCount: checkpoints } });
      }),

      GetCheckpoint: unary<auditV1.GetCheckpointRequest, auditV1.GetCheckpointResponse>(async (req) => ({
        checkpoint: checkpointToProto(await d.log.checkpoint(req.fresh)),
        signingKey,
      })),

      GetInclusionProof: unary<auditV1.GetInclusionProofRequest, auditV1.GetInclusionProofResponse>(async (req) => {
        const p = await d.log.inclusionProof(req.sequence, req.treeSize);
        return { leafIndex: p.leafIndex, treeSize: p.treeSize, leafHash: buf(p.leafHash), auditPath: p.path.map(buf) };
      }),

      GetConsistencyProof: unary<auditV1.GetConsistencyProofRequest, auditV1.GetConsistencyProofResponse>(async (req) => {
        const p = await d.log.consistencyProof(req.firstTreeSize, req.secondTreeSize);
        return { firstTreeSize: p.first, secondTreeSize: p.second, proof: p.proof.map(buf) };
      }),

      GetSigningKeys: unary<auditV1.GetSigningKeysRequest, auditV1.GetSigningKeysResponse>(async () => ({ origin: d.origin, keys: [signingKey] })),

      HashValue: unary<auditV1.HashValueRequest, auditV1.HashValueResponse>(async (req, ctx) => {
        const officer = await d.authz.requireOfficer(ctx);
        const hashedValue = d.log.hashValue(req.value);
        await d.own.hashed(officer, ctx.peerIp, ctx.requestId);
        return { hashedValue };
      }),

      ListAlertRules: unary<auditV1.ListAlertRulesRequest, auditV1.ListAlertRulesResponse>(async (_req, ctx) => {
        await d.authz.requireReader(ctx);
        return { rules: d.alerts.rules.map(ruleToProto), nextPageToken: '' };
      }),

      ListAlerts: unary<auditV1.ListAlertsRequest, auditV1.ListAlertsResponse>(async (req, ctx) => {
        await d.authz.requireReader(ctx);
        const limit = req.pageSize === 0 ? 100 : req.pageSize;
        if (limit < 1 || limit > 1000) throw new InvalidArgumentError('page_size', 'must be between 1 and 1000');
        let before: { raisedAt: Date; alertId: string } | undefined;
        if (req.pageToken) {
          try {
            const t = JSON.parse(Buffer.from(req.pageToken, 'base64url').toString('utf8')) as { r: number; i: string };
            before = { raisedAt: new Date(t.r), alertId: String(t.i) };
          } catch {
            throw new InvalidArgumentError('page_token', 'is malformed');
          }
        }
        const cursor = await d.alerts.latestCursor();
        const alerts = await d.alerts.list(
          {
            states: req.states.map(auditV1.alertStateToJSON),
            severities: req.severities.map(auditV1.alertSeverityToJSON),
            ruleId: req.ruleId,
            raisedFrom: req.raised?.startTime,
            raisedTo: req.raised?.endTime,
          },
          { before, limit },
        );
        const last = alerts[alerts.length - 1];
        return {
          alerts: alerts.map(alertToProto),
          nextPageToken: alerts.length === limit && last ? Buffer.from(JSON.stringify({ r: last.raisedAt.getTime(), i: last.alertId })).toString('base64url') : '',
          watchCursor: cursor,
        };
      }),

      WatchAlerts: serverStream<auditV1.WatchAlertsRequest, auditV1.WatchAlertsResponse>(async (req, ctx, send) => {
        await d.authz.requireReader(ctx);
        const latest = await d.alerts.latestCursor();
        let cursor = req.afterCursor ?? latest;
        if (cursor > latest) throw new InvalidArgumentError('after_cursor', `${cursor} is beyond the latest cursor ${latest}`);
        while (!ctx.signal.aborted) {
          const changes = await d.alerts.changesAfter(cursor, 200);
          for (const c of changes) {
            await send({ cursor: c.cursor, change: auditV1.alertChangeFromJSON(c.change), alert: alertToProto(c.alert) });
            cursor = c.cursor;
          }
          if (changes.length === 200) continue;
          await d.alertFeed.wait(pollMs, ctx.signal);
        }
      }),

      AcknowledgeAlert: unary<auditV1.AcknowledgeAlertRequest, auditV1.AcknowledgeAlertResponse>(async (req, ctx) => {
        const officer = await d.authz.requireOfficer(ctx);
        const result = await d.alerts.acknowledge(req.alertId, officer, req.note, { peerIp: ctx.peerIp, requestId: ctx.requestId });
        if (result === undefined) throw new NotFoundError(`alert ${JSON.stringify(req.alertId.slice(0, 64))} does not exist`);
        if (result === 'already') throw new FailedPreconditionError(`alert ${req.alertId} is already acknowledged`);
        return { alert: alertToProto(result.alert) };
      }),
    },
  };
}
