import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { auditEventV1, commonV1, secretsV1, type SecretsServiceClient } from '@gatehouse/contracts';
import { call } from '@gatehouse/service-kit';
import { refused } from '@gatehouse/testing';
import { BACKENDS, backendEnv, startSecrets, TEST_PASSPHRASE, type SecretsHarness } from './test-support/harness.js';

const S = secretsV1;
const LIVE = commonV1.Environment.ENVIRONMENT_LIVE;
const A = auditEventV1.Action;
const { SEAL_STATE_UNINITIALIZED, SEAL_STATE_SEALED, SEAL_STATE_UNSEALED } = S.SealState;

/** Every data RPC, each with a well-formed request and a session allowed to make it. */
function dataCalls(h: SecretsHarness, c: SecretsServiceClient): Array<[string, () => Promise<unknown>]> {
  const manager = { bearer: h.token({ roles: ['manager'] }) };
  const officer = { bearer: h.token({ roles: ['security_officer'] }) };
  const releaseId = 'rel_AAAAAAAAAAAAAAAA';
  return [
    ['PutSecret', () => call(c, c.putSecret, { environment: LIVE, app: 'payments', name: 'DB_PASSWORD', value: Buffer.from('v') }, manager)],
    ['ListSecrets', () => call(c, c.listSecrets, S.ListSecretsRequest.fromPartial({}), officer)],
    ['DeleteSecret', () => call(c, c.deleteSecret, { environment: LIVE, app: 'payments', name: 'DB_PASSWORD', reason: 'x' }, manager)],
    ['CreateRelease', () => call(c, c.createRelease, S.CreateReleaseRequest.fromPartial({ environment: LIVE, app: 'payments', deploymentRef: 'c1' }), manager)],
    ['ApproveRelease', () => call(c, c.approveRelease, { releaseId, note: '' }, manager)],
    ['RevokeRelease', () => call(c, c.revokeRelease, { releaseId, reason: 'x' }, manager)],
    ['RedeemRelease', () => call(c, c.redeemRelease, { releaseToken: `ghr_${'A'.repeat(43)}` })],
    ['GetRelease', () => call(c, c.getRelease, { releaseId }, officer)],
    ['ListReleases', () => call(c, c.listReleases, S.ListReleasesRequest.fromPartial({}), officer)],
    ['RotateMasterKey', () => call(c, c.rotateMasterKey, { reason: 'x' }, officer)],
  ];
}

async function assertAllSealed(h: SecretsHarness, c: SecretsServiceClient, when: string): Promise<void> {
  for (const [rpc, run] of dataCalls(h, c)) {
    const r = await refused(run());
    assert.equal(r.code, grpc.status.FAILED_PRECONDITION, `${rpc} ${when}`);
    assert.equal(r.details, 'sealed', `${rpc} ${when}`);
  }
}

const state = async (c: SecretsServiceClient) => (await call(c, c.sealStatus, {})).seal;

for (const backend of BACKENDS) {
  describe(`secrets on ${backend}: the seal`, () => {
    test('passphrase seal: uninitialised and sealed refuse every data RPC; wrong passphrase refused; unseal survives nothing but works after a restart', async (t) => {
      const env = await backendEnv(backend, (why) => t.skip(why));
      if (!env) return;
      const h = await startSecrets(env);
      try {
        let c = await h.client('cli');
        assert.equal((await state(c))?.state, SEAL_STATE_UNINITIALIZED);
        await assertAllSealed(h, c, 'while uninitialised');
        const early = await refused(call(c, c.unseal, { passphrase: TEST_PASSPHRASE }));
        assert.equal(early.code, grpc.status.FAILED_PRECONDITION);

        const weak = await refused(call(c, c.initialize, { passphrase: { passphrase: 'short', keyDerivation: 0 } }));
        assert.equal(weak.code, grpc.status.INVALID_ARGUMENT);
        assert.match(weak.details, /passphrase/);
        const argon = await refused(call(c, c.initialize, { passphrase: { passphrase: TEST_PASSPHRASE, keyDerivation: S.KeyDerivation.KEY_DERIVATION_ARGON2ID } }));
        assert.equal(argon.code, grpc.status.INVALID_ARGUMENT);
        assert.match(argon.details, /argon2id is not available/);
        const neither = await refused(call(c, c.initialize, {}));
        assert.equal(neither.code, grpc.status.INVALID_ARGUMENT);
        assert.equal((await state(c))?.state, SEAL_STATE_UNINITIALIZED, 'refused inputs created nothing');
        const fromBackend = await refused(call(await h.client('deployer'), (await h.client('deployer')).initialize, { passphrase: { passphrase: TEST_PASSPHRASE, keyDerivation: 0 } }));
        assert.equal(fromBackend.code, grpc.status.PERMISSION_DENIED, 'only an operator certificate initialises');

        const init = await call(c, c.initialize, { passphrase: { passphrase: TEST_PASSPHRASE, keyDerivation: S.KeyDerivation.KEY_DERIVATION_SCRYPT } });
        assert.equal(init.seal?.state, SEAL_STATE_SEALED);
        assert.equal(init.seal?.sealType, S.SealType.SEAL_TYPE_PASSPHRASE);
        assert.equal(init.seal?.keyDerivation, S.KeyDerivation.KEY_DERIVATION_SCRYPT);
        assert.deepEqual(init.shares, []);
        const keyFile = path.join(h.env['GATEHOUSE_DATA_DIR'] ?? '', 'secrets', 'key-file.json');
        assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
        assert.ok(!fs.readFileSync(keyFile, 'utf8').includes(TEST_PASSPHRASE));
        const again = await refused(call(c, c.initialize, { passphrase: { passphrase: TEST_PASSPHRASE, keyDerivation: 0 } }));
        assert.equal(again.code, grpc.status.FAILED_PRECONDITION);
        assert.match(again.details, /already initialized/);
        await assertAllSealed(h, c, 'while sealed');

        const wrong = await refused(call(c, c.unseal, { passphrase: 'not the passphrase at all, sorry' }));
        assert.equal(wrong.code, grpc.status.PERMISSION_DENIED);
        assert.ok(!wrong.details.includes('not the passphrase'));
        const share = await refused(call(c, c.unseal, { share: Buffer.from('ghs1-2-1-AAAA-BBBB') }));
        assert.equal(share.code, grpc.status.INVALID_ARGUMENT);
        assert.equal((await state(c))?.state, SEAL_STATE_SEALED);

        h.audit.fail(true);
        try {
          const down = await refused(call(c, c.unseal, { passphrase: TEST_PASSPHRASE }));
          assert.equal(down.code, grpc.status.UNAVAILABLE, 'unsealing is critical: audit must confirm');
        } finally {
          h.audit.fail(false);
        }
        assert.equal((await state(c))?.state, SEAL_STATE_SEALED);

        const ok = await call(c, c.unseal, { passphrase: TEST_PASSPHRASE });
        assert.equal(ok.seal?.state, SEAL_STATE_UNSEALED);
        assert.equal(ok.seal?.keyVersion, 1);
        const manager = h.token({ roles: ['manager'] });
        await call(c, c.putSecret, { environment: LIVE, app: 'payments', name: 'DB_PASSWORD', value: Buffer.from('before-restart') }, { bearer: manager });

        // Seal: an operator certificate without a session may; a service only with an officer's session.
        const svc = await h.client('impersonation');
        const svcNoSession = await refused(call(svc, svc.seal, { reason: 'x' }));
        assert.equal(svcNoSession.code, grpc.status.PERMISSION_DENIED);
        const svcManager = await refused(call(svc, svc.seal, { reason: 'x' }, { bearer: manager }));
        assert.equal(svcManager.code, grpc.status.PERMISSION_DENIED);
        const sealed = await call(svc, svc.seal, { reason: 'suspected compromise' }, { bearer: h.token({ roles: ['security_officer'] }) });
        assert.equal(sealed.seal?.state, SEAL_STATE_SEALED);
        await assertAllSealed(h, c, 'after Seal');
        assert.equal((await call(c, c.seal, { reason: 'again' })).seal?.state, SEAL_STATE_SEALED, 'idempotent');
        await call(c, c.unseal, { passphrase: TEST_PASSPHRASE });

        await h.restart(0);
        c = await h.client('cli');
        assert.equal((await state(c))?.state, SEAL_STATE_SEALED, 'a restart comes back sealed: the key lived only in memory');
        await assertAllSealed(h, c, 'after a restart');
        await call(c, c.unseal, { passphrase: TEST_PASSPHRASE });
        const rel = await call(c, c.createRelease, S.CreateReleaseRequest.fromPartial({ environment: LIVE, app: 'payments', deploymentRef: 'c2' }), { bearer: manager });
        const b = await call(await h.client('deployer'), (await h.client('deployer')).redeemRelease, { releaseToken: rel.releaseToken });
        assert.equal(Buffer.from(b.secrets[0]!.value).toString(), 'before-restart');

        await h.drainAudit();
        const unseals = h.events.filter((e) => e.action === A.ACTION_SECRETS_UNSEAL);
        assert.ok(unseals.some((e) => e.outcome === auditEventV1.Outcome.OUTCOME_DENIED && e.details['reason'] === 'key_material_refused'), 'the wrong passphrase is audited');
        assert.equal(unseals.filter((e) => e.outcome === auditEventV1.Outcome.OUTCOME_SUCCESS && e.details['unsealed'] === 'true').length, 3);
        assert.equal(h.events.filter((e) => e.action === A.ACTION_SECRETS_SEAL).length, 2);
        assert.ok(!JSON.stringify(h.events).includes(TEST_PASSPHRASE));
        assert.ok(!h.logs.join('\n').includes(TEST_PASSPHRASE));
      } finally {
        await h.stop();
      }
    });

    test('Shamir 3-of-5: shares returned once; progress shown; too few shares keep it sealed; bad or repeated shares refused', async (t) => {
      const env = await backendEnv(backend, (why) => t.skip(why));
      if (!env) return;
      const h = await startSecrets(env);
      try {
        let c = await h.client('cli');
        for (const [shamir, field] of [
          [{ shareCount: 1, threshold: 1 }, /share_count/],
          [{ shareCount: 17, threshold: 2 }, /share_count/],
          [{ shareCount: 5, threshold: 6 }, /threshold/],
          [{ shareCount: 5, threshold: 1 }, /threshold/],
        ] as const) {
          const r = await refused(call(c, c.initialize, { shamir }));
          assert.equal(r.code, grpc.status.INVALID_ARGUMENT);
          assert.match(r.details, field);
        }
        const init = await call(c, c.initialize, { shamir: { shareCount: 5, threshold: 3 } });
        assert.equal(init.seal?.sealType, S.SealType.SEAL_TYPE_SHAMIR);
        assert.equal(init.seal?.threshold, 3);
        assert.equal(init.seal?.shareCount, 5);
        const shares = init.shares.map((s) => Buffer.from(s).toString('utf8'));
        assert.equal(new Set(shares).size, 5);
        for (const s of shares) assert.match(s, /^ghs1-3-[1-5]-/i);
        const keyFile = fs.readFileSync(path.join(h.env['GATEHOUSE_DATA_DIR'] ?? '', 'secrets', 'key-file.json'), 'utf8');
        for (const s of shares) assert.ok(!keyFile.includes(s.split('-')[3] ?? '?'), 'no share is stored');

        const give = (s: string) => call(c, c.unseal, { share: Buffer.from(s) });
        assert.equal((await give(shares[0]!)).seal?.progress, 1);
        const two = await give(shares[3]!);
        assert.equal(two.seal?.state, SEAL_STATE_SEALED);
        assert.equal(two.seal?.progress, 2);
        await assertAllSealed(h, c, 'with 2 of 3 shares');
        const dup = await refused(give(shares[3]!));
        assert.equal(dup.code, grpc.status.INVALID_ARGUMENT);
        assert.match(dup.details, /already given/);
        const typo = shares[1]!.slice(0, -1) + (shares[1]!.endsWith('A') ? 'B' : 'A');
        const bad = await refused(give(typo));
        assert.equal(bad.code, grpc.status.INVALID_ARGUMENT);
        assert.match(bad.details, /share/);
        const pass = await refused(call(c, c.unseal, { passphrase: TEST_PASSPHRASE }));
        assert.equal(pass.code, grpc.status.INVALID_ARGUMENT, 'a passphrase for a shares seal');
        assert.equal((await state(c))?.progress, 2, 'refused inputs did not change the progress');
        assert.ok(!JSON.stringify(h.events).includes(shares[0]!));

        const three = await give(shares[4]!);
        assert.equal(three.seal?.state, SEAL_STATE_UNSEALED);
        assert.equal(three.seal?.progress, 0);

        await h.restart(0);
        c = await h.client('cli');
        assert.equal((await state(c))?.state, SEAL_STATE_SEALED);
        for (const s of [shares[1]!, shares[2]!]) await give(s);
        assert.equal((await state(c))?.state, SEAL_STATE_SEALED, 'two shares are too few');
        assert.equal((await give(shares[0]!)).seal?.state, SEAL_STATE_UNSEALED, 'any three shares unseal');
        assert.ok(!h.logs.join('\n').includes(shares[0]!));
      } finally {
        await h.stop();
      }
    });
  });
}

describe('secrets: dev mode', () => {
  test('GATEHOUSE_ENV=dev initialises and unseals itself with a generated passphrase, says so loudly, and again after a restart', async () => {
    const h = await startSecrets({ GATEHOUSE_ENV: 'dev' });
    try {
      let c = await h.client('cli');
      assert.equal((await state(c))?.state, SEAL_STATE_UNSEALED);
      const file = path.join(h.env['GATEHOUSE_DATA_DIR'] ?? '', 'secrets', 'dev-passphrase');
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      assert.ok(h.logs.some((l) => l.includes('DEV MODE') && l.includes('"level":"warn"')), 'a warning names dev mode');
      const manager = h.token({ roles: ['manager'] });
      await call(c, c.putSecret, { environment: LIVE, app: 'web', name: 'API_KEY', value: Buffer.from('dev-value') }, { bearer: manager });
      await h.restart(0);
      c = await h.client('cli');
      assert.equal((await state(c))?.state, SEAL_STATE_UNSEALED);
      const rel = await call(c, c.createRelease, S.CreateReleaseRequest.fromPartial({ environment: LIVE, app: 'web', deploymentRef: 'dev' }), { bearer: manager });
      const b = await call(await h.client('deployer'), (await h.client('deployer')).redeemRelease, { releaseToken: rel.releaseToken });
      assert.equal(Buffer.from(b.secrets[0]!.value).toString(), 'dev-value', 'the same key file, unsealed again');
    } finally {
      await h.stop();
    }
  });

  test('auto-unseal is refused outside dev mode', async () => {
    await assert.rejects(startSecrets({ GATEHOUSE_SECRETS_DEV_AUTO_UNSEAL: 'true' }), /GATEHOUSE_SECRETS_DEV_AUTO_UNSEAL: refused outside dev mode/);
  });
});
