// Shamir k-of-n over GF(2^8) (P3: the master key's unseal material split between operators).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { createHash, randomBytes } from 'node:crypto';
import { InvalidArgumentError } from '@gatehouse/core';
import { base32Encode } from '@gatehouse/core';
import { Share, combine, decodeShare, encodeShare, gfInverse, gfMul, split } from './shamir.js';
import { scriptedRandom, seededRandom } from './seal-test-support.js';

function invalid(field: string, message?: RegExp) {
  return (err: unknown) => err instanceof InvalidArgumentError && err.field === field && (message === undefined || message.test(err.message));
}

/** Every k-subset of [0, n). */
function subsets(n: number, k: number): number[][] {
  const out: number[][] = [];
  const pick = (start: number, acc: number[]) => {
    if (acc.length === k) return void out.push([...acc]);
    for (let i = start; i < n; i++) pick(i + 1, [...acc, i]);
  };
  pick(0, []);
  return out;
}

// --- GF(2^8) -----------------------------------------------------------------------------------

test('GF(2^8) known answers from FIPS-197 §4.2: {57}·{83} = {c1}, {57}·{13} = {fe}, xtime chain', () => {
  assert.equal(gfMul(0x57, 0x83), 0xc1);
  assert.equal(gfMul(0x83, 0x57), 0xc1);
  assert.equal(gfMul(0x57, 0x13), 0xfe);
  // §4.2.1: {57}·{02} = {ae}, ·{04} = {47}, ·{08} = {8e}, ·{10} = {07}.
  assert.equal(gfMul(0x57, 0x02), 0xae);
  assert.equal(gfMul(0x57, 0x04), 0x47);
  assert.equal(gfMul(0x57, 0x08), 0x8e);
  assert.equal(gfMul(0x57, 0x10), 0x07);
  // Reduction by 0x11b: x^7 · x = x^8 = x^4+x^3+x+1.
  assert.equal(gfMul(0x80, 0x02), 0x1b);
});

test('GF(2^8) inverse: {53}^-1 = {ca} (FIPS-197 §5.1.1 example), 1^-1 = 1, 0 ↦ 0, a·a^-1 = 1 for all 255 non-zero a', () => {
  assert.equal(gfInverse(0x53), 0xca);
  assert.equal(gfInverse(0xca), 0x53);
  assert.equal(gfInverse(1), 1);
  assert.equal(gfInverse(0), 0);
  for (let a = 1; a < 256; a++) assert.equal(gfMul(a, gfInverse(a)), 1, `a = ${a}`);
});

test('GF(2^8) multiplication equals an independent log/antilog-table implementation on all 65,536 pairs', () => {
  // Tables from the generator {03}: exp[i] = 3^i, log[3^i] = i (a different algorithm).
  const exp = new Array<number>(255);
  const log = new Array<number>(256).fill(-1);
  let v = 1;
  for (let i = 0; i < 255; i++) {
    exp[i] = v;
    log[v] = i;
    v = v ^ ((v << 1) ^ (v & 0x80 ? 0x11b : 0)); // v·{03} = v·{02} ⊕ v
    v &= 0xff;
  }
  assert.equal(v, 1, '{03} has order 255');
  assert.ok(log.slice(1).every((l) => l >= 0), '{03} generates every non-zero element');
  for (let a = 0; a < 256; a++) {
    for (let b = 0; b < 256; b++) {
      const expected = a === 0 || b === 0 ? 0 : (exp[((log[a] as number) + (log[b] as number)) % 255] as number);
      if (gfMul(a, b) !== expected) assert.fail(`gfMul(${a}, ${b}) = ${gfMul(a, b)}, want ${expected}`);
    }
  }
});

test('GF(2^8) field laws: identity, zero, distributivity over XOR (sampled)', () => {
  const rnd = seededRandom(3);
  for (let a = 0; a < 256; a++) {
    assert.equal(gfMul(a, 1), a);
    assert.equal(gfMul(a, 0), 0);
  }
  for (let i = 0; i < 5000; i++) {
    const [a, b, c] = rnd.bytes(3) as unknown as [number, number, number];
    assert.equal(gfMul(a, b ^ c), gfMul(a, b) ^ gfMul(a, c));
    assert.equal(gfMul(gfMul(a, b), c), gfMul(a, gfMul(b, c)));
  }
});

// --- split / combine ---------------------------------------------------------------------------

test('hand-derived vector, 2-of-3: secret {57}, coefficient {83} → shares {d4}, {4a}, {c9}', () => {
  // y(x) = 57 ⊕ 83·x: 83·1 = 83 → d4; 83·2 = 106 ⊕ 11b = 1d → 4a; 83·3 = 1d ⊕ 83 = 9e → c9.
  const random = scriptedRandom([0x83]);
  const shares = split(Uint8Array.of(0x57), 2, 3, random);
  assert.deepEqual(
    shares.map((s) => [s.index, [...s.payload]]),
    [
      [1, [0xd4]],
      [2, [0x4a]],
      [3, [0xc9]],
    ],
  );
  assert.equal(random.served, 1, 'k-1 coefficient bytes per secret byte');
  for (const pair of subsets(3, 2)) assert.deepEqual([...combine(pair.map((i) => shares[i] as Share))], [0x57]);
});

test('hand-derived vector, 3-of-3: secret {01}, coefficients {02},{03} → shares {00}, {09}, {08}', () => {
  // y(x) = 1 ⊕ 2x ⊕ 3x²: x=1: 1⊕2⊕3 = 0; x=2: 1⊕4⊕3·4(=c) = 9; x=3: 1⊕6⊕3·5(=f) = 8.
  const shares = split(Uint8Array.of(0x01), 3, 3, scriptedRandom([0x02, 0x03]));
  assert.deepEqual(
    shares.map((s) => s.payload[0]),
    [0x00, 0x09, 0x08],
  );
  assert.deepEqual([...combine(shares)], [0x01]);
});

test('round trip for every 2 ≤ k ≤ n ≤ 16 with random 32-byte secrets: first k, last k, a random k, and all n', () => {
  const rnd = seededRandom(11);
  for (let n = 2; n <= 16; n++) {
    for (let k = 2; k <= n; k++) {
      const secret = randomBytes(32);
      const shares = split(secret, k, n);
      assert.equal(shares.length, n);
      assert.deepEqual(
        shares.map((s) => s.index),
        Array.from({ length: n }, (_, i) => i + 1),
      );
      assert.ok(shares.every((s) => s.threshold === k && s.length === 32));
      const shuffled = [...shares].sort(() => (rnd.bytes(1)[0] as number) - 128);
      for (const pick of [shares.slice(0, k), shares.slice(n - k), shuffled.slice(0, k), shares]) {
        assert.deepEqual(Buffer.from(combine(pick)), secret, `k=${k} n=${n}`);
      }
    }
  }
});

test('any k of n reconstruct: every k-subset for every k ≤ n ≤ 9, in any order', () => {
  for (let n = 2; n <= 9; n++) {
    for (let k = 2; k <= n; k++) {
      const secret = randomBytes(16);
      const shares = split(secret, k, n);
      for (const subset of subsets(n, k)) {
        const picked = subset.map((i) => shares[i] as Share).reverse();
        assert.deepEqual(Buffer.from(combine(picked)), secret, `k=${k} n=${n} subset ${subset.join(',')}`);
      }
    }
  }
});

test('k-1 shares say nothing (exhaustive, k=2): for any x and any secret, one share takes each of the 256 values exactly once', () => {
  for (const secret of [0x00, 0x57, 0xff]) {
    for (let x = 1; x <= 16; x++) {
      const seen = new Set<number>();
      for (let c = 0; c < 256; c++) {
        const shares = split(Uint8Array.of(secret), 2, 16, scriptedRandom([c]));
        seen.add((shares[x - 1] as Share).payload[0] as number);
      }
      assert.equal(seen.size, 256, `secret ${secret}, x ${x}: the share is uniform, whatever the secret`);
    }
  }
});

test('k-1 shares say nothing (exhaustive, k=3): two shares take each of the 65,536 value pairs exactly once, whatever the secret', () => {
  for (const [xa, xb] of [
    [1, 2],
    [7, 16],
  ] as const) {
    for (const secret of [0x00, 0xa5]) {
      const seen = new Uint8Array(65536);
      for (let c1 = 0; c1 < 256; c1++) {
        for (let c2 = 0; c2 < 256; c2++) {
          const shares = split(Uint8Array.of(secret), 3, 16, scriptedRandom([c1, c2]));
          const pair = (((shares[xa - 1] as Share).payload[0] as number) << 8) | ((shares[xb - 1] as Share).payload[0] as number);
          seen[pair] = (seen[pair] as number) + 1;
        }
      }
      assert.ok(seen.every((count) => count === 1), `x=(${xa},${xb}) secret ${secret}: a bijection, so uniform`);
    }
  }
});

test('k-1 shares interpolate to a wrong value: relabelling k-1 shares as a (k-1)-threshold set never yields the secret', () => {
  for (let k = 3; k <= 16; k++) {
    const secret = randomBytes(32);
    const shares = split(secret, k, 16);
    const forged = shares.slice(0, k - 1).map((s) => new Share(k - 1, s.index, s.payload));
    assert.notDeepEqual(Buffer.from(combine(forged)), secret, `k=${k}`);
  }
});

test('each split draws fresh coefficients: the same secret split twice gives different shares', () => {
  const secret = randomBytes(32);
  const a = split(secret, 3, 5);
  const b = split(secret, 3, 5);
  for (let i = 0; i < 5; i++) assert.notDeepEqual((a[i] as Share).payload, (b[i] as Share).payload);
  // Shares of two splits with the same k look compatible; they just give a wrong value, which the
  // key file's check value catches (key-file.test.ts).
  assert.equal(Buffer.from(combine([a[0] as Share, b[1] as Share, a[2] as Share])).equals(secret), false);
});

test('split refuses impossible parameters, naming the contract field', () => {
  const s = randomBytes(32);
  assert.throws(() => split(s, 1, 3), invalid('threshold', /between 2 and share_count \(3\)/));
  assert.throws(() => split(s, 4, 3), invalid('threshold'));
  assert.throws(() => split(s, 2.5, 3), invalid('threshold'));
  assert.throws(() => split(s, 2, 17), invalid('share_count', /between 2 and 16/));
  assert.throws(() => split(s, 2, 1), invalid('share_count'));
  assert.throws(() => split(new Uint8Array(0), 2, 3), invalid('secret'));
  assert.throws(() => split(new Uint8Array(1025), 2, 3), invalid('secret'));
});

test('combine refuses too few shares, duplicates, and shares of different splits', () => {
  const shares = split(randomBytes(32), 3, 5);
  const [s1, s2, s3] = shares as [Share, Share, Share];
  assert.throws(() => combine([]), invalid('shares', /no shares/));
  assert.throws(() => combine([s1, s2]), invalid('shares', /3 shares are needed, 2 given/));
  assert.throws(() => combine([s1, s2, s2]), invalid('shares', /share 2 was given twice/));
  assert.throws(() => combine([s1, s2, new Share(3, 2, s3.payload)]), invalid('shares', /given twice/));
  const other = split(randomBytes(32), 2, 5);
  assert.throws(() => combine([s1, s2, other[2] as Share]), invalid('shares', /thresholds differ/));
  const shorter = split(randomBytes(16), 3, 5);
  assert.throws(() => combine([s1, s2, shorter[2] as Share]), invalid('shares', /lengths differ/));
});

// --- text form ---------------------------------------------------------------------------------

test('text form ghs1-<k>-<index>-<base32 payload>-<checksum> round-trips; lower case and whitespace are accepted', () => {
  const secret = randomBytes(32);
  const shares = split(secret, 3, 5);
  const texts = shares.map(encodeShare);
  for (const [i, t] of texts.entries()) {
    assert.match(t, new RegExp(`^ghs1-3-${i + 1}-[A-Z2-7]{52}-[A-Z2-7]{8}$`));
    const back = decodeShare(t);
    assert.equal(back.threshold, 3);
    assert.equal(back.index, i + 1);
    assert.deepEqual(back.payload, (shares[i] as Share).payload);
  }
  const pasted = `  ${(texts[0] as string).toLowerCase().replace(/(.{20})/g, '$1\n')}\n`;
  assert.deepEqual(Buffer.from(combine([decodeShare(pasted), decodeShare(texts[1] as string), decodeShare(texts[4] as string)])), secret);
});

test('every single-character typo in a share is refused as INVALID_ARGUMENT, and a payload typo reads "checksum mismatch"', () => {
  const text = encodeShare(split(randomBytes(32), 2, 3)[1] as Share);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567-0189';
  let checksumMismatches = 0;
  for (let pos = 0; pos < text.length; pos++) {
    for (const ch of alphabet) {
      if (ch === text[pos] || ch.toLowerCase() === text[pos]) continue;
      const typo = text.slice(0, pos) + ch + text.slice(pos + 1);
      assert.throws(() => decodeShare(typo), invalid('share'), `typo at ${pos}: ${ch}`);
      try {
        decodeShare(typo);
      } catch (err) {
        if (/checksum mismatch/.test((err as Error).message)) checksumMismatches++;
      }
    }
  }
  assert.ok(checksumMismatches > 1000, 'well-formed typos are caught by the checksum');
  // Swapping two adjacent different characters of the payload is caught too.
  const p = text.indexOf('-', 8) + 1;
  for (let i = p; i < p + 51; i++) {
    if (text[i] === text[i + 1]) continue;
    const swapped = text.slice(0, i) + text[i + 1] + text[i] + text.slice(i + 2);
    assert.throws(() => decodeShare(swapped), invalid('share', /checksum mismatch/));
  }
});

test('malformed shares and other format versions are refused, naming the problem and never echoing the share', () => {
  const text = encodeShare(split(randomBytes(32), 2, 3)[0] as Share);
  const payload = text.split('-')[3] as string;
  const cases: Array<[string, RegExp]> = [
    ['', /is empty/],
    ['hello', /starts with "ghs1-"/],
    [text.replace(/^ghs1/, 'ghs2'), /share format version 2; this service reads version 1/],
    [text.replace(/^ghs1/, 'ghs0'), /share format version 0/],
    [text.slice(0, -9), /expected ghs1-<threshold>-<index>-<payload>-<checksum>/],
    [`${text}-AAAA`, /expected ghs1-/],
    [text.replace('-2-', '-x-'), /threshold and index must be numbers/],
    [text.replace(payload, `${payload.slice(0, 10)}!${payload.slice(11)}`), /not base32/],
    [text.slice(0, -1), /checksum must be 8 base32 characters/],
    ['x'.repeat(5000), /too long/],
  ];
  for (const [bad, message] of cases) {
    const err = (() => {
      try {
        decodeShare(bad);
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    assert.ok(err instanceof InvalidArgumentError && err.field === 'share', `refused: ${bad.slice(0, 20)}`);
    assert.match(err.message, message);
    assert.ok(!err.message.includes(payload.slice(0, 12)), 'the payload never appears in the message');
  }
  assert.throws(() => decodeShare(42 as unknown as string), invalid('share'));
});

test('a well-formed share with a valid checksum but an impossible threshold or index is still refused', () => {
  // The checksum is documented (first 40 bits of SHA-256 over a label and the body, base32), so a
  // text with impossible numbers can carry a valid one: the range checks must still apply.
  const payload = base32Encode(randomBytes(32));
  const forge = (k: number, i: number) => {
    const body = `ghs1-${k}-${i}-${payload}`;
    const sum = createHash('sha256').update('gatehouse/secrets/share-checksum\0').update(body).digest().subarray(0, 5);
    return `${body}-${base32Encode(sum)}`;
  };
  assert.equal(decodeShare(forge(2, 1)).index, 1, 'the forging matches the module (sanity)');
  assert.throws(() => decodeShare(forge(1, 1)), invalid('share', /threshold must be between 2 and 16/));
  assert.throws(() => decodeShare(forge(17, 1)), invalid('share', /threshold/));
  assert.throws(() => decodeShare(forge(2, 0)), invalid('share', /index must be between 1 and 16/));
  assert.throws(() => decodeShare(forge(2, 17)), invalid('share', /index/));
  assert.throws(() => new Share(2, 1, new Uint8Array(0)), invalid('share', /payload/));
});

test('a Share never shows its payload in JSON, String() or util.inspect, and wipe() zeroes it', () => {
  const share = split(Buffer.from('a very secret unseal key 32bytes'), 2, 2)[0] as Share;
  const hex = Buffer.from(share.payload).toString('hex');
  const b32 = base32Encode(share.payload);
  for (const shown of [JSON.stringify({ share }), String(share), `${share}`, inspect(share), inspect({ nested: [share] }, { depth: 5 })]) {
    assert.ok(!shown.includes(hex) && !shown.includes(b32), shown);
    assert.match(shown, /\[share payload\]/);
  }
  assert.deepEqual(JSON.parse(JSON.stringify(share)), { threshold: 2, index: 1, payload: '[share payload]' });
  const copy = share.payload;
  copy.fill(0xff);
  assert.notDeepEqual(share.payload, copy, 'payload returns a copy: the share cannot be changed through it');
  share.wipe();
  assert.ok(share.payload.every((b) => b === 0));
});

test('split wipes its coefficient bytes after use', () => {
  const handedOut: Uint8Array[] = [];
  const random = {
    bytes: (n: number) => {
      const b = randomBytes(n);
      handedOut.push(b);
      return b;
    },
  };
  split(randomBytes(32), 4, 6, random);
  assert.equal(handedOut.length, 1);
  assert.ok((handedOut[0] as Uint8Array).every((b) => b === 0));
});
