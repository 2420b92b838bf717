// Reference: checks/dq/time.ts as of commit 5b2be95, before the ingest speed-up; test/checks/equivalence.test.ts holds the optimised code to it. Do not edit.
/** Strict RFC3339 parsing of `ts_utc` and the timeframe grid (seed 002: "UTC 揃え"). */
import { timeframeMs } from '../../../../core/market-data.ts';

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/;

export interface ParsedTs {
  /** Epoch milliseconds; fractional when the text has sub-millisecond digits. */
  ms: number;
  /** True when the text carries the UTC designator `Z` (not a numeric offset, not even +00:00). */
  zulu: boolean;
}

/** Parses RFC3339 date-time text (with a mandatory offset); null when it is not one. */
export function parseTs(ts: unknown): ParsedTs | null {
  if (typeof ts !== 'string') return null;
  const m = RFC3339.exec(ts);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac, off] = m;
  const Y = Number(y), M = Number(mo), D = Number(d), H = Number(h), MI = Number(mi), S = Number(s);
  if (M < 1 || M > 12 || D < 1 || H > 23 || MI > 59 || S > 59) return null;
  const base = Date.UTC(Y, M - 1, D, H, MI, S);
  if (new Date(base).getUTCDate() !== D) return null; // 2024-02-30 and the like
  let offsetMs = 0;
  if (off !== 'Z') {
    const sign = off[0] === '-' ? -1 : 1;
    const oh = Number(off.slice(1, 3)), om = Number(off.slice(4, 6));
    if (oh > 23 || om > 59) return null;
    offsetMs = sign * (oh * 60 + om) * 60_000;
  }
  const fracMs = frac ? Number(`0.${frac}`) * 1000 : 0;
  return { ms: base - offsetMs + fracMs, zulu: off === 'Z' };
}

/** The canonical text of an instant (`2024-03-01T05:00:00.000Z`); null when `ts` is not RFC3339 or has sub-ms digits. */
export function canonicalTs(ts: unknown): string | null {
  const p = parseTs(ts);
  if (!p || !Number.isInteger(p.ms)) return null;
  return new Date(p.ms).toISOString();
}

export type Alignment = { ok: true; ts: string } | { ok: false; why: 'unparsable' | 'not_utc' | 'off_grid' };

/**
 * A bar start is aligned when it is RFC3339 with the `Z` designator and lies on the timeframe's
 * grid, anchored at the Unix epoch (00:00 UTC: 15m/1h/4h bars start at multiples of their length
 * since midnight UTC, daily bars at 00:00 UTC — as `core/market-data.ts` defines them).
 * An aligned ts is returned in canonical text (milliseconds, `Z`).
 */
export function checkAlignment(ts: unknown, timeframe: string): Alignment {
  const p = parseTs(ts);
  if (!p) return { ok: false, why: 'unparsable' };
  if (!p.zulu) return { ok: false, why: 'not_utc' };
  if (!Number.isInteger(p.ms) || p.ms % timeframeMs(timeframe) !== 0) return { ok: false, why: 'off_grid' };
  return { ok: true, ts: new Date(p.ms).toISOString() };
}
