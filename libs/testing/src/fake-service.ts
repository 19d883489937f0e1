import type * as grpc from '@grpc/grpc-js';
import { callers, createLogger, sameRuleForAll, startServer, type Handler, type RunningServer, type TransportSecurity } from '@gatehouse/service-kit';

/**
 * A test double of a Gatehouse service at a true boundary (a service built in another issue, or
 * one a test must make fail): a real grpc-js server on loopback port 0 serving only the given
 * handlers, in plaintext unless `security` gives it a service certificate (so a real service
 * can dial it pinned by identity), any authenticated caller allowed. Other RPCs answer
 * UNIMPLEMENTED.
 */
export function startFakeService(opts: {
  /** Fully-qualified service name (SERVICE_NAMES.x). */
  name: string;
  definition: grpc.ServiceDefinition;
  handlers: Record<string, Handler>;
  /** mTLS with a service certificate, for a double that a real service dials with its pinned identity. Default: plaintext loopback. */
  security?: TransportSecurity;
}): Promise<RunningServer> {
  return startServer({
    service: opts.name.split('.').pop() ?? opts.name,
    version: 'test',
    host: '127.0.0.1',
    port: 0,
    security: opts.security ?? { mode: 'insecure-loopback' },
    descriptorSet: Buffer.alloc(0),
    log: createLogger({ service: 'fake', level: 'silent' }),
    // A double is not what is measured or limited: it must never throttle the service under test.
    rateLimits: { perCaller: { ratePerSec: 1_000_000, burst: 1_000_000 }, perIp: { ratePerSec: 1_000_000, burst: 1_000_000 } },
    services: [{ name: opts.name, definition: opts.definition, policy: sameRuleForAll(opts.definition, callers.anyAuthenticated), handlers: opts.handlers }],
  });
}
