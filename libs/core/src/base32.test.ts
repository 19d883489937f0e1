import { test } from 'node:test';
import assert from 'node:assert/strict';
import { base32Decode, base32Encode } from './base32.js';

test('RFC 4648 §10 vectors (unpadded) both ways; one accepted text per byte string', () => {
  const vectors: Array<[string, string]> = [
    ['', ''],
    ['f', 'MY'],
    ['fo', 'MZXQ'],
    ['foo', 'MZXW6'],
    ['foob', 'MZXW6YQ'],
    ['fooba', 'MZXW6YTB'],
    ['foobar', 'MZXW6YTBOI'],
  ];
  for (const [plain, b32] of vectors) {
    assert.equal(base32Encode(new TextEncoder().encode(plain)), b32);
    assert.equal(new TextDecoder().decode(base32Decode(b32)), plain);
  }
  for (const bad of ['mzxw6', 'MZXW6=', 'M', 'MZX', 'MZ1W6', 'MZ']) assert.equal(base32Decode(bad), undefined, bad);
  assert.equal(base32Decode('MZ'), undefined, 'non-zero trailing bits are refused');
});
