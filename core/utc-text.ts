/**
 * Exact, allocation-free reading of ISO-8601 UTC timestamp text — the hot path of every bar
 * (DQ, contracts, storage). The general cases still go to `Date.parse` / luxon in the callers.
 */

const DIGIT0 = 48;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The value of the two ASCII digits at `i`, or -1. */
export function twoDigits(s: string, i: number): number {
  const a = s.charCodeAt(i) - DIGIT0, b = s.charCodeAt(i + 1) - DIGIT0;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

export function daysInMonth(y: number, mo: number): number {
  return mo === 2 && y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : DAYS_IN_MONTH[mo - 1];
}

/** Epoch ms of a proleptic-Gregorian date-time with fields in range (Date.UTC's value for a year ≥ 100), by integer arithmetic. */
export function utcMs(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number): number {
  // days_from_civil (H. Hinnant): exact in doubles for every year Date can hold.
  const yy = mo <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (mo > 2 ? mo - 3 : mo + 9) + 2) / 5) + d - 1;
  const days = era * 146097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719468;
  return ((days * 24 + h) * 60 + mi) * 60_000 + s * 1000 + ms;
}

/**
 * Epoch ms of `YYYY-MM-DDTHH:MM:SS.mmmZ` (toISOString's form) or `YYYY-MM-DDTHH:MM:SSZ`, every
 * field in range and a year from 100 on — exactly Date.parse's value; NaN for any other text.
 */
export function canonicalUtcMs(v: string): number {
  const n = v.length;
  if ((n !== 24 && n !== 20) || v.charCodeAt(n - 1) !== 90 /* Z */) return NaN;
  const y1 = twoDigits(v, 0), y2 = twoDigits(v, 2), mo = twoDigits(v, 5), d = twoDigits(v, 8), h = twoDigits(v, 11), mi = twoDigits(v, 14), s = twoDigits(v, 17);
  if ((y1 | y2 | mo | d | h | mi | s) < 0) return NaN;
  if (v.charCodeAt(4) !== 45 || v.charCodeAt(7) !== 45 || v.charCodeAt(10) !== 84 || v.charCodeAt(13) !== 58 || v.charCodeAt(16) !== 58) return NaN;
  let frac = 0;
  if (n === 24) {
    if (v.charCodeAt(19) !== 46) return NaN;
    const f = twoDigits(v, 20), g = v.charCodeAt(22) - DIGIT0;
    if (f < 0 || g < 0 || g > 9) return NaN;
    frac = f * 10 + g;
  }
  const y = y1 * 100 + y2;
  if (y < 100 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59 || d > daysInMonth(y, mo)) return NaN;
  return utcMs(y, mo, d, h, mi, s, frac);
}
