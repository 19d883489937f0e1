import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { lineReaderPrompt } from './prompt.js';

/** A stand-in for a terminal: a stream with isTTY and setRawMode, recording the raw-mode switches. */
function fakeTerminal() {
  const input = Object.assign(new PassThrough(), { isTTY: true, rawModes: [] as boolean[] });
  Object.assign(input, {
    setRawMode(mode: boolean) {
      input.rawModes.push(mode);
      return input;
    },
  });
  const output = new PassThrough();
  let written = '';
  output.on('data', (b: Buffer) => (written += b.toString()));
  return { input, output, written: () => written };
}

describe('lineReaderPrompt', () => {
  test('a secret question on a terminal is read in raw mode (no echo), with Backspace and Ctrl-U editing', async () => {
    const t = fakeTerminal();
    const p = lineReaderPrompt(t.input, t.output);
    const answer = p.ask('Passphrase', { secret: true });
    t.input.write('wrong\u0015corr');
    t.input.write('ecX\u007ft horse\r');
    assert.equal(await answer, 'correct horse');
    assert.deepEqual(t.input.rawModes, [true, false]);
    assert.equal(t.written(), 'Passphrase (not shown): \n');
    p.close();
  });

  test('Ctrl-C cancels a secret question; a plain question afterwards reads a line as usual', async () => {
    const t = fakeTerminal();
    const p = lineReaderPrompt(t.input, t.output);
    const cancelled = p.ask('Passphrase', { secret: true });
    t.input.write('abc\u0003');
    await assert.rejects(cancelled, /cancelled/);
    assert.deepEqual(t.input.rawModes, [true, false]);
    const code = p.ask('SMS code');
    t.input.write('123456\n');
    assert.equal(await code, '123456');
    p.close();
  });

  test('piped input (not a terminal) answers a secret question line by line', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const p = lineReaderPrompt(input, output);
    input.end('first secret\nsecond secret\n');
    assert.equal(await p.ask('New passphrase', { secret: true }), 'first secret');
    assert.equal(await p.ask('Repeat the passphrase', { secret: true }), 'second secret');
    p.close();
  });
});
