/** US market holidays against the NYSE's published calendars. */
import { describe, expect, it } from 'vitest';
import { easter, usMarketHolidays } from '../../assets/backtests/holidays.ts';

describe('usMarketHolidays', () => {
  // nyse.com "Holidays & Trading Hours" for 2024–2026.
  it.each([
    [2024, ['2024-01-01', '2024-01-15', '2024-02-19', '2024-03-29', '2024-05-27', '2024-06-19', '2024-07-04', '2024-09-02', '2024-11-28', '2024-12-25']],
    [2025, ['2025-01-01', '2025-01-20', '2025-02-17', '2025-04-18', '2025-05-26', '2025-06-19', '2025-07-04', '2025-09-01', '2025-11-27', '2025-12-25']],
    [2026, ['2026-01-01', '2026-01-19', '2026-02-16', '2026-04-03', '2026-05-25', '2026-06-19', '2026-07-03', '2026-09-07', '2026-11-26', '2026-12-25']],
  ])('%i matches the NYSE calendar', (year, dates) => {
    expect(usMarketHolidays(year)).toEqual(dates);
  });

  it('does not move a Saturday New Year back into December (2022) and observes Sunday holidays on Monday (2023)', () => {
    expect(usMarketHolidays(2022)).not.toContain('2021-12-31');
    expect(usMarketHolidays(2022)[0]).toBe('2022-01-17');
    expect(usMarketHolidays(2023)).toContain('2023-01-02');
    expect(usMarketHolidays(2022)).toContain('2022-12-26');
  });

  it('computes Easter as published (e.g. 2019-04-21, 2038-04-25, 2285-03-22)', () => {
    expect(easter(2019)).toEqual([4, 21]);
    expect(easter(2038)).toEqual([4, 25]);
    expect(easter(2285)).toEqual([3, 22]);
  });
});
