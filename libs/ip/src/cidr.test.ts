import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '@gatehouse/core';
import {
  DEFAULT_MIN_PREFIX_V4,
  DEFAULT_MIN_PREFIX_V6,
  cidrContains,
  cidrFromIp,
  cidrsOverlap,
  compareCidrs,
  hostCidr,
  parseCidr,
  parseIp,
  type CidrPolicy,
  type ParsedCidr,
} from './index.js';

const STRICT: CidrPolicy = { minPrefixV4: DEFAULT_MIN_PREFIX_V4, minPrefixV6: DEFAULT_MIN_PREFIX_V6, normalize: false };
const NORMALIZE: CidrPolicy = { ...STRICT, normalize: true };
const ANY: CidrPolicy = { minPrefixV4: 1, minPrefixV6: 1, normalize: false };

function refuses(text: string, why: RegExp, opts: CidrPolicy = NORMALIZE): InvalidArgumentError {
  let caught: unknown;
  try {
    parseCidr(text, opts);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof InvalidArgumentError, `${JSON.stringify(text)} must be refused, got ${String(caught)}`);
  assert.equal(caught.field, opts.field ?? 'cidr');
  assert.match(caught.message, why, `message for ${JSON.stringify(text)}`);
  return caught;
}

const canon = (text: string, opts: CidrPolicy = STRICT) => parseCidr(text, opts).cidr.canonical;

test('the contract defaults: minimum /16 for IPv4 and /48 for IPv6', () => {
  assert.equal(DEFAULT_MIN_PREFIX_V4, 16);
  assert.equal(DEFAULT_MIN_PREFIX_V6, 48);
});

test('canonical CIDRs are accepted as given, without warnings', () => {
  for (const text of ['203.0.113.0/24', '10.1.0.0/16', '198.51.100.7/32', '2001:db8:1::/48', '2001:db8::/48', '2001:db8::1/128', 'fd00:1:2::/48']) {
    const { cidr, warnings } = parseCidr(text, STRICT);
    assert.equal(cidr.canonical, text);
    assert.deepEqual(warnings, []);
  }
});

test('the canonical form is lower-case RFC 5952 and does not warn for mere spelling', () => {
  const r = parseCidr('2001:0DB8:0001:0000::/48', STRICT);
  assert.equal(r.cidr.canonical, '2001:db8:1::/48');
  assert.deepEqual(r.warnings, []);
});

test('a bare address means /32 or /128', () => {
  const a = parseCidr('198.51.100.7', STRICT).cidr;
  assert.equal(a.canonical, '198.51.100.7/32');
  assert.equal(a.family === 4 && a.first, 0xc6336407);
  assert.equal(a.family === 4 && a.last, 0xc6336407);
  const b = parseCidr('2001:DB8::1', STRICT).cidr;
  assert.equal(b.canonical, '2001:db8::1/128');
  assert.equal(b.prefix, 128);
});

test('first and last addresses bound the range exactly', () => {
  const a = parseCidr('10.1.0.0/16', STRICT).cidr;
  assert.equal(a.family, 4);
  if (a.family === 4) {
    assert.equal(a.first, 0x0a010000);
    assert.equal(a.last, 0x0a01ffff);
  }
  const b = parseCidr('2001:db8::/48', STRICT).cidr;
  assert.equal(b.family, 6);
  if (b.family === 6) {
    assert.deepEqual(b.first, [0x20010db8, 0, 0, 0]);
    assert.deepEqual(b.last, [0x20010db8, 0x0000ffff, 0xffffffff, 0xffffffff]);
  }
  const c = parseCidr('2001:db8:1:2::/63', ANY).cidr;
  if (c.family === 6) assert.deepEqual(c.last, [0x20010db8, 0x00010003, 0xffffffff, 0xffffffff]);
  const d = parseCidr('255.255.255.0/24', STRICT).cidr;
  if (d.family === 4) assert.equal(d.last, 0xffffffff);
});

test('/0 is refused always, whatever the configured minimum', () => {
  for (const text of ['0.0.0.0/0', '::/0', '10.0.0.0/0', '::ffff:0.0.0.0/96', '::ffff:0:0/96']) refuses(text, /a \/0 prefix is never allowed/, ANY);
});

test('prefixes broader than the configured minimum are refused, naming the minimum', () => {
  refuses('10.0.0.0/15', /prefix \/15 is broader than the minimum \/16 for IPv4/);
  assert.equal(canon('10.0.0.0/16'), '10.0.0.0/16');
  refuses('10.0.0.0/8', /broader than the minimum \/16/);
  refuses('2001:db8::/47', /prefix \/47 is broader than the minimum \/48 for IPv6/);
  assert.equal(canon('2001:db8::/48'), '2001:db8::/48');
  refuses('2000::/3', /broader than the minimum \/48/);
  const tight: CidrPolicy = { minPrefixV4: 24, minPrefixV6: 56, normalize: false };
  refuses('192.168.0.0/23', /minimum \/24/, tight);
  refuses('2001:db8::/55', /minimum \/56/, tight);
  assert.equal(canon('192.168.0.0/24', tight), '192.168.0.0/24');
});

test('prefixes beyond the family maximum, or not plain decimal, are refused', () => {
  refuses('10.0.0.0/33', /prefix \/33 is longer than 32, the IPv4 maximum/);
  refuses('2001:db8::/129', /prefix \/129 is longer than 128, the IPv6 maximum/);
  refuses('10.0.0.0/08', /leading zeros/);
  refuses('10.0.0.0/016', /leading zeros/);
  refuses('10.0.0.0/00', /leading zeros/);
  refuses('10.0.0.0/+16', /must not have a sign/);
  refuses('10.0.0.0/-16', /must not have a sign/);
  refuses('10.0.0.0/16.0', /decimal digits/);
  refuses('10.0.0.0/0x10', /decimal digits/);
  refuses('10.0.0.0/', /prefix length is missing/);
  refuses('10.0.0.0/1000', /too long/);
  refuses('10.0.0.0/99999999999999999999', /too long/);
  refuses('10.0.0.0//16', /more than one '\/'/);
  refuses('10.0.0.0/16/16', /more than one '\/'/);
  refuses('/16', /address is missing/);
  refuses('10.0.0.0/ 16', /whitespace inside a CIDR/);
  refuses('10.0.0.0/\uff11\uff16', /non-ASCII/);
  refuses('255.255.255.255.0/24', /too many parts/);
});

test('every malformed-address refusal applies to the address part', () => {
  refuses('010.0.0.0/16', /leading zeros are not allowed \(octal ambiguity\): "010\.0\.0\.0\/16"/);
  refuses('10.0/16', /short form with 2 parts/);
  refuses('0x0a.0.0.0/16', /hexadecimal octets/);
  refuses('167772160/16', /integer form/);
  refuses('256.0.0.0/16', /greater than 255/);
  refuses('fe80::%eth0/64', /zone ids/);
  refuses('[2001:db8::]/48', /brackets/);
  refuses('2001:db8::1::/48', /more than one '::'/);
  refuses('2001:db8:12345::/48', /longer than 4 hex digits/);
  refuses(' 10.0.0.0/16', /leading or trailing whitespace/);
  refuses('10.0.0.0/16\n', /leading or trailing whitespace/);
  refuses('', /^cidr: is empty$/);
  refuses(`10.0.0.0/16${' '.repeat(60)}x`, /characters long; a CIDR is at most 64/);
});

test('host bits set: refused by default, cleared with a warning naming both values when normalize is set', () => {
  refuses('10.1.2.3/16', /host bits are set \(the network is 10\.1\.0\.0\/16\); set normalize to clear them/, STRICT);
  refuses('2001:db8::1/48', /host bits are set \(the network is 2001:db8::\/48\)/, STRICT);
  const v4 = parseCidr('10.1.2.3/16', NORMALIZE);
  assert.equal(v4.cidr.canonical, '10.1.0.0/16');
  assert.deepEqual(v4.warnings, [{ kind: 'host_bits_cleared', message: 'host bits were cleared: 10.1.2.3/16 became 10.1.0.0/16' }]);
  const v6 = parseCidr('2001:db8:0:0:ffff::/48', NORMALIZE);
  assert.equal(v6.cidr.canonical, '2001:db8::/48');
  assert.equal(v6.warnings.length, 1);
  assert.equal(v6.warnings[0]?.kind, 'host_bits_cleared');
  assert.match(v6.warnings[0]?.message ?? '', /2001:db8:0:0:ffff::\/48 became 2001:db8::\/48/);
  // the lowest host bit counts too
  refuses('192.168.1.1/31', /host bits are set \(the network is 192\.168\.1\.0\/31\)/, STRICT);
  refuses('2001:db8::1/127', /host bits are set \(the network is 2001:db8::\/127\)/, STRICT);
});

test('IPv4-mapped IPv6 CIDRs are stored as IPv4, then checked against the IPv4 minimum', () => {
  const r = parseCidr('::ffff:203.0.113.0/120', STRICT);
  assert.equal(r.cidr.canonical, '203.0.113.0/24');
  assert.equal(r.cidr.family, 4);
  assert.deepEqual(
    r.warnings.map((w) => w.kind),
    ['ipv4_mapped_converted'],
  );
  assert.match(r.warnings[0]?.message ?? '', /::ffff:203\.0\.113\.0\/120.*203\.0\.113\.0\/24/);
  assert.equal(canon('::ffff:cb00:7100/120'), '203.0.113.0/24');
  assert.equal(canon('0:0:0:0:0:FFFF:cb00:7100/120'), '203.0.113.0/24');
  const bare = parseCidr('::ffff:203.0.113.7', STRICT);
  assert.equal(bare.cidr.canonical, '203.0.113.7/32');
  assert.deepEqual(
    bare.warnings.map((w) => w.kind),
    ['ipv4_mapped_converted'],
  );
  // /104 is /8 as IPv4: below the /16 minimum
  refuses('::ffff:10.0.0.0/104', /prefix \/8 \(10\.0\.0\.0\/8 as IPv4\) is broader than the minimum \/16 for IPv4/);
  assert.equal(canon('::ffff:10.0.0.0/104', { ...STRICT, minPrefixV4: 8 }), '10.0.0.0/8');
  // below /96 it would cover non-mapped IPv6 space
  refuses('::ffff:0:0/95', /needs a prefix of at least \/96 \(\/95 would cover non-mapped IPv6 space\)/, ANY);
  refuses('::ffff:10.0.0.0/64', /at least \/96/, ANY);
  refuses('::ffff:10.0.0.0/129', /longer than 128/, ANY);
  // with host bits and normalize: both warnings
  const both = parseCidr('::ffff:10.1.2.3/112', NORMALIZE);
  assert.equal(both.cidr.canonical, '10.1.0.0/16');
  assert.deepEqual(both.warnings.map((w) => w.kind).sort(), ['host_bits_cleared', 'ipv4_mapped_converted']);
  refuses('::ffff:10.1.2.3/112', /host bits are set \(the network is 10\.1\.0\.0\/16\)/, STRICT);
});

test('other transition prefixes stay IPv6 CIDRs', () => {
  assert.equal(parseCidr('64:ff9b::/96', STRICT).cidr.family, 6);
  assert.equal(canon('64:ff9b::/96'), '64:ff9b::/96');
  assert.equal(canon('2002:c000:200::/48'), '2002:c000:200::/48');
  assert.equal(canon('::10.0.0.0/104'), '::a00:0/104');
  assert.equal(parseCidr('::10.0.0.0/104', STRICT).cidr.family, 6);
});

test('containment: IPv4 entries match IPv4 and mapped IPv6, never other transition forms', () => {
  const net = parseCidr('10.0.0.0/8', ANY).cidr;
  assert.equal(cidrContains(net, parseIp('10.0.0.0')), true);
  assert.equal(cidrContains(net, parseIp('10.255.255.255')), true);
  assert.equal(cidrContains(net, parseIp('::ffff:10.1.2.3')), true);
  assert.equal(cidrContains(net, parseIp('9.255.255.255')), false);
  assert.equal(cidrContains(net, parseIp('11.0.0.0')), false);
  assert.equal(cidrContains(net, parseIp('::10.1.2.3')), false, 'IPv4-compatible');
  assert.equal(cidrContains(net, parseIp('64:ff9b::a01:203')), false, 'NAT64');
  assert.equal(cidrContains(net, parseIp('2002:a01:203::1')), false, '6to4');
  const six = parseCidr('::/64', ANY).cidr;
  assert.equal(cidrContains(six, parseIp('::ffff:10.1.2.3')), false, 'a mapped address is IPv4, not inside ::/64');
  assert.equal(cidrContains(six, parseIp('::10.1.2.3')), true);
  const doc = parseCidr('2001:db8::/32', ANY).cidr;
  assert.equal(cidrContains(doc, parseIp('2001:db8:ffff:ffff:ffff:ffff:ffff:ffff')), true);
  assert.equal(cidrContains(doc, parseIp('2001:db9::')), false);
  assert.equal(cidrContains(doc, parseIp('2001:db7:ffff:ffff:ffff:ffff:ffff:ffff')), false);
});

test('overlap detection (AddEntry OVERLAPS_EXISTING) is nesting within one family', () => {
  const c = (t: string) => parseCidr(t, ANY).cidr;
  assert.equal(cidrsOverlap(c('10.0.0.0/8'), c('10.1.0.0/16')), true);
  assert.equal(cidrsOverlap(c('10.1.0.0/16'), c('10.0.0.0/8')), true);
  assert.equal(cidrsOverlap(c('10.1.0.0/16'), c('10.2.0.0/16')), false);
  assert.equal(cidrsOverlap(c('10.0.0.0/8'), c('::a00:0/104')), false);
  assert.equal(cidrsOverlap(c('2001:db8::/32'), c('2001:db8:1::/48')), true);
  assert.equal(cidrsOverlap(c('2001:db8::/48'), c('2001:db8:1::/48')), false);
});

test('ListEntries order: IPv4 before IPv6, then by address numerically, then broader prefix first', () => {
  const texts = ['2001:db8:1::/48', '10.1.0.0/16', '100.0.0.0/8', '::1/128', '10.0.0.0/16', '9.0.0.0/8', '2001:db8::/48', '10.0.0.0/8', '2001:db8::/32', '192.168.0.0/16'];
  const sorted = texts
    .map((t) => parseCidr(t, ANY).cidr)
    .sort(compareCidrs)
    .map((c) => c.canonical);
  assert.deepEqual(sorted, ['9.0.0.0/8', '10.0.0.0/8', '10.0.0.0/16', '10.1.0.0/16', '100.0.0.0/8', '192.168.0.0/16', '::1/128', '2001:db8::/32', '2001:db8::/48', '2001:db8:1::/48']);
});

test('numeric constructors: a daily entry is the /32 or /128 of its IP', () => {
  assert.equal(hostCidr(parseIp('::ffff:198.51.100.7')).canonical, '198.51.100.7/32');
  assert.equal(hostCidr(parseIp('2001:db8::7')).canonical, '2001:db8::7/128');
  const c: ParsedCidr = cidrFromIp(parseIp('10.1.2.3'), 8);
  assert.equal(c.canonical, '10.0.0.0/8');
  assert.equal(cidrFromIp(parseIp('10.1.2.3'), 0).canonical, '0.0.0.0/0');
  assert.throws(() => cidrFromIp(parseIp('10.1.2.3'), 33), RangeError);
  assert.throws(() => cidrFromIp(parseIp('::1'), 129), RangeError);
});

test('the field name is the caller\'s; a policy out of range is a configuration error, not the caller\'s', () => {
  const e = refuses('10.0.0.0/8', /^static_cidrs: prefix \/8/, { ...STRICT, field: 'static_cidrs' });
  assert.equal(e.field, 'static_cidrs');
  assert.throws(() => parseCidr('10.0.0.0/16', { ...STRICT, minPrefixV4: 0 }), RangeError);
  assert.throws(() => parseCidr('10.0.0.0/16', { ...STRICT, minPrefixV4: 33 }), RangeError);
  assert.throws(() => parseCidr('10.0.0.0/16', { ...STRICT, minPrefixV6: 0 }), RangeError);
  assert.throws(() => parseCidr('10.0.0.0/16', { ...STRICT, minPrefixV6: 12.5 }), RangeError);
});
