import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from './logger.js';

test('redaction removes seeded secrets at every depth we log, and times are UTC', () => {
  const out: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _e, cb) {
      out.push(chunk.toString());
      cb();
    },
  });
  const log = createLogger({ service: 't', level: 'info', destination });
  const seeded = {
    token: 'tok-SEEDED-1',
    req: { otp: '123456', seed: 'JBSWY3DPSEEDED2', nested: { passphrase: 'correct horse SEEDED3' } },
    metadata: { authorization: 'Bearer SEEDED4' },
    value: 'db-password-SEEDED5',
    ok: 'visible',
  };
  log.info(seeded, 'request');
  const text = out.join('');
  for (const s of ['SEEDED-1', '123456', 'SEEDED2', 'SEEDED3', 'SEEDED4', 'SEEDED5']) {
    assert.ok(!text.includes(s), `${s} must not appear in the log`);
  }
  assert.ok(text.includes('visible'));
  assert.ok(text.includes('[REDACTED]'));
  const line = JSON.parse(text.split('\n')[0] ?? '{}') as { time: string; level: string };
  assert.match(line.time, /Z$/);
  assert.equal(line.level, 'info');
});
