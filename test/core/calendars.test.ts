import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { SessionCalendar, TseCalendar } from '../../core/partitions/calendars.ts';
import { TimeWindowPartitions } from '../../core/partitions/time-window.ts';
import { ErrorIds } from '../../core/errors.ts';
import { orreryError, tw } from './builders.ts';

/**
 * Japanese national holidays (Cabinet Office list), written out by hand — not taken from the
 * holiday library the calendar uses — including substitute holidays (振替休日).
 */
const JP_HOLIDAYS_2024 = [
  '2024-01-01', '2024-01-08', '2024-02-11', '2024-02-12', '2024-02-23', '2024-03-20', '2024-04-29',
  '2024-05-03', '2024-05-04', '2024-05-05', '2024-05-06', '2024-07-15', '2024-08-11', '2024-08-12',
  '2024-09-16', '2024-09-22', '2024-09-23', '2024-10-14', '2024-11-03', '2024-11-04', '2024-11-23',
];
const JP_HOLIDAYS_2023 = [
  '2023-01-01', '2023-01-02', '2023-01-09', '2023-02-11', '2023-02-23', '2023-03-21', '2023-04-29',
  '2023-05-03', '2023-05-04', '2023-05-05', '2023-07-17', '2023-08-11', '2023-09-18', '2023-09-23',
  '2023-10-09', '2023-11-03', '2023-11-23',
];

/** Every date of a year as YYYY-MM-DD with its ISO weekday (1 = Monday), from plain UTC arithmetic. */
function daysOf(year: number): Array<{ date: string; weekday: number }> {
  const out: Array<{ date: string; weekday: number }> = [];
  for (let t = Date.UTC(year, 0, 1); t < Date.UTC(year + 1, 0, 1); t += 86_400_000) {
    const d = new Date(t);
    out.push({ date: d.toISOString().slice(0, 10), weekday: ((d.getUTCDay() + 6) % 7) + 1 });
  }
  return out;
}

/** TSE business days from first principles: weekdays, minus holidays, minus 12/31 and 1/1–1/3. */
function expectedBusinessDays(year: number, holidays: readonly string[]): string[] {
  const closed = new Set([...holidays, `${year}-01-01`, `${year}-01-02`, `${year}-01-03`, `${year}-12-31`]);
  return daysOf(year).filter((d) => d.weekday <= 5 && !closed.has(d.date)).map((d) => d.date);
}

describe('TseCalendar (seed 004 §4.3)', () => {
  it('2024 has 245 business days: 262 weekdays − 14 weekday holidays − 1/2, 1/3, 12/31', () => {
    const days = daysOf(2024);
    const weekdays = days.filter((d) => d.weekday <= 5);
    expect(weekdays).toHaveLength(262);
    const weekdaySet = new Set(weekdays.map((d) => d.date));
    const weekdayHolidays = JP_HOLIDAYS_2024.filter((h) => weekdaySet.has(h));
    expect(weekdayHolidays).toHaveLength(14);
    const yearEnd = ['2024-01-02', '2024-01-03', '2024-12-31'].filter((d) => weekdaySet.has(d) && !JP_HOLIDAYS_2024.includes(d));
    const expected = weekdays.length - weekdayHolidays.length - yearEnd.length;
    expect(expected).toBe(245); // JPX's published count of 2024 trading days

    const cal = new TseCalendar();
    const actual = days.filter((d) => cal.isBusinessDay(d.date)).map((d) => d.date);
    expect(actual).toHaveLength(expected);
    expect(actual).toEqual(expectedBusinessDays(2024, JP_HOLIDAYS_2024));
  });

  it('2023 has 246 business days and agrees day by day with the hand list', () => {
    const cal = new TseCalendar();
    const actual = daysOf(2023).filter((d) => cal.isBusinessDay(d.date)).map((d) => d.date);
    expect(actual).toEqual(expectedBusinessDays(2023, JP_HOLIDAYS_2023));
    expect(actual).toHaveLength(246);
  });

  it('known days: first and last sessions, holidays, weekends', () => {
    const cal = new TseCalendar();
    expect(cal.isBusinessDay('2024-01-04')).toBe(true); // 大発会
    expect(cal.isBusinessDay('2024-12-30')).toBe(true); // 大納会
    for (const d of ['2024-01-01', '2024-01-02', '2024-01-03', '2024-12-31', '2024-02-12', '2024-05-06', '2024-09-23', '2024-11-04']) {
      expect(cal.isBusinessDay(d), d).toBe(false);
    }
    expect(cal.isBusinessDay('2024-01-06')).toBe(false); // Saturday
    expect(cal.isBusinessDay('2024-01-07')).toBe(false); // Sunday
    expect(cal.isBusinessDay('2024-01-09')).toBe(true);
    expect(orreryError(() => cal.isBusinessDay('2024-02-30')).errorId).toBe(ErrorIds.PARTITION_INVALID);
  });

  it('special closes are honored', () => {
    const cal = new TseCalendar({ specialCloses: ['2024-08-05', '2024-10-01'] });
    expect(cal.isBusinessDay('2024-08-05')).toBe(false);
    expect(cal.isBusinessDay('2024-10-01')).toBe(false);
    expect(cal.isBusinessDay('2024-08-06')).toBe(true);
    expect(daysOf(2024).filter((d) => cal.isBusinessDay(d.date))).toHaveLength(243);
    const p = tw('daily', '2024-08-01', '2024-08-10', { timezone: 'Asia/Tokyo', calendar: cal });
    expect([...p.keys()]).toEqual(['2024-08-01', '2024-08-02', '2024-08-06', '2024-08-07', '2024-08-08', '2024-08-09']);
  });

  it('daily Asia/Tokyo partitions with the TSE calendar are exactly the business days', () => {
    const p = tw('daily', '2024-01-01', '2025-01-01', { timezone: TseCalendar.TIMEZONE, calendar: new TseCalendar() });
    expect([...p.keys()]).toEqual(expectedBusinessDays(2024, JP_HOLIDAYS_2024));
    expect(p.count()).toBe(245);
    expect(p.describe()).toMatchObject({ kind: 'time', calendar: 'TSE', first: '2024-01-04', last: '2024-12-30', count: 245 });
    // each window is a whole Tokyo day
    for (const w of p.windows()) {
      expect(w.end - w.start).toBe(86_400_000);
      expect(new Date(w.start).getUTCHours()).toBe(15);
    }
  });

  it('monthly windows exist when any day in them is open; a weekend-only window does not', () => {
    const cal = new TseCalendar();
    expect(tw('monthly', '2024-01-01', '2025-01-01', { timezone: 'Asia/Tokyo', calendar: cal }).count()).toBe(12);
    const sat = DateTime.fromISO('2024-01-13', { zone: 'Asia/Tokyo' });
    expect(cal.isOpen(sat.toMillis(), sat.plus({ days: 2 }).toMillis())).toBe(false);
    expect(cal.isOpen(sat.toMillis(), sat.plus({ days: 2 }).toMillis() + 1)).toBe(true); // reaches Monday 1/15
    // Sat 1/6 – Mon 1/8 (成人の日) is closed for all three days
    const sat6 = DateTime.fromISO('2024-01-06', { zone: 'Asia/Tokyo' });
    expect(cal.isOpen(sat6.toMillis(), sat6.plus({ days: 3 }).toMillis())).toBe(false);
  });

  it('property: isOpen over [start, end) is true iff some Tokyo date touched by it is a business day', () => {
    const cal = new TseCalendar();
    const biz = new Set(expectedBusinessDays(2024, JP_HOLIDAYS_2024));
    const base = Date.UTC(2024, 0, 1);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 360 * 24 }), fc.integer({ min: 1, max: 24 * 5 }), (h, len) => {
        const start = base + h * 3_600_000, end = start + len * 3_600_000;
        let expected = false;
        for (let t = start; t < end; t += 3_600_000) {
          const date = DateTime.fromMillis(t, { zone: 'Asia/Tokyo' }).toISODate()!;
          if (biz.has(date)) expected = true;
        }
        expect(cal.isOpen(start, end)).toBe(expected);
      }),
      { numRuns: 200, seed: 21 },
    );
  });
});

describe('SessionCalendar', () => {
  const weekOf = (cal: SessionCalendar, zone = 'UTC') =>
    new TimeWindowPartitions({ cadence: '1h', start: '2024-01-08', end: '2024-01-15', timezone: zone, calendar: cal });

  it('sessions 00:05–23:55 open every weekday hour and no weekend hour', () => {
    const cal = new SessionCalendar({ sessions: [{ start: '00:05', end: '23:55' }] });
    const p = weekOf(cal); // Mon 2024-01-08 … Sun 2024-01-14
    expect(p.count()).toBe(5 * 24);
    const days = new Set([...p.keys()].map((k) => k.slice(0, 10)));
    expect([...days]).toEqual(['2024-01-08', '2024-01-09', '2024-01-10', '2024-01-11', '2024-01-12']);
    expect(p.has('2024-01-12T23:00')).toBe(true);
    expect(p.has('2024-01-13T00:00')).toBe(false);
    expect(p.has('2024-01-08T00:00')).toBe(true);
  });

  it('a 09:00–17:00 New York session opens 14–22 UTC in winter and 13–21 UTC in summer', () => {
    const cal = new SessionCalendar({ sessions: [{ start: '09:00', end: '17:00' }], timezone: 'America/New_York' });
    const hoursOpen = (day: string) =>
      [...tw('1h', day, DateTime.fromISO(day).plus({ days: 1 }).toISODate()!, { calendar: cal }).keys()].map((k) => Number(k.slice(11, 13)));
    expect(hoursOpen('2024-01-09')).toEqual([14, 15, 16, 17, 18, 19, 20, 21]);
    expect(hoursOpen('2024-07-09')).toEqual([13, 14, 15, 16, 17, 18, 19, 20]);
    expect(hoursOpen('2024-07-13')).toEqual([]); // Saturday
  });

  it('a 09:00–17:00 Berlin session on Berlin hourly partitions opens local 09…16', () => {
    const cal = new SessionCalendar({ sessions: [{ start: '09:00', end: '17:00' }], timezone: 'Europe/Berlin' });
    const p = weekOf(cal, 'Europe/Berlin');
    expect(p.count()).toBe(5 * 8);
    const mon = [...p.keys()].filter((k) => k.startsWith('2024-01-08'));
    expect(mon).toEqual(['09', '10', '11', '12', '13', '14', '15', '16'].map((h) => `2024-01-08T${h}:00+01:00`));
    // a 15-minute window that ends exactly at the open is closed; one that starts at the close is closed
    const at = (iso: string) => DateTime.fromISO(iso, { zone: 'Europe/Berlin' }).toMillis();
    expect(cal.isOpen(at('2024-01-08T08:45'), at('2024-01-08T09:00'))).toBe(false);
    expect(cal.isOpen(at('2024-01-08T17:00'), at('2024-01-08T17:15'))).toBe(false);
    expect(cal.isOpen(at('2024-01-08T16:45'), at('2024-01-08T17:00'))).toBe(true);
  });

  it('a session crossing midnight belongs to the day it opens', () => {
    const cal = new SessionCalendar({ sessions: [{ start: '22:00', end: '02:00' }] });
    const p = weekOf(cal);
    const keys = [...p.keys()];
    // Monday 00:00/01:00 would be Sunday's session: closed. Saturday 00:00/01:00 is Friday's: open.
    expect(keys.slice(0, 2)).toEqual(['2024-01-08T22:00', '2024-01-08T23:00']);
    expect(keys.filter((k) => k.startsWith('2024-01-13'))).toEqual(['2024-01-13T00:00', '2024-01-13T01:00']);
    expect(keys.filter((k) => k.startsWith('2024-01-09'))).toEqual(['2024-01-09T00:00', '2024-01-09T01:00', '2024-01-09T22:00', '2024-01-09T23:00']);
    expect(p.count()).toBe(5 * 4);
  });

  it('US holidays: 1/1 and 12/25 are closed', () => {
    const cal = new SessionCalendar({ sessions: [{ start: '00:05', end: '23:55' }], holidaysCalendar: 'US' });
    const dec = tw('daily', '2024-12-01', '2025-01-01', { calendar: cal });
    // December 2024 has 22 weekdays; Christmas (Wednesday) is closed
    expect(dec.count()).toBe(21);
    expect(dec.has('2024-12-25')).toBe(false);
    expect(dec.has('2024-12-24') && dec.has('2024-12-26') && dec.has('2024-12-31')).toBe(true);
    const jan = tw('daily', '2024-01-01', '2024-01-08', { calendar: cal });
    expect([...jan.keys()]).toEqual(['2024-01-02', '2024-01-03', '2024-01-04', '2024-01-05']);
    const noHolidays = new SessionCalendar({ sessions: [{ start: '00:05', end: '23:55' }], holidaysCalendar: 'NONE' });
    expect(tw('daily', '2024-12-01', '2025-01-01', { calendar: noHolidays }).count()).toBe(22);
    const extra = new SessionCalendar({ sessions: [{ start: '00:05', end: '23:55' }], holidaysCalendar: 'US', extraHolidays: ['2024-12-24'] });
    expect(tw('daily', '2024-12-01', '2025-01-01', { calendar: extra }).count()).toBe(20);
  });

  it('a session on a weekday DST switch keeps its local hours (Asia/Jerusalem, Fri 2024-03-29)', () => {
    const cal = new SessionCalendar({ sessions: [{ start: '09:00', end: '17:00' }], timezone: 'Asia/Jerusalem' });
    const p = tw('1h', '2024-03-29', '2024-03-30', { timezone: 'Asia/Jerusalem', calendar: cal });
    expect([...p.keys()]).toEqual(['09', '10', '11', '12', '13', '14', '15', '16'].map((h) => `2024-03-29T${h}:00+03:00`));
  });

  it('rejects bad sessions and unknown holiday calendars with CORE_CONFIG_INVALID', () => {
    expect(orreryError(() => new SessionCalendar({ sessions: [] })).errorId).toBe(ErrorIds.CONFIG_INVALID);
    expect(orreryError(() => new SessionCalendar({ sessions: [{ start: '9:00', end: '17:00' }] })).errorId).toBe(ErrorIds.CONFIG_INVALID);
    expect(orreryError(() => new SessionCalendar({ sessions: [{ start: '09:00', end: '25:00' }] })).errorId).toBe(ErrorIds.CONFIG_INVALID);
    expect(orreryError(() => new SessionCalendar({ sessions: [{ start: '09:60', end: '17:00' }] })).errorId).toBe(ErrorIds.CONFIG_INVALID);
    const jp = new SessionCalendar({ sessions: [{ start: '09:00', end: '17:00' }], holidaysCalendar: 'JP' });
    expect(orreryError(() => jp.isOpen(Date.UTC(2024, 0, 9), Date.UTC(2024, 0, 10))).errorId).toBe(ErrorIds.CONFIG_INVALID);
  });
});
