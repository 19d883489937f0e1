import { auditedUnitOfWork, auditedUnitsInTurn } from '@gatehouse/audit-client';
import { IdentityServiceClient } from '@gatehouse/contracts';
import type { ServiceSpec } from '@gatehouse/service-host';
import { ConfigError } from '@gatehouse/service-kit';
import { sessionVerifierFromConfig } from '@gatehouse/session';
import { allowlistConfigShape } from './config.js';
import { Allowlist, type AllowlistAction } from './domain/allowlist-service.js';
import { nextCutoff, parseCidr } from '@gatehouse/ip';
import type { EntryScope } from './domain/model.js';
import { allowlistBinding } from './rpc/allowlist-rpc.js';
import { allowlistSchema, allowlistStores } from './store/schema.js';
import { unitsTurnKey } from './store/units-in-turn.js';


/** The allowlist service as the host runs it: config → store → domain → rpc → server. Wiring only. */
export const allowlistService: ServiceSpec<typeof allowlistConfigShape> = {
  name: 'allowlist',
  defaultPort: 7102,
  configShape: allowlistConfigShape,
  storage: allowlistSchema,
  shipsAuditEvents: true,
  wire: async ({ cfg, log, clock, store, audit: emitter, dialService, onShutdown }) => {
    if (!emitter) throw new Error('allowlist ships audit events: the host must provide the outbox');
    const problems: string[] = [];
    try {
      nextCutoff(clock.now(), cfg.GATEHOUSE_ALLOWLIST_CUTOFF_TZ, cfg.GATEHOUSE_ALLOWLIST_CUTOFF_HOUR);
    } catch {
      problems.push(`GATEHOUSE_ALLOWLIST_CUTOFF_TZ: ${JSON.stringify(cfg.GATEHOUSE_ALLOWLIST_CUTOFF_TZ)} is not an IANA time zone`);
    }
    const staticEntries = cfg.GATEHOUSE_ALLOWLIST_STATIC_CIDRS.map((item) => {
      const [cidr = '', scope = 'all'] = item.split('=');
      try {
        parseCidr(cidr, { minPrefixV4: 1, minPrefixV6: 1, normalize: false, field: 'GATEHOUSE_ALLOWLIST_STATIC_CIDRS' });
      } catch (err) {
        problems.push(`GATEHOUSE_ALLOWLIST_STATIC_CIDRS: ${(err as Error).message}`);
      }
      return { cidr, scope: scope as EntryScope };
    });
    if (problems.length > 0) throw new ConfigError(problems);

    const audited = auditedUnitOfWork<AllowlistAction>('allowlist', store.store, emitter);
    const allowlist = new Allowlist({
      ...allowlistStores(store),
      // The allowlist confirms nothing before acting (no critical action waits for audit): every
      // event rides in the unit of work of the change it records.
      uow: store.backend === 'mongodb' ? auditedUnitsInTurn(unitsTurnKey(store.store), audited) : audited,
      clock,
      settings: {
        minPrefixV4: cfg.GATEHOUSE_ALLOWLIST_MIN_PREFIX_V4,
        minPrefixV6: cfg.GATEHOUSE_ALLOWLIST_MIN_PREFIX_V6,
        cutoffTimeZone: cfg.GATEHOUSE_ALLOWLIST_CUTOFF_TZ,
        cutoffHour: cfg.GATEHOUSE_ALLOWLIST_CUTOFF_HOUR,
        dailyCap: cfg.GATEHOUSE_ALLOWLIST_DAILY_CAP,
        staticEntries,
        pollMs: cfg.GATEHOUSE_ALLOWLIST_POLL_MS,
        denialFlushMs: 500,
        maxAnonymousGroups: 100,
      },
      onError: (err, what) => log.error({ err }, `${what} failed`),
    });
    await allowlist.start();
    onShutdown(() => allowlist.stop());
    log.info({ ...allowlist.size, static: staticEntries.length }, 'allowlist index loaded');

    // Identity is always dialled: it pushes revocations and answers for critical actions, even when keys are pinned.
    const verifier = sessionVerifierFromConfig(cfg, {
      identity: dialService(IdentityServiceClient, 'identity', cfg.GATEHOUSE_IDENTITY_ADDR),
      clock,
      warn: (msg) => log.warn(msg),
    });
    onShutdown(() => verifier.close());
    return { services: [allowlistBinding({ allowlist, verifier, trustedProxies: cfg.GATEHOUSE_TRUSTED_PROXIES })] };
  },
};
