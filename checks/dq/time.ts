/** Strict RFC3339 parsing of `ts_utc` and the timeframe grid (seed 002: "UTC 揃え"). */
import { timeframeMs } from '../../core/market-data.ts';
import { daysInMonth, twoDigits as two, utcMs } from '../../core/utc-text.ts';

export interface ParsedTs {
  /** Epoch milliseconds; fractional when the text has sub-millisecond digits. */
  ms: number;
  /** True when the text carries the UTC designator `Z` (not a numeric offset, not even +00:00). */
  zulu: boolean;
}

// Character codes of the grammar.
const C0 = 48, C9 = 57, DASH = 45, PLUS = 43, COLON = 58, DOT = 46, T = 84, Z = 90;

/** The fields of RFC3339 text as scanned (before range checks); fraction digits are [fracStart, fracEnd). */
interface Scan { y: number; mo: number; d: number; h: number; mi: number; s: number; fracStart: number; fracEnd: number; offsetAt: number }

/**
 * Scans RFC3339 text as `parseTs` accepts it — exactly the texts matching
 * `^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$` (ASCII
 * digits) — without a regex or a match array; null for any other text. Ranges are checked by `instant`.
 */
function scan(ts: string): Scan | null {
  const n = ts.length;
  if (n < 20) return null;
  const y1 = two(ts, 0), y2 = two(ts, 2);
  if (y1 < 0 || y2 < 0 || ts.charCodeAt(4) !== DASH) return null;
  const mo = two(ts, 5);
  if (mo < 0 || ts.charCodeAt(7) !== DASH) return null;
  const d = two(ts, 8);
  if (d < 0 || ts.charCodeAt(10) !== T) return null;
  const h = two(ts, 11);
  if (h < 0 || ts.charCodeAt(13) !== COLON) return null;
  const mi = two(ts, 14);
  if (mi < 0 || ts.charCodeAt(16) !== COLON) return null;
  const s = two(ts, 17);
  if (s < 0) return null;
  let i = 19;
  let fracStart = -1, fracEnd = -1;
  if (ts.charCodeAt(i) === DOT) {
    let j = i + 1;
    for (; j < n; j++) { const c = ts.charCodeAt(j); if (c < C0 || c > C9) break; }
    if (j === i + 1) return null; // a dot needs digits
    fracStart = i + 1;
    fracEnd = j;
    i = j;
  }
  const c = ts.charCodeAt(i);
  if (c === Z) {
    if (i + 1 !== n) return null;
  } else if (c === PLUS || c === DASH) {
    if (i + 6 !== n || two(ts, i + 1) < 0 || ts.charCodeAt(i + 3) !== COLON || two(ts, i + 4) < 0) return null;
  } else {
    return null;
  }
  return { y: y1 * 100 + y2, mo, d, h, mi, s, fracStart, fracEnd, offsetAt: i };
}

/** Epoch ms of a scanned text, or null when a field is out of range (the `parseTs` rules). */
function instant(ts: string, p: Scan): number | null {
  const { y, mo, d, h, mi, s } = p;
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return null;
  // Date.UTC reads years 0–99 as 1900–1999: so does this (the days of February included).
  const year = y < 100 ? 1900 + y : y;
  if (d > 28 && d > daysInMonth(year, mo)) return null; // 2024-02-30 and the like
  const base = utcMs(year, mo, d, h, mi, s, 0);
  let offsetMs = 0;
  if (ts.charCodeAt(p.offsetAt) !== Z) {
    const sign = ts.charCodeAt(p.offsetAt) === DASH ? -1 : 1;
    const oh = two(ts, p.offsetAt + 1), om = two(ts, p.offsetAt + 4);
    if (oh > 23 || om > 59) return null;
    offsetMs = sign * (oh * 60 + om) * 60_000;
  }
  let fracMs = 0;
  if (p.fracStart >= 0) {
    if (p.fracEnd - p.fracStart === 3) {
      // Number(`0.${abc}`) * 1000 is exactly abc for every three digits.
      fracMs = (ts.charCodeAt(p.fracStart) - C0) * 100 + (ts.charCodeAt(p.fracStart + 1) - C0) * 10 + (ts.charCodeAt(p.fracStart + 2) - C0);
    } else {
      fracMs = Number(`0.${ts.slice(p.fracStart, p.fracEnd)}`) * 1000;
    }
  }
  return base - offsetMs + fracMs;
}

/**
 * True when `ts` (scanned as `p`, valid) is already the text `toISOString` writes for its
 * instant: `YYYY-MM-DDTHH:MM:SS.mmmZ`, a year of at least 100 (`Date.UTC` reads 0–99 as 19xx).
 */
function isCanonical(ts: string, p: Scan): boolean {
  return ts.length === 24 && p.fracEnd === 23 && p.y >= 100;
}

/**
 * `Date.parse(text)`, without the general date parser for text in `toISOString` form
 * (`YYYY-MM-DDTHH:MM:SS.mmmZ`, every field in range, a year from 100 on) — a bar's ts_utc.
 */
export function dateParse(text: string): number {
  if (typeof text === 'string' && text.length === 24) {
    const p = scan(text);
    // In range (instant checks), Zulu with three fraction digits, year ≥ 100: Date.parse's value.
    const ms = p !== null && isCanonical(text, p) ? instant(text, p) : null;
    if (ms !== null) return ms;
  }
  return Date.parse(text);
}

/** Parses RFC3339 date-time text (with a mandatory offset); null when it is not one. */
export function parseTs(ts: unknown): ParsedTs | null {
  if (typeof ts !== 'string') return null;
  const p = scan(ts);
  if (!p) return null;
  const ms = instant(ts, p);
  if (ms === null) return null;
  return { ms, zulu: ts.charCodeAt(p.offsetAt) === Z };
}

/**
 * `canonicalTs` and its instant together (`ms` = `Date.parse(ts)` of the canonical text), or null
 * where `canonicalTs` is null. `ts` is the input itself when it is canonical already.
 */
export function canonicalInstant(ts: unknown): { ts: string; ms: number } | null {
  if (typeof ts !== 'string') return null;
  const p = scan(ts);
  if (!p) return null;
  const ms = instant(ts, p);
  if (ms === null || !Number.isInteger(ms)) return null;
  return { ts: isCanonical(ts, p) ? ts : new Date(ms).toISOString(), ms };
}

/**
 * Everything the DQ pass asks of one ts in one scan: null when `parseTs` is null, else the instant,
 * whether it is Zulu, and `canonical` = canonicalTs(ts) (null for sub-millisecond digits).
 */
export function parseFull(ts: unknown): { ms: number; zulu: boolean; canonical: string | null } | null {
  if (typeof ts !== 'string') return null;
  const p = scan(ts);
  if (!p) return null;
  const ms = instant(ts, p);
  if (ms === null) return null;
  const canonical = !Number.isInteger(ms) ? null : isCanonical(ts, p) ? ts : new Date(ms).toISOString();
  return { ms, zulu: ts.charCodeAt(p.offsetAt) === Z, canonical };
}

/** The canonical text of an instant (`2024-03-01T05:00:00.000Z`); null when `ts` is not RFC3339 or has sub-ms digits. */
export function canonicalTs(ts: unknown): string | null {
  if (typeof ts !== 'string') return null;
  const p = scan(ts);
  if (!p) return null;
  const ms = instant(ts, p);
  if (ms === null || !Number.isInteger(ms)) return null;
  return isCanonical(ts, p) ? ts : new Date(ms).toISOString();
}

export type Alignment = { ok: true; ts: string } | { ok: false; why: 'unparsable' | 'not_utc' | 'off_grid' };

/**
 * A bar start is aligned when it is RFC3339 with the `Z` designator and lies on the timeframe's
 * grid, anchored at the Unix epoch (00:00 UTC: 15m/1h/4h bars start at multiples of their length
 * since midnight UTC, daily bars at 00:00 UTC — as `core/market-data.ts` defines them).
 * An aligned ts is returned in canonical text (milliseconds, `Z`).
 */
export function checkAlignment(ts: unknown, timeframe: string): Alignment {
  const p = typeof ts === 'string' ? scan(ts) : null;
  const ms = p === null ? null : instant(ts as string, p);
  if (p === null || ms === null) return { ok: false, why: 'unparsable' };
  if ((ts as string).charCodeAt(p.offsetAt) !== Z) return { ok: false, why: 'not_utc' };
  if (!Number.isInteger(ms) || ms % timeframeMs(timeframe) !== 0) return { ok: false, why: 'off_grid' };
  return { ok: true, ts: isCanonical(ts as string, p) ? (ts as string) : new Date(ms).toISOString() };
}
