import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { allowlistV1, auditEventV1, commonV1, type AllowlistServiceClient } from '@gatehouse/contracts';
import { call } from '@gatehouse/service-kit';
import { backendEnv, findMongo, refused, STORAGE_BACKENDS } from '@gatehouse/testing';
import { forwardedFor, startAllowlist, type AllowlistHarness } from './test-support/harness.js';

const A = allowlistV1;
const S = grpc.status;
const LIVE = commonV1.Environment.ENVIRONMENT_LIVE;
const STAGING = commonV1.Environment.ENVIRONMENT_STAGING;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('allowlist: enumerated entries and Check', () => {
  let h: AllowlistHarness;
  let cli: AllowlistServiceClient;
  let svc: AllowlistServiceClient;
  let officer: string;

  before(async () => {
    h = await startAllowlist({ GATEHOUSE_ALLOWLIST_STATIC_CIDRS: '127.0.0.1/32' });
    cli = await h.client('cli');
    svc = await h.client('other-backend');
    officer = h.token({ roles: ['security_officer'], accountId: 'acc-officer', email: 'olga@bank.example' });
  });
  after(async () => {
    await h?.stop();
  });

  const add = (cidr: string, scope = A.EntryScope.ENTRY_SCOPE_ALL, extra: Partial<allowlistV1.AddEntryRequest> = {}) =>
    call(cli, cli.addEntry, A.AddEntryRequest.fromPartial({ cidr, scope, label: 'office', reason: 'test', ...extra }), { bearer: officer });
  const check = (ip: string, environment = LIVE, accountId?: string) => call(svc, svc.check, A.CheckRequest.fromPartial({ ip, environment, ...(accountId ? { accountId } : {}) }));

  test('CIDR edges: /32 and /128 match exactly, ranges match from first to last address and not one beyond', async () => {
    await add('192.0.2.10/32');
    await add('2001:db8::42/128');
    await add('198.51.100.0/24');
    await add('2001:db8:abcd::/48');
    const cases: Array<[string, boolean]> = [
      ['192.0.2.10', true],
      ['192.0.2.9', false],
      ['192.0.2.11', false],
      ['2001:db8::42', true],
      ['2001:db8::41', false],
      ['2001:db8::43', false],
      ['198.51.100.0', true],
      ['198.51.100.255', true],
      ['198.51.99.255', false],
      ['198.51.101.0', false],
      ['2001:db8:abcd::', true],
      ['2001:db8:abcd:ffff:ffff:ffff:ffff:ffff', true],
      ['2001:db8:abcc:ffff:ffff:ffff:ffff:ffff', false],
      ['2001:db8:abce::', false],
      ['127.0.0.1', true], // static configuration
    ];
    for (const [ip, allow] of cases) {
      const r = await check(ip);
      assert.equal(r.decision, allow ? A.CheckDecision.CHECK_DECISION_ALLOW : A.CheckDecision.CHECK_DECISION_DENY, ip);
      assert.equal(r.reason, allow ? A.CheckReason.CHECK_REASON_ENUMERATED_ENTRY : A.CheckReason.CHECK_REASON_NO_MATCH, ip);
    }
  });

  test('address forms: IPv4-mapped IPv6 (all spellings) matches IPv4 entries; other transition forms never do; malformed IPs are a DENY answer', async () => {
    await add('10.20.0.0/16');
    for (const ip of ['::ffff:10.20.3.4', '::FFFF:10.20.3.4', '::ffff:a14:304', '0:0:0:0:0:ffff:a14:304', '0000:0000:0000:0000:0000:ffff:0a14:0304']) {
      const r = await check(ip);
      assert.equal(r.decision, A.CheckDecision.CHECK_DECISION_ALLOW, ip);
      assert.equal(r.canonicalIp, '10.20.3.4', ip);
    }
    for (const ip of ['64:ff9b::a14:304', '2002:a14:304::', '::10.20.3.4', '::a14:304']) {
      assert.equal((await check(ip)).decision, A.CheckDecision.CHECK_DECISION_DENY, `${ip} must not match an IPv4 entry`);
    }
    for (const ip of ['010.20.3.4', '10.20.3', 'fe80::1%eth0', ' 10.20.3.4', '10.20.3.4 ', '{"$ne":null}', '', '1'.repeat(100)]) {
      const r = await check(ip);
      assert.equal(r.decision, A.CheckDecision.CHECK_DECISION_DENY, ip);
      assert.equal(r.reason, A.CheckReason.CHECK_REASON_MALFORMED_IP, ip);
    }
    assert.equal((await refused(call(svc, svc.check, A.CheckRequest.fromPartial({ ip: '10.20.3.4' })))).code, S.INVALID_ARGUMENT);
  });

  test('AddEntry refuses /0, too-broad prefixes and every malformed form with INVALID_ARGUMENT naming the problem; nothing is added', async () => {
    const before = (await call(cli, cli.listEntries, A.ListEntriesRequest.fromPartial({}), { bearer: officer })).entries.length;
    const bad: Array<[string, RegExp]> = [
      ['0.0.0.0/0', /\/0/],
      ['::/0', /\/0/],
      ['10.0.0.0/8', /broader than|minimum|\/16/],
      ['2001:db8::/32', /broader than|minimum|\/48/],
      ['010.1.0.0/16', /leading zero/i],
      ['10.1/16', /short|four|octets/i],
      ['10.1.2.3/16', /host bits/i],
      ['fe80::1%eth0/128', /zone/i],
      [' 10.1.0.0/16', /whitespace/i],
      ['10.1.0.0/16 ', /whitespace/i],
      ['10.1.0.0/33', /prefix/i],
      ['10.1.0.0/016', /prefix/i],
      ['$ne', /cidr/i],
    ];
    for (const [cidr, why] of bad) {
      const r = await refused(add(cidr));
      assert.equal(r.code, S.INVALID_ARGUMENT, `${cidr}: ${r.details}`);
      assert.match(r.details, /cidr/, cidr);
      assert.match(r.details, why, `${cidr}: ${r.details}`);
    }
    const after = (await call(cli, cli.listEntries, A.ListEntriesRequest.fromPartial({}), { bearer: officer })).entries.length;
    assert.equal(after, before);
    // normalize clears host bits and says so.
    const n = await add('10.30.4.5/16', A.EntryScope.ENTRY_SCOPE_ALL, { normalize: true });
    assert.equal(n.entry?.cidr, '10.30.0.0/16');
    assert.ok(n.warnings.some((w) => w.kind === A.EntryWarningKind.ENTRY_WARNING_KIND_HOST_BITS_CLEARED));
    assert.equal((await refused(add('10.30.0.0/16'))).code, S.ALREADY_EXISTS);
    // Missing scope, label or reason.
    assert.match((await refused(add('10.31.0.0/16', A.EntryScope.ENTRY_SCOPE_UNSPECIFIED))).details, /scope/);
    assert.match((await refused(add('10.31.0.0/16', A.EntryScope.ENTRY_SCOPE_ALL, { reason: '' }))).details, /reason/);
  });

  test('only the security officer with a FULL session manages entries; a forged or expired session is refused', async () => {
    const dev = h.token({ roles: ['developer'] });
    assert.equal((await refused(call(cli, cli.addEntry, A.AddEntryRequest.fromPartial({ cidr: '10.40.0.0/16', scope: 1, label: 'x', reason: 'x' }), { bearer: dev }))).code, S.PERMISSION_DENIED);
    const ipOnly = h.token({ roles: ['security_officer'], scope: 'register-ip' });
    assert.equal((await refused(call(cli, cli.addEntry, A.AddEntryRequest.fromPartial({ cidr: '10.40.0.0/16', scope: 1, label: 'x', reason: 'x' }), { bearer: ipOnly }))).code, S.PERMISSION_DENIED);
    const forged = `${officer.slice(0, -6)}AAAAAA`;
    assert.equal((await refused(call(cli, cli.listEntries, A.ListEntriesRequest.fromPartial({}), { bearer: forged }))).code, S.UNAUTHENTICATED);
    const expired = h.sessions.token({ roles: ['security_officer'], now: new Date(h.clock.now().getTime() - 2 * 3600_000), ttlMs: 3600_000 });
    assert.equal((await refused(call(cli, cli.listEntries, A.ListEntriesRequest.fromPartial({}), { bearer: expired }))).code, S.UNAUTHENTICATED);
    // A backend certificate cannot manage entries at all (caller policy).
    assert.equal((await refused(call(svc, svc.listEntries, A.ListEntriesRequest.fromPartial({}), { bearer: officer }))).code, S.PERMISSION_DENIED);
  });

  test('an expired entry denies from the first second after its expiry; scope decides the environment', async () => {
    const expiresAt = new Date(h.clock.now().getTime() + 60_000);
    await add('10.50.0.0/16', A.EntryScope.ENTRY_SCOPE_STAGING, { expiresAt });
    assert.equal((await check('10.50.1.1', STAGING)).decision, A.CheckDecision.CHECK_DECISION_ALLOW);
    const live = await check('10.50.1.1', LIVE);
    assert.deepEqual([live.decision, live.reason], [A.CheckDecision.CHECK_DECISION_DENY, A.CheckReason.CHECK_REASON_ENVIRONMENT_MISMATCH]);
    h.clock.set(expiresAt.getTime() - 1);
    assert.equal((await check('10.50.1.1', STAGING)).decision, A.CheckDecision.CHECK_DECISION_ALLOW);
    h.clock.set(expiresAt.getTime() + 1000);
    const gone = await check('10.50.1.1', STAGING);
    assert.deepEqual([gone.decision, gone.reason], [A.CheckDecision.CHECK_DECISION_DENY, A.CheckReason.CHECK_REASON_EXPIRED]);
  });

  test('static entries cannot be removed by RPC; removal of an entry takes effect; unknown ids are NOT_FOUND', async () => {
    const list = await call(cli, cli.listEntries, A.ListEntriesRequest.fromPartial({ containsIp: '127.0.0.1' }), { bearer: officer });
    const stat = list.entries.find((e) => e.entryId.startsWith('static:'));
    assert.ok(stat);
    assert.equal((await refused(call(cli, cli.removeEntry, { entryId: stat.entryId, reason: 'x' }, { bearer: officer }))).code, S.FAILED_PRECONDITION);
    const e = await add('10.60.0.0/16');
    await call(cli, cli.removeEntry, { entryId: e.entry?.entryId ?? '', reason: 'office closed' }, { bearer: officer });
    assert.equal((await check('10.60.0.1')).decision, A.CheckDecision.CHECK_DECISION_DENY);
    assert.equal((await refused(call(cli, cli.removeEntry, { entryId: e.entry?.entryId ?? '', reason: 'again' }, { bearer: officer }))).code, S.NOT_FOUND);
    // Ordering: IPv4 before IPv6, by address then prefix.
    const all = (await call(cli, cli.listEntries, A.ListEntriesRequest.fromPartial({}), { bearer: officer })).entries.map((x) => x.cidr);
    const firstV6 = all.findIndex((c) => c.includes(':'));
    assert.ok(firstV6 > 0 && all.slice(firstV6).every((c) => c.includes(':')), all.join(' '));
  });

  test('denials are audited: one event per denial for an identified account, floods of anonymous denials aggregated', async () => {
    await h.drainAudit();
    const before = h.events.length;
    for (let i = 0; i < 5; i++) await check('203.0.113.77', LIVE, 'acc-dev-1');
    await Promise.all(Array.from({ length: 400 }, () => check('203.0.113.88', LIVE)));
    await Promise.all(Array.from({ length: 300 }, (_, i) => check(`203.0.114.${i % 250}`, LIVE)));
    await sleep(700);
    await h.drainAudit();
    const denials = h.events.slice(before).filter((e) => e.action === auditEventV1.Action.ACTION_ALLOWLIST_CHECK_DENY);
    const identified = denials.filter((e) => e.details['claimed_account_id'] === 'acc-dev-1');
    assert.equal(identified.length, 5, 'never aggregated for an identified account');
    // The account is only claimed by the calling backend: the backend is the actor (issue 17 item 2).
    assert.ok(identified.every((e) => e.sourceIp === '203.0.113.77' && e.actor?.kind === auditEventV1.ActorKind.ACTOR_KIND_SERVICE && e.actor?.id.startsWith('backend:')));
    const flood = denials.filter((e) => e.sourceIp === '203.0.113.88');
    assert.equal(flood.reduce((n, e) => n + Number(e.details['count'] ?? '0'), 0), 400, 'all 400 counted');
    assert.ok(flood.length <= 2, `aggregated (${flood.length} events)`);
    // 300 denials from 250 IPs: every one counted (per IP, or in an overflow sum), in fewer events than denials.
    const scattered = denials.filter((e) => e.sourceIp.startsWith('203.0.114.') || e.details['reason'] === 'aggregated');
    assert.equal(scattered.reduce((n, e) => n + Number(e.details['count'] ?? '0'), 0), 300);
    assert.ok(scattered.length < 300, `${scattered.length} events for 300 scattered denials`);
  });
});

describe('allowlist: daily IPs', () => {
  // 2026-03-29 00:30 UTC = 01:30 CET in Berlin, the night clocks jump from 02:00 to 03:00.
  const DST_SPRING = Date.UTC(2026, 2, 29, 0, 30);
  let h: AllowlistHarness;
  let cli: AllowlistServiceClient;
  let web: AllowlistServiceClient;

  before(async () => {
    h = await startAllowlist({ GATEHOUSE_ALLOWLIST_CUTOFF_TZ: 'Europe/Berlin', GATEHOUSE_ALLOWLIST_CUTOFF_HOUR: '4', GATEHOUSE_ALLOWLIST_DAILY_CAP: '3' }, DST_SPRING);
    cli = await h.client('cli');
    web = await h.client('web');
  });
  after(async () => {
    await h?.stop();
  });

  const check = async (ip: string, environment: commonV1.Environment, accountId?: string) => {
    const svc = await h.client('other-backend');
    return call(svc, svc.check, A.CheckRequest.fromPartial({ ip, environment, ...(accountId ? { accountId } : {}) }));
  };

  test("a daily IP lasts until the next cut-off, across a DST change; re-registering extends nothing; it is the caller's own", async () => {
    const dev = h.token({ roles: ['developer'], accountId: 'acc-dev', email: 'dev@bank.example', scope: 'register-ip' });
    const r = await call(cli, cli.registerDailyIp, {}, { bearer: dev });
    assert.equal(r.dailyIp?.ip, '127.0.0.1');
    // 04:00 CEST on the spring-forward day is 02:00 UTC.
    assert.equal(r.dailyIp?.expiresAt?.toISOString(), '2026-03-29T02:00:00.000Z');
    assert.equal(r.alreadyRegistered, false);
    assert.equal(r.remainingToday, 2);
    h.clock.advance(30 * 60_000);
    const again = await call(cli, cli.registerDailyIp, {}, { bearer: h.token({ roles: ['developer'], accountId: 'acc-dev', email: 'dev@bank.example', scope: 'register-ip' }) });
    assert.equal(again.alreadyRegistered, true);
    assert.equal(again.dailyIp?.expiresAt?.toISOString(), '2026-03-29T02:00:00.000Z');
    // Developers get STAGING only; someone else's daily IP is not yours.
    assert.equal((await check('127.0.0.1', STAGING, 'acc-dev')).reason, A.CheckReason.CHECK_REASON_DAILY_ENTRY);
    assert.equal((await check('127.0.0.1', LIVE, 'acc-dev')).decision, A.CheckDecision.CHECK_DECISION_DENY);
    const other = await check('127.0.0.1', STAGING, 'acc-someone-else');
    assert.deepEqual([other.decision, other.reason], [A.CheckDecision.CHECK_DECISION_DENY, A.CheckReason.CHECK_REASON_OTHER_ACCOUNT]);
    // At the cut-off it stops matching.
    h.clock.set(Date.parse('2026-03-29T02:00:00.500Z'));
    assert.equal((await check('127.0.0.1', STAGING, 'acc-dev')).decision, A.CheckDecision.CHECK_DECISION_DENY);
  });

  test('the fall-back DST day: the cut-off is the first 04:00 after the clocks go back', async () => {
    h.clock.set(Date.UTC(2026, 9, 25, 0, 30)); // 02:30 CEST, before the 03:00 → 02:00 change
    const r = await call(cli, cli.registerDailyIp, {}, { bearer: h.token({ roles: ['support'], accountId: 'acc-fall', scope: 'register-ip' }) });
    assert.equal(r.dailyIp?.expiresAt?.toISOString(), '2026-10-25T03:00:00.000Z'); // 04:00 CET
  });

  test('the daily cap holds, also for 10 parallel registrations; a trusted proxy names the client, an untrusted one cannot', async () => {
    h.clock.set(Date.UTC(2026, 4, 5, 10, 0));
    const tokenFor = (ip: string) => h.token({ roles: ['developer'], accountId: 'acc-cap', ip, scope: 'register-ip' });
    const ips = Array.from({ length: 10 }, (_, i) => `198.51.100.${i + 1}`);
    const results = await Promise.allSettled(ips.map((ip) => call(web, web.registerDailyIp, {}, { bearer: tokenFor(ip), metadata: forwardedFor(`6.6.6.6, ${ip}`) })));
    const ok = results.filter((r) => r.status === 'fulfilled');
    assert.equal(ok.length, 3, 'exactly the cap');
    for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as grpc.ServiceError).code, S.RESOURCE_EXHAUSTED);
    const registered = ok.map((r) => (r as PromiseFulfilledResult<allowlistV1.RegisterDailyIpResponse>).value.dailyIp?.ip);
    assert.ok(registered.every((ip) => ips.includes(ip ?? '')), 'the right-most forwarded address, never the client-supplied one');
    // An untrusted backend's forwarded-for is ignored: its own peer address is what counts.
    const other = await h.client('other-backend');
    const spoof = await refused(call(other, other.registerDailyIp, {}, { bearer: tokenFor('198.51.100.200'), metadata: forwardedFor('198.51.100.200') }));
    assert.equal(spoof.code, S.UNAUTHENTICATED, 'the session is pinned to the spoofed IP, the call comes from the peer');
    const peer = await call(other, other.registerDailyIp, {}, { bearer: h.token({ roles: ['support'], accountId: 'acc-spoof', scope: 'register-ip' }), metadata: forwardedFor('198.51.100.201') });
    assert.equal(peer.dailyIp?.ip, '127.0.0.1', 'registered the peer, not the forwarded value');
    // A session pinned elsewhere cannot register this connection's IP (another IP is impossible).
    const mismatch = await refused(call(cli, cli.registerDailyIp, {}, { bearer: tokenFor('198.51.100.250') }));
    assert.equal(mismatch.code, S.UNAUTHENTICATED);
  });

  test('a new daily IP for an account holding a LIVE role raises the audit event for the alert rule', async () => {
    h.clock.set(Date.UTC(2026, 4, 6, 10, 0));
    await call(cli, cli.registerDailyIp, {}, { bearer: h.token({ roles: ['manager'], accountId: 'acc-mgr', scope: 'register-ip' }) });
    assert.equal((await check('127.0.0.1', LIVE, 'acc-mgr')).decision, A.CheckDecision.CHECK_DECISION_ALLOW);
    await h.drainAudit();
    const ev = h.events.find((e) => e.action === auditEventV1.Action.ACTION_ALLOWLIST_DAILY_IP_NEW_FOR_LIVE && e.actor?.id === 'acc-mgr');
    assert.ok(ev);
    assert.equal(ev.environment, LIVE);
    assert.equal(ev.sourceIp, '127.0.0.1');
  });
});

describe('allowlist: the daily cap on both backends, each registration committed with its event', () => {
  for (const backend of STORAGE_BACKENDS) test(`${backend}: 10 parallel registrations over two replicas, exactly the cap of 3 created, one daily_ip_register event each`, async (t) => {
    const env = await backendEnv('allowlist', backend, (why) => t.skip(why));
    if (!env) return;
    const h = await startAllowlist({ ...env, GATEHOUSE_ALLOWLIST_DAILY_CAP: '3' });
    try {
      await h.addReplica(env);
      const webs = [await h.client('web', 0), await h.client('web', 1)];
      const ips = Array.from({ length: 10 }, (_, i) => `198.51.100.${i + 1}`);
      const results = await Promise.allSettled(
        ips.map((ip, i) => {
          const web = webs[i % 2] as AllowlistServiceClient;
          const bearer = h.token({ roles: ['developer'], accountId: 'acc-cap', ip, scope: 'register-ip' });
          return call(web, web.registerDailyIp, {}, { bearer, metadata: forwardedFor(ip) });
        }),
      );
      const ok = results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<allowlistV1.RegisterDailyIpResponse>).value);
      assert.equal(ok.length, 3, 'exactly the cap');
      for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as grpc.ServiceError).code, S.RESOURCE_EXHAUSTED, String(r.reason));
      const officer = h.token({ roles: ['security_officer'] });
      const cli = await h.client('cli');
      const stored = (await call(cli, cli.listDailyIps, { accountId: 'acc-cap', includeExpired: true, pageSize: 50, pageToken: '' }, { bearer: officer })).dailyIps;
      assert.deepEqual(stored.map((d) => d.ip).sort(), ok.map((r) => r.dailyIp?.ip).sort(), 'the store holds the ones told so, nothing more');
      await h.drainAudit();
      const events = h.events.filter((e) => e.action === auditEventV1.Action.ACTION_ALLOWLIST_DAILY_IP_REGISTER && e.actor?.id === 'acc-cap');
      assert.deepEqual(events.map((e) => e.subject?.id).sort(), stored.map((d) => d.dailyIpId).sort(), 'one event per stored registration, none for a refused one');
    } finally {
      await h.stop();
    }
  });
});

describe('allowlist: replicas on one store', () => {
  for (const backend of ['sqlite', 'mongodb'] as const) test(`two instances on one ${backend} store converge within 1 s of a change`, async (t) => {
    let env: Record<string, string> = {};
    if (backend === 'mongodb') {
      const mongo = await findMongo();
      if ('skipped' in mongo) {
        t.skip(`no MongoDB: ${mongo.skipped}`);
        return;
      }
      env = { GATEHOUSE_STORE: 'mongodb', MONGO_URL: mongo.url };
    }
    const h = await startAllowlist(env);
    try {
      await h.addReplica(env);
      const a = await h.client('cli', 0);
      const b = await h.client('other-backend', 1);
      const officer = h.token({ roles: ['security_officer'] });
      const added = await call(a, a.addEntry, A.AddEntryRequest.fromPartial({ cidr: '10.70.0.0/16', scope: A.EntryScope.ENTRY_SCOPE_ALL, label: 'vpn', reason: 'test' }), { bearer: officer });
      const t0 = Date.now();
      const waitFor = async (allow: boolean) => {
        for (;;) {
          const r = await call(b, b.check, A.CheckRequest.fromPartial({ ip: '10.70.1.1', environment: LIVE }));
          if ((r.decision === A.CheckDecision.CHECK_DECISION_ALLOW) === allow) return Date.now() - t0;
          if (Date.now() - t0 > 3000) assert.fail('replica did not converge');
          await sleep(20);
        }
      };
      assert.ok((await waitFor(true)) < 1000);
      const t1 = Date.now();
      await call(a, a.removeEntry, { entryId: added.entry?.entryId ?? '', reason: 'done' }, { bearer: officer });
      for (;;) {
        const r = await call(b, b.check, A.CheckRequest.fromPartial({ ip: '10.70.1.1', environment: LIVE }));
        if (r.decision === A.CheckDecision.CHECK_DECISION_DENY) break;
        assert.ok(Date.now() - t1 < 1000, 'removal converged within 1 s');
        await sleep(20);
      }
    } finally {
      await h.stop();
    }
  });
});
