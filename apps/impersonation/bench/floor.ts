// The floors of StartImpersonation (issue 14 item 7). A critical action cannot beat the least
// durable work it must do: one mTLS round trip to a server that makes ONE fsynced commit of the
// rows the action's unit of work commits. The strict floor is a bare kit RPC (startBareRpc) with
// impersonation's own binding name, definition and caller policy (impersonationPolicy: the same
// mTLS, the same gatekeeper the kit gives a bare RPC) whose StartImpersonation awaits that commit
// (openCommitFloor: the same SqliteStore with WAL, synchronous=FULL and group commit) and answers
// a canned response of the real size.
//
// A second, informative floor ("floor + waits"): a start must also ask the allowlist (one Check
// round trip) and have audit confirm its intent (one Append round trip) before its unit, so its
// handler first makes one bare mTLS Check round trip to a bare AllowlistService answering ALLOW,
// then one bare mTLS Append round trip (impersonation's own client certificate) to a bare
// AuditService whose Append commits its events in a store of its own, then the unit's commit.
// The goal line uses the strict floor; this one only lets the note explain the gap.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import {
  AllowlistServiceClient,
  AllowlistServiceService,
  ImpersonationServiceService,
  SERVICE_NAMES,
  allowlistV1,
  auditEventV1,
  auditV1,
  commonV1,
  type impersonationV1,
} from '@gatehouse/contracts';
import { toAuditEventInput } from '@gatehouse/audit-client';
import { loadTlsMaterial } from '@gatehouse/pki';
import { call, callers, dial, sameRuleForAll, unary, type RunningServer } from '@gatehouse/service-kit';
import { openCommitFloor, startAuditFloor, startBareRpc, type CommitFloor } from '@gatehouse/testing';
import { impersonationPolicy } from '../src/rpc/impersonation-rpc.js';

/**
 * Rows StartImpersonation commits in its one unit (Impersonation.start): the burst window's
 * compare-and-set write (insert or update of its one row), the grant insert and the START outcome
 * event in the outbox. (The confirmed intent is written and shipped before the unit: the
 * "floor + waits" figure accounts for its round trip.)
 */
export const START_ROWS = 3;
/** Bytes per floor row: about a grant row, a window document or an encoded audit event. */
export const START_ROW_BYTES = 450;

/** The running floors: a client of each (impersonation's own server name, the cli operator certificate). */
export interface StartFloors {
  /** The strict floor: bare RPC + one fsynced commit of the unit's rows. */
  strict: string;
  /** The strict floor after one Check round trip and one confirmed Append round trip. */
  withWaits: string;
  /** The strict floor's store, for its commit count. */
  floor: CommitFloor;
  close(): Promise<void>;
}

/** Starts both floors with the harness's PKI; `canned` is a real StartImpersonation answer (same size). */
export async function startStartFloors(pkiDir: string, canned: impersonationV1.StartImpersonationResponse): Promise<StartFloors> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'impersonation-floor-'));
  fs.mkdirSync(path.join(dir, 'impersonation'));
  const floor = openCommitFloor(path.join(dir, 'impersonation'));
  const audit = await startAuditFloor({ pkiDir, dir: path.join(dir, 'audit'), clientName: 'impersonation', rowBytes: START_ROW_BYTES });
  const servers: RunningServer[] = [];
  const allow = allowlistV1.CheckResponse.fromPartial({ decision: allowlistV1.CheckDecision.CHECK_DECISION_ALLOW, canonicalIp: '127.0.0.1' });
  const allowlist = await startBareRpc({
    service: 'allowlist',
    pkiDir,
    binding: {
      name: SERVICE_NAMES.allowlist,
      definition: AllowlistServiceService,
      policy: sameRuleForAll(AllowlistServiceService, callers.anyAuthenticated),
      handlers: { Check: unary<allowlistV1.CheckRequest, allowlistV1.CheckResponse>(async () => allow) },
    },
  });
  servers.push(allowlist);
  const own = await loadTlsMaterial(pkiDir, 'impersonation');
  const allowlistClient = dial(AllowlistServiceClient, `127.0.0.1:${allowlist.port}`, { mode: 'mtls', material: { ...own, expectedServerName: 'allowlist' } });
  // An intent of the real shape: the start's ATTEMPTED event as the domain builds it (toAuditEventInput).
  const g = canned.grant;
  const intentEvent = auditEventV1.AuditEvent.fromPartial({
    ...toAuditEventInput('impersonation', {
      action: 'start',
      outcome: 'attempted',
      actor: { kind: 'employee', id: g?.employee?.accountId ?? 'acc-floor', displayName: g?.employee?.email ?? 'floor@corp.example' },
      subject: { kind: 'impersonation_grant', id: g?.grantId ?? 'gr_floor' },
      customerDomain: g?.customerDomain ?? 'floor.example',
      sourceIp: '127.0.0.1',
      requestId: randomUUID(),
      details: { reason: 'customer_support_case', role: 'support', ticket_ref: 'SUP-BENCH-1', duration_minutes: '30', expires_at: new Date().toISOString() },
      hashedDetails: { customer_user_id: g?.targetUserId ?? 'floor-user' },
    }),
    eventId: randomUUID(),
    occurredAt: new Date(),
  });
  const check = allowlistV1.CheckRequest.fromPartial({ ip: '127.0.0.1', accountId: g?.employee?.accountId ?? 'acc-floor', environment: commonV1.Environment.ENVIRONMENT_LIVE });
  const binding = (start: () => Promise<void>) => ({
    name: SERVICE_NAMES.impersonation,
    definition: ImpersonationServiceService,
    policy: impersonationPolicy,
    handlers: {
      StartImpersonation: unary<impersonationV1.StartImpersonationRequest, impersonationV1.StartImpersonationResponse>(async () => {
        await start();
        return canned;
      }),
    },
  });
  const strict = await startBareRpc({ service: 'impersonation', pkiDir, binding: binding(() => floor.commit(START_ROWS, START_ROW_BYTES)) });
  servers.push(strict);
  const withWaits = await startBareRpc({
    service: 'impersonation',
    pkiDir,
    binding: binding(async () => {
      await call(allowlistClient, allowlistClient.check, check);
      await call(audit.client, audit.client.append, auditV1.AppendRequest.fromPartial({ events: [{ ...intentEvent, eventId: randomUUID() }] }));
      await floor.commit(START_ROWS, START_ROW_BYTES);
    }),
  });
  servers.push(withWaits);
  return {
    strict: `127.0.0.1:${strict.port}`,
    withWaits: `127.0.0.1:${withWaits.port}`,
    floor,
    close: async () => {
      allowlistClient.close();
      for (const s of servers) await s.shutdown('bench over');
      await audit.close();
      await floor.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
