import holidayJp from '@holiday-jp/holiday_jp';
import { DateTime, Info } from 'luxon';
import { ErrorIds, OrreryError } from '../errors.ts';

/** Decides which time windows exist: a window exists when the market is open at some moment in it. */
export interface Calendar {
  readonly name: string;
  isOpen(startMs: number, endMs: number): boolean;
}

const JP_HOLIDAYS: ReadonlySet<string> = new Set(Object.keys((holidayJp as unknown as { holidays: Record<string, unknown> }).holidays));

/**
 * Tokyo Stock Exchange business days (seed 004 §4.3): weekdays that are not Japanese national
 * holidays, not the year-end closure 12/31–1/3, and not a configured special close.
 */
export class TseCalendar implements Calendar {
  readonly name = 'TSE';
  static readonly TIMEZONE = 'Asia/Tokyo';
  private readonly specialCloses: ReadonlySet<string>;

  constructor(options: { specialCloses?: readonly string[] } = {}) {
    this.specialCloses = new Set(options.specialCloses ?? []);
  }

  /** `date` is a local Tokyo date `YYYY-MM-DD`. */
  isBusinessDay(date: string): boolean {
    const d = DateTime.fromISO(date, { zone: TseCalendar.TIMEZONE });
    if (!d.isValid) throw new OrreryError(ErrorIds.PARTITION_INVALID, `"${date}" is not a date (YYYY-MM-DD).`, { date });
    if (d.weekday > 5) return false;
    const md = d.toFormat('MM-dd');
    if (md === '12-31' || md === '01-01' || md === '01-02' || md === '01-03') return false;
    return !JP_HOLIDAYS.has(date) && !this.specialCloses.has(date);
  }

  isOpen(startMs: number, endMs: number): boolean {
    for (let d = DateTime.fromMillis(startMs, { zone: TseCalendar.TIMEZONE }).startOf('day'); d.toMillis() < endMs; d = d.plus({ days: 1 })) {
      if (this.isBusinessDay(d.toFormat('yyyy-MM-dd'))) return true;
    }
    return false;
  }
}

export interface Session { start: string; end: string }

/** Holidays on which FX/CFD brokers close, by `holidays_calendar` name of `universe.yaml`. */
function marketHolidays(calendar: string | undefined, year: number): string[] {
  switch (calendar) {
    case undefined:
    case 'NONE':
      return [];
    case 'US':
      // The days OTC metals/FX liquidity stops: New Year's Day and Christmas Day.
      return [`${year}-01-01`, `${year}-12-25`];
    default:
      throw new OrreryError(ErrorIds.CONFIG_INVALID, `Unknown holidays_calendar "${calendar}"; use US or NONE.`, { calendar });
  }
}

function minutesOf(hhmm: string): number {
  const m = /^(\d{2}):(\d{2})$/.exec(hhmm);
  if (!m || Number(m[1]) > 24 || Number(m[2]) > 59) throw new OrreryError(ErrorIds.CONFIG_INVALID, `Session time "${hhmm}" must be HH:MM.`, { value: hhmm });
  return Number(m[1]) * 60 + Number(m[2]);
}

/** `minutes` after the local midnight of `day` on the wall clock (not elapsed time, which differs on DST days). */
const DAY_MS = 86_400_000;
/** UTC days strictly inside years 1000–9999 (with a week to spare for any offset): ISO date text is `YYYY-MM-DD` there, as luxon writes it. */
const FAST_FROM = Date.UTC(1000, 0, 8);
const FAST_TO = Date.UTC(9999, 11, 24);

function atLocal(day: DateTime, minutes: number): DateTime {
  const m = minutes % (24 * 60);
  return day.plus({ days: Math.floor(minutes / (24 * 60)) }).set({ hour: Math.floor(m / 60), minute: m % 60 });
}

/**
 * A 24/5 FX/CFD session calendar, driven by `universe.yaml` `trading_hours`: open during the
 * listed daily sessions, Monday to Friday in the calendar's zone, except market holidays.
 */
export class SessionCalendar implements Calendar {
  readonly name: string;
  private readonly sessions: Array<{ start: number; end: number }>;
  private readonly holidayCache = new Map<number, ReadonlySet<string>>();
  private readonly dayCache = new Map<number, ReadonlyArray<readonly [number, number]>>();
  /** The zone's offset in minutes when it is a fixed offset (UTC, UTC+3, …): days are then plain arithmetic. */
  private readonly fixedOffset: number | null;

  constructor(private readonly options: { sessions: readonly Session[]; timezone?: string; holidaysCalendar?: string; extraHolidays?: readonly string[] }) {
    if (options.sessions.length === 0) throw new OrreryError(ErrorIds.CONFIG_INVALID, 'trading_hours.sessions needs at least one session.', {});
    this.sessions = options.sessions.map((s) => {
      const start = minutesOf(s.start);
      let end = minutesOf(s.end);
      if (end <= start) end += 24 * 60; // a session that crosses midnight
      return { start, end };
    });
    const zone = Info.normalizeZone(options.timezone ?? 'UTC');
    this.fixedOffset = zone.isUniversal && zone.isValid ? zone.offset(0) : null;
    this.name = `sessions(${options.sessions.map((s) => `${s.start}-${s.end}`).join(',')} ${options.timezone ?? 'UTC'} ${options.holidaysCalendar ?? 'NONE'})`;
  }

  private holidays(year: number): ReadonlySet<string> {
    let h = this.holidayCache.get(year);
    if (!h) {
      h = new Set([...marketHolidays(this.options.holidaysCalendar, year), ...(this.options.extraHolidays ?? [])]);
      this.holidayCache.set(year, h);
    }
    return h;
  }

  isTradingDay(day: DateTime): boolean {
    return day.weekday <= 5 && !this.holidays(day.year).has(day.toFormat('yyyy-MM-dd'));
  }

  isOpen(startMs: number, endMs: number): boolean {
    for (let d = Math.floor(startMs / DAY_MS); d * DAY_MS < endMs; d++) {
      for (const [open, close] of this.sessionsTouching(d)) if (open < endMs && close > startMs) return true;
    }
    return false;
  }

  /**
   * The session intervals (UTC ms) that overlap UTC day `utcDay`, computed once per day: luxon
   * resolves the zone and DST there, and every bar of the day then costs a few comparisons.
   */
  private sessionsTouching(utcDay: number): ReadonlyArray<readonly [number, number]> {
    let found = this.dayCache.get(utcDay);
    if (found) return found;
    const from = utcDay * DAY_MS;
    const to = from + DAY_MS;
    const zone = this.options.timezone ?? 'UTC';
    const list: Array<readonly [number, number]> = [];
    const fixed = this.fixedOffset;
    if (fixed !== null && from > FAST_FROM && to < FAST_TO) {
      // A fixed offset: a local day is DAY_MS long and a session time is minutes after its midnight
      // (what luxon computes below, without it).
      const shift = fixed * 60_000;
      for (let local = Math.floor((from + shift) / DAY_MS) - 1; local * DAY_MS - shift < to; local++) {
        const date = new Date(local * DAY_MS);
        const weekday = date.getUTCDay(); // 0 = Sunday, 6 = Saturday
        if (weekday === 0 || weekday === 6 || this.holidays(date.getUTCFullYear()).has(date.toISOString().slice(0, 10))) continue;
        const midnight = local * DAY_MS - shift;
        for (const s of this.sessions) {
          const open = midnight + s.start * 60_000;
          const close = midnight + s.end * 60_000;
          if (open < to && close > from) list.push([open, close]);
        }
      }
      if (this.dayCache.size >= 100_000) this.dayCache.clear();
      this.dayCache.set(utcDay, list);
      return list;
    }
    // A session that started the local day before may still be running.
    for (let day = DateTime.fromMillis(from, { zone }).startOf('day').minus({ days: 1 }); day.toMillis() < to; day = day.plus({ days: 1 })) {
      if (!this.isTradingDay(day)) continue;
      for (const s of this.sessions) {
        const open = atLocal(day, s.start).toMillis();
        const close = atLocal(day, s.end).toMillis();
        if (open < to && close > from) list.push([open, close]);
      }
    }
    if (this.dayCache.size >= 100_000) this.dayCache.clear(); // bounded for long-lived servers
    this.dayCache.set(utcDay, list);
    return list;
  }
}
