import { descriptorSet } from '@gatehouse/contracts';
import { loadTlsMaterial } from '@gatehouse/pki';
import { createLogger, startServer, type RunningServer, type ServiceBinding } from '@gatehouse/service-kit';

/**
 * The baseline server of the gRPC benches (identity VerifySession, allowlist Check, impersonation
 * VerifyImpersonationToken): a kit server like the service's own — mTLS with the service's
 * certificate from `pkiDir`, the gatekeeper (the binding's caller policy, rate limits, metrics),
 * the same limits and the one unary adapter — whose handlers answer without doing the service's
 * work. Measured against it, a ratio says what the service adds on top of gRPC and TLS. Its rate
 * limits are those every service harness configures, so neither server throttles the load.
 */
export async function startBareRpc(opts: {
  /** Short service name (identity, allowlist, …): its certificate is the one served. */
  service: string;
  pkiDir: string;
  /** The service's binding: name, definition and policy as the service has them, handlers that answer at once. */
  binding: ServiceBinding;
}): Promise<RunningServer> {
  return startServer({
    service: opts.service,
    version: 'bench',
    host: '127.0.0.1',
    port: 0,
    security: { mode: 'mtls', material: await loadTlsMaterial(opts.pkiDir, opts.service) },
    services: [opts.binding],
    descriptorSet: descriptorSet(),
    log: createLogger({ service: 'bench-echo', level: 'silent' }),
    rateLimits: { perCaller: { ratePerSec: 100000, burst: 100000 }, perIp: { ratePerSec: 100000, burst: 100000 } },
  });
}
