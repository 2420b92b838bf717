import { DateTime } from 'luxon';
import { ErrorIds, OrreryError } from '../errors.ts';
import type { Calendar } from './calendars.ts';
import type { PartitionsDefinition, PartitionsDescription } from './definitions.ts';

export type Cadence = '15m' | '1h' | '4h' | 'daily' | 'monthly';
export const CADENCES: readonly Cadence[] = ['15m', '1h', '4h', 'daily', 'monthly'];

export interface TimeWindow {
  key: string;
  /** Inclusive start, epoch ms. */
  start: number;
  /** Exclusive end, epoch ms. */
  end: number;
}

export interface TimeWindowOptions {
  cadence: Cadence;
  /** First window's start, as a local date/time in `timezone` (e.g. `2024-01-01`). */
  start: string;
  /** Exclusive end as a local date/time; when absent the last window is the last complete one at `now()`. */
  end?: string;
  timezone?: string;
  /** Extra windows past the last complete one (positive) or fewer (negative), as Dagster's end_offset. */
  endOffset?: number;
  /** Only windows during which the calendar is open exist. */
  calendar?: Calendar;
  now?: () => Date;
}

const INTRADAY_MINUTES: Partial<Record<Cadence, number>> = { '15m': 15, '1h': 60, '4h': 240 };

/**
 * Time-window partitions in an IANA time zone. Windows are computed once and cached as an index,
 * so `has`, `offset` and the window of a key are O(1).
 */
export class TimeWindowPartitions implements PartitionsDefinition {
  readonly kind = 'time' as const;
  readonly cadence: Cadence;
  readonly timezone: string;
  private cache?: { windows: TimeWindow[]; index: Map<string, number> };

  constructor(private readonly options: TimeWindowOptions) {
    if (!CADENCES.includes(options.cadence)) {
      throw new OrreryError(ErrorIds.PARTITION_INVALID, `Unknown cadence "${options.cadence}"; use one of ${CADENCES.join(', ')}.`, { cadence: options.cadence });
    }
    this.cadence = options.cadence;
    this.timezone = options.timezone ?? 'UTC';
    if (!DateTime.now().setZone(this.timezone).isValid) {
      throw new OrreryError(ErrorIds.PARTITION_INVALID, `Unknown IANA time zone "${this.timezone}".`, { timezone: this.timezone });
    }
    this.parseLocal(options.start, 'start');
    if (options.end) this.parseLocal(options.end, 'end');
  }

  get calendar(): Calendar | undefined { return this.options.calendar; }

  private parseLocal(text: string, what: string): DateTime {
    const dt = DateTime.fromISO(text, { zone: this.timezone });
    if (!dt.isValid) throw new OrreryError(ErrorIds.PARTITION_INVALID, `Time-window ${what} "${text}" is not an ISO date/time.`, { [what]: text });
    return dt;
  }

  /** The key of the window starting at `dt` (local time in the zone). */
  formatKey(dt: DateTime): string {
    switch (this.cadence) {
      case 'monthly': return dt.toFormat('yyyy-MM');
      case 'daily': return dt.toFormat('yyyy-MM-dd');
      default:
        // Outside UTC an intraday local time can repeat when clocks fall back: the offset keeps keys unique.
        return this.timezone === 'UTC' ? dt.toFormat("yyyy-MM-dd'T'HH:mm") : dt.toFormat("yyyy-MM-dd'T'HH:mmZZ");
    }
  }

  private step(dt: DateTime, n = 1): DateTime {
    switch (this.cadence) {
      case 'monthly': return dt.plus({ months: n });
      case 'daily': return dt.plus({ days: n });
      default: {
        let t = dt;
        for (let i = 0; i < n; i++) t = this.nextIntraday(t);
        return t;
      }
    }
  }

  /**
   * The next window start after an aligned `dt`: `m` minutes on, except across a DST switch, where
   * the boundary stays on the local grid (a 4h window is 3 h or 5 h long on that day).
   */
  private nextIntraday(dt: DateTime): DateTime {
    const m = INTRADAY_MINUTES[this.cadence]!;
    const real = dt.plus({ minutes: m });
    if (real.offset === dt.offset) return real;
    const aligned = this.align(real);
    if (aligned.toMillis() > dt.toMillis()) return aligned;
    // Clocks went back by less than the cadence: the next local slot after dt.
    const slot = dt.hour * 60 + dt.minute + m;
    const next = slot >= 24 * 60 ? dt.plus({ days: 1 }).startOf('day') : dt.set({ hour: Math.floor(slot / 60), minute: slot % 60 });
    return next.toMillis() > dt.toMillis() ? next : real;
  }

  private align(dt: DateTime): DateTime {
    switch (this.cadence) {
      case 'monthly': return dt.startOf('month');
      case 'daily': return dt.startOf('day');
      default: {
        const m = INTRADAY_MINUTES[this.cadence]!;
        // On the local grid: adding minutes to the local midnight is off by an hour on DST days.
        const minutes = Math.floor((dt.hour * 60 + dt.minute) / m) * m;
        return dt.set({ hour: Math.floor(minutes / 60), minute: minutes % 60, second: 0, millisecond: 0 });
      }
    }
  }

  private build(): { windows: TimeWindow[]; index: Map<string, number> } {
    if (this.cache) return this.cache;
    const first = this.align(this.parseLocal(this.options.start, 'start'));
    let endMs: number;
    if (this.options.end) {
      endMs = this.parseLocal(this.options.end, 'end').toMillis();
    } else {
      const now = DateTime.fromJSDate((this.options.now ?? (() => new Date()))(), { zone: this.timezone });
      endMs = this.align(now).toMillis(); // the window containing now is not complete yet
    }
    const windows: TimeWindow[] = [];
    const cal = this.options.calendar;
    // After the loop, dt is the start of the first window past the end (on the window grid).
    let dt: DateTime = first;
    for (; ; dt = this.step(dt)) {
      const next = this.step(dt);
      if (next.toMillis() > endMs) break;
      const w = { key: this.formatKey(dt), start: dt.toMillis(), end: next.toMillis() };
      if (!cal || cal.isOpen(w.start, w.end)) windows.push(w);
    }
    const offset = this.options.endOffset ?? 0;
    if (offset < 0) windows.splice(Math.max(0, windows.length + offset));
    for (let added = 0; added < offset; dt = this.step(dt)) {
      const next = this.step(dt);
      const w = { key: this.formatKey(dt), start: dt.toMillis(), end: next.toMillis() };
      if (!cal || cal.isOpen(w.start, w.end)) { windows.push(w); added++; }
    }
    const index = new Map<string, number>();
    windows.forEach((w, i) => index.set(w.key, i));
    this.cache = { windows, index };
    return this.cache;
  }

  windows(): readonly TimeWindow[] { return this.build().windows; }
  keys(): Iterable<string> { return this.build().windows.map((w) => w.key); }
  count(): number { return this.build().windows.length; }
  has(key: string): boolean { return this.build().index.has(key); }

  indexOf(key: string): number {
    const i = this.build().index.get(key);
    if (i === undefined) throw new OrreryError(ErrorIds.PARTITION_UNKNOWN, `"${key}" is not a ${this.cadence} window of these partitions (${this.describeRange()}).`, { key });
    return i;
  }

  window(key: string): TimeWindow { return this.build().windows[this.indexOf(key)]; }
  at(index: number): TimeWindow | undefined { return this.build().windows[index]; }

  /** Windows overlapping [start, end), in order. */
  windowsOverlapping(start: number, end: number): TimeWindow[] {
    const ws = this.build().windows;
    let lo = 0, hi = ws.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (ws[mid].end <= start) lo = mid + 1; else hi = mid; }
    const out: TimeWindow[] = [];
    for (let i = lo; i < ws.length && ws[i].start < end; i++) out.push(ws[i]);
    return out;
  }

  /** The key of the window that contains `instant`, if that window exists. */
  keyContaining(instant: number): string | undefined {
    return this.windowsOverlapping(instant, instant + 1)[0]?.key;
  }

  private describeRange(): string {
    const ws = this.build().windows;
    return ws.length ? `${ws[0].key} … ${ws[ws.length - 1].key}` : 'none';
  }

  describe(): PartitionsDescription {
    const ws = this.build().windows;
    return { kind: 'time', cadence: this.cadence, timezone: this.timezone, calendar: this.options.calendar?.name ?? null, first: ws[0]?.key ?? null, last: ws[ws.length - 1]?.key ?? null, count: ws.length };
  }
}
