import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '@gatehouse/core';
import {
  assertUsableUnicast,
  compareIps,
  formatIpv6,
  ipFromV6Words,
  isUsableUnicast,
  parseIp,
  tryParseIp,
  unusableReason,
  type Ipv6Words,
  type ParsedIp,
} from './index.js';
import { parseRawAddress, parseRawAddressSlow } from './address.js';

/** Asserts parseIp refuses `text` with InvalidArgumentError on `field` whose message matches `why`. */
function refuses(text: string, why: RegExp, field = 'ip'): InvalidArgumentError {
  let caught: unknown;
  try {
    parseIp(text, field);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof InvalidArgumentError, `${JSON.stringify(text)} must be refused with InvalidArgumentError, got ${String(caught)}`);
  assert.equal(caught.field, field);
  assert.ok(caught.message.startsWith(`${field}: `), caught.message);
  assert.match(caught.message, why, `message for ${JSON.stringify(text)}`);
  assert.equal(tryParseIp(text), undefined, `tryParseIp(${JSON.stringify(text)}) is undefined`);
  return caught;
}

function v6(ip: ParsedIp): Ipv6Words {
  assert.equal(ip.family, 6, `${ip.canonical} should be IPv6`);
  return ip.family === 6 ? ip.words : [0, 0, 0, 0];
}

test('IPv4 dotted quads parse to their 32-bit value and canonical text', () => {
  const cases: Array<[string, number]> = [
    ['192.0.2.1', 0xc0000201],
    ['0.0.0.0', 0],
    ['255.255.255.255', 0xffffffff],
    ['10.0.0.1', 0x0a000001],
    ['100.64.0.0', 0x64400000],
  ];
  for (const [text, value] of cases) {
    const ip = parseIp(text);
    assert.equal(ip.family, 4);
    assert.equal(ip.family === 4 && ip.value, value, text);
    assert.equal(ip.canonical, text);
    assert.equal(ip.mappedFromV6, false);
  }
});

test('IPv6 canonical text follows RFC 5952 (its own examples)', () => {
  const cases: Array<[string, string]> = [
    ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'], // §4.2.1 shorten as much as possible
    ['2001:0db8::0001', '2001:db8::1'], // §4.1 no leading zeros
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // §4.2.2 a single 0 group is not '::'
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // §4.2.3 the longest run
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // §4.2.3 on a tie, the first run
    ['2001:DB8::ABCD', '2001:db8::abcd'], // §4.3 lower case
    ['0:0:0:0:0:0:0:1', '::1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['FE80:0000:0000:0000:0202:B3FF:FE1E:8329', 'fe80::202:b3ff:fe1e:8329'],
    ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
  ];
  for (const [text, canonical] of cases) {
    const ip = parseIp(text);
    assert.equal(ip.family, 6, text);
    assert.equal(ip.canonical, canonical, text);
    assert.equal(parseIp(canonical).canonical, canonical, 'canonical text is a fixed point');
  }
  assert.deepEqual(v6(parseIp('2001:db8::1')), [0x20010db8, 0, 0, 1]);
  assert.deepEqual(v6(parseIp('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')), [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff]);
});

test('IPv4-mapped IPv6, in every spelling, is IPv4 (it must match IPv4 entries)', () => {
  const spellings = [
    '::ffff:192.0.2.1',
    '::FFFF:192.0.2.1',
    '::ffff:c000:201',
    '::ffff:c000:0201',
    '::FFFF:C000:0201',
    '0:0:0:0:0:ffff:c000:201',
    '0000:0000:0000:0000:0000:ffff:c000:0201',
    '0:0:0:0:0:ffff:192.0.2.1',
    '0000:0000:0000:0000:0000:FFFF:192.0.2.1',
    '::0:ffff:192.0.2.1',
    '0::ffff:c000:201',
  ];
  for (const text of spellings) {
    const ip = parseIp(text);
    assert.equal(ip.family, 4, text);
    assert.equal(ip.family === 4 && ip.value, 0xc0000201, text);
    assert.equal(ip.canonical, '192.0.2.1', text);
    assert.equal(ip.mappedFromV6, true, text);
  }
  assert.equal(parseIp('::ffff:0.0.0.0').canonical, '0.0.0.0');
  assert.equal(parseIp('::ffff:ffff:ffff').canonical, '255.255.255.255');
});

test('other transition forms stay IPv6 and are never folded to IPv4', () => {
  const cases: Array<[string, string]> = [
    ['::192.0.2.1', '::c000:201'], // IPv4-compatible (deprecated)
    ['::c000:201', '::c000:201'],
    ['64:ff9b::192.0.2.1', '64:ff9b::c000:201'], // NAT64 well-known prefix
    ['2002:c000:0201::1', '2002:c000:201::1'], // 6to4
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', '2001:0:4136:e378:8000:63bf:3fff:fdd2'], // Teredo
    ['::ffff:0:192.0.2.1', '::ffff:0:c000:201'], // IPv4-translated, not mapped
    ['::fffe:192.0.2.1', '::fffe:c000:201'],
    ['0:0:0:0:1:ffff:c000:201', '::1:ffff:c000:201'],
  ];
  for (const [text, canonical] of cases) {
    const ip = parseIp(text);
    assert.equal(ip.family, 6, text);
    assert.equal(ip.canonical, canonical, text);
    assert.equal(ip.mappedFromV6, false);
  }
});

test('IPv4 forms a resolver would repair are refused, naming the problem', () => {
  refuses('010.1.1.1', /^ip: leading zeros are not allowed \(octal ambiguity\): "010\.1\.1\.1"$/);
  refuses('0177.0.0.1', /leading zeros are not allowed \(octal ambiguity\)/);
  refuses('1.2.3.00', /leading zeros/);
  refuses('192.168.001.1', /leading zeros/);
  refuses('1.2.3', /short form with 3 parts/);
  refuses('1.2', /short form with 2 parts/);
  refuses('127.1', /short form/);
  refuses('1', /integer form is not allowed/);
  refuses('2130706433', /integer form is not allowed/);
  refuses('0x7f000001', /hexadecimal integer form is not allowed/);
  refuses('0x7f.1.1.1', /hexadecimal octets are not allowed/);
  refuses('0X7F.0.0.1', /hexadecimal octets are not allowed/);
  refuses('256.1.1.1', /octet 256 is greater than 255/);
  refuses('1.2.3.1000', /octet 100… is greater than 255/);
  refuses('1.2.3.4.5', /too many parts \(5\)/);
  refuses('1..2.3', /empty octet/);
  refuses('1.2.3.4.', /too many parts \(5\)/);
  refuses('.1.2.3', /empty octet/);
  refuses('-1.2.3.4', /invalid character '-'/);
  refuses('1.2.3.a', /invalid character 'a'/);
  refuses('localhost', /not an IPv4 or IPv6 address/);
});

test('IPv6 forms outside RFC 4291 text are refused, naming the problem', () => {
  refuses('fe80::1%eth0', /zone ids/);
  refuses('fe80::1%25eth0', /zone ids/);
  refuses('[::1]', /brackets are not allowed/);
  refuses('[2001:db8::1]', /brackets/);
  refuses('1::2::3', /more than one '::'/);
  refuses('::1::', /more than one '::'/);
  refuses('1:::2', /':::' is not valid/);
  refuses('12345::', /group '12345' is longer than 4 hex digits/);
  refuses('2001:db8:00000::1', /longer than 4 hex digits/);
  refuses('1:2:3:4:5:6:7', /too few groups \(7 of 8\)/);
  refuses('1:2:3:4:5:6:7:8:9', /too many groups \(9 of 8\)/);
  refuses('1:2:3:4:5:6:7:8::', /too many groups/);
  refuses('::1:2:3:4:5:6:7:8', /too many groups/);
  refuses('1:2:3:4:5:6:1.2.3.4:8', /embedded IPv4 address must be the last part/);
  refuses('::1.2.3.4:1', /embedded IPv4 address must be the last part/);
  refuses('1.2.3.4::', /embedded IPv4 address must be the last part/);
  refuses('1:2:3:4:5:6:7:1.2.3.4', /too many groups \(9 of 8\)/);
  refuses('::ffff:1.2.3', /embedded IPv4 short form/);
  refuses('::ffff:01.2.3.4', /embedded IPv4 leading zeros/);
  refuses('::ffff:1.2.3.256', /embedded IPv4 octet 256 is greater than 255/);
  refuses(':1::2', /starts with a single ':'/);
  refuses('1::2:', /ends with a single ':'/);
  refuses(':', /starts with a single ':'/);
  refuses('2001:db8::g', /invalid character 'g'/);
  refuses('1.2.3.4:80', /embedded IPv4 address must be the last part/);
});

test('whitespace, non-ASCII, control characters, prefixes and oversized input are refused', () => {
  refuses('', /^ip: is empty$/);
  refuses(' 1.2.3.4', /leading or trailing whitespace/);
  refuses('1.2.3.4 ', /leading or trailing whitespace/);
  refuses('1.2.3.4\n', /leading or trailing whitespace/);
  refuses('\t::1', /leading or trailing whitespace/);
  refuses('1.2. 3.4', /whitespace inside an address is not allowed/);
  refuses('1.2.3.4\u00a0', /leading or trailing whitespace/);
  refuses('1.2.\u30003.4', /whitespace inside/);
  refuses('\uff11.2.3.4', /non-ASCII character at position 1/); // fullwidth digit one
  refuses('1.2.3.\u0664', /non-ASCII/); // Arabic-Indic digit four
  refuses('::\uff46\uff46\uff46\uff46:1.2.3.4', /non-ASCII/);
  refuses('1.2.3.4\u0000', /control character/);
  refuses('1.2.3.4/32', /'\/' prefix length is not allowed in an address/);
  refuses('1'.repeat(65), /is 65 characters long; an address is at most 64/);
  refuses('0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0', /characters long/);
});

test('error messages never echo more than 64 characters of input, nor raw control characters', () => {
  const huge = 'A'.repeat(10_000);
  const e1 = refuses(huge, /characters long/);
  assert.ok(!e1.message.includes('AAAA'), 'oversized input is not echoed');
  assert.ok(e1.message.length < 120, e1.message);
  const e2 = refuses('1.2.3.4\u0000\u001b[31m', /control character/);
  assert.ok(!/[\u0000-\u001f]/.test(e2.message), 'control characters are escaped');
  assert.match(e2.message, /\\u0000\\u001b\[31m/);
  const e3 = refuses(`${'1'.repeat(63)}x`, /.*/);
  assert.ok(e3.message.length <= 'ip: '.length + 120, e3.message);
  const e4 = refuses('"1.2.3.4"', /invalid character|not an IPv4/);
  assert.ok(e4.message.includes('\\"1.2.3.4\\"'), 'quotes in the input are escaped, not mistaken for the delimiter');
});

test('the field name is the caller\'s, so the message names the request field', () => {
  const e = refuses('010.1.1.1', /leading zeros/, 'contains_ip');
  assert.equal(e.kind, 'invalid_argument');
  assert.match(e.message, /^contains_ip: /);
  assert.throws(() => parseIp(42 as unknown as string), (err: unknown) => err instanceof InvalidArgumentError && /must be a string/.test(err.message));
  assert.equal(tryParseIp(undefined as unknown as string), undefined);
});

test('RFC 5952 text agrees with the WHATWG URL serializer for random non-mapped addresses (independent oracle)', () => {
  let seed = 0x5eed1234;
  const rnd = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
  for (let i = 0; i < 3000; i++) {
    // Plenty of zero groups, so '::' placement and tie-breaking are exercised.
    const g = Array.from({ length: 8 }, () => (rnd() % 3 === 0 ? rnd() & 0xffff : 0));
    const words: Ipv6Words = [g[0]! * 0x10000 + g[1]!, g[2]! * 0x10000 + g[3]!, g[4]! * 0x10000 + g[5]!, g[6]! * 0x10000 + g[7]!];
    if (words[0] === 0 && words[1] === 0 && words[2] === 0xffff) continue;
    const full = g.map((x) => x.toString(16).toUpperCase().padStart(4, '0')).join(':');
    const ip = parseIp(full);
    assert.deepEqual(v6(ip), words, full);
    const oracle = new URL(`http://[${full}]/`).hostname.slice(1, -1);
    assert.equal(ip.canonical, oracle, full);
    assert.equal(formatIpv6(words), oracle);
    assert.equal(ipFromV6Words(words).canonical, oracle);
  }
});

test('RegisterDailyIp refuses unspecified, multicast, broadcast and reserved sources; loopback and private are usable', () => {
  const unusable = [
    '0.0.0.0',
    '0.1.2.3',
    '0.255.255.255',
    '224.0.0.1',
    '239.255.255.255',
    '240.0.0.1',
    '255.255.255.254',
    '255.255.255.255',
    '::ffff:255.255.255.255',
    '::ffff:0.0.0.0',
    '::ffff:224.0.0.251',
    '::',
    '0:0:0:0:0:0:0:0',
    'ff02::1',
    'ff00::',
    'ff05::1:3',
    'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
  ];
  for (const text of unusable) {
    const ip = parseIp(text);
    assert.equal(isUsableUnicast(ip), false, text);
    assert.throws(
      () => assertUsableUnicast(ip, 'peer address'),
      (e: unknown) => e instanceof InvalidArgumentError && e.field === 'peer address' && e.message.includes(ip.canonical) && e.message.includes(unusableReason(ip) ?? '?'),
    );
  }
  const usable = [
    '1.0.0.0',
    '8.8.8.8',
    '10.0.0.1',
    '172.16.0.1',
    '192.168.1.10',
    '127.0.0.1',
    '100.64.0.1',
    '169.254.1.1',
    '223.255.255.255',
    '::ffff:10.0.0.1',
    '::1',
    'fe80::1',
    'fd00::1',
    '2001:db8::1',
    'feff::1',
    '64:ff9b::808:808',
  ];
  for (const text of usable) {
    const ip = parseIp(text);
    assert.equal(isUsableUnicast(ip), true, text);
    assert.doesNotThrow(() => assertUsableUnicast(ip));
  }
  assert.match(unusableReason(parseIp('224.0.0.1')) ?? '', /multicast/);
  assert.match(unusableReason(parseIp('255.255.255.255')) ?? '', /broadcast/);
  assert.match(unusableReason(parseIp('::')) ?? '', /unspecified/);
  assert.match(unusableReason(parseIp('ff02::1')) ?? '', /multicast/);
});

test('compareIps orders IPv4 before IPv6, then numerically (not as text)', () => {
  const sorted = ['2001:db8::1', '10.0.0.1', '::1', '9.255.255.255', '100.0.0.0', '::ffff:10.0.0.0', 'fe80::', '2001:db8::']
    .map((t) => parseIp(t))
    .sort(compareIps)
    .map((ip) => ip.canonical);
  assert.deepEqual(sorted, ['9.255.255.255', '10.0.0.0', '10.0.0.1', '100.0.0.0', '::1', '2001:db8::', '2001:db8::1', 'fe80::']);
});

test('numeric constructors agree with the parser and fold mapped words', () => {
  const m = ipFromV6Words([0, 0, 0xffff, 0xc0000201]);
  assert.deepEqual(m, parseIp('::ffff:192.0.2.1'));
  assert.deepEqual(ipFromV6Words([0x20010db8, 0, 0, 1]), parseIp('2001:db8::1'));
  assert.throws(() => ipFromV6Words([0, 0, 0, 2 ** 32]), RangeError);
});

test('the fast parsing path accepts exactly what the reference parser accepts, with the same value (differential fuzz)', () => {
  let seed = 0xf00d;
  const rnd = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
  const alphabet = '0123456789abcdefABCDEFxg:..::/';
  const seeds = ['1.2.3.4', '255.255.255.255', '0.0.0.0', '::', '::1', '1::', '2001:db8::1', '::ffff:1.2.3.4', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:1.2.3.4', 'fe80::a:b:c:d', '::ffff:c000:201', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8'];
  let accepted = 0;
  for (let i = 0; i < 60_000; i++) {
    let s: string;
    if (i % 3 === 0) {
      s = '';
      const len = rnd() % 20;
      for (let k = 0; k < len; k++) s += alphabet[rnd() % alphabet.length];
    } else {
      s = seeds[rnd() % seeds.length] as string;
      for (let m = 1 + (rnd() % 3); m > 0; m--) {
        const at = rnd() % (s.length + 1);
        const ch = alphabet[rnd() % alphabet.length] as string;
        const op = rnd() % 3;
        s = op === 0 ? s.slice(0, at) + ch + s.slice(at) : op === 1 ? s.slice(0, at) + s.slice(at + 1) : s.slice(0, at) + ch + s.slice(at + 1);
      }
    }
    const fast = parseRawAddress(s);
    const slow = parseRawAddressSlow(s);
    assert.deepEqual(fast, slow, JSON.stringify(s));
    if (typeof slow !== 'string') accepted++;
  }
  assert.ok(accepted > 5_000, `the fuzz reached valid inputs too (${accepted})`);
});
