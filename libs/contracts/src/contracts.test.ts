import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as protoLoader from '@grpc/proto-loader';
import {
  AllowlistServiceService,
  AuditServiceService,
  IdentityServiceService,
  ImpersonationServiceService,
  SecretsServiceService,
  SERVICE_NAMES,
  descriptorSet,
  auditEventV1,
} from './index.js';

/** The RPC names DESIGN.md §2 fixes: product backends and tests call them by these names. */
const REQUIRED: Record<keyof typeof SERVICE_NAMES, { definition: Record<string, { path: string }>; rpcs: string[] }> = {
  identity: {
    definition: IdentityServiceService,
    rpcs: [
      'ApproveAccount', 'SuspendAccount', 'SetRoles', 'ListAccounts', 'BeginSignIn', 'SendSmsCode', 'VerifySmsCode', 'VerifyOtp',
      'EnrollOtp', 'ConfirmOtpEnrollment', 'ResyncHotp', 'VerifySession', 'RevokeSession', 'GetSigningKeys', 'Authorize',
    ],
  },
  allowlist: { definition: AllowlistServiceService, rpcs: ['AddEntry', 'RemoveEntry', 'ListEntries', 'RegisterDailyIp', 'Check'] },
  secrets: {
    definition: SecretsServiceService,
    rpcs: ['SealStatus', 'Unseal', 'Seal', 'PutSecret', 'ListSecrets', 'CreateRelease', 'RedeemRelease', 'ListReleases'],
  },
  impersonation: {
    definition: ImpersonationServiceService,
    rpcs: [
      'StartImpersonation', 'EndImpersonation', 'ListActive', 'VerifyImpersonationToken', 'RecordAccess', 'ListAnomalies',
      'JustifyAnomaly', 'ResolveAnomaly', 'ListAccessForDomain',
    ],
  },
  audit: {
    definition: AuditServiceService,
    rpcs: [
      'Append', 'Query', 'Watch', 'Export', 'GetCheckpoint', 'GetInclusionProof', 'GetConsistencyProof', 'ListAlerts', 'WatchAlerts',
      'AcknowledgeAlert',
    ],
  },
};

test('every service exposes the RPCs DESIGN.md §2 names, under its package', () => {
  for (const [svc, { definition, rpcs }] of Object.entries(REQUIRED)) {
    const paths = new Set(Object.values(definition).map((m) => m.path));
    for (const rpc of rpcs) {
      const fq = SERVICE_NAMES[svc as keyof typeof SERVICE_NAMES];
      assert.ok(paths.has(`/${fq}/${rpc}`), `${fq} lacks ${rpc}`);
    }
  }
});

test('the descriptor set describes all five services for reflection', () => {
  const pkg = protoLoader.loadFileDescriptorSetFromBuffer(descriptorSet());
  for (const fq of Object.values(SERVICE_NAMES)) assert.ok(pkg[fq], `descriptor set lacks ${fq}`);
});

test('generated messages round-trip through the wire format', () => {
  const event = auditEventV1.AuditEvent.fromPartial({
    eventId: 'evt-0001-abcdef',
    occurredAt: new Date('2026-11-27T10:00:00.000Z'),
    details: { reason: 'ip_mismatch' },
  });
  const back = auditEventV1.AuditEvent.decode(auditEventV1.AuditEvent.encode(event).finish());
  assert.equal(back.eventId, 'evt-0001-abcdef');
  assert.equal(back.occurredAt?.toISOString(), '2026-11-27T10:00:00.000Z');
  assert.deepEqual(back.details, { reason: 'ip_mismatch' });
});
