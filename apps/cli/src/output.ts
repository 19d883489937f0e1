import { commonV1 } from '@gatehouse/contracts';
import type { Clock } from '@gatehouse/core';

/** An enum's JSON name without its prefix, lower-case: ("ROLE_TEAM_LEAD", "ROLE_") → "team_lead". */
export function enumLabel(value: string, prefix: string): string {
  return value.startsWith(prefix) ? value.slice(prefix.length).toLowerCase() : value.toLowerCase();
}

/** Who did something: the e-mail address, else the account id; "-" when nobody. */
export function who(p: commonV1.Principal | undefined): string {
  return p?.email || p?.accountId || '-';
}

/** ENVIRONMENT_LIVE → "LIVE". */
export function environmentLabel(e: commonV1.Environment): string {
  return commonV1.environmentToJSON(e).replace('ENVIRONMENT_', '');
}

/** A time as ISO-8601 with how far it is from now: "2026-…Z (in 15 min)" or "(3 h ago)"; "-" when absent. */
export function at(d: Date | undefined, clock: Clock): string {
  if (!d) return '-';
  const ms = d.getTime() - clock.now().getTime();
  const abs = Math.abs(ms);
  const mins = Math.round(abs / 60_000);
  const span = abs < 90_000 ? `${Math.round(abs / 1000)} s` : mins < 90 ? `${mins} min` : `${Math.floor(mins / 60)} h${mins % 60 ? ` ${mins % 60} min` : ''}`;
  return `${d.toISOString()} (${ms >= 0 ? `in ${span}` : `${span} ago`})`;
}

/** Rows as aligned columns (two spaces apart; the last column is not padded). */
export function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '));
}

/** "key:   value" lines with the values aligned. */
export function fields(rows: ReadonlyArray<readonly [string, string]>): string[] {
  const width = Math.max(0, ...rows.map(([k]) => k.length)) + 2;
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}`);
}
