/**
 * Holiday calendars named by universe.yaml `holidays_calendar`, as date lists for the backtest
 * engine. `US`: the NYSE full-day closures by their published rules — fixed dates moved to the
 * nearest weekday (Saturday → Friday, Sunday → Monday; New Year's Day on a Saturday is not moved
 * back into December), the Monday/Thursday rules, Good Friday from the Gregorian Easter, and
 * Juneteenth from 2022.
 */
const iso = (y: number, m: number, d: number) => new Date(Date.UTC(y, m - 1, d)).toISOString().slice(0, 10);
const weekday = (y: number, m: number, d: number) => new Date(Date.UTC(y, m - 1, d)).getUTCDay();

/** The n-th `wd` (0 = Sunday) of a month; n = -1 for the last. */
function nthWeekday(y: number, m: number, wd: number, n: number): number {
  if (n > 0) return 1 + ((wd - weekday(y, m, 1) + 7) % 7) + 7 * (n - 1);
  const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return last - ((weekday(y, m, last) - wd + 7) % 7);
}

/** Gregorian Easter Sunday (the anonymous algorithm): [month, day]. */
export function easter(y: number): [number, number] {
  const a = y % 19, b = Math.floor(y / 100), c = y % 100, d = Math.floor(b / 4), e = b % 4;
  const f = Math.floor((b + 8) / 25), g = Math.floor((b - f + 1) / 3), h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4), k = c % 4, l = (32 + 2 * e + 2 * i - h - k) % 7, m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31), day = ((h + l - 7 * m + 114) % 31) + 1;
  return [month, day];
}

function observed(y: number, m: number, d: number): string | null {
  const wd = weekday(y, m, d);
  if (wd === 6) return m === 1 && d === 1 ? null : iso(y, m, d - 1);
  if (wd === 0) return iso(y, m, d + 1);
  return iso(y, m, d);
}

export function usMarketHolidays(year: number): string[] {
  const [em, ed] = easter(year);
  const goodFriday = new Date(Date.UTC(year, em - 1, ed - 2)).toISOString().slice(0, 10);
  const days = [
    observed(year, 1, 1),
    iso(year, 1, nthWeekday(year, 1, 1, 3)), // Martin Luther King Jr. Day
    iso(year, 2, nthWeekday(year, 2, 1, 3)), // Washington's Birthday
    goodFriday,
    iso(year, 5, nthWeekday(year, 5, 1, -1)), // Memorial Day
    year >= 2022 ? observed(year, 6, 19) : null, // Juneteenth
    observed(year, 7, 4),
    iso(year, 9, nthWeekday(year, 9, 1, 1)), // Labor Day
    iso(year, 11, nthWeekday(year, 11, 4, 4)), // Thanksgiving
    observed(year, 12, 25),
  ];
  return days.filter((d): d is string => d !== null).sort();
}

/** The calendars the backtest knows, for the years `from`–`to`. */
export function holidayCalendars(from: number, to: number): Record<string, string[]> {
  const us: string[] = [];
  for (let y = from; y <= to; y++) us.push(...usMarketHolidays(y));
  return { US: us };
}
