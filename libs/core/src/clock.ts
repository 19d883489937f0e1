/**
 * Domain code takes its time and randomness from these ports, never from globals, so tests can
 * pin time (expiry, windows, TOTP steps) and the production wiring stays the only real source.
 */
export interface Clock {
  now(): Date;
}

/** The real wall clock, in UTC. */
export const systemClock: Clock = { now: () => new Date() };

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  private current: number;
  constructor(start: Date | number = Date.UTC(2026, 0, 1)) {
    this.current = typeof start === 'number' ? start : start.getTime();
  }
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): void {
    this.current += ms;
  }
  set(at: Date | number): void {
    this.current = typeof at === 'number' ? at : at.getTime();
  }
}

/** Source of randomness for ids and secrets. */
export interface RandomSource {
  bytes(n: number): Uint8Array;
}
