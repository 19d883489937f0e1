import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { commonV1, secretsV1, SecretsServiceService } from '@gatehouse/contracts';
import { FailedPreconditionError, PermissionDeniedError } from '@gatehouse/core';
import type { Prompt, PromptOptions } from './prompt.js';
import { useFakeService, type FakeRpc } from './test-support/fake-service.js';

const { SealState, SealType, KeyDerivation, ReleaseState } = secretsV1;
const { Environment } = commonV1;

// Canaries: secrets the CLI handles and must never print (except where printing is the point).
const SESSION_TOKEN = 'eyJhbGciOiJFZERTQSJ9.c2Vzc2lvbi1jYW5hcnk.c2lnbmF0dXJlLWNhbmFyeQ';
const PASSPHRASE = 'canary passphrase 7Qx!v9Lm2#Tz';
const VALUE = "canary-pa$$'word\nsecond line `not run` $(nor this)";
const VALUE_2 = 'canary-api-key-3f9a1c';
const RELEASE_TOKEN = 'canary-release-token-4mV0bXk3Yy1yZWxlYXNlLXRva2VuLWNhbmFyeQ';
const SHARE_TEXTS = ['GHS1-2-1-CANARYSHAREONEAAAA-ABCDEFGH', 'GHS1-2-2-CANARYSHARETWOBBBB-IJKLMNOP', 'GHS1-2-3-CANARYSHARETHREECC-QRSTUVWX'];
const SHARES = SHARE_TEXTS.map((t) => Buffer.from(t, 'utf8'));
const CANARIES = [SESSION_TOKEN, PASSPHRASE, VALUE, 'canary-pa$$', VALUE_2, RELEASE_TOKEN, ...SHARE_TEXTS];

const NOW = Date.now();
const minutes = (m: number) => new Date(NOW + m * 60_000);

const principal = (email: string) => commonV1.Principal.fromPartial({ accountId: `acc-${email.split('@')[0]}`, email });

const sealInfo = (over: Partial<secretsV1.SealInfo> = {}): secretsV1.SealInfo =>
  secretsV1.SealInfo.fromPartial({
    state: SealState.SEAL_STATE_SEALED,
    sealType: SealType.SEAL_TYPE_SHAMIR,
    threshold: 2,
    shareCount: 3,
    progress: 0,
    keyVersion: 1,
    changedAt: minutes(-5),
    ...over,
  });

const releaseOf = (over: Partial<secretsV1.Release> = {}): secretsV1.Release =>
  secretsV1.Release.fromPartial({
    releaseId: 'rel-7f3a',
    environment: Environment.ENVIRONMENT_LIVE,
    app: 'contacts-api',
    deploymentRef: 'git-4c1d2e9',
    state: ReleaseState.RELEASE_STATE_READY,
    createdBy: principal('mia@example.com'),
    createdAt: minutes(-1),
    expiresAt: minutes(14),
    secrets: [
      { name: 'API_KEY', version: 1 },
      { name: 'DATABASE_PASSWORD', version: 3 },
    ],
    ...over,
  });

const bundleOf = (over: Partial<secretsV1.RedeemReleaseResponse> = {}): secretsV1.RedeemReleaseResponse =>
  secretsV1.RedeemReleaseResponse.fromPartial({
    releaseId: 'rel-7f3a',
    environment: Environment.ENVIRONMENT_LIVE,
    app: 'contacts-api',
    deploymentRef: 'git-4c1d2e9',
    redeemedAt: new Date('2026-11-27T10:00:00.000Z'),
    secrets: [
      { name: 'API_KEY', version: 1, value: Buffer.from(VALUE_2) },
      { name: 'DATABASE_PASSWORD', version: 3, value: Buffer.from(VALUE) },
    ],
    ...over,
  });

describe('gatehouse secrets and release commands against a fake SecretsService (mTLS)', () => {
  const defaults = (): Record<string, FakeRpc> => ({
    SealStatus: () => ({ seal: sealInfo() }),
    Initialize: (req: secretsV1.InitializeRequest) =>
      req.shamir
        ? { seal: sealInfo({ threshold: req.shamir.threshold, shareCount: req.shamir.shareCount }), shares: SHARES.slice(0, req.shamir.shareCount) }
        : { seal: sealInfo({ sealType: SealType.SEAL_TYPE_PASSPHRASE, keyDerivation: KeyDerivation.KEY_DERIVATION_SCRYPT, threshold: 1, shareCount: 1 }), shares: [] },
    Unseal: () => ({ seal: sealInfo({ progress: 1 }) }),
    Seal: () => ({ seal: sealInfo() }),
    RotateMasterKey: () => ({ seal: sealInfo({ state: SealState.SEAL_STATE_UNSEALED, keyVersion: 2 }), rewrappedDataKeyCount: 42, rotatedAt: new Date(NOW) }),
    PutSecret: (req: secretsV1.PutSecretRequest) => ({
      secret: { environment: req.environment, app: req.app, name: req.name, version: 4, updatedAt: new Date(NOW), updatedBy: principal('mia@example.com') },
    }),
    ListSecrets: () => ({ secrets: [], nextPageToken: '' }),
    DeleteSecret: (req: secretsV1.DeleteSecretRequest) => ({ secret: { environment: req.environment, app: req.app, name: req.name, version: 4, deletedAt: new Date(NOW) } }),
    CreateRelease: () => ({ release: releaseOf(), releaseToken: RELEASE_TOKEN }),
    ApproveRelease: () => ({ release: releaseOf({ state: ReleaseState.RELEASE_STATE_PENDING_APPROVAL, requiredApprovals: 2, approvals: [{ approver: principal('ben@example.com'), approvedAt: new Date(NOW), note: 'checked' }] }) }),
    RevokeRelease: () => ({ release: releaseOf({ state: ReleaseState.RELEASE_STATE_REVOKED, revokedAt: new Date(NOW), revokedBy: principal('olga@example.com'), revokeReason: 'wrong ref' }) }),
    GetRelease: () => ({ release: releaseOf() }),
    ListReleases: () => ({ releases: [], nextPageToken: '' }),
    RedeemRelease: () => bundleOf(),
  });
  const bench = useFakeService({
    service: 'secrets',
    definition: SecretsServiceService,
    defaults,
    sessionToken: SESSION_TOKEN,
    canaries: CANARIES,
    clients: [{ name: 'deployer', kind: 'backend' }],
  });
  const { calls, impl, rpcs, callOf, env, withSession, gatehouse, file, mode, assertNoSecrets } = bench;
  const count = (text: string, needle: string) => text.split(needle).length - 1;

  // -------------------------------------------------------------------------------------------
  // init, unseal, seal, status, rotate

  test('init --passphrase-file sends the passphrase (final line break dropped) with the operator certificate and no session', async () => {
    const r = await gatehouse(['secrets', 'init', '--passphrase-file', file('pass', `${PASSPHRASE}\n`), '--kdf', 'scrypt']);
    assert.equal(r.code, 0, r.all());
    const init = callOf<secretsV1.InitializeRequest>('Initialize');
    assert.deepEqual(init.req.passphrase, { passphrase: PASSPHRASE, keyDerivation: KeyDerivation.KEY_DERIVATION_SCRYPT });
    assert.equal(init.caller, 'operator:cli');
    assert.deepEqual(init.authorization, [], 'no session is sent, even when one is configured');
    assert.match(r.out.join('\n'), /Initialised: the master key is sealed under the passphrase \(scrypt, key version 1\)/);
    assertNoSecrets(r.all());
  });

  test('init without a file asks for the passphrase twice, without echo; a mismatch initialises nothing', async () => {
    const asked: Array<[string, PromptOptions | undefined]> = [];
    const answers = [PASSPHRASE, PASSPHRASE];
    const prompt: Prompt = async (q, o) => {
      asked.push([q, o]);
      return `${answers.shift() ?? ''}\n`;
    };
    const r = await gatehouse(['secrets', 'init'], env(), { prompt });
    assert.equal(r.code, 0, r.all());
    assert.deepEqual(asked, [
      ['New passphrase (at least 16 characters)', { secret: true }],
      ['Repeat the passphrase', { secret: true }],
    ]);
    assert.equal(callOf<secretsV1.InitializeRequest>('Initialize').req.passphrase?.passphrase, PASSPHRASE);
    assertNoSecrets(r.all());

    calls.length = 0;
    answers.push(PASSPHRASE, `${PASSPHRASE}x`);
    const bad = await gatehouse(['secrets', 'init'], env(), { prompt });
    assert.equal(bad.code, 2);
    assert.match(bad.err.join('\n'), /the two passphrases differ; nothing was initialised/);
    assert.deepEqual(calls, []);
    assertNoSecrets(bad.all());
  });

  test('init refuses a short passphrase and a passphrase on argv before any RPC', async () => {
    const short = await gatehouse(['secrets', 'init', '--passphrase-file', file('short', 'too short\n')]);
    assert.equal(short.code, 2);
    assert.match(short.err.join('\n'), /at least 16 characters/);
    const argv = await gatehouse(['secrets', 'init', '--passphrase', PASSPHRASE]);
    assert.equal(argv.code, 2);
    assert.match(argv.err.join('\n'), /--passphrase is refused: .*process list.*shell history; use --passphrase-file/);
    assertNoSecrets(argv.all());
    assert.deepEqual(calls, []);
  });

  test('init --shares prints each share once, as its ghs1 text, labelled "share i of n", with the warning', async () => {
    const r = await gatehouse(['secrets', 'init', '--shares', '3', '--threshold', '2'], env());
    assert.equal(r.code, 0, r.all());
    assert.deepEqual(callOf<secretsV1.InitializeRequest>('Initialize').req.shamir, { shareCount: 3, threshold: 2 });
    const text = r.out.join('\n');
    SHARE_TEXTS.forEach((share, i) => {
      assert.equal(count(text, share), 1, `share ${i + 1} is printed exactly once`);
      assert.equal(r.out[r.out.indexOf(share) - 1], `share ${i + 1} of 3:`);
    });
    assert.match(text, /shown ONCE and are stored NOWHERE else/);
    assert.match(text, /Hand each share to a DIFFERENT operator/);
    assert.match(text, /any 2 of them unseal the service/);
    assert.equal(r.err.join(''), '');
    assertNoSecrets(text, SHARE_TEXTS);
  });

  test('init --shares-dir writes share-<i>.txt (0600) into a new 0700 folder and prints no share; an existing folder is refused first', async () => {
    const sharesDir = path.join(bench.dir, 'shares');
    const r = await gatehouse(['secrets', 'init', '--shares', '3', '--threshold', '2', '--shares-dir', sharesDir], env());
    assert.equal(r.code, 0, r.all());
    assert.equal(mode(sharesDir), 0o700);
    assert.deepEqual(fs.readdirSync(sharesDir).sort(), ['share-1.txt', 'share-2.txt', 'share-3.txt']);
    SHARE_TEXTS.forEach((share, i) => {
      const f = path.join(sharesDir, `share-${i + 1}.txt`);
      assert.equal(fs.readFileSync(f, 'utf8'), `${share}\n`);
      assert.equal(mode(f), 0o600);
    });
    assert.match(r.out.join('\n'), /HAND EACH FILE TO A DIFFERENT OPERATOR/);
    assertNoSecrets(r.all());

    calls.length = 0;
    const again = await gatehouse(['secrets', 'init', '--shares', '3', '--threshold', '2', '--shares-dir', sharesDir], env());
    assert.equal(again.code, 2);
    assert.match(again.err.join('\n'), /shares exists; give a new folder/);
    assert.deepEqual(calls, [], 'refused before Initialize');
  });

  test('init --shares-dir: a refused Initialize leaves no folder behind; the server message surfaces (exit 1)', async () => {
    impl['Initialize'] = () => {
      throw new FailedPreconditionError('already initialised');
    };
    const sharesDir = path.join(bench.dir, 'shares');
    const r = await gatehouse(['secrets', 'init', '--shares', '3', '--threshold', '2', '--shares-dir', sharesDir], env());
    assert.equal(r.code, 1);
    assert.match(r.err.join('\n'), /Initialize: FAILED_PRECONDITION: already initialised/);
    assert.equal(fs.existsSync(sharesDir), false);
  });

  test('unseal --share-file sends the share bytes and shows "1 of 2 shares"; with no file it asks for the share without echo', async () => {
    const r = await gatehouse(['secrets', 'unseal', '--share-file', file('share-1.txt', `${SHARE_TEXTS[0]}\n`)]);
    assert.equal(r.code, 0, r.all());
    const unseal = callOf<secretsV1.UnsealRequest>('Unseal');
    assert.deepEqual(unseal.req.share, SHARES[0]);
    assert.deepEqual(unseal.authorization, []);
    assert.equal(unseal.caller, 'operator:cli');
    assert.match(r.out.join('\n'), /^SEALED: 1 of 2 shares; 1 more needed/);
    assertNoSecrets(r.all());

    calls.length = 0;
    impl['SealStatus'] = () => ({ seal: sealInfo({ progress: 1 }) });
    impl['Unseal'] = () => ({ seal: sealInfo({ state: SealState.SEAL_STATE_UNSEALED, keyVersion: 3 }) });
    const asked: Array<[string, PromptOptions | undefined]> = [];
    const p = await gatehouse(['secrets', 'unseal'], env(), {
      prompt: async (q, o) => {
        asked.push([q, o]);
        return `${SHARE_TEXTS[1]}\n`;
      },
    });
    assert.equal(p.code, 0, p.all());
    assert.deepEqual(rpcs(), ['SealStatus', 'Unseal']);
    assert.deepEqual(asked, [['Key share (1 of 2 shares given so far)', { secret: true }]]);
    assert.deepEqual(callOf<secretsV1.UnsealRequest>('Unseal').req.share, SHARES[1]);
    assert.match(p.out.join('\n'), /^UNSEALED: the master key \(version 3\) is in memory/);
    assertNoSecrets(p.all());
  });

  test('unseal with a wrong passphrase: PERMISSION_DENIED with the server message, exit 1; a malformed share file is a usage error', async () => {
    impl['Unseal'] = () => {
      throw new PermissionDeniedError('wrong passphrase');
    };
    const r = await gatehouse(['secrets', 'unseal', '--passphrase-file', file('pass', PASSPHRASE)]);
    assert.equal(r.code, 1);
    assert.equal(callOf<secretsV1.UnsealRequest>('Unseal').req.passphrase, PASSPHRASE);
    assert.match(r.err.join('\n'), /Unseal: PERMISSION_DENIED: wrong passphrase\nWrong passphrase, or the shares/);
    assertNoSecrets(r.all());

    calls.length = 0;
    const bad = await gatehouse(['secrets', 'unseal', '--share-file', file('bad-share', 'not a share at all!')]);
    assert.equal(bad.code, 2);
    assert.match(bad.err.join('\n'), /is not a key share/);
    assert.ok(!bad.all().includes('not a share at all!'));
    assert.deepEqual(calls, []);
  });

  test('status shows state, seal type, kdf, shares, progress, key version and change time; --json', async () => {
    impl['SealStatus'] = () => ({ seal: sealInfo({ progress: 1, threshold: 3, shareCount: 5, keyVersion: 7 }) });
    const r = await gatehouse(['secrets', 'status'], env());
    assert.equal(r.code, 0, r.all());
    const text = r.out.join('\n');
    for (const re of [/state: +SEALED/, /seal type: +shamir/, /key derivation: +-/, /shares: +3 of 5 needed/, /unseal progress: +1 of 3 shares/, /key version: +7/, /changed at: +\d{4}-.*ago\)/]) {
      assert.match(text, re);
    }
    const j = await gatehouse(['secrets', 'status', '--json'], env());
    assert.deepEqual(JSON.parse(j.out[0] ?? ''), {
      state: 'SEALED',
      sealType: 'shamir',
      keyDerivation: '-',
      threshold: 3,
      shareCount: 5,
      progress: 1,
      keyVersion: 7,
      changedAt: minutes(-5).toISOString(),
    });
    assert.deepEqual(callOf('SealStatus').authorization, []);
  });

  test('seal --reason sends the session when there is one, and works without one', async () => {
    const r = await gatehouse(['secrets', 'seal', '--reason', 'suspected compromise']);
    assert.equal(r.code, 0, r.all());
    assert.equal(callOf<secretsV1.SealRequest>('Seal').req.reason, 'suspected compromise');
    assert.equal(callOf('Seal').bearer, SESSION_TOKEN);
    assert.match(r.out.join('\n'), /^SEALED: the master key is wiped from memory/);
    assertNoSecrets(r.all());

    calls.length = 0;
    const anon = await gatehouse(['secrets', 'seal', '--reason', 'drill'], env());
    assert.equal(anon.code, 0, anon.all());
    assert.deepEqual(callOf('Seal').authorization, []);

    const noReason = await gatehouse(['secrets', 'seal']);
    assert.equal(noReason.code, 2);
    assert.match(noReason.err.join('\n'), /--reason is required/);
  });

  test('rotate --reason sends the reason with the session and shows the new key version', async () => {
    const r = await gatehouse(['secrets', 'rotate', '--reason', 'yearly rotation']);
    assert.equal(r.code, 0, r.all());
    const rot = callOf<secretsV1.RotateMasterKeyRequest>('RotateMasterKey');
    assert.deepEqual([rot.req.reason, rot.bearer], ['yearly rotation', SESSION_TOKEN]);
    assert.match(r.out.join('\n'), /Master key rotated: key version 2, 42 data key\(s\) re-wrapped/);
  });

  // -------------------------------------------------------------------------------------------
  // put, list, delete

  test('put --value-file sends the exact bytes of the file with the session, prints the version, never the value', async () => {
    const r = await gatehouse(['secrets', 'put', 'live', 'contacts-api', 'DATABASE_PASSWORD', '--value-file', file('value', VALUE)]);
    assert.equal(r.code, 0, r.all());
    const put = callOf<secretsV1.PutSecretRequest>('PutSecret');
    assert.equal(put.bearer, SESSION_TOKEN);
    assert.deepEqual(
      { environment: put.req.environment, app: put.req.app, name: put.req.name, value: put.req.value },
      { environment: Environment.ENVIRONMENT_LIVE, app: 'contacts-api', name: 'DATABASE_PASSWORD', value: Buffer.from(VALUE) },
    );
    assert.match(r.out.join('\n'), /^Stored LIVE contacts-api DATABASE_PASSWORD: version 4/);
    assertNoSecrets(r.all());
  });

  test('put --from-stdin sends the bytes piped in, unchanged (binary too)', async () => {
    const bytes = Buffer.concat([Buffer.from(VALUE_2), Buffer.from([0, 0xff, 0x0a])]);
    const r = await gatehouse(['secrets', 'put', 'staging', 'contacts-api', 'API_KEY', '--from-stdin'], withSession(), { stdin: Readable.from([bytes.subarray(0, 5), bytes.subarray(5)]) });
    assert.equal(r.code, 0, r.all());
    const put = callOf<secretsV1.PutSecretRequest>('PutSecret');
    assert.equal(put.req.environment, Environment.ENVIRONMENT_STAGING);
    assert.deepEqual(put.req.value, bytes);
    assert.match(r.out.join('\n'), /ends with a line break, which is part of it/);
    assertNoSecrets(r.all());
  });

  test('put refuses --value and a value as an argument, explaining why; a bad env, name or no value source is a usage error; no RPC', async () => {
    const v = await gatehouse(['secrets', 'put', 'live', 'contacts-api', 'DATABASE_PASSWORD', '--value', VALUE]);
    assert.equal(v.code, 2);
    assert.match(v.err.join('\n'), /--value is refused: anything on the command line is visible to every user of this machine in the process list and stays in your shell history; use --value-file <file> or --from-stdin/);
    assertNoSecrets(v.all());
    const positional = await gatehouse(['secrets', 'put', 'live', 'contacts-api', 'DATABASE_PASSWORD', VALUE_2]);
    assert.equal(positional.code, 2);
    assert.match(positional.err.join('\n'), /never taken from the command line/);
    assertNoSecrets(positional.all());
    for (const [argv, re] of [
      [['secrets', 'put', 'prod', 'contacts-api', 'X', '--from-stdin'], /must be live or staging/],
      [['secrets', 'put', 'live', 'contacts-api', 'lower_case', '--from-stdin'], /upper-case letters/],
      [['secrets', 'put', 'live', 'Contacts', 'X', '--from-stdin'], /lower-case letters/],
      [['secrets', 'put', 'live', 'contacts-api', 'X'], /--value-file <file> or --from-stdin/],
      [['secrets', 'put', 'live', 'contacts-api', 'X', '--value-file', file('empty', '')], /the value is empty/],
    ] as Array<[string[], RegExp]>) {
      const r = await gatehouse(argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.err.join('\n'), re);
    }
    assert.deepEqual(calls, []);
  });

  test('put without any session says to run gatehouse login (exit 2, no RPC)', async () => {
    const r = await gatehouse(['secrets', 'put', 'live', 'contacts-api', 'X', '--value-file', file('value', VALUE)], env());
    assert.equal(r.code, 2);
    assert.match(r.err.join('\n'), /run `gatehouse login`/);
    assert.deepEqual(calls, []);
  });

  test('list follows next_page_token through every page and shows ENV APP NAME VERSION UPDATED BY DELETED', async () => {
    const meta = (name: string, extra: Partial<secretsV1.SecretMetadata> = {}) =>
      secretsV1.SecretMetadata.fromPartial({ environment: Environment.ENVIRONMENT_STAGING, app: 'contacts-api', name, version: 2, updatedAt: new Date('2026-11-01T08:00:00Z'), updatedBy: principal('dev@example.com'), ...extra });
    const pages: Record<string, secretsV1.ListSecretsResponse> = {
      '': { secrets: [meta('API_KEY')], nextPageToken: 'p2' },
      p2: { secrets: [meta('DATABASE_PASSWORD', { deletedAt: new Date('2026-11-02T08:00:00Z'), deletedBy: principal('olga@example.com') })], nextPageToken: 'p3' },
      p3: { secrets: [meta('SMTP_PASSWORD')], nextPageToken: '' },
    };
    impl['ListSecrets'] = (req: secretsV1.ListSecretsRequest) => pages[req.pageToken];
    const r = await gatehouse(['secrets', 'list', '--env', 'staging', '--app', 'contacts-api', '--include-deleted']);
    assert.equal(r.code, 0, r.all());
    const reqs = calls.map((c) => c.req as secretsV1.ListSecretsRequest);
    assert.deepEqual(reqs.map((q) => q.pageToken), ['', 'p2', 'p3']);
    assert.ok(reqs.every((q) => q.environment === Environment.ENVIRONMENT_STAGING && q.app === 'contacts-api' && q.includeDeleted));
    assert.ok(calls.every((c) => c.bearer === SESSION_TOKEN));
    assert.match(r.out[0] ?? '', /^ENV +APP +NAME +VERSION +UPDATED +BY +DELETED$/);
    assert.equal(r.out.length, 4);
    assert.match(r.out[2] ?? '', /^STAGING +contacts-api +DATABASE_PASSWORD +2 +2026-11-01T08:00:00\.000Z +dev@example\.com +2026-11-02T08:00:00\.000Z by olga@example\.com$/);
    assert.match(r.out[3] ?? '', /SMTP_PASSWORD .* -$/);

    calls.length = 0;
    const j = await gatehouse(['secrets', 'list', '--json']);
    const rows = JSON.parse(j.out[0] ?? '') as Array<{ name: string; environment: string; deletedBy: string | null }>;
    assert.deepEqual(rows.map((x) => [x.environment, x.name, x.deletedBy]), [
      ['staging', 'API_KEY', null],
      ['staging', 'DATABASE_PASSWORD', 'olga@example.com'],
      ['staging', 'SMTP_PASSWORD', null],
    ]);
    const first = calls[0]?.req as secretsV1.ListSecretsRequest;
    assert.deepEqual([first.environment, first.app, first.includeDeleted], [undefined, undefined, false]);
  });

  test('delete sends env, app, name and reason; a sealed service is refused with exit 1 and says how to unseal', async () => {
    const r = await gatehouse(['secrets', 'delete', 'live', 'contacts-api', 'OLD_KEY', '--reason', 'unused since v2']);
    assert.equal(r.code, 0, r.all());
    const del = callOf<secretsV1.DeleteSecretRequest>('DeleteSecret');
    assert.deepEqual(del.req, { environment: Environment.ENVIRONMENT_LIVE, app: 'contacts-api', name: 'OLD_KEY', reason: 'unused since v2' });
    assert.match(r.out.join('\n'), /Deleted LIVE contacts-api OLD_KEY/);

    impl['DeleteSecret'] = () => {
      throw new FailedPreconditionError('sealed');
    };
    const sealed = await gatehouse(['secrets', 'delete', 'live', 'contacts-api', 'OLD_KEY', '--reason', 'x']);
    assert.equal(sealed.code, 1);
    assert.match(sealed.err.join('\n'), /DeleteSecret: FAILED_PRECONDITION: sealed\nThe secrets service is sealed: operators unseal it with `gatehouse secrets unseal`/);
    const noReason = await gatehouse(['secrets', 'delete', 'live', 'contacts-api', 'OLD_KEY']);
    assert.equal(noReason.code, 2);
  });

  // -------------------------------------------------------------------------------------------
  // release create, approve, revoke, show, list

  test('release create prints the token once and sends ref, TTL, CIDR and client identity with the session', async () => {
    const r = await gatehouse(['release', 'create', 'live', 'contacts-api', '--ref', 'git-4c1d2e9', '--ttl', '1h30m', '--cidr', '10.20.0.0/16', '--client-identity', 'backend:deployer']);
    assert.equal(r.code, 0, r.all());
    const create = callOf<secretsV1.CreateReleaseRequest>('CreateRelease');
    assert.equal(create.bearer, SESSION_TOKEN);
    assert.deepEqual(create.req, {
      environment: Environment.ENVIRONMENT_LIVE,
      app: 'contacts-api',
      deploymentRef: 'git-4c1d2e9',
      ttl: { seconds: 5400, nanos: 0 },
      boundCidr: '10.20.0.0/16',
      boundClientIdentity: 'backend:deployer',
    });
    const text = r.out.join('\n');
    assert.equal(count(text, RELEASE_TOKEN), 1, 'the token is printed exactly once');
    assert.equal(r.out[r.out.length - 1], RELEASE_TOKEN, 'on its own line');
    assert.match(text, /Release rel-7f3a for LIVE contacts-api, deployment ref git-4c1d2e9: READY\./);
    assert.match(text, /expires \d{4}-.*\(in 1[34] min\)/);
    assertNoSecrets(r.all(), [RELEASE_TOKEN]);
    assert.ok(!r.err.join('').includes(RELEASE_TOKEN));
  });

  test('release create --token-file writes the token to a new 0600 file and does not print it; an existing file is refused before any release is made', async () => {
    impl['CreateRelease'] = () => ({ release: releaseOf({ state: ReleaseState.RELEASE_STATE_PENDING_APPROVAL, requiredApprovals: 2 }), releaseToken: RELEASE_TOKEN });
    const tokenFile = path.join(bench.dir, 'release-token');
    const r = await gatehouse(['release', 'create', 'staging', 'contacts-api', '--ref', 'run-981', '--token-file', tokenFile]);
    assert.equal(r.code, 0, r.all());
    assert.equal(fs.readFileSync(tokenFile, 'utf8'), `${RELEASE_TOKEN}\n`);
    assert.equal(mode(tokenFile), 0o600);
    assert.equal(callOf<secretsV1.CreateReleaseRequest>('CreateRelease').req.ttl, undefined, 'no --ttl: the server default');
    assert.match(r.out.join('\n'), /PENDING_APPROVAL \(needs 2 approvals\)/);
    assert.match(r.out.join('\n'), /written to .*release-token \(0600\); it is not shown/);
    assertNoSecrets(r.all());

    calls.length = 0;
    fs.writeFileSync(tokenFile, 'keep me');
    const again = await gatehouse(['release', 'create', 'staging', 'contacts-api', '--ref', 'run-981', '--token-file', tokenFile]);
    assert.equal(again.code, 2);
    assert.match(again.err.join('\n'), /release-token exists; a release token is never written over an existing file/);
    assert.equal(fs.readFileSync(tokenFile, 'utf8'), 'keep me');
    assert.deepEqual(calls, [], 'no release was created');
  });

  test('release create: a refused CreateRelease leaves no token file; --json carries the token only without --token-file', async () => {
    impl['CreateRelease'] = () => {
      throw new PermissionDeniedError('only manager and team_lead may create releases for LIVE');
    };
    const tokenFile = path.join(bench.dir, 'release-token');
    const r = await gatehouse(['release', 'create', 'live', 'contacts-api', '--ref', 'x', '--token-file', tokenFile]);
    assert.equal(r.code, 1);
    assert.match(r.err.join('\n'), /CreateRelease: PERMISSION_DENIED: only manager and team_lead may create releases for LIVE/);
    assert.equal(fs.existsSync(tokenFile), false);

    bench.restoreDefaults();
    const j = await gatehouse(['release', 'create', 'live', 'contacts-api', '--ref', 'git-4c1d2e9', '--json']);
    const parsed = JSON.parse(j.out[0] ?? '') as { release: { releaseId: string; state: string }; releaseToken?: string };
    assert.deepEqual([parsed.release.releaseId, parsed.release.state, parsed.releaseToken], ['rel-7f3a', 'RELEASE_STATE_READY', RELEASE_TOKEN]);
    const jf = await gatehouse(['release', 'create', 'live', 'contacts-api', '--ref', 'git-4c1d2e9', '--json', '--token-file', tokenFile]);
    assert.ok(!jf.out.join('').includes(RELEASE_TOKEN));
    assert.equal((JSON.parse(jf.out[0] ?? '') as { tokenFile: string }).tokenFile, tokenFile);
  });

  test('release create validates the env, --ref, --ttl and --client-identity before any RPC', async () => {
    for (const [argv, re] of [
      [['release', 'create', 'live', 'contacts-api'], /--ref is required/],
      [['release', 'create', 'qa', 'contacts-api', '--ref', 'x'], /live or staging/],
      [['release', 'create', 'live', 'contacts-api', '--ref', 'x', '--ttl', '15 minutes'], /--ttl must be a duration such as 15m/],
      [['release', 'create', 'live', 'contacts-api', '--ref', 'x', '--client-identity', 'deployer'], /<kind>:<name>/],
      [['release', 'create', 'live', 'contacts-api', '--ref', 'x', '--client-identity', 'robot:deployer'], /<kind>:<name>/],
    ] as Array<[string[], RegExp]>) {
      const r = await gatehouse(argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.err.join('\n'), re);
    }
    assert.deepEqual(calls, []);
  });

  test('release approve, revoke and show', async () => {
    const a = await gatehouse(['release', 'approve', 'rel-7f3a', '--note', 'checked the diff']);
    assert.equal(a.code, 0, a.all());
    assert.deepEqual(callOf<secretsV1.ApproveReleaseRequest>('ApproveRelease').req, { releaseId: 'rel-7f3a', note: 'checked the diff' });
    assert.match(a.out.join('\n'), /Approved rel-7f3a: PENDING_APPROVAL \(needs 1 approval\)\./);

    const v = await gatehouse(['release', 'revoke', 'rel-7f3a', '--reason', 'wrong ref']);
    assert.equal(v.code, 0, v.all());
    assert.deepEqual(callOf<secretsV1.RevokeReleaseRequest>('RevokeRelease').req, { releaseId: 'rel-7f3a', reason: 'wrong ref' });
    assert.match(v.out.join('\n'), /Revoked rel-7f3a: REVOKED; its token no longer works/);
    assert.equal((await gatehouse(['release', 'revoke', 'rel-7f3a'])).code, 2, '--reason is required');

    impl['GetRelease'] = () => ({
      release: releaseOf({
        state: ReleaseState.RELEASE_STATE_REDEEMED,
        boundCidr: '10.20.0.0/16',
        redeemedAt: new Date('2026-11-27T10:00:00Z'),
        redeemedByIdentity: 'backend:deployer',
        redeemedFromIp: '10.20.3.4',
        refusedRedemptionCount: 2,
        requiredApprovals: 1,
        approvals: [{ approver: principal('ben@example.com'), approvedAt: new Date('2026-11-27T09:59:00Z'), note: 'ok' }],
      }),
    });
    const s = await gatehouse(['release', 'show', 'rel-7f3a']);
    assert.equal(s.code, 0, s.all());
    const text = s.out.join('\n');
    for (const re of [
      /release: +rel-7f3a/,
      /environment: +LIVE/,
      /deployment ref: +git-4c1d2e9/,
      /state: +REDEEMED/,
      /created: +\d{4}-.* by mia@example\.com/,
      /bound CIDR: +10\.20\.0\.0\/16/,
      /bound identity: +-/,
      /secrets: +API_KEY v1, DATABASE_PASSWORD v3/,
      /approvals: +1\/1 ben@example\.com/,
      /approved: +2026-11-27T09:59:00\.000Z by ben@example\.com: ok/,
      /redeemed: +2026-11-27T10:00:00\.000Z by backend:deployer from 10\.20\.3\.4/,
      /refused redemptions: +2/,
      /revoked: +-/,
    ]) {
      assert.match(text, re);
    }
    const j = await gatehouse(['release', 'show', 'rel-7f3a', '--json']);
    assert.equal((JSON.parse(j.out[0] ?? '') as { redeemedFromIp: string }).redeemedFromIp, '10.20.3.4');
  });

  test('release list sends the filters (states repeated or comma-separated), follows pages and shows the history', async () => {
    impl['ListReleases'] = (req: secretsV1.ListReleasesRequest) =>
      req.pageToken === ''
        ? { releases: [releaseOf({ releaseId: 'rel-2', state: ReleaseState.RELEASE_STATE_REVOKED, revokedAt: new Date('2026-11-27T11:00:00Z'), revokedBy: principal('olga@example.com'), revokeReason: 'wrong ref' })], nextPageToken: 'next' }
        : {
            releases: [
              releaseOf({
                releaseId: 'rel-1',
                state: ReleaseState.RELEASE_STATE_REDEEMED,
                redeemedAt: new Date('2026-11-27T10:00:00Z'),
                redeemedByIdentity: 'backend:deployer',
                redeemedFromIp: '10.20.3.4',
                refusedRedemptionCount: 1,
              }),
            ],
            nextPageToken: '',
          };
    const r = await gatehouse(['release', 'list', '--env', 'live', '--app', 'contacts-api', '--ref', 'git-4c1d2e9', '--state', 'redeemed,revoked', '--state', 'expired']);
    assert.equal(r.code, 0, r.all());
    const reqs = calls.map((c) => c.req as secretsV1.ListReleasesRequest);
    assert.deepEqual(reqs.map((q) => q.pageToken), ['', 'next']);
    assert.deepEqual(
      { environment: reqs[0]?.environment, app: reqs[0]?.app, ref: reqs[0]?.deploymentRef, states: reqs[0]?.states },
      { environment: Environment.ENVIRONMENT_LIVE, app: 'contacts-api', ref: 'git-4c1d2e9', states: [ReleaseState.RELEASE_STATE_REDEEMED, ReleaseState.RELEASE_STATE_REVOKED, ReleaseState.RELEASE_STATE_EXPIRED] },
    );
    assert.match(r.out[0] ?? '', /^ID +ENV +APP +REF +STATE +CREATED +BY +APPROVALS +REFUSED +REDEEMED +REVOKED$/);
    assert.match(r.out[1] ?? '', /^rel-2 .* REVOKED .* mia@example\.com .* 2026-11-27T11:00:00\.000Z by olga@example\.com: wrong ref$/);
    assert.match(r.out[2] ?? '', /^rel-1 .* REDEEMED .* 1 +2026-11-27T10:00:00\.000Z by backend:deployer from 10\.20\.3\.4 +-$/);

    const bad = await gatehouse(['release', 'list', '--state', 'done']);
    assert.equal(bad.code, 2);
    assert.match(bad.err.join('\n'), /--state must be pending, ready, redeemed, expired or revoked, got "done"/);
  });

  // -------------------------------------------------------------------------------------------
  // release redeem

  test('redeem --out: token from the file (trimmed), certificate only, no authorization header even with a session configured; a 0600 env file with exact POSIX-sh quoting', async () => {
    const out = path.join(bench.dir, 'deploy.env');
    const r = await gatehouse(['release', 'redeem', '--token-file', file('token', `  ${RELEASE_TOKEN}\n\n`), '--out', out, '--expect-ref', 'git-4c1d2e9'], withSession({ GATEHOUSE_CLI_CERT: 'deployer' }));
    assert.equal(r.code, 0, r.all());
    const redeem = callOf<secretsV1.RedeemReleaseRequest>('RedeemRelease');
    assert.deepEqual(redeem.req, { releaseToken: RELEASE_TOKEN });
    assert.deepEqual(redeem.authorization, [], 'no session is sent to RedeemRelease');
    assert.equal(redeem.caller, 'backend:deployer');
    assert.equal(mode(out), 0o600);
    const expected = `API_KEY='${VALUE_2}'\nDATABASE_PASSWORD='canary-pa$$'\\''word\nsecond line \`not run\` $(nor this)'\n`;
    assert.equal(fs.readFileSync(out, 'utf8'), expected);
    // A POSIX shell reads the values back exactly, running nothing inside them.
    assert.equal(execFileSync('sh', ['-c', '. "$1" && printf %s "$DATABASE_PASSWORD"', 'sh', out], { encoding: 'utf8' }), VALUE);
    assert.match(r.out.join('\n'), /Wrote 2 secret\(s\) of release rel-7f3a \(LIVE contacts-api, deployment ref git-4c1d2e9\) to .*deploy\.env \(0600\)/);
    assertNoSecrets(r.all());
  });

  test('redeem --json prints the bundle as JSON on stdout, and nothing else', async () => {
    const r = await gatehouse(['release', 'redeem', '--token-file', file('token', RELEASE_TOKEN), '--json'], env());
    assert.equal(r.code, 0, r.all());
    assert.equal(r.out.length, 1);
    assert.deepEqual(JSON.parse(r.out[0] ?? ''), {
      release_id: 'rel-7f3a',
      environment: 'live',
      app: 'contacts-api',
      deployment_ref: 'git-4c1d2e9',
      redeemed_at: '2026-11-27T10:00:00.000Z',
      secrets: { API_KEY: VALUE_2, DATABASE_PASSWORD: VALUE },
    });
    assert.deepEqual(r.err, []);
    assertNoSecrets(r.out.join('\n').replace(JSON.stringify(VALUE), '').replace(VALUE_2, ''));
  });

  test('redeem refuses to overwrite an existing --out file before redeeming (the release is not used up)', async () => {
    const out = file('deploy.env', 'OLD=1\n');
    const r = await gatehouse(['release', 'redeem', '--token-file', file('token', RELEASE_TOKEN), '--out', out], env());
    assert.equal(r.code, 2);
    assert.match(r.err.join('\n'), /deploy\.env exists; a release bundle is never written over an existing file/);
    assert.equal(fs.readFileSync(out, 'utf8'), 'OLD=1\n');
    assert.deepEqual(calls, [], 'RedeemRelease was not called');
  });

  test('redeem --expect-ref mismatch: exit 1, nothing written, nothing on stdout', async () => {
    const out = path.join(bench.dir, 'deploy.env');
    const r = await gatehouse(['release', 'redeem', '--token-file', file('token', RELEASE_TOKEN), '--out', out, '--expect-ref', 'git-0000000'], env());
    assert.equal(r.code, 1);
    assert.match(r.err.join('\n'), /release rel-7f3a is for deployment ref "git-4c1d2e9", not "git-0000000" \(--expect-ref\); nothing was written/);
    assert.equal(fs.existsSync(out), false);
    assert.deepEqual(r.out, []);
    assertNoSecrets(r.all());

    const j = await gatehouse(['release', 'redeem', '--token-file', file('token', RELEASE_TOKEN), '--json', '--expect-ref', 'git-0000000'], env());
    assert.equal(j.code, 1);
    assert.deepEqual(j.out, []);
  });

  test('redeem refusals from the server surface with their message, exit 1, and leave no file', async () => {
    const out = path.join(bench.dir, 'deploy.env');
    impl['RedeemRelease'] = () => {
      throw new FailedPreconditionError('release rel-7f3a already redeemed');
    };
    const r = await gatehouse(['release', 'redeem', '--token-file', file('token', RELEASE_TOKEN), '--out', out], env());
    assert.equal(r.code, 1);
    assert.match(r.err.join('\n'), /RedeemRelease: FAILED_PRECONDITION: release rel-7f3a already redeemed/);
    assert.equal(fs.existsSync(out), false);

    impl['RedeemRelease'] = () => {
      throw new PermissionDeniedError('client identity does not match the release binding');
    };
    const d = await gatehouse(['release', 'redeem', '--token-file', file('token', RELEASE_TOKEN), '--json'], env());
    assert.equal(d.code, 1);
    assert.match(d.err.join('\n'), /RedeemRelease: PERMISSION_DENIED: client identity does not match the release binding\n.*GATEHOUSE_CLI_CERT/);
    assertNoSecrets(r.all() + d.all());
  });

  test('redeem refuses values that are not UTF-8 or hold a NUL, naming the secret, writing and printing nothing', async () => {
    const out = path.join(bench.dir, 'deploy.env');
    for (const [value, re] of [
      [Buffer.from([0x63, 0x61, 0x6e, 0xff, 0xfe]), /the value of BINARY_KEY \(version 2\) is not valid UTF-8 text, so it is not written and not shown/],
      [Buffer.from('canary-before\0canary-after'), /the value of BINARY_KEY \(version 2\) contains a NUL byte/],
    ] as Array<[Buffer, RegExp]>) {
      impl['RedeemRelease'] = () => bundleOf({ secrets: [{ name: 'API_KEY', version: 1, value: Buffer.from(VALUE_2) }, { name: 'BINARY_KEY', version: 2, value }] });
      for (const target of [['--out', out], ['--json']]) {
        const r = await gatehouse(['release', 'redeem', '--token-file', file('token', RELEASE_TOKEN), ...target], env());
        assert.equal(r.code, 1, target.join(' '));
        assert.match(r.err.join('\n'), re);
        assert.equal(fs.existsSync(out), false);
        assert.deepEqual(r.out, []);
        assert.ok(!r.all().includes('canary-before') && !r.all().includes('canary-after'));
        assertNoSecrets(r.all());
      }
    }
  });

  test('redeem usage: a token on argv is refused, --token-file is required, and one of --out or --json must be chosen', async () => {
    const token = file('token', RELEASE_TOKEN);
    for (const [argv, re] of [
      [['release', 'redeem', RELEASE_TOKEN, '--json'], /the release token is never taken from the command line .*process list.*; write it to a file and pass --token-file/],
      [['release', 'redeem', '--token', RELEASE_TOKEN, '--json'], /--token is refused: .*process list.*; use --token-file <file>/],
      [['release', 'redeem', '--json'], /--token-file <file> is required/],
      [['release', 'redeem', '--token-file', token], /choose --out FILE or --json/],
      [['release', 'redeem', '--token-file', token, '--json', '--out', path.join(bench.dir, 'x.env')], /choose --out FILE or --json/],
      [['release', 'redeem', '--token-file', file('empty-token', ' \n'), '--json'], /is empty/],
      [['release', 'redeem', '--token-file', path.join(bench.dir, 'missing'), '--json'], /cannot read --token-file/],
    ] as Array<[string[], RegExp]>) {
      const r = await gatehouse(argv, env());
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.err.join('\n'), re);
      assertNoSecrets(r.all());
    }
    assert.deepEqual(calls, []);
    assert.equal(fs.existsSync(path.join(bench.dir, 'x.env')), false);
  });
});
