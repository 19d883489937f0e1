import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AlreadyExistsError, type Transaction } from '@gatehouse/core';
import { DuplicateKeyError, type MongoStore } from '@gatehouse/storage';
import { MongoServerError } from 'mongodb';
import type { DailyIp } from '../domain/model.js';
import { MongoDailyIpRepository, violatedDailyIpKey } from './mongo-daily-ip-repository.js';

/** A duplicate-key error as a real MongoDB sends it: keyPattern and keyValue, index named in the message. */
function e11000(index: string, keyPattern: Record<string, 1>): MongoServerError {
  return new MongoServerError({ errmsg: `E11000 duplicate key error collection: gatehouse_allowlist.daily_ips index: ${index} dup key: { }`, code: 11000, codeName: 'DuplicateKey', keyPattern, keyValue: {} });
}
/** As jongodb sends it: only the index name, in the message. */
function jongodb(index: string): MongoServerError {
  return new MongoServerError({ errmsg: `E11000 duplicate key error index: ${index} dup key: { }`, code: 11000, codeName: 'DuplicateKey' });
}

describe('violatedDailyIpKey (real MongoDB reports keyPattern, jongodb only the index name)', () => {
  it('reads keyPattern first', () => {
    assert.equal(violatedDailyIpKey(e11000('whatever', { accountId: 1, expiresAt: 1, ip: 1 })), 'ip');
    assert.equal(violatedDailyIpKey(e11000('whatever', { accountId: 1, expiresAt: 1, slot: 1 })), 'slot');
    assert.equal(violatedDailyIpKey(e11000('_id_', { _id: 1 })), 'id');
  });
  it('falls back to the index name, raw or already typed', () => {
    assert.equal(violatedDailyIpKey(jongodb('daily_ips_account_day_ip')), 'ip');
    assert.equal(violatedDailyIpKey(jongodb('daily_ips_account_day_slot')), 'slot');
    assert.equal(violatedDailyIpKey(jongodb('_id_')), 'id');
    assert.equal(violatedDailyIpKey(new DuplicateKeyError('daily_ips_account_day_slot', { cause: jongodb('daily_ips_account_day_slot') })), 'slot');
  });
  it('says nothing about other errors or unknown indexes', () => {
    assert.equal(violatedDailyIpKey(jongodb('some_other_index')), undefined);
    assert.equal(violatedDailyIpKey(new MongoServerError({ errmsg: 'WriteConflict', code: 112 })), undefined);
    assert.equal(violatedDailyIpKey(new Error('boom')), undefined);
  });
});

describe('MongoDailyIpRepository.create maps the violated key', () => {
  const d: DailyIp = { dailyIpId: 'dip-1', ip: '192.0.2.1', accountId: 'acc-1', email: 'u@bank.example', scope: 'live', registeredAt: new Date(0), expiresAt: new Date(1), slot: 1 };
  /** A store whose insert fails with `err` and whose lookup finds `existing`. */
  const repoFailingWith = (err: Error, existing: object | null) => {
    const db = { collection: () => ({ insertOne: () => Promise.reject(err), findOne: () => Promise.resolve(existing) }) };
    return new MongoDailyIpRepository({ db, exec: (_tx: unknown, fn: (d: typeof db, s: undefined) => Promise<unknown>) => fn(db, undefined) } as unknown as MongoStore);
  };
  /** Stands for the use case's transaction (the fake store passes no session). */
  const tx = { backend: 'mongodb' } as Transaction;

  it('slot reported but the IP is already registered for that day: ip_exists (a server names only one index)', async () => {
    const slotErr = e11000('daily_ips_account_day_slot', { accountId: 1, expiresAt: 1, slot: 1 });
    assert.equal(await repoFailingWith(slotErr, { ...d, _id: 'dip-0' }).create(tx, d), 'ip_exists');
    assert.equal(await repoFailingWith(slotErr, null).create(tx, d), 'slot_taken');
  });
  it('a duplicate id is AlreadyExistsError; anything else is rethrown as is', async () => {
    await assert.rejects(repoFailingWith(e11000('_id_', { _id: 1 }), null).create(tx, d), AlreadyExistsError);
    const other = new MongoServerError({ errmsg: 'not primary', code: 10107 });
    await assert.rejects(repoFailingWith(other, null).create(tx, d), (err) => err === other);
  });
});
