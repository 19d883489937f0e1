/**
 * The daily cut-off (P7: home workers register their IP every day). A daily entry is valid
 * until the next time the wall clock of the configured IANA time zone shows the configured
 * hour. Computed with Intl.DateTimeFormat only, so DST changes move the instant, never the
 * local hour: on a spring-forward day whose `hour:00` does not exist the cut-off is the end of
 * the gap (e.g. 03:00 local), and on a fall-back day where it happens twice it is the first
 * occurrence (the cut-off happens once a day).
 */

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  const hit = formatters.get(timeZone);
  if (hit) return hit;
  let f: Intl.DateTimeFormat;
  try {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
  } catch {
    throw new RangeError(`not a known IANA time zone: ${JSON.stringify(String(timeZone).slice(0, 64))}`);
  }
  if (formatters.size < 64) formatters.set(timeZone, f);
  return f;
}

/**
 * Throws RangeError naming the zone unless `timeZone` is a time zone Intl knows (e.g.
 * "Europe/Berlin", "UTC"). For validating configuration at start-up.
 */
export function assertTimeZone(timeZone: string): void {
  if (typeof timeZone !== 'string' || timeZone.length === 0) throw new RangeError(`not a known IANA time zone: ${JSON.stringify(timeZone)}`);
  formatterFor(timeZone);
}

/** The wall clock of `t` (whole seconds) in the zone, as if it were a UTC timestamp. */
function wallMs(f: Intl.DateTimeFormat, t: number): number {
  let year = 0;
  let month = 1;
  let day = 1;
  let hour = 0;
  let minute = 0;
  let second = 0;
  let bc = false;
  for (const p of f.formatToParts(t)) {
    switch (p.type) {
      case 'year':
        year = Number(p.value);
        break;
      case 'month':
        month = Number(p.value);
        break;
      case 'day':
        day = Number(p.value);
        break;
      case 'hour':
        hour = Number(p.value) % 24; // some engines print 24 for midnight
        break;
      case 'minute':
        minute = Number(p.value);
        break;
      case 'second':
        second = Number(p.value);
        break;
      case 'era':
        bc = p.value.startsWith('B');
        break;
      default:
        break;
    }
  }
  const d = new Date(0);
  d.setUTCFullYear(bc ? 1 - year : year, month - 1, day);
  d.setUTCHours(hour, minute, second, 0);
  return d.getTime();
}

/** UTC offset (ms) of the zone at instant `t`. */
function offsetAt(f: Intl.DateTimeFormat, t: number): number {
  const whole = Math.floor(t / 1000) * 1000;
  return wallMs(f, whole) - whole;
}

/**
 * The earliest instant whose wall clock reads at least `local` (a local time encoded as a UTC
 * timestamp): the instant of `local` (its first occurrence in a fold), or the end of the gap
 * when `local` is skipped by a forward transition.
 */
function firstInstantReaching(f: Intl.DateTimeFormat, local: number): number {
  // Offsets in force around `local`: two days either side cover every zone's range (-12h..+14h).
  const around = [offsetAt(f, local - 2 * DAY_MS), offsetAt(f, local), offsetAt(f, local + 2 * DAY_MS)];
  const offsets = new Set<number>(around);
  for (const o of around) offsets.add(offsetAt(f, local - o));
  let best: number | undefined;
  for (const o of offsets) {
    const t = local - o;
    if (offsetAt(f, t) === o && (best === undefined || t < best)) best = t;
  }
  if (best !== undefined) return best;
  // A gap: the wall clock jumps over `local`. Across a single forward transition the wall clock
  // only increases, so bisect for the first instant reading at least `local`.
  let lo = local - Math.max(...offsets); // reads <= local
  let hi = local - Math.min(...offsets); // reads >= local
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (mid + offsetAt(f, mid) >= local) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * The first instant strictly after `now` at which the wall clock in `timeZone` shows
 * `hour`:00, once per local day (see the module comment for DST days). A daily entry
 * registered at `now` expires then.
 * @throws RangeError for an unknown time zone (named), an hour outside 0..23, or an invalid date
 */
export function nextCutoff(now: Date, timeZone: string, hour: number): Date {
  if (!Number.isInteger(hour) || hour < 0 || hour > 23) throw new RangeError(`cut-off hour must be an integer 0..23, got ${String(hour)}`);
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new RangeError('now must be a valid Date');
  assertTimeZone(timeZone);
  const f = formatterFor(timeZone);
  const t = now.getTime();
  // The local calendar day of `now`; the cut-off of an earlier day is never after `now` (its
  // local time is before now's), and cut-offs never decrease from one day to the next.
  const today = wallMs(f, t);
  const day0 = today - (((today % DAY_MS) + DAY_MS) % DAY_MS);
  for (let k = 0; k < 4; k++) {
    const cutoff = firstInstantReaching(f, day0 + k * DAY_MS + hour * HOUR_MS);
    if (cutoff > t) return new Date(cutoff);
  }
  // Unreachable for real zones (a zone would have to skip several whole days).
  throw new RangeError(`no cut-off found after ${now.toISOString()} in ${timeZone}`);
}
