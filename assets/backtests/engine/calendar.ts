/**
 * UTC clock arithmetic for the backtest: trading sessions, weekends and holidays, the time-of-day
 * slippage multipliers and the swap rollover instants (seed 002 コストテーブル / ユニバース仕様 v1).
 *
 * Everything works on epoch milliseconds with integer day numbers (days since 1970-01-01, a
 * Thursday), so the hot path never builds a Date.
 */
import { invalidParams } from './errors.ts';

export const DAY_MS = 86_400_000;
export const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** Days since the epoch of an epoch-ms time (floor, so times before 1970 work too). */
export function dayOf(ts: number): number {
  return Math.floor(ts / DAY_MS);
}

/** 0 = Sunday … 6 = Saturday, of a day number. */
export function weekdayOf(day: number): number {
  return (((day + 4) % 7) + 7) % 7;
}

export function isWeekend(day: number): boolean {
  const w = weekdayOf(day);
  return w === 0 || w === 6;
}

/** Milliseconds since UTC midnight. */
export function msOfDay(ts: number): number {
  return ts - dayOf(ts) * DAY_MS;
}

/** "HH:MM" → milliseconds after midnight; "24:00" is allowed (the end of the day). */
export function parseHhmm(text: string, what = 'time'): number {
  const m = /^(\d{2}):(\d{2})$/.exec(text);
  const h = m ? Number(m[1]) : NaN, min = m ? Number(m[2]) : NaN;
  if (!m || min > 59 || h > 24 || (h === 24 && min !== 0)) invalidParams(`${what} must be HH:MM (00:00–24:00), got "${text}"`, { value: text });
  return (h * 60 + min) * 60_000;
}

/** "YYYY-MM-DD" → day number. */
export function parseDate(text: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  const ms = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  if (!m || !Number.isFinite(ms) || new Date(ms).toISOString().slice(0, 10) !== text) invalidParams(`holiday dates must be YYYY-MM-DD, got "${text}"`, { value: text });
  return ms / DAY_MS;
}

/** Day number → "YYYY-MM-DD". */
export function dateOf(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

/**
 * A time-of-day window [start, end). start > end wraps midnight ("22:00-01:00");
 * start = end is the whole day.
 */
export function inWindow(tod: number, start: number, end: number): boolean {
  if (start < end) return tod >= start && tod < end;
  if (start > end) return tod >= start || tod < end;
  return true;
}

/** Trading windows of the two legs and the days either leg is closed on. */
export class TradingCalendar {
  private readonly windowsA: Float64Array;
  private readonly windowsB: Float64Array;
  private readonly holidays: ReadonlySet<number>;

  constructor(sessionsA: ReadonlyArray<{ start: string; end: string }>, sessionsB: ReadonlyArray<{ start: string; end: string }>, holidays: Iterable<string>) {
    this.windowsA = TradingCalendar.windows(sessionsA, 'leg A');
    this.windowsB = TradingCalendar.windows(sessionsB, 'leg B');
    this.holidays = new Set([...holidays].map(parseDate));
  }

  private static windows(sessions: ReadonlyArray<{ start: string; end: string }>, leg: string): Float64Array {
    if (sessions.length === 0) invalidParams(`${leg} has no trading session`);
    const w = new Float64Array(sessions.length * 2);
    sessions.forEach((s, i) => {
      w[2 * i] = parseHhmm(s.start, `${leg} session start`);
      w[2 * i + 1] = parseHhmm(s.end, `${leg} session end`);
    });
    return w;
  }

  private static inside(w: Float64Array, tod: number): boolean {
    for (let i = 0; i < w.length; i += 2) if (inWindow(tod, w[i], w[i + 1])) return true;
    return false;
  }

  /** May an order fill at this bar close? Weekday, neither leg on holiday, inside both legs' sessions. */
  isTradable(ts: number): boolean {
    const day = dayOf(ts);
    if (isWeekend(day) || this.holidays.has(day)) return false;
    const tod = ts - day * DAY_MS;
    return TradingCalendar.inside(this.windowsA, tod) && TradingCalendar.inside(this.windowsB, tod);
  }
}

/** Slippage multiplier by UTC time of day: the largest matching window's factor, 1 when none matches. */
export class SlippageClock {
  private readonly windows: Float64Array; // start, end, factor triples

  constructor(multipliers: Readonly<Record<string, number>>) {
    const entries = Object.entries(multipliers);
    this.windows = new Float64Array(entries.length * 3);
    entries.forEach(([range, factor], i) => {
      const m = /^(\d{2}:\d{2})-(\d{2}:\d{2})$/.exec(range);
      if (!m) invalidParams(`time-of-day multiplier keys are "HH:MM-HH:MM", got "${range}"`);
      if (!(Number.isFinite(factor) && factor > 0)) invalidParams(`time-of-day multiplier for ${range} must be positive, got ${factor}`);
      this.windows[3 * i] = parseHhmm(m[1], `multiplier ${range}`);
      this.windows[3 * i + 1] = parseHhmm(m[2], `multiplier ${range}`);
      this.windows[3 * i + 2] = factor;
    });
  }

  multiplier(ts: number): number {
    const tod = msOfDay(ts);
    let f = 0;
    for (let i = 0; i < this.windows.length; i += 3) {
      if (inWindow(tod, this.windows[i], this.windows[i + 1]) && this.windows[i + 2] > f) f = this.windows[i + 2];
    }
    return f === 0 ? 1 : f;
  }
}

/**
 * Swap rollovers: one at `time` UTC on every weekday (Mon–Fri); the one on `tripleDay` counts
 * three days, since it carries the weekend (FX convention: T+2 settlement spans Sat/Sun).
 */
export class RolloverClock {
  private readonly timeMs: number;
  private readonly tripleWeekday: number;

  constructor(tripleDay: Weekday, timeUtc: string) {
    this.tripleWeekday = WEEKDAYS.indexOf(tripleDay);
    if (this.tripleWeekday < 1 || this.tripleWeekday > 5) invalidParams(`rollover day must be MON–FRI, got "${tripleDay}"`);
    this.timeMs = parseHhmm(timeUtc, 'rollover time');
    if (this.timeMs >= DAY_MS) invalidParams(`rollover time must be before 24:00, got "${timeUtc}"`);
  }

  /** The first rollover instant strictly after `t`. */
  next(t: number): number {
    let day = dayOf(t);
    let r = day * DAY_MS + this.timeMs;
    if (r <= t) { day++; r += DAY_MS; }
    while (isWeekend(day)) { day++; r += DAY_MS; }
    return r;
  }

  /** Days of swap a rollover instant charges: 3 on the triple day, else 1. */
  days(rollover: number): number {
    return weekdayOf(dayOf(rollover)) === this.tripleWeekday ? 3 : 1;
  }
}
