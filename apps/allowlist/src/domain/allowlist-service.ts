import { randomBytes } from 'node:crypto';
import type { AuditedUnitOfWork, DomainAuditEvent } from '@gatehouse/audit-client';
import { reachesLive } from '@gatehouse/session';
import { AlreadyExistsError, checkAccountId, FailedPreconditionError, freeText, InvalidArgumentError, NotFoundError, PermissionDeniedError, ResourceExhaustedError, type Clock } from '@gatehouse/core';
import { AllowlistIndex, type CheckResult } from './allowlist-index.js';
import { cidrContains, compareCidrs, isUsableUnicast, nextCutoff, parseCidr, parseIp, tryParseIp, type CidrWarning, type ParsedCidr } from '@gatehouse/ip';
import type { AllowlistEntry, ChangeVersion, DailyIp, DailyIpRepository, EntryRepository, EntryScope, Environment } from './model.js';

/** What the allowlist audits (ACTION_ALLOWLIST_<ACTION>). */
export type AllowlistAction = 'entry_add' | 'entry_remove' | 'daily_ip_register' | 'daily_ip_new_for_live' | 'check_deny';

/** Settings, validated by the wiring. */
export interface AllowlistSettings {
  /** Broadest prefix AddEntry accepts (default /16 and /48). */
  minPrefixV4: number;
  minPrefixV6: number;
  /** The daily cut-off: IANA time zone and hour (DST-safe). */
  cutoffTimeZone: string;
  cutoffHour: number;
  /** Distinct IPs one employee may register per day. */
  dailyCap: number;
  /** Entries from configuration (bootstrap: the office, loopback in dev); never removable by RPC. */
  staticEntries: ReadonlyArray<{ cidr: string; scope: EntryScope }>;
  /** How often replicas poll the change version (default 250 ms: converge within 1 s). */
  pollMs: number;
  /** How often buffered denials are written (default 500 ms). */
  denialFlushMs: number;
  /** Most anonymous denial groups per flush before the rest is summed into one event. */
  maxAnonymousGroups: number;
}

/** The employee behind a verified session. */
export interface SessionEmployee {
  accountId: string;
  email: string;
  roles: readonly string[];
}

/** Where a request comes from, for audit. */
export interface Source {
  ip: string;
  requestId: string;
}

/** What AddEntry asks for, mapped from the proto. */
export interface NewEntry {
  cidr: string;
  label: string;
  scope: EntryScope | undefined;
  expiresAt: Date | undefined;
  reason: string;
  normalize: boolean;
}

/** A warning AddEntry returns with the entry. */
export interface EntryWarning {
  kind: 'host_bits_cleared' | 'ipv4_mapped_converted' | 'overlaps_existing';
  message: string;
  relatedEntryId?: string;
}

const MAX_TEXT = 200;

type Event = DomainAuditEvent<AllowlistAction>;

/**
 * A change this replica committed, with the change version it committed as: the snapshot shows
 * it at once, before any reload reads it back (`indexed`: the current snapshot has it).
 */
type OwnChange = { version: number; indexed: boolean } & ({ added: AllowlistEntry; cidr: ParsedCidr } | { removed: string } | { daily: DailyIp });

/**
 * AllowlistService's domain (P7, issue 5): enumerated CIDRs managed by the officer, daily
 * home-worker IPs valid until the next cut-off with a per-day cap, and Check answered from an
 * in-memory snapshot that every replica refreshes when the store's change version moves.
 */
export class Allowlist {
  private snapshot: AllowlistIndex;
  /** What the last reload read from the store; the snapshot is that plus {@link own}. */
  private loaded: { entries: AllowlistEntry[]; dailies: DailyIp[] } = { entries: [], dailies: [] };
  /** This replica's committed changes that the last reload may not have read (newer than its version). */
  private own: OwnChange[] = [];
  /** An own change is not in the snapshot yet: the next Check rebuilds it once, for all of them. */
  private stale = false;
  private knownVersion = -1;
  private reloading: Promise<void> | undefined;
  /** Reloads begun so far (a forced reload tells an old one from one begun after its change). */
  private reloadsStarted = 0;
  private readonly denials: DenialBuffer;
  private timers: NodeJS.Timeout[] = [];
  /** The configured entries, parsed once (they never change while running). */
  private readonly fromConfig: AllowlistEntry[];

  constructor(
    private readonly d: {
      entries: EntryRepository;
      dailyIps: DailyIpRepository;
      version: ChangeVersion;
      /** Every state change runs in one of its units, with its audit events (issue 14). */
      uow: AuditedUnitOfWork<AllowlistAction>;
      clock: Clock;
      settings: AllowlistSettings;
      onError?: (err: unknown, what: string) => void;
    },
  ) {
    this.fromConfig = this.staticEntries();
    this.snapshot = new AllowlistIndex(this.fromConfig, []);
    this.denials = new DenialBuffer(d.settings.maxAnonymousGroups);
  }

  /** Loads the snapshot, then keeps it fresh: polls the change version, reloads fully every 30 s. */
  async start(): Promise<void> {
    await this.reload(true);
    const guard = (what: string, p: Promise<unknown>) => p.catch((err: unknown) => this.d.onError?.(err, what));
    let ticks = 0;
    const everyFull = Math.max(1, Math.round(30_000 / this.d.settings.pollMs));
    this.timers.push(setInterval(() => void guard('index refresh', this.reload(++ticks % everyFull === 0)), this.d.settings.pollMs));
    this.timers.push(setInterval(() => void guard('denial audit', this.flushDenials()), this.d.settings.denialFlushMs));
    for (const t of this.timers) t.unref();
  }

  /** Stops the timers and writes the denials still buffered. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.flushDenials();
  }

  /** Rebuilds the snapshot if the change version moved (or `force`); concurrent callers share one reload. */
  reload(force = false): Promise<void> {
    if (force && this.reloading) {
      // A forced reload must read what was committed before it was asked for, and the one running
      // may have read earlier. Wait for it, then share one begun after this call (or begin one).
      const seen = this.reloadsStarted;
      return this.reloading.catch(() => undefined).then(() => (this.reloadsStarted > seen ? (this.reloading ?? Promise.resolve()) : this.reload(true)));
    }
    this.reloading ??= (async () => {
      this.reloadsStarted++;
      const v = await this.d.version.current();
      if (!force && v === this.knownVersion) return;
      const [entries, dailies] = await Promise.all([this.d.entries.listActive(), this.d.dailyIps.listUnexpired(this.d.clock.now())]);
      this.loaded = { entries, dailies };
      // An own change committed as version <= v is in what was just read (its write and its bump
      // are one commit, read before the lists); newer ones stay applied on top until a reload reads them.
      this.own = this.own.filter((c) => c.version > v);
      this.build();
      this.knownVersion = v;
    })().finally(() => (this.reloading = undefined));
    return this.reloading;
  }

  /** The snapshot Check answers from: the last reload plus this replica's own changes since. */
  private current(): AllowlistIndex {
    if (this.stale) this.build();
    return this.snapshot;
  }

  /** Builds the snapshot from what the last reload read and the own changes after it (each entry once). */
  private build(): void {
    const removed = new Set<string>();
    const added = new Map<string, AllowlistEntry>();
    const dailies = new Map(this.loaded.dailies.map((d) => [d.dailyIpId, d]));
    for (const c of this.own) {
      c.indexed = true;
      if ('removed' in c) removed.add(c.removed);
      else if ('added' in c) added.set(c.added.entryId, c.added);
      else dailies.set(c.daily.dailyIpId, c.daily);
    }
    const entries = [...this.fromConfig];
    for (const e of this.loaded.entries) {
      added.delete(e.entryId);
      if (!removed.has(e.entryId)) entries.push(e);
    }
    for (const e of added.values()) if (!removed.has(e.entryId)) entries.push(e);
    this.snapshot = new AllowlistIndex(entries, [...dailies.values()]);
    this.stale = false;
  }

  /**
   * A change of this replica has committed (as change version `version`): Check answers with it
   * from now on, without reading the store back (the next reload reads it, and other replicas
   * see it at their next poll of the change version).
   */
  private committed(change: OwnChange): void {
    this.own.push(change);
    this.stale = true;
  }

  /** Entries containing `ip`: the snapshot's, with own changes not yet in it (AddEntry's overlap warnings). */
  private entriesContaining(ip: string): AllowlistEntry[] {
    const parsed = tryParseIp(ip);
    if (!parsed) return [];
    const newer = this.own.filter((c) => !c.indexed);
    const removed = new Set(newer.flatMap((c) => ('removed' in c ? [c.removed] : [])));
    const found = this.snapshot.entriesContaining(ip).filter((e) => !removed.has(e.entryId));
    for (const c of newer) if ('added' in c && !removed.has(c.added.entryId) && cidrContains(c.cidr, parsed)) found.push(c.added);
    return found;
  }

  /** The current snapshot's size (for logs and metrics). */
  get size(): { entries: number; daily: number } {
    return this.current().size;
  }

  /** Check: from memory only. Denials are buffered for audit (identified ones one event each). */
  check(ip: string, accountId: string | undefined, env: Environment, source: Source, caller: string): CheckResult {
    // Inputs audit would refuse in the denial event are refused here, before deciding, and the
    // refusal is audited (issue 17 item 1): a Check never answers without leaving its trace.
    try {
      // A merely malformed IP is an answer (DENY MALFORMED_IP, per the contract); one with control
      // characters cannot even be recorded, so it is refused.
      if (typeof ip !== 'string' || /\p{Cc}/u.test(ip)) throw new InvalidArgumentError('ip', 'must be an IP address in text form (no control characters)');
      if (accountId !== undefined) checkAccountId(accountId);
    } catch (err) {
      this.denials.refused({ field: err instanceof InvalidArgumentError ? err.field : 'request', env, requestId: source.requestId, caller });
      throw err;
    }
    const result = this.current().check(ip, accountId, env, this.d.clock.now());
    if (!result.allow) this.denials.add({ ip: result.canonicalIp || ip.slice(0, 64), accountId, env, reason: result.reason, requestId: source.requestId, caller });
    return result;
  }

  /** AddEntry (officer): a canonical CIDR no broader than the minimum, with scope, label and reason. */
  async addEntry(officer: SessionEmployee, req: NewEntry, source: Source): Promise<{ entry: AllowlistEntry; warnings: EntryWarning[] }> {
    const { cidr, warnings } = parseCidr(req.cidr, {
      minPrefixV4: this.d.settings.minPrefixV4,
      minPrefixV6: this.d.settings.minPrefixV6,
      normalize: req.normalize,
      field: 'cidr',
    });
    if (!req.scope) throw new InvalidArgumentError('scope', 'must be ENTRY_SCOPE_LIVE, ENTRY_SCOPE_STAGING or ENTRY_SCOPE_ALL');
    const label = text(req.label, 'label', true);
    const reason = text(req.reason, 'reason', true);
    const now = this.d.clock.now();
    if (req.expiresAt && req.expiresAt.getTime() <= now.getTime()) throw new InvalidArgumentError('expires_at', 'must be in the future');
    const out: EntryWarning[] = warnings.map((w: CidrWarning) => ({ kind: w.kind, message: w.message }));
    // Overlaps with what this replica's Check matches now (its own changes at once, others' as of
    // the last poll): a warning only; the store's unique key is what refuses a duplicate.
    for (const other of this.entriesContaining(cidr.canonical.split('/')[0] ?? '')) {
      out.push({ kind: 'overlaps_existing', message: `${cidr.canonical} overlaps ${other.cidr} (${other.label})`, relatedEntryId: other.entryId });
    }
    const entry: AllowlistEntry = {
      entryId: `ent_${randomBytes(12).toString('base64url')}`,
      cidr: cidr.canonical,
      label,
      scope: req.scope,
      expiresAt: req.expiresAt ?? null,
      createdBy: { accountId: officer.accountId, email: officer.email },
      reason,
      createdAt: now,
      removedAt: null,
      removedBy: null,
      removeReason: null,
      activeKey: `${cidr.canonical}|${req.scope}`,
    };
    if (this.fromConfig.some((s) => s.activeKey === entry.activeKey)) {
      throw new AlreadyExistsError(`${cidr.canonical} (${req.scope}) is already allowlisted by configuration`);
    }
    // The entry, the change version replicas poll and the event commit together or not at all.
    const version = await this.d.uow.run(async (tx) => {
      try {
        await this.d.entries.create(tx, entry);
      } catch (err) {
        if (err instanceof AlreadyExistsError) throw new AlreadyExistsError(`${cidr.canonical} already has an active ${req.scope} entry`);
        throw err;
      }
      tx.faultPoint('entry-created');
      const v = await this.d.version.bump(tx);
      tx.faultPoint('version-bumped');
      tx.audit(this.officerEvent(officer, 'entry_add', entry, source, { cidr: entry.cidr, scope: entry.scope, label, reason, expires_at: entry.expiresAt?.toISOString() ?? 'never' }));
      return v;
    }, 'add-entry');
    this.committed({ version, indexed: false, added: entry, cidr: cidr });
    return { entry, warnings: out };
  }

  /** RemoveEntry (officer). Check stops matching it on every replica within one poll. */
  async removeEntry(officer: SessionEmployee, entryId: string, reason: string, source: Source): Promise<AllowlistEntry> {
    if (entryId.startsWith('static:')) throw new FailedPreconditionError('this entry comes from configuration (GATEHOUSE_ALLOWLIST_STATIC_CIDRS): change the configuration instead');
    if (!/^ent_[A-Za-z0-9_-]{16}$/.test(entryId)) throw new InvalidArgumentError('entry_id', 'is not an entry id (ent_…)');
    const why = text(reason, 'reason', true);
    const removed = await this.d.uow.run(async (tx) => {
      const gone = await this.d.entries.remove(tx, entryId, this.d.clock.now(), { accountId: officer.accountId, email: officer.email }, why);
      if (!gone) throw new NotFoundError('no such active entry');
      tx.faultPoint('entry-removed');
      const version = await this.d.version.bump(tx);
      tx.faultPoint('version-bumped');
      tx.audit(this.officerEvent(officer, 'entry_remove', gone, source, { cidr: gone.cidr, scope: gone.scope, reason: why }));
      return { gone, version };
    }, 'remove-entry');
    this.committed({ version: removed.version, indexed: false, removed: removed.gone.entryId });
    return removed.gone;
  }

  /** ListEntries: active entries (and, on request, expired ones) in the contract's CIDR order. */
  async listEntries(filter: { scopes: EntryScope[]; containsIp?: string | undefined; includeExpired: boolean }): Promise<AllowlistEntry[]> {
    const now = this.d.clock.now();
    let rows = [...this.fromConfig, ...(await this.d.entries.listActive())];
    if (!filter.includeExpired) rows = rows.filter((e) => e.expiresAt === null || e.expiresAt > now);
    if (filter.scopes.length > 0) rows = rows.filter((e) => filter.scopes.includes(e.scope));
    if (filter.containsIp !== undefined) {
      const ip = parseIp(filter.containsIp, 'contains_ip');
      rows = new AllowlistIndex(rows, []).entriesContaining(ip.canonical);
    }
    const parsed = new Map(rows.map((e) => [e.entryId, parseCidr(e.cidr, { minPrefixV4: 1, minPrefixV6: 1, normalize: false }).cidr]));
    return rows.sort((a, b) => compareCidrs(parsed.get(a.entryId) as never, parsed.get(b.entryId) as never) || a.scope.localeCompare(b.scope));
  }

  /**
   * RegisterDailyIp: the caller's own IP (never one it names) until the next cut-off. Same IP
   * again the same day extends nothing. The cap of distinct IPs per day holds under concurrency
   * (unique slot numbers). A new IP for an account holding a LIVE role raises the alert event.
   */
  async registerDaily(who: SessionEmployee, peerIp: string, source: Source): Promise<{ daily: DailyIp; alreadyRegistered: boolean; remainingToday: number }> {
    const ip = parseIp(peerIp, 'peer address');
    if (!isUsableUnicast(ip)) throw new InvalidArgumentError('peer address', `${ip.canonical} is not a usable unicast address`);
    const now = this.d.clock.now();
    const cutoff = nextCutoff(now, this.d.settings.cutoffTimeZone, this.d.settings.cutoffHour);
    const cap = this.d.settings.dailyCap;
    const existing = await this.d.dailyIps.find(who.accountId, ip.canonical, cutoff);
    if (existing) return { daily: existing, alreadyRegistered: true, remainingToday: Math.max(0, cap - (await this.d.dailyIps.countForDay(who.accountId, cutoff))) };
    const live = reachesLive(who.roles);
    const firstTime = !(await this.d.dailyIps.hasUsedIp(who.accountId, ip.canonical));
    const base = {
      ip: ip.canonical,
      accountId: who.accountId,
      email: who.email,
      scope: (live ? 'all' : 'staging') as EntryScope,
      registeredAt: now,
      expiresAt: cutoff,
    };
    const actor = { kind: 'employee' as const, id: who.accountId, displayName: who.email };
    for (let slot = 1; slot <= cap; slot++) {
      const daily: DailyIp = { ...base, dailyIpId: `dip_${randomBytes(12).toString('base64url')}`, slot };
      // One unit per slot tried: a refused insert ends its unit (on MongoDB it aborts the
      // transaction), so the next slot is tried in a fresh one. The unique keys decide the cap.
      let version = 0;
      const r = await this.d.uow
        .run(async (tx) => {
          const created = await this.d.dailyIps.create(tx, daily);
          if (created !== 'created') throw new NotCreated(created);
          tx.faultPoint('daily-ip-created');
          version = await this.d.version.bump(tx);
          tx.faultPoint('version-bumped');
          const subject = { kind: 'daily_ip' as const, id: daily.dailyIpId };
          tx.audit({ action: 'daily_ip_register', outcome: 'success', actor, subject, sourceIp: ip.canonical, requestId: source.requestId, details: { expires_at: cutoff.toISOString(), slot: String(slot), scope: daily.scope } });
          if (live && firstTime) {
            tx.audit({ action: 'daily_ip_new_for_live', outcome: 'success', actor, subject, sourceIp: ip.canonical, environment: 'live', requestId: source.requestId, details: { roles: who.roles.join(',') } });
          }
          return created;
        }, 'register-daily-ip')
        .catch((err: unknown) => {
          if (err instanceof NotCreated) return err.result;
          throw err;
        });
      if (r === 'slot_taken') continue;
      if (r === 'ip_exists') {
        const same = await this.d.dailyIps.find(who.accountId, ip.canonical, cutoff);
        if (same) return { daily: same, alreadyRegistered: true, remainingToday: Math.max(0, cap - (await this.d.dailyIps.countForDay(who.accountId, cutoff))) };
        continue;
      }
      this.committed({ version, indexed: false, daily });
      return { daily, alreadyRegistered: false, remainingToday: cap - slot };
    }
    throw new ResourceExhaustedError(
      `the daily cap of ${cap} distinct IPs is reached; registrations reopen at the next cut-off (${cutoff.toISOString()})`,
      cutoff.getTime() - now.getTime(),
    );
  }

  /** ListDailyIps: own entries, or anyone's for the officer. */
  async listDaily(who: SessionEmployee, filter: { accountId?: string | undefined; includeExpired: boolean }, page: { after?: { registeredAt: Date; dailyIpId: string } | undefined; limit: number }): Promise<DailyIp[]> {
    const officer = who.roles.includes('security_officer');
    if (!officer && filter.accountId !== undefined && filter.accountId !== who.accountId) {
      // The contract's answer: PERMISSION_DENIED, not INVALID_ARGUMENT (issue 17 item 7).
      throw new PermissionDeniedError("only the security officer may list another account's daily IPs");
    }
    const accountId = filter.accountId ?? (officer ? undefined : who.accountId);
    return this.d.dailyIps.list({ ...(accountId !== undefined ? { accountId } : {}), includeExpired: filter.includeExpired, now: this.d.clock.now() }, page);
  }

  /**
   * Writes buffered denials: identified ones as one event each, anonymous ones grouped, all of
   * one flush in one unit of work (one commit). Check itself never writes.
   */
  async flushDenials(): Promise<void> {
    const events = this.denials.drain();
    if (events.length === 0) return;
    try {
      await this.d.uow.run(async (tx) => tx.audit(...events), 'deny');
    } catch {
      // One event audit would refuse (a caller's odd account id) fails the whole unit, and must
      // not cost the others: stage them one unit each, and report the refused ones.
      for (const e of events) {
        await this.d.uow.run(async (tx) => tx.audit(e), 'deny').catch((err: unknown) => this.d.onError?.(err, 'recording a denial'));
      }
    }
  }

  private staticEntries(): AllowlistEntry[] {
    const epoch = new Date(0);
    return this.d.settings.staticEntries.map((s) => {
      const cidr = parseCidr(s.cidr, { minPrefixV4: 1, minPrefixV6: 1, normalize: true }).cidr.canonical;
      return {
        entryId: `static:${cidr}|${s.scope}`,
        cidr,
        label: 'configured (GATEHOUSE_ALLOWLIST_STATIC_CIDRS)',
        scope: s.scope,
        expiresAt: null,
        createdBy: { accountId: 'config', email: '' },
        reason: 'static configuration',
        createdAt: epoch,
        removedAt: null,
        removedBy: null,
        removeReason: null,
        activeKey: `${cidr}|${s.scope}`,
      };
    });
  }

  private officerEvent(officer: SessionEmployee, action: AllowlistAction, entry: AllowlistEntry, source: Source, details: Record<string, string>): Event {
    return {
      action,
      outcome: 'success',
      actor: { kind: 'employee', id: officer.accountId, displayName: officer.email },
      subject: { kind: 'allowlist_entry', id: entry.entryId, displayName: entry.cidr },
      sourceIp: source.ip,
      requestId: source.requestId,
      details,
    };
  }
}

/** Carries a refused daily-IP insert out of its unit, which must end (see DailyIpRepository.create). */
class NotCreated extends Error {
  constructor(readonly result: 'ip_exists' | 'slot_taken') {
    super(`daily IP not created: ${result}`);
  }
}

function text(value: string, field: string, required: boolean): string {
  return freeText(value, field, { required, max: MAX_TEXT });
}

interface Denial {
  ip: string;
  accountId: string | undefined;
  env: Environment;
  reason: string;
  requestId: string;
  caller: string;
}

/**
 * Denials waiting to be audited (the Check hot path never writes). Denials for an identified
 * account are kept one by one and become one event each, as the alert rule requires; anonymous
 * ones are counted per (IP, environment, reason), at most `maxGroups` groups per flush, the rest
 * summed into one overflow event, so a flood cannot drown the audit log.
 */
class DenialBuffer {
  private identified: Denial[] = [];
  private anonymous = new Map<string, { d: Denial; count: number }>();
  private refusals = new Map<string, { caller: string; field: string; env: Environment; count: number }>();
  private overflow = 0;

  /** A Check refused as invalid: counted per (caller, field), so a probing backend leaves a trace without flooding the log. */
  refused(r: { field: string; env: Environment; requestId: string; caller: string }): void {
    const key = `${r.caller}|${r.field}|${r.env}`;
    const g = this.refusals.get(key);
    if (g) g.count++;
    else if (this.refusals.size < this.maxGroups) this.refusals.set(key, { caller: r.caller, field: r.field, env: r.env, count: 1 });
    else this.overflow++;
  }

  constructor(private readonly maxGroups: number) {}

  add(d: Denial): void {
    if (d.accountId !== undefined) {
      this.identified.push(d);
      return;
    }
    const key = `${d.ip}|${d.env}|${d.reason}`;
    const g = this.anonymous.get(key);
    if (g) g.count++;
    else if (this.anonymous.size < this.maxGroups) this.anonymous.set(key, { d, count: 1 });
    else this.overflow++;
  }

  drain(): Event[] {
    // The account is only what the calling backend claims (issue 17 item 2): the actor is the
    // backend, and the account rides in claimed_account_id, which the alert rule groups by.
    const events: Event[] = this.identified.map((d) => ({
      action: 'check_deny',
      outcome: 'denied',
      actor: { kind: 'service', id: d.caller },
      subject: { kind: 'ip_address', id: d.ip || 'malformed' },
      ...(d.ip && isCanonical(d.ip) ? { sourceIp: d.ip } : {}),
      environment: d.env,
      requestId: d.requestId,
      details: { reason: d.reason, caller: d.caller, claimed_account_id: d.accountId ?? '' },
    }));
    for (const r of this.refusals.values()) {
      events.push({
        action: 'check_deny',
        outcome: 'denied',
        actor: { kind: 'service', id: r.caller },
        environment: r.env,
        details: { reason: 'invalid_request', field: r.field, count: String(r.count), caller: r.caller },
      });
    }
    for (const { d, count } of this.anonymous.values()) {
      events.push({
        action: 'check_deny',
        outcome: 'denied',
        actor: { kind: 'anonymous', id: '' },
        subject: { kind: 'ip_address', id: d.ip || 'malformed' },
        ...(d.ip && isCanonical(d.ip) ? { sourceIp: d.ip } : {}),
        environment: d.env,
        details: { reason: d.reason, count: String(count), caller: d.caller },
      });
    }
    if (this.overflow > 0) {
      events.push({
        action: 'check_deny',
        outcome: 'denied',
        actor: { kind: 'anonymous', id: '' },
        details: { reason: 'aggregated', count: String(this.overflow), note: `more anonymous denials than ${this.maxGroups} groups in one interval` },
      });
    }
    this.identified = [];
    this.anonymous = new Map();
    this.refusals = new Map();
    this.overflow = 0;
    return events;
  }
}

function isCanonical(ip: string): boolean {
  try {
    return parseIp(ip).canonical === ip;
  } catch {
    return false;
  }
}
