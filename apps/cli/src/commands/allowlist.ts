import { AllowlistServiceClient, IdentityServiceClient, allowlistV1, commonV1, identityV1 } from '@gatehouse/contracts';
import { reachesLive } from '@gatehouse/session';
import { call, dial, rolesFromProto } from '@gatehouse/service-kit';
import { table } from '../output.js';
import { isRpcError, rpc } from '../rpc-errors.js';
import { sessionHint, sessionToken } from '../session.js';
import { securityFor, type CliSettings } from '../settings.js';
import { UsageError } from './pki.js';

type Out = (line: string) => void;
type Env = Record<string, string | undefined>;

/** Options the allowlist commands read. */
export interface AllowlistArgs {
  json?: boolean;
  account?: string | undefined;
  env?: string | undefined;
  scope?: string | undefined;
  label?: string | undefined;
  reason?: string | undefined;
  expires?: string | undefined;
  normalize?: boolean;
  contains?: string | undefined;
  expired?: boolean;
}

const A = allowlistV1;
const SCOPES: Record<string, allowlistV1.EntryScope> = {
  live: A.EntryScope.ENTRY_SCOPE_LIVE,
  staging: A.EntryScope.ENTRY_SCOPE_STAGING,
  all: A.EntryScope.ENTRY_SCOPE_ALL,
};

async function withAllowlist<T>(settings: CliSettings, fn: (c: AllowlistServiceClient) => Promise<T>): Promise<T> {
  const c = dial(AllowlistServiceClient, settings.address('allowlist'), await securityFor(settings, 'allowlist'));
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

function scopeName(s: allowlistV1.EntryScope): string {
  return A.entryScopeToJSON(s).replace('ENTRY_SCOPE_', '').toLowerCase();
}

function until(d: Date | undefined): string {
  return d ? d.toISOString() : 'never';
}

/** The session's pinned IP and scope, and whether its roles reach LIVE (WhoAmI); undefined if identity cannot say. */
async function sessionIp(settings: CliSettings, bearer: string): Promise<{ ip: string; full: boolean; live: boolean } | undefined> {
  const c = dial(IdentityServiceClient, settings.address('identity'), await securityFor(settings, 'identity'));
  try {
    const who = await call(c, c.whoAmI, {}, { bearer });
    const ip = who.session?.pinnedIp;
    if (!ip) return undefined;
    const roles = who.account?.principal?.roles ?? who.session?.principal?.roles ?? [];
    return { ip, full: who.session?.scope === identityV1.SessionScope.SESSION_SCOPE_FULL, live: reachesLive(rolesFromProto(roles)) };
  } catch (err) {
    if (isRpcError(err)) return undefined; // RegisterDailyIp answers for itself
    throw err;
  } finally {
    c.close();
  }
}

/**
 * The entry that already allows `ip` for every environment a daily registration would cover
 * (STAGING, and LIVE for a LIVE role), from Check without an account (so only enumerated
 * entries count, not daily ones); undefined if any of them is not allowed that way.
 */
async function coveringEntry(c: AllowlistServiceClient, ip: string, live: boolean): Promise<allowlistV1.CheckResponse[] | undefined> {
  const envs = [commonV1.Environment.ENVIRONMENT_STAGING, ...(live ? [commonV1.Environment.ENVIRONMENT_LIVE] : [])];
  const answers: allowlistV1.CheckResponse[] = [];
  for (const environment of envs) {
    const r = await rpc('Check', call(c, c.check, A.CheckRequest.fromPartial({ ip, environment })));
    if (r.decision !== A.CheckDecision.CHECK_DECISION_ALLOW || r.reason !== A.CheckReason.CHECK_REASON_ENUMERATED_ENTRY) return undefined;
    answers.push(r);
  }
  return answers;
}

/**
 * `gatehouse ip register`: registers the IP this machine calls from as today's IP (P7). The
 * server takes the IP from the connection; nothing here can name another one. An IP that an
 * allowlist entry already allows is not registered: that would only use up one of the day's
 * slots. Only a FULL session's IP is asked about (identity gave it FULL because the IP is
 * allowlisted); a REGISTER_IP_ONLY session's IP is not, so it registers without a Check (which
 * would audit a denial for every home worker's registration).
 */
export async function ipRegister(settings: CliSettings, env: Env, out: Out, a: AllowlistArgs): Promise<number> {
  const bearer = sessionToken(env);
  const mine = await sessionIp(settings, bearer);
  return withAllowlist(settings, async (c) => {
    const covered = mine?.full ? await coveringEntry(c, mine.ip, mine.live) : undefined;
    if (mine && covered) {
      const first = covered[0];
      const by = first?.matchedCidr ? `${first.matchedCidr} (${first.entryId ?? '?'})` : 'an allowlist entry';
      if (a.json) {
        out(JSON.stringify({ ip: first?.canonicalIp || mine.ip, alreadyAllowed: true, registered: false, matchedCidr: first?.matchedCidr ?? null, entryId: first?.entryId ?? null }));
        return 0;
      }
      out(`${first?.canonicalIp || mine.ip} is already allowed for ${mine.live ? 'LIVE and STAGING' : 'STAGING'} by ${by}: nothing registered, no daily slot used.`);
      return 0;
    }
    const r = await rpc('RegisterDailyIp', call(c, c.registerDailyIp, {}, { bearer }), sessionHint);
    const d = r.dailyIp;
    if (a.json) {
      out(JSON.stringify({ ip: d?.ip, expiresAt: d?.expiresAt?.toISOString(), scope: d ? scopeName(d.scope) : null, alreadyRegistered: r.alreadyRegistered, remainingToday: r.remainingToday }));
      return 0;
    }
    out(`${r.alreadyRegistered ? 'Already registered' : 'Registered'} ${d?.ip ?? '?'} for ${d ? scopeName(d.scope) : '?'} until ${until(d?.expiresAt)} (the next daily cut-off).`);
    out(`${r.remainingToday} more distinct IP(s) may be registered today.`);
    if (!mine?.full) out('Run `gatehouse session refresh` for a FULL scope (no new sign-in needed).');
    return 0;
  });
}

/** `gatehouse ip check <ip> [--account ID] [--env live|staging]`: what Check answers (service or backend certificate). */
export async function ipCheck(settings: CliSettings, out: Out, ip: string | undefined, a: AllowlistArgs): Promise<number> {
  if (!ip) throw new UsageError('ip check: give the IP: gatehouse ip check <ip> [--account ID] [--env live|staging]');
  const envName = a.env ?? 'live';
  const environment = envName === 'live' ? commonV1.Environment.ENVIRONMENT_LIVE : envName === 'staging' ? commonV1.Environment.ENVIRONMENT_STAGING : undefined;
  if (environment === undefined) throw new UsageError('ip check: --env must be live or staging');
  return withAllowlist(settings, async (c) => {
    const r = await rpc('Check', call(c, c.check, A.CheckRequest.fromPartial({ ip, environment, ...(a.account ? { accountId: a.account } : {}) })));
    const decision = r.decision === A.CheckDecision.CHECK_DECISION_ALLOW ? 'ALLOW' : 'DENY';
    const reason = A.checkReasonToJSON(r.reason).replace('CHECK_REASON_', '').toLowerCase();
    if (a.json) {
      out(JSON.stringify({ decision, reason, canonicalIp: r.canonicalIp, entryId: r.entryId ?? null, matchedCidr: r.matchedCidr ?? null, dailyOwner: r.dailyOwner?.email || null, expiresAt: r.expiresAt?.toISOString() ?? null }));
    } else {
      const what = r.matchedCidr ? ` by ${r.matchedCidr} (${r.entryId})` : r.dailyOwner ? ` by the daily IP of ${r.dailyOwner.email || r.dailyOwner.accountId}` : '';
      out(`${decision} ${r.canonicalIp || ip} for ${envName.toUpperCase()}: ${reason}${what}${r.expiresAt ? `, until ${r.expiresAt.toISOString()}` : ''}`);
    }
    return decision === 'ALLOW' ? 0 : 3;
  });
}

/** `gatehouse allowlist add|remove|list` for the security officer. */
export async function allowlist(settings: CliSettings, env: Env, out: Out, sub: string | undefined, arg: string | undefined, a: AllowlistArgs): Promise<number> {
  const bearer = sessionToken(env);
  if (sub === 'add') {
    if (!arg) throw new UsageError('allowlist add: gatehouse allowlist add <cidr> --scope live|staging|all --label "..." --reason "..." [--expires 2026-12-31T00:00:00Z] [--normalize]');
    const scope = SCOPES[a.scope ?? ''];
    if (scope === undefined) throw new UsageError('allowlist add: --scope must be live, staging or all');
    let expiresAt: Date | undefined;
    if (a.expires !== undefined) {
      expiresAt = new Date(a.expires);
      if (Number.isNaN(expiresAt.getTime())) throw new UsageError('allowlist add: --expires must be an ISO-8601 time, e.g. 2026-12-31T00:00:00Z');
    }
    return withAllowlist(settings, async (c) => {
      const r = await rpc(
        'AddEntry',
        call(c, c.addEntry, A.AddEntryRequest.fromPartial({ cidr: arg, scope, label: a.label ?? '', reason: a.reason ?? '', expiresAt, normalize: a.normalize ?? false }), { bearer }),
      );
      out(`Added ${r.entry?.cidr} (${r.entry ? scopeName(r.entry.scope) : '?'}) as ${r.entry?.entryId}, until ${until(r.entry?.expiresAt)}.`);
      for (const w of r.warnings) out(`warning: ${w.message}`);
      return 0;
    });
  }
  if (sub === 'remove') {
    if (!arg) throw new UsageError('allowlist remove: gatehouse allowlist remove <entry-id> --reason "..."');
    return withAllowlist(settings, async (c) => {
      const r = await rpc('RemoveEntry', call(c, c.removeEntry, { entryId: arg, reason: a.reason ?? '' }, { bearer }));
      out(`Removed ${r.entry?.cidr} (${r.entry?.entryId}).`);
      return 0;
    });
  }
  if (sub === 'list' || sub === undefined) {
    return withAllowlist(settings, async (c) => {
      const scopes = a.scope ? [SCOPES[a.scope]] : [];
      if (scopes.some((s) => s === undefined)) throw new UsageError('allowlist list: --scope must be live, staging or all');
      const entries: allowlistV1.Entry[] = [];
      let pageToken = '';
      do {
        const r = await rpc(
          'ListEntries',
          call(c, c.listEntries, A.ListEntriesRequest.fromPartial({ scopes: scopes as allowlistV1.EntryScope[], containsIp: a.contains, includeExpired: a.expired ?? false, pageSize: 500, pageToken }), { bearer }),
        );
        entries.push(...r.entries);
        pageToken = r.nextPageToken;
      } while (pageToken);
      if (a.json) {
        out(JSON.stringify(entries.map((e) => ({ entryId: e.entryId, cidr: e.cidr, scope: scopeName(e.scope), label: e.label, expiresAt: e.expiresAt?.toISOString() ?? null, createdBy: e.createdBy?.email ?? '' }))));
        return 0;
      }
      const rows = [['CIDR', 'SCOPE', 'EXPIRES', 'ID', 'LABEL'], ...entries.map((e) => [e.cidr, scopeName(e.scope), until(e.expiresAt), e.entryId, e.label])];
      for (const line of table(rows)) out(line);
      return 0;
    });
  }
  throw new UsageError(`allowlist: unknown subcommand ${JSON.stringify(sub)} (add, remove, list)`);
}
