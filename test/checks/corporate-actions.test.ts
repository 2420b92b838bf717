/** Split / reverse-split adjustment (seed 004 §4.4). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { adjustForActions, type CorporateAction, type PriceRow } from '../../checks/corporate-actions.ts';

const row = (ticker: string, date: string, open: number, high: number, low: number, close: number, volume: number): PriceRow => ({ ticker, date, open, high, low, close, volume });

describe('adjustForActions', () => {
  // Golden: 7203 splits 1:2 effective 2024-03-27 (first day on the new basis). Before the split it
  // traded near 2,000 yen, after it near 1,000 yen. 6758 has no action.
  const rows: PriceRow[] = [
    row('7203', '2024-03-25', 2000, 2020, 1990, 2010, 1000),
    row('7203', '2024-03-26', 2010, 2030, 2000, 2020, 1200),
    row('6758', '2024-03-26', 13000, 13100, 12900, 13050, 500),
    row('7203', '2024-03-27', 1012, 1020, 1005, 1015, 2600),
    row('7203', '2024-03-28', 1015, 1025, 1010, 1020, 2400),
  ];
  const split: CorporateAction = { ticker: '7203', action_date: '2024-03-27', action_type: 'split', ratio: 2 };

  it('a 1:2 split halves prices and doubles volume strictly before the action date', () => {
    expect(adjustForActions(rows, [split])).toEqual([
      row('7203', '2024-03-25', 1000, 1010, 995, 1005, 2000),
      row('7203', '2024-03-26', 1005, 1015, 1000, 1010, 2400),
      row('6758', '2024-03-26', 13000, 13100, 12900, 13050, 500),
      row('7203', '2024-03-27', 1012, 1020, 1005, 1015, 2600),
      row('7203', '2024-03-28', 1015, 1025, 1010, 1020, 2400),
    ]);
  });

  it('gives a continuous series: the raw −49.8 % jump becomes +0.5 %', () => {
    const raw = rows.filter((r) => r.ticker === '7203');
    const adj = adjustForActions(raw, [split]);
    const ret = (xs: PriceRow[]) => xs.slice(1).map((r, i) => r.close / xs[i].close - 1);
    expect(ret(raw)[1]).toBeCloseTo(1015 / 2020 - 1, 12); // −0.4975
    expect(ret(adj)).toEqual([1010 / 1005 - 1, 1015 / 1010 - 1, 1020 / 1015 - 1]);
    expect(Math.max(...ret(adj).map(Math.abs))).toBeLessThan(0.01);
    // turnover (close × volume) is unchanged by the adjustment
    adj.forEach((r, i) => expect(r.close * r.volume).toBeCloseTo(raw[i].close * raw[i].volume, 6));
  });

  it('reverse splits multiply prices and divide volume; actions compound in action_date order', () => {
    const xs = [row('9984', '2024-03-01', 10, 11, 9, 10, 800), row('9984', '2024-03-15', 21, 22, 20, 21, 400), row('9984', '2024-03-29', 80, 84, 78, 82, 100)];
    const actions: CorporateAction[] = [
      { ticker: '9984', action_date: '2024-03-28', action_type: 'reverse_split', ratio: 4 }, // given first, applied second
      { ticker: '9984', action_date: '2024-03-10', action_type: 'split', ratio: 2 },
    ];
    expect(adjustForActions(xs, actions)).toEqual([
      row('9984', '2024-03-01', 20, 22, 18, 20, 400), // ÷2 then ×4; volume ×2 then ÷4
      row('9984', '2024-03-15', 84, 88, 80, 84, 100), // ×4, ÷4
      row('9984', '2024-03-29', 80, 84, 78, 82, 100), // on/after both: untouched
    ]);
  });

  it('compares calendar dates: a row on the action date is not adjusted, ISO date-times use their local date', () => {
    const xs = [row('7203', '2024-03-26T00:00:00+09:00', 2000, 2000, 2000, 2000, 10), row('7203', '2024-03-27T00:00:00+09:00', 1000, 1000, 1000, 1000, 20)];
    const adj = adjustForActions(xs, [split]);
    expect(adj.map((r) => r.close)).toEqual([1000, 1000]);
    expect(adj.map((r) => r.volume)).toEqual([20, 20]);
  });

  it('is pure: the input rows and their extra fields are kept as they were', () => {
    const xs = [{ ...rows[0], source: 'jquants' }];
    const before = structuredClone(xs);
    const adj = adjustForActions(xs, [split]);
    expect(xs).toEqual(before);
    expect(adj[0]).toMatchObject({ source: 'jquants', close: 1005 });
  });

  it('rejects malformed actions with DATA_CA_INVALID', () => {
    for (const bad of [
      { ...split, ratio: 0 },
      { ...split, ratio: Number.NaN },
      { ...split, action_type: 'dividend' as never },
      { ...split, action_date: '27/03/2024' },
    ]) {
      expect(() => adjustForActions(rows, [bad])).toThrowError(expect.objectContaining({ errorId: 'DATA_CA_INVALID' }));
    }
  });

  it('a split then a reverse split of the same ratio on the same date is the identity (up to rounding)', () => {
    fc.assert(fc.property(
      fc.array(fc.record({ day: fc.integer({ min: 1, max: 28 }), p: fc.integer({ min: 1, max: 100000 }), v: fc.integer({ min: 0, max: 1e6 }) }), { maxLength: 20 }),
      fc.integer({ min: 1, max: 28 }), fc.constantFrom(2, 3, 5, 10, 1.5),
      (xs, day, r) => {
        const data = xs.map((x) => row('7203', `2024-03-${String(x.day).padStart(2, '0')}`, x.p, x.p, x.p, x.p, x.v));
        const d = `2024-03-${String(day).padStart(2, '0')}`;
        const adj = adjustForActions(data, [{ ticker: '7203', action_date: d, action_type: 'split', ratio: r }, { ticker: '7203', action_date: d, action_type: 'reverse_split', ratio: r }]);
        adj.forEach((a, i) => {
          expect(a.close).toBeCloseTo(data[i].close, 6);
          expect(a.volume).toBeCloseTo(data[i].volume, 6);
        });
      },
    ));
  });
});
