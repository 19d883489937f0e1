import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertTimeZone, nextCutoff } from './index.js';

/**
 * Expected instants below are worked out by hand from the zone rules, not computed by the code:
 * Europe/Berlin CET +1 / CEST +2, changes 2026-03-29 01:00Z and 2026-10-25 01:00Z;
 * America/New_York EST -5 / EDT -4, changes 2026-03-08 07:00Z and 2026-11-01 06:00Z;
 * Asia/Kolkata +05:30 all year; Australia/Lord_Howe +10:30 / +11 (30-minute DST), daylight
 * time ends 2026-04-05 02:00 local (-> 01:30) and starts 2026-10-04 02:00 local (-> 02:30).
 */
function cut(now: string, zone: string, hour: number): string {
  return nextCutoff(new Date(now), zone, hour).toISOString();
}

const H = 3_600_000;

test('UTC: the next hour:00, strictly after now (at the cut-off itself it is the next day\'s)', () => {
  assert.equal(cut('2026-05-10T12:00:00.000Z', 'UTC', 0), '2026-05-11T00:00:00.000Z');
  assert.equal(cut('2026-05-10T23:59:59.999Z', 'UTC', 0), '2026-05-11T00:00:00.000Z');
  assert.equal(cut('2026-05-11T00:00:00.000Z', 'UTC', 0), '2026-05-12T00:00:00.000Z');
  assert.equal(cut('2026-05-10T22:59:59.999Z', 'UTC', 23), '2026-05-10T23:00:00.000Z');
  assert.equal(cut('2026-05-10T23:00:00.000Z', 'UTC', 23), '2026-05-11T23:00:00.000Z');
  assert.equal(cut('2026-12-31T12:00:00.000Z', 'UTC', 4), '2027-01-01T04:00:00.000Z');
  assert.equal(cut('2028-02-28T12:00:00.000Z', 'UTC', 4), '2028-02-29T04:00:00.000Z');
});

test('Asia/Kolkata (+05:30): half-hour offsets are honoured', () => {
  assert.equal(cut('2026-06-01T03:29:59.999Z', 'Asia/Kolkata', 9), '2026-06-01T03:30:00.000Z');
  assert.equal(cut('2026-06-01T03:30:00.000Z', 'Asia/Kolkata', 9), '2026-06-02T03:30:00.000Z');
  assert.equal(cut('2026-06-01T12:00:00.000Z', 'Asia/Kolkata', 0), '2026-06-01T18:30:00.000Z');
  assert.equal(cut('2026-06-01T12:00:00.000Z', 'Asia/Kolkata', 23), '2026-06-01T17:30:00.000Z');
  assert.equal(cut('2026-06-01T17:30:00.000Z', 'Asia/Kolkata', 23), '2026-06-02T17:30:00.000Z');
});

test('Europe/Berlin, ordinary days in winter and summer', () => {
  assert.equal(cut('2026-01-15T10:00:00.000Z', 'Europe/Berlin', 4), '2026-01-16T03:00:00.000Z');
  assert.equal(cut('2026-01-15T02:59:59.999Z', 'Europe/Berlin', 4), '2026-01-15T03:00:00.000Z');
  assert.equal(cut('2026-07-01T20:59:59.999Z', 'Europe/Berlin', 23), '2026-07-01T21:00:00.000Z');
  assert.equal(cut('2026-07-01T21:00:00.000Z', 'Europe/Berlin', 23), '2026-07-02T21:00:00.000Z');
  assert.equal(cut('2026-07-01T12:00:00.000Z', 'Europe/Berlin', 0), '2026-07-01T22:00:00.000Z');
});

test('Europe/Berlin spring-forward (2026-03-29): a skipped 02:00 becomes the end of the gap, 03:00 CEST', () => {
  assert.equal(cut('2026-03-28T12:00:00.000Z', 'Europe/Berlin', 2), '2026-03-29T01:00:00.000Z');
  assert.equal(cut('2026-03-29T00:59:59.999Z', 'Europe/Berlin', 2), '2026-03-29T01:00:00.000Z');
  assert.equal(cut('2026-03-29T01:00:00.000Z', 'Europe/Berlin', 2), '2026-03-30T00:00:00.000Z');
  assert.equal(cut('2026-03-28T12:00:00.000Z', 'Europe/Berlin', 3), '2026-03-29T01:00:00.000Z');
  assert.equal(cut('2026-03-28T12:00:00.000Z', 'Europe/Berlin', 1), '2026-03-29T00:00:00.000Z');
  assert.equal(cut('2026-03-28T12:00:00.000Z', 'Europe/Berlin', 4), '2026-03-29T02:00:00.000Z');
  // midnight before and after the change: a 23-hour day
  assert.equal(cut('2026-03-28T12:00:00.000Z', 'Europe/Berlin', 0), '2026-03-28T23:00:00.000Z');
  assert.equal(cut('2026-03-28T23:00:00.000Z', 'Europe/Berlin', 0), '2026-03-29T22:00:00.000Z');
});

test('Europe/Berlin fall-back (2026-10-25): a repeated 02:00 cuts at its first occurrence, once', () => {
  assert.equal(cut('2026-10-24T12:00:00.000Z', 'Europe/Berlin', 2), '2026-10-25T00:00:00.000Z');
  assert.equal(cut('2026-10-24T23:59:59.999Z', 'Europe/Berlin', 2), '2026-10-25T00:00:00.000Z');
  // after the first 02:00 (CEST), the second one (CET, 01:00Z) is not a new cut-off
  assert.equal(cut('2026-10-25T00:00:00.000Z', 'Europe/Berlin', 2), '2026-10-26T01:00:00.000Z');
  assert.equal(cut('2026-10-25T00:30:00.000Z', 'Europe/Berlin', 2), '2026-10-26T01:00:00.000Z');
  assert.equal(cut('2026-10-25T00:59:59.999Z', 'Europe/Berlin', 2), '2026-10-26T01:00:00.000Z');
  assert.equal(cut('2026-10-24T12:00:00.000Z', 'Europe/Berlin', 3), '2026-10-25T02:00:00.000Z');
  assert.equal(cut('2026-10-24T12:00:00.000Z', 'Europe/Berlin', 1), '2026-10-24T23:00:00.000Z');
  // midnight before and after the change: a 25-hour day
  assert.equal(cut('2026-10-24T12:00:00.000Z', 'Europe/Berlin', 0), '2026-10-24T22:00:00.000Z');
  assert.equal(cut('2026-10-24T22:00:00.000Z', 'Europe/Berlin', 0), '2026-10-25T23:00:00.000Z');
});

test('America/New_York: ordinary days and both 2026 changes', () => {
  assert.equal(cut('2026-01-15T04:59:59.999Z', 'America/New_York', 0), '2026-01-15T05:00:00.000Z');
  assert.equal(cut('2026-01-15T05:00:00.000Z', 'America/New_York', 0), '2026-01-16T05:00:00.000Z');
  assert.equal(cut('2026-07-01T12:00:00.000Z', 'America/New_York', 0), '2026-07-02T04:00:00.000Z');
  assert.equal(cut('2026-07-01T12:00:00.000Z', 'America/New_York', 23), '2026-07-02T03:00:00.000Z');
  // 2026-03-08: 02:00 EST does not exist; the cut-off is 03:00 EDT
  assert.equal(cut('2026-03-07T12:00:00.000Z', 'America/New_York', 2), '2026-03-08T07:00:00.000Z');
  assert.equal(cut('2026-03-07T12:00:00.000Z', 'America/New_York', 3), '2026-03-08T07:00:00.000Z');
  assert.equal(cut('2026-03-07T12:00:00.000Z', 'America/New_York', 1), '2026-03-08T06:00:00.000Z');
  assert.equal(cut('2026-03-08T07:00:00.000Z', 'America/New_York', 2), '2026-03-09T06:00:00.000Z');
  // 2026-11-01: 01:00 happens twice (05:00Z EDT, 06:00Z EST); the first one counts, once
  assert.equal(cut('2026-10-31T12:00:00.000Z', 'America/New_York', 1), '2026-11-01T05:00:00.000Z');
  assert.equal(cut('2026-11-01T05:30:00.000Z', 'America/New_York', 1), '2026-11-02T06:00:00.000Z');
  assert.equal(cut('2026-10-31T12:00:00.000Z', 'America/New_York', 2), '2026-11-01T07:00:00.000Z');
});

test('Australia/Lord_Howe: 30-minute DST in both directions', () => {
  assert.equal(cut('2026-06-14T12:00:00.000Z', 'Australia/Lord_Howe', 9), '2026-06-14T22:30:00.000Z');
  assert.equal(cut('2026-01-14T12:00:00.000Z', 'Australia/Lord_Howe', 9), '2026-01-14T22:00:00.000Z');
  // 2026-04-05: 02:00 (+11) becomes 01:30 (+10:30); 02:00 is first read at 02:00 +10:30
  assert.equal(cut('2026-04-04T12:00:00.000Z', 'Australia/Lord_Howe', 1), '2026-04-04T14:00:00.000Z');
  assert.equal(cut('2026-04-04T12:00:00.000Z', 'Australia/Lord_Howe', 2), '2026-04-04T15:30:00.000Z');
  // 2026-10-04: 02:00 (+10:30) becomes 02:30 (+11); 02:00 does not exist, the gap ends 15:30Z
  assert.equal(cut('2026-10-03T12:00:00.000Z', 'Australia/Lord_Howe', 2), '2026-10-03T15:30:00.000Z');
  assert.equal(cut('2026-10-03T15:29:59.999Z', 'Australia/Lord_Howe', 2), '2026-10-03T15:30:00.000Z');
  assert.equal(cut('2026-10-03T15:30:00.000Z', 'Australia/Lord_Howe', 2), '2026-10-04T15:00:00.000Z');
  assert.equal(cut('2026-10-03T12:00:00.000Z', 'Australia/Lord_Howe', 3), '2026-10-03T16:00:00.000Z');
});

test('a whole year: exactly one cut-off per local day, and no daily entry lives longer than 25 hours', () => {
  for (const [zone, hour, shortest, longest] of [
    ['Europe/Berlin', 2, 23 * H, 25 * H],
    ['America/New_York', 0, 23 * H, 25 * H],
    ['Australia/Lord_Howe', 2, 23.5 * H, 24.5 * H],
    ['Asia/Kolkata', 9, 24 * H, 24 * H],
  ] as const) {
    let t = nextCutoff(new Date('2025-12-31T12:00:00.000Z'), zone, hour);
    const seen = new Set<string>();
    let min = Infinity;
    let max = 0;
    const localDay = new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' });
    for (let i = 0; i < 366; i++) {
      seen.add(localDay.format(t));
      const next = nextCutoff(t, zone, hour);
      const gap = next.getTime() - t.getTime();
      min = Math.min(min, gap);
      max = Math.max(max, gap);
      t = next;
    }
    assert.equal(seen.size, 366, `${zone}: one cut-off per local day`);
    assert.equal(min, shortest, `${zone}: shortest day`);
    assert.equal(max, longest, `${zone}: longest day`);
  }
});

test('an unknown time zone, an hour outside 0..23 or an invalid date is refused with RangeError', () => {
  const now = new Date('2026-05-10T12:00:00Z');
  assert.throws(() => nextCutoff(now, 'Mars/Olympus_Mons', 2), (e: unknown) => e instanceof RangeError && e.message.includes('Mars/Olympus_Mons'));
  assert.throws(() => nextCutoff(now, '', 2), RangeError);
  assert.throws(() => assertTimeZone('Europe/Berlinn'), (e: unknown) => e instanceof RangeError && e.message.includes('Europe/Berlinn'));
  assert.doesNotThrow(() => assertTimeZone('Europe/Berlin'));
  assert.throws(() => nextCutoff(now, 'UTC', -1), /0\.\.23/);
  assert.throws(() => nextCutoff(now, 'UTC', 24), RangeError);
  assert.throws(() => nextCutoff(now, 'UTC', 1.5), RangeError);
  assert.throws(() => nextCutoff(now, 'UTC', Number.NaN), RangeError);
  assert.throws(() => nextCutoff(new Date(Number.NaN), 'UTC', 2), RangeError);
  const long = 'X'.repeat(500);
  assert.throws(
    () => nextCutoff(now, long, 2),
    (e: unknown) => e instanceof RangeError && e.message.length < 120,
  );
});
