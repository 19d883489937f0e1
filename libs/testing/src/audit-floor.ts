import { AuditServiceClient, AuditServiceService, SERVICE_NAMES, auditV1 } from '@gatehouse/contracts';
import { loadTlsMaterial } from '@gatehouse/pki';
import { callers, dial, sameRuleForAll, unary } from '@gatehouse/service-kit';
import { startBareRpc } from './bare-rpc.js';
import { openCommitFloor } from './commit-floor.js';

/** The audit end of a critical action's confirm round trip, as the floor benches need it. */
export interface AuditFloor {
  /** Dialled with the confirming service's own certificate (an Append is its caller's events). */
  readonly client: AuditServiceClient;
  close(): Promise<void>;
}

/**
 * A bare AuditService (issue 14 item 7's "floor + confirm"): Append as audit's policy has it (any
 * authenticated caller), one fsynced commit of `rowBytes` per event in a store of its own in
 * `dir`, every event acknowledged. What a confirmed intent costs at the least, without the log.
 */
export async function startAuditFloor(opts: { pkiDir: string; dir: string; clientName: string; rowBytes: number }): Promise<AuditFloor> {
  const store = openCommitFloor(opts.dir);
  const server = await startBareRpc({
    service: 'audit',
    pkiDir: opts.pkiDir,
    binding: {
      name: SERVICE_NAMES.audit,
      definition: AuditServiceService,
      // Append's rule in audit's own policy is anyAuthenticated; the RPCs this floor does not serve get the same.
      policy: sameRuleForAll(AuditServiceService, callers.anyAuthenticated),
      handlers: {
        Append: unary<auditV1.AppendRequest, auditV1.AppendResponse>(async (req) => {
          await store.commit(Math.max(1, req.events.length), opts.rowBytes);
          return auditV1.AppendResponse.fromPartial({ results: req.events.map((e, i) => ({ eventId: e.eventId, sequence: i, duplicate: false, appendedAt: new Date() })) });
        }),
      },
    },
  });
  const client = dial(AuditServiceClient, `127.0.0.1:${server.port}`, {
    mode: 'mtls',
    material: { ...(await loadTlsMaterial(opts.pkiDir, opts.clientName)), expectedServerName: 'audit' },
  });
  return {
    client,
    close: async () => {
      client.close();
      await server.shutdown('bench over');
      await store.close();
    },
  };
}
