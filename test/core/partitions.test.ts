import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { DynamicPartitions, MultiPartitions, StaticPartitions } from '../../core/partitions/definitions.ts';
import { TimeWindowPartitions, type Cadence } from '../../core/partitions/time-window.ts';
import { SessionCalendar, TseCalendar } from '../../core/partitions/calendars.ts';
import { ErrorIds } from '../../core/errors.ts';
import { multi, orreryError, product, statics, tw } from './builders.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MINUTES: Record<Cadence, number> = { '15m': 15, '1h': 60, '4h': 240, daily: 1440, monthly: 0 };

/** Local minutes since midnight of an instant in a zone (independent of the partition code). */
const formatters = new Map<string, Intl.DateTimeFormat>();
function localMinuteOfDay(ms: number, zone: string): number {
  let f = formatters.get(zone);
  if (!f) { f = new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }); formatters.set(zone, f); }
  const parts = f.formatToParts(new Date(ms));
  const get = (t: string) => Number(parts.find((p) => p.type === t)!.value);
  return get('hour') * 60 + get('minute');
}

describe('TimeWindowPartitions: counts and keys', () => {
  it('monthly windows over known ranges', () => {
    expect(tw('monthly', '2024-01-01', '2025-01-01').count()).toBe(12);
    expect(tw('monthly', '2020-01-01', '2025-01-01').count()).toBe(60);
    expect([...tw('monthly', '2024-01-01', '2024-04-01').keys()]).toEqual(['2024-01', '2024-02', '2024-03']);
    // a partial last month does not make a window
    expect(tw('monthly', '2024-01-01', '2024-03-15').count()).toBe(2);
  });

  it('daily windows: leap and common years', () => {
    expect(tw('daily', '2024-01-01', '2025-01-01').count()).toBe(366);
    expect(tw('daily', '2023-01-01', '2024-01-01').count()).toBe(365);
    expect(tw('daily', '2024-01-01', '2025-01-01', { timezone: 'Asia/Tokyo' }).count()).toBe(366);
    const keys = [...tw('daily', '2024-02-27', '2024-03-02').keys()];
    expect(keys).toEqual(['2024-02-27', '2024-02-28', '2024-02-29', '2024-03-01']);
  });

  it('intraday UTC counts equal the span divided by the cadence', () => {
    const cases: Array<[Cadence, string, string]> = [
      ['1h', '2024-01-01', '2024-02-01'],
      ['4h', '2024-01-01', '2025-01-01'],
      ['15m', '2024-02-01', '2024-03-01'],
      ['1h', '2023-03-01', '2023-03-02'],
    ];
    for (const [c, s, e] of cases) {
      const span = Date.parse(`${e}T00:00:00Z`) - Date.parse(`${s}T00:00:00Z`);
      expect(tw(c, s, e).count()).toBe(span / (MINUTES[c] * 60_000));
    }
    expect(tw('1h', '2024-01-01', '2024-02-01').count()).toBe(744);
    expect(tw('4h', '2024-01-01', '2025-01-01').count()).toBe(2196);
    expect(tw('15m', '2024-02-01', '2024-03-01').count()).toBe(2784);
  });

  it('key formats per cadence and zone', () => {
    expect([...tw('1h', '2024-01-01', '2024-01-01T03:00').keys()]).toEqual(['2024-01-01T00:00', '2024-01-01T01:00', '2024-01-01T02:00']);
    expect([...tw('15m', '2024-01-01T23:30', '2024-01-02T00:15').keys()]).toEqual(['2024-01-01T23:30', '2024-01-01T23:45', '2024-01-02T00:00']);
    expect([...tw('4h', '2024-01-01', '2024-01-02').keys()]).toEqual(['00', '04', '08', '12', '16', '20'].map((h) => `2024-01-01T${h}:00`));
    expect([...tw('1h', '2024-01-15', '2024-01-15T02:00', { timezone: 'Europe/Berlin' }).keys()]).toEqual(['2024-01-15T00:00+01:00', '2024-01-15T01:00+01:00']);
    expect([...tw('1h', '2024-07-15', '2024-07-15T01:00', { timezone: 'America/New_York' }).keys()]).toEqual(['2024-07-15T00:00-04:00']);
    for (const k of tw('monthly', '2019-01-01', '2025-01-01').keys()) expect(k).toMatch(/^\d{4}-\d{2}$/);
    for (const k of tw('daily', '2024-01-01', '2024-03-01').keys()) expect(k).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it('a start inside a window aligns down to the window start', () => {
    expect([...tw('1h', '2024-01-01T05:30', '2024-01-01T08:00').keys()]).toEqual(['2024-01-01T05:00', '2024-01-01T06:00', '2024-01-01T07:00']);
    expect([...tw('monthly', '2024-01-15', '2024-03-01').keys()]).toEqual(['2024-01', '2024-02']);
    expect([...tw('4h', '2024-01-01T07:59', '2024-01-01T16:00').keys()]).toEqual(['2024-01-01T04:00', '2024-01-01T08:00', '2024-01-01T12:00']);
  });

  it('window(key) boundaries', () => {
    const d = tw('daily', '2024-01-01', '2025-01-01');
    expect(d.window('2024-02-29')).toEqual({ key: '2024-02-29', start: Date.UTC(2024, 1, 29), end: Date.UTC(2024, 2, 1) });
    const m = tw('monthly', '2024-01-01', '2025-01-01');
    const feb = m.window('2024-02');
    expect(feb.start).toBe(Date.UTC(2024, 1, 1));
    expect(feb.end - feb.start).toBe(29 * DAY);
    expect(m.window('2024-12').end).toBe(Date.UTC(2025, 0, 1));
    const tokyo = tw('daily', '2024-01-01', '2024-02-01', { timezone: 'Asia/Tokyo' });
    expect(tokyo.window('2024-01-05')).toEqual({ key: '2024-01-05', start: Date.UTC(2024, 0, 4, 15), end: Date.UTC(2024, 0, 5, 15) });
    const h = tw('15m', '2024-03-01', '2024-03-02');
    expect(h.window('2024-03-01T13:45')).toEqual({ key: '2024-03-01T13:45', start: Date.UTC(2024, 2, 1, 13, 45), end: Date.UTC(2024, 2, 1, 14) });
    expect(orreryError(() => d.window('2023-12-31')).errorId).toBe(ErrorIds.PARTITION_UNKNOWN);
    expect(orreryError(() => d.window('2024-1-1')).errorId).toBe(ErrorIds.PARTITION_UNKNOWN);
    expect(d.has('2024-02-29') && !d.has('2025-01-01') && !d.has('2024-02-30')).toBe(true);
  });

  it('rejects an unknown cadence, zone or start', () => {
    expect(orreryError(() => new TimeWindowPartitions({ cadence: '2h' as Cadence, start: '2024-01-01' })).errorId).toBe(ErrorIds.PARTITION_INVALID);
    expect(orreryError(() => new TimeWindowPartitions({ cadence: 'daily', start: '2024-01-01', timezone: 'Mars/Olympus' })).errorId).toBe(ErrorIds.PARTITION_INVALID);
    expect(orreryError(() => new TimeWindowPartitions({ cadence: 'daily', start: 'yesterday' })).errorId).toBe(ErrorIds.PARTITION_INVALID);
    expect(orreryError(() => new TimeWindowPartitions({ cadence: 'daily', start: '2024-01-01', end: '2024-13-01' })).errorId).toBe(ErrorIds.PARTITION_INVALID);
  });
});

describe('TimeWindowPartitions: daylight saving time', () => {
  it('Europe/Berlin daily windows are 23 h and 25 h on the switch days', () => {
    const d = tw('daily', '2024-01-01', '2025-01-01', { timezone: 'Europe/Berlin' });
    expect(d.count()).toBe(366);
    const len = (k: string) => { const w = d.window(k); return (w.end - w.start) / HOUR; };
    expect(len('2024-03-31')).toBe(23);
    expect(len('2024-10-27')).toBe(25);
    expect(len('2024-03-30')).toBe(24);
    expect(len('2024-10-28')).toBe(24);
    const lengths = d.windows().map((w) => (w.end - w.start) / HOUR);
    expect(lengths.filter((l) => l === 23)).toHaveLength(1);
    expect(lengths.filter((l) => l === 25)).toHaveLength(1);
    expect(lengths.filter((l) => l === 24)).toHaveLength(364);
    // every window starts at local midnight
    for (const w of d.windows()) expect(localMinuteOfDay(w.start, 'Europe/Berlin')).toBe(0);
  });

  it('America/New_York daily windows on 2024-03-10 and 2024-11-03', () => {
    const d = tw('daily', '2024-03-01', '2024-12-01', { timezone: 'America/New_York' });
    expect(d.window('2024-03-10').end - d.window('2024-03-10').start).toBe(23 * HOUR);
    expect(d.window('2024-11-03').end - d.window('2024-11-03').start).toBe(25 * HOUR);
    expect(d.window('2024-03-10').start).toBe(Date.UTC(2024, 2, 10, 5));
    expect(d.window('2024-11-03').end).toBe(Date.UTC(2024, 10, 4, 5));
  });

  it('hourly windows across fall-back: 25 unique keys, each one hour long', () => {
    const h = tw('1h', '2024-10-27', '2024-10-28', { timezone: 'Europe/Berlin' });
    const ws = h.windows();
    expect(ws).toHaveLength(25);
    expect(new Set(ws.map((w) => w.key)).size).toBe(25);
    for (const w of ws) expect(w.end - w.start).toBe(HOUR);
    for (let i = 1; i < ws.length; i++) expect(ws[i].start).toBe(ws[i - 1].end);
    expect(ws[0].start).toBe(Date.UTC(2024, 9, 26, 22));
    expect(ws[24].end).toBe(Date.UTC(2024, 9, 27, 23));
    expect(ws.slice(2, 4).map((w) => w.key)).toEqual(['2024-10-27T02:00+02:00', '2024-10-27T02:00+01:00']);
    expect(h.window('2024-10-27T02:00+01:00').start).toBe(Date.UTC(2024, 9, 27, 1));
  });

  it('hourly windows across spring-forward: 23, no 02:00', () => {
    const h = tw('1h', '2024-03-31', '2024-04-01', { timezone: 'Europe/Berlin' });
    expect(h.count()).toBe(23);
    const keys = [...h.keys()];
    expect(keys.some((k) => k.startsWith('2024-03-31T02:'))).toBe(false);
    expect(keys.slice(0, 3)).toEqual(['2024-03-31T00:00+01:00', '2024-03-31T01:00+01:00', '2024-03-31T03:00+02:00']);
    const ny = tw('1h', '2024-11-03', '2024-11-04', { timezone: 'America/New_York' });
    expect(ny.count()).toBe(25);
    expect(tw('1h', '2024-03-10', '2024-03-11', { timezone: 'America/New_York' }).count()).toBe(23);
    expect(tw('15m', '2024-10-27', '2024-10-28', { timezone: 'Europe/Berlin' }).count()).toBe(100);
  });

  it('4h windows stay on local 00/04/08/12/16/20 after a switch (the switch-day window is 3 h or 5 h)', () => {
    const spring = tw('4h', '2024-03-30', '2024-04-02', { timezone: 'Europe/Berlin' });
    expect([...spring.keys()].filter((k) => k.startsWith('2024-04-01'))).toEqual(
      ['00', '04', '08', '12', '16', '20'].map((h) => `2024-04-01T${h}:00+02:00`),
    );
    expect(spring.window('2024-03-31T00:00+01:00').end - spring.window('2024-03-31T00:00+01:00').start).toBe(3 * HOUR);
    expect(spring.count()).toBe(18);
    const fall = tw('4h', '2024-10-26', '2024-10-29', { timezone: 'Europe/Berlin' });
    expect(fall.window('2024-10-27T00:00+02:00').end - fall.window('2024-10-27T00:00+02:00').start).toBe(5 * HOUR);
    expect([...fall.keys()].filter((k) => k.startsWith('2024-10-27'))).toEqual(
      ['2024-10-27T00:00+02:00', ...['04', '08', '12', '16', '20'].map((h) => `2024-10-27T${h}:00+01:00`)],
    );
    expect(fall.count()).toBe(18);
  });

  it('every intraday window of 2024 in Berlin and New York starts on a local boundary', () => {
    for (const zone of ['Europe/Berlin', 'America/New_York']) {
      for (const [cadence, start, end] of [['4h', '2024-01-01', '2025-01-01'], ['1h', '2024-01-01', '2025-01-01'], ['15m', '2024-03-01', '2024-04-15']] as const) {
        const ws = tw(cadence, start, end, { timezone: zone }).windows();
        const bad = ws.filter((w) => localMinuteOfDay(w.start, zone) % MINUTES[cadence] !== 0).map((w) => w.key);
        expect(bad.slice(0, 3), `${cadence} ${zone}`).toEqual([]);
        for (let i = 1; i < ws.length; i++) if (ws[i].start !== ws[i - 1].end) throw new Error(`gap before ${ws[i].key}`);
      }
    }
  });

  it('property: windows are contiguous, increasing, uniquely keyed and start on a local boundary', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<Cadence>('15m', '1h', '4h', 'daily', 'monthly'),
        fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Tokyo', 'Asia/Kolkata'),
        // DST switch days (and the day before) in Berlin and New York are drawn often
        fc.oneof(fc.integer({ min: 0, max: 364 }), fc.constantFrom(68, 69, 89, 90, 299, 300, 306, 307)),
        fc.integer({ min: 1, max: 40 }),
        (cadence, zone, dayOffset, n) => {
          const start = DateTime.fromISO('2024-01-01', { zone }).plus({ days: dayOffset });
          const end = cadence === 'monthly' ? start.plus({ months: n }) : cadence === 'daily' ? start.plus({ days: n }) : start.plus({ hours: n });
          const p = tw(cadence, start.toISODate()!, end.toISO({ includeOffset: false })!, { timezone: zone });
          const ws = p.windows();
          expect(new Set(ws.map((w) => w.key)).size).toBe(ws.length);
          for (let i = 0; i < ws.length; i++) {
            expect(ws[i].end).toBeGreaterThan(ws[i].start);
            if (i > 0) expect(ws[i].start).toBe(ws[i - 1].end);
            expect(p.window(ws[i].key)).toEqual(ws[i]);
            const m = localMinuteOfDay(ws[i].start, zone);
            if (cadence === 'daily' || cadence === 'monthly') expect(m).toBe(0);
            else expect(m % MINUTES[cadence]).toBe(0);
            if (cadence === 'monthly') expect(DateTime.fromMillis(ws[i].start, { zone }).day).toBe(1);
          }
          if (ws.length) expect(ws[ws.length - 1].end).toBeLessThanOrEqual(end.toMillis());
        },
      ),
      { numRuns: 150, seed: 4242 },
    );
  });
});

describe('TimeWindowPartitions: open end with now() and endOffset', () => {
  const now = () => new Date('2024-01-10T12:00:00Z');
  it('the window containing now is not a partition yet', () => {
    const d = new TimeWindowPartitions({ cadence: 'daily', start: '2024-01-01', now });
    expect(d.count()).toBe(9);
    expect([...d.keys()].at(-1)).toBe('2024-01-09');
    const h = new TimeWindowPartitions({ cadence: '1h', start: '2024-01-10', now });
    expect([...h.keys()].at(-1)).toBe('2024-01-10T11:00');
    expect(h.count()).toBe(12);
  });

  it('positive endOffset adds windows past now, negative drops them', () => {
    const mk = (endOffset: number) => new TimeWindowPartitions({ cadence: 'daily', start: '2024-01-01', now, endOffset });
    expect([...mk(1).keys()].at(-1)).toBe('2024-01-10');
    expect(mk(1).count()).toBe(10);
    expect([...mk(2).keys()].slice(-2)).toEqual(['2024-01-10', '2024-01-11']);
    expect(mk(2).window('2024-01-11')).toEqual({ key: '2024-01-11', start: Date.UTC(2024, 0, 11), end: Date.UTC(2024, 0, 12) });
    expect([...mk(-1).keys()].at(-1)).toBe('2024-01-08');
    expect(mk(-3).count()).toBe(6);
    expect(mk(-20).count()).toBe(0);
    const monthly = new TimeWindowPartitions({ cadence: 'monthly', start: '2023-01-01', now, endOffset: 1 });
    expect([...monthly.keys()].slice(-2)).toEqual(['2023-12', '2024-01']);
  });

  it('positive endOffset skips closed windows of a calendar', () => {
    // 2024-01-12T12:00Z is Friday 21:00 in Tokyo: Friday's window is not complete, so the last
    // complete TSE day is Thu 1/11; three extra open windows are Fri 1/12, Mon 1/15, Tue 1/16.
    const fri = () => new Date('2024-01-12T12:00:00Z');
    const mk = (endOffset: number) => new TimeWindowPartitions({ cadence: 'daily', start: '2024-01-04', timezone: 'Asia/Tokyo', calendar: new TseCalendar(), now: fri, endOffset });
    expect([...mk(0).keys()]).toEqual(['2024-01-04', '2024-01-05', '2024-01-09', '2024-01-10', '2024-01-11']);
    expect([...mk(3).keys()].slice(-4)).toEqual(['2024-01-11', '2024-01-12', '2024-01-15', '2024-01-16']);
    expect([...mk(-2).keys()]).toEqual(['2024-01-04', '2024-01-05', '2024-01-09']);
  });

  it('an extra window after an end that is not on a boundary is still aligned', () => {
    const h = new TimeWindowPartitions({ cadence: '1h', start: '2024-01-01', end: '2024-01-01T05:30', endOffset: 1 });
    expect([...h.keys()].slice(-2)).toEqual(['2024-01-01T04:00', '2024-01-01T05:00']);
    expect(h.window('2024-01-01T05:00')).toEqual({ key: '2024-01-01T05:00', start: Date.UTC(2024, 0, 1, 5), end: Date.UTC(2024, 0, 1, 6) });
  });

  it('now on a DST switch day in Berlin: only complete windows', () => {
    // 2024-03-31 03:30Z is 05:30 CEST: the 05:00 window is still running
    const spring = new TimeWindowPartitions({ cadence: '1h', start: '2024-03-31', timezone: 'Europe/Berlin', now: () => new Date('2024-03-31T03:30:00Z') });
    expect([...spring.keys()].at(-1)).toBe('2024-03-31T04:00+02:00');
    for (const w of spring.windows()) expect(w.end).toBeLessThanOrEqual(Date.parse('2024-03-31T03:30:00Z'));
    // 2024-10-27 02:30Z is 03:30 CET: the second 02:00 window ended at 02:00Z
    const fall = new TimeWindowPartitions({ cadence: '1h', start: '2024-10-27', timezone: 'Europe/Berlin', now: () => new Date('2024-10-27T02:30:00Z') });
    expect([...fall.keys()].slice(-2)).toEqual(['2024-10-27T02:00+02:00', '2024-10-27T02:00+01:00']);
    expect(fall.count()).toBe(4);
  });

  it('a start after the fall-back hour aligns to the window that contains it', () => {
    const h = tw('1h', '2024-10-27T03:00', '2024-10-27T05:00', { timezone: 'Europe/Berlin' });
    expect([...h.keys()]).toEqual(['2024-10-27T03:00+01:00', '2024-10-27T04:00+01:00']);
  });
});

describe('TimeWindowPartitions: windowsOverlapping and keyContaining', () => {
  const defArb = fc.record({
    cadence: fc.constantFrom<Cadence>('15m', '1h', '4h', 'daily', 'monthly'),
    zone: fc.constantFrom('UTC', 'Europe/Berlin', 'Asia/Tokyo'),
    day: fc.integer({ min: 0, max: 360 }),
    calendar: fc.constantFrom('none', 'tse', 'session'),
  });
  const build = (c: { cadence: Cadence; zone: string; day: number; calendar: string }) => {
    const start = DateTime.fromISO('2024-01-01', { zone: c.zone }).plus({ days: c.day });
    const end = c.cadence === 'monthly' ? start.plus({ months: 8 }) : c.cadence === 'daily' ? start.plus({ days: 40 }) : start.plus({ days: 4 });
    const calendar = c.calendar === 'tse' ? new TseCalendar() : c.calendar === 'session' ? new SessionCalendar({ sessions: [{ start: '08:00', end: '12:00' }], timezone: 'Europe/London' }) : undefined;
    return new TimeWindowPartitions({ cadence: c.cadence, start: start.toISODate()!, end: end.toISODate()!, timezone: c.zone, calendar });
  };

  it('property: windowsOverlapping equals a brute-force filter', () => {
    fc.assert(
      fc.property(defArb, fc.double({ min: -0.2, max: 1.2, noNaN: true }), fc.double({ min: 0, max: 0.5, noNaN: true }), (c, a, len) => {
        const p = build(c);
        const ws = p.windows();
        const lo = Date.parse('2024-01-01T00:00:00Z') + (c.day - 10) * DAY;
        const span = 300 * DAY;
        const s = Math.floor(lo + a * span), e = Math.floor(s + len * span * (c.cadence === 'monthly' ? 1 : 0.05)) + 1;
        expect(p.windowsOverlapping(s, e)).toEqual(ws.filter((w) => w.start < e && w.end > s));
      }),
      { numRuns: 120, seed: 7 },
    );
  });

  it('property: keyContaining finds the one window holding an instant, or none', () => {
    fc.assert(
      fc.property(defArb, fc.double({ min: -0.05, max: 1.05, noNaN: true }), (c, a) => {
        const p = build(c);
        const ws = p.windows();
        if (ws.length === 0) return;
        const first = ws[0].start, last = ws[ws.length - 1].end;
        const t = Math.floor(first + a * (last - first));
        const hit = ws.filter((w) => w.start <= t && t < w.end);
        expect(hit.length).toBeLessThanOrEqual(1);
        expect(p.keyContaining(t)).toBe(hit[0]?.key);
      }),
      { numRuns: 120, seed: 11 },
    );
  });

  it('keyContaining at boundaries and outside the range', () => {
    const d = tw('daily', '2024-01-01', '2024-02-01');
    expect(d.keyContaining(Date.UTC(2024, 0, 5))).toBe('2024-01-05');
    expect(d.keyContaining(Date.UTC(2024, 0, 5) - 1)).toBe('2024-01-04');
    expect(d.keyContaining(Date.UTC(2024, 1, 1))).toBeUndefined();
    expect(d.keyContaining(Date.UTC(2023, 11, 31, 23, 59))).toBeUndefined();
    const berlin = tw('1h', '2024-10-27', '2024-10-28', { timezone: 'Europe/Berlin' });
    expect(berlin.keyContaining(Date.UTC(2024, 9, 27, 0, 30))).toBe('2024-10-27T02:00+02:00');
    expect(berlin.keyContaining(Date.UTC(2024, 9, 27, 1, 30))).toBe('2024-10-27T02:00+01:00');
    // Saturday has no TSE window
    const tse = tw('daily', '2024-01-01', '2024-02-01', { timezone: 'Asia/Tokyo', calendar: new TseCalendar() });
    expect(tse.keyContaining(Date.UTC(2024, 0, 6, 3))).toBeUndefined();
    expect(tse.keyContaining(Date.UTC(2024, 0, 5, 3))).toBe('2024-01-05');
  });
});

describe('StaticPartitions', () => {
  it('keys, count, has', () => {
    const s = statics('XAUUSD', 'XAGUSD', 'EURUSD');
    expect([...s.keys()]).toEqual(['XAUUSD', 'XAGUSD', 'EURUSD']);
    expect(s.count()).toBe(3);
    expect(s.indexOf('XAGUSD')).toBe(1);
    expect(s.describe()).toEqual({ kind: 'static', keys: ['XAUUSD', 'XAGUSD', 'EURUSD'] });
  });

  it('rejects invalid and duplicate keys with CORE_PART_INVALID', () => {
    for (const bad of ['', 'a|b', 'a,b', 'a\nb', 'tab\there', 'cr\r']) {
      expect(orreryError(() => statics('ok', bad)).errorId).toBe(ErrorIds.PARTITION_INVALID);
    }
    expect(orreryError(() => statics('a', 'b', 'a')).errorId).toBe(ErrorIds.PARTITION_INVALID);
  });

  it('property: has agrees with membership', () => {
    const keyArb = fc.stringMatching(/^[a-d]{1,3}$/);
    fc.assert(
      fc.property(fc.uniqueArray(keyArb, { minLength: 1, maxLength: 12 }), keyArb, (keys, probe) => {
        const s = new StaticPartitions(keys);
        expect(s.has(probe)).toBe(keys.includes(probe));
        expect([...s.keys()]).toEqual(keys);
        expect(s.count()).toBe(keys.length);
      }),
      { numRuns: 200, seed: 3 },
    );
  });
});

describe('DynamicPartitions', () => {
  it('add dedupes, keeps order and returns only new keys', () => {
    const d = new DynamicPartitions('pairs', ['A_B', 'C_D', 'A_B']);
    expect([...d.keys()]).toEqual(['A_B', 'C_D']);
    expect(d.add(['C_D', 'E_F', 'E_F', 'G_H'])).toEqual(['E_F', 'G_H']);
    expect([...d.keys()]).toEqual(['A_B', 'C_D', 'E_F', 'G_H']);
    expect(d.count()).toBe(4);
    expect(d.has('E_F')).toBe(true);
    expect(d.has('X_Y')).toBe(false);
    expect(d.add([])).toEqual([]);
    expect(d.describe()).toEqual({ kind: 'dynamic', name: 'pairs', keys: ['A_B', 'C_D', 'E_F', 'G_H'] });
  });

  it('rejects invalid keys', () => {
    const d = new DynamicPartitions('pairs');
    expect(orreryError(() => d.add(['A|B'])).errorId).toBe(ErrorIds.PARTITION_INVALID);
    expect(orreryError(() => d.add([''])).errorId).toBe(ErrorIds.PARTITION_INVALID);
    expect(orreryError(() => new DynamicPartitions('x', ['a,b'])).errorId).toBe(ErrorIds.PARTITION_INVALID);
  });

  it('property: after any sequence of adds the keys are the distinct keys in first-seen order', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e'), { maxLength: 5 }), { maxLength: 6 }), (batches) => {
        const d = new DynamicPartitions('p');
        const seen: string[] = [];
        for (const b of batches) {
          const fresh = d.add(b);
          const expected: string[] = [];
          for (const k of b) if (!seen.includes(k)) { seen.push(k); expected.push(k); }
          expect(fresh).toEqual(expected);
        }
        expect([...d.keys()]).toEqual(seen);
        expect(d.count()).toBe(seen.length);
      }),
      { numRuns: 100, seed: 5 },
    );
  });
});

describe('MultiPartitions', () => {
  const tf = statics('15m', '1h', '4h');
  const sym = statics('XAUUSD', 'XAGUSD');
  const month = tw('monthly', '2024-01-01', '2024-04-01');
  const m = multi(['timeframe', tf], ['symbol', sym], ['month', month]);

  it('keys are the product in declared order, last dimension fastest', () => {
    const keys = [...m.keys()];
    expect(keys).toHaveLength(18);
    expect(m.count()).toBe(18);
    expect(keys.slice(0, 4)).toEqual(['15m|XAUUSD|2024-01', '15m|XAUUSD|2024-02', '15m|XAUUSD|2024-03', '15m|XAGUSD|2024-01']);
    expect(keys).toEqual(product([...tf.keys()], [...sym.keys()], [...month.keys()]).map((p) => p.join('|')));
  });

  it('split / join round trip and errors', () => {
    expect(m.split('1h|XAGUSD|2024-02')).toEqual({ timeframe: '1h', symbol: 'XAGUSD', month: '2024-02' });
    expect(m.join({ month: '2024-02', symbol: 'XAGUSD', timeframe: '1h' })).toBe('1h|XAGUSD|2024-02');
    for (const k of m.keys()) expect(m.join(m.split(k))).toBe(k);
    expect(orreryError(() => m.split('1h|XAGUSD')).errorId).toBe(ErrorIds.PARTITION_UNKNOWN);
    expect(orreryError(() => m.split('1h|XAGUSD|2024-02|x')).errorId).toBe(ErrorIds.PARTITION_UNKNOWN);
    expect(m.dimension('symbol')).toBe(sym);
    expect(orreryError(() => m.dimension('pair')).errorId).toBe(ErrorIds.PARTITION_INVALID);
  });

  it('rejects fewer than two dimensions, nesting and duplicate names', () => {
    expect(orreryError(() => new MultiPartitions([['a', tf]])).errorId).toBe(ErrorIds.PARTITION_INVALID);
    expect(orreryError(() => new MultiPartitions([['a', tf], ['b', multi(['x', sym], ['y', tf])]])).errorId).toBe(ErrorIds.PARTITION_INVALID);
    expect(orreryError(() => new MultiPartitions([['a', tf], ['a', sym]])).errorId).toBe(ErrorIds.PARTITION_INVALID);
  });

  it('an empty dimension makes no keys', () => {
    const e = multi(['a', tf], ['b', new DynamicPartitions('none')]);
    expect([...e.keys()]).toEqual([]);
    expect(e.count()).toBe(0);
  });

  it('property: count = keys().length, has agrees with membership, split/join round-trips', () => {
    const dimArb = fc.uniqueArray(fc.constantFrom('p', 'q', 'r', 's', 'tt', 'u-1'), { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(fc.array(dimArb, { minLength: 2, maxLength: 4 }), fc.array(fc.constantFrom('p', 'q', 'r', 's', 'tt', 'u-1', 'zz'), { minLength: 1, maxLength: 5 }), (dims, probeParts) => {
        const mp = new MultiPartitions(dims.map((keys, i) => [`d${i}`, new StaticPartitions(keys)] as const));
        const keys = [...mp.keys()];
        expect(mp.count()).toBe(keys.length);
        expect(keys.length).toBe(dims.reduce((n, d) => n * d.length, 1));
        expect(new Set(keys).size).toBe(keys.length);
        for (const k of keys) { expect(mp.has(k)).toBe(true); expect(mp.join(mp.split(k))).toBe(k); }
        const probe = probeParts.join('|');
        expect(mp.has(probe)).toBe(keys.includes(probe));
      }),
      { numRuns: 150, seed: 9 },
    );
  });
});
