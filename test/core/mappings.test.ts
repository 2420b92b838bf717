import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { NO_PARTITION, type PartitionsDefinition } from '../../core/partitions/definitions.ts';
import {
  allPartitions, defaultMapping, dimensions, identity, lastPartition, lookup, multiToSingle, timeWindow, type PartitionMapping,
} from '../../core/partitions/mappings.ts';
import { TimeWindowPartitions, type Cadence } from '../../core/partitions/time-window.ts';
import { TseCalendar } from '../../core/partitions/calendars.ts';
import { ErrorIds } from '../../core/errors.ts';
import { multi, orreryError, product, statics, tw } from './builders.ts';

const keysOf = (def: PartitionsDefinition | undefined) => (def ? [...def.keys()] : [NO_PARTITION]);

/**
 * Brute force: for all downstream d and upstream u, u ∈ up(d) ⇔ d ∈ down(u); and every key
 * returned belongs to the other side's definition.
 */
function expectExactInverse(mapping: PartitionMapping, down: PartitionsDefinition | undefined, up: PartitionsDefinition | undefined): number {
  const dKeys = keysOf(down), uKeys = keysOf(up);
  const dSet = new Set(dKeys), uSet = new Set(uKeys);
  const viaUp = new Set<string>(), viaDown = new Set<string>();
  for (const d of dKeys) {
    for (const u of mapping.upstreamKeys(d, down, up)) {
      if (!uSet.has(u)) throw new Error(`upstreamKeys(${d}) returned ${u}, not an upstream key`);
      viaUp.add(`${d}→${u}`);
    }
  }
  for (const u of uKeys) {
    for (const d of mapping.downstreamKeys(u, up, down)) {
      if (!dSet.has(d)) throw new Error(`downstreamKeys(${u}) returned ${d}, not a downstream key`);
      viaDown.add(`${d}→${u}`);
    }
  }
  expect([...viaDown].filter((p) => !viaUp.has(p)), 'in down(u) but u ∉ up(d)').toEqual([]);
  expect([...viaUp].filter((p) => !viaDown.has(p)), 'in up(d) but d ∉ down(u)').toEqual([]);
  return viaUp.size;
}

describe('identity, allPartitions, lastPartition', () => {
  const a = statics('x', 'y', 'z');
  const b = statics('y', 'z', 'w');

  it('identity maps a key to itself when the upstream has it', () => {
    const m = identity();
    expect(m.upstreamKeys('y', a, b)).toEqual(['y']);
    expect(m.upstreamKeys('x', a, b)).toEqual([]);
    expect(m.downstreamKeys('w', b, a)).toEqual([]);
    expect(m.downstreamKeys('z', b, a)).toEqual(['z']);
    // an unpartitioned side pairs with every key of the other side, in both directions
    expect(m.upstreamKeys('x', a, undefined)).toEqual([NO_PARTITION]);
    expect(m.downstreamKeys(NO_PARTITION, undefined, a)).toEqual(['x', 'y', 'z']);
    expect(m.upstreamKeys(NO_PARTITION, undefined, a)).toEqual(['x', 'y', 'z']);
    expect(m.downstreamKeys('y', a, undefined)).toEqual([NO_PARTITION]);
    expect(expectExactInverse(m, a, undefined)).toBe(3);
    expect(expectExactInverse(m, undefined, a)).toBe(3);
    expect(expectExactInverse(m, undefined, undefined)).toBe(1);
    expect(m.incompatibility(a, b)).toBeUndefined();
    expectExactInverse(m, a, b);
    const d = tw('daily', '2024-01-01', '2024-02-01');
    expectExactInverse(m, d, tw('daily', '2024-01-15', '2024-03-01'));
  });

  it('identity rejects different shapes', () => {
    const m = identity();
    const monthly = tw('monthly', '2024-01-01', '2025-01-01');
    const daily = tw('daily', '2024-01-01', '2025-01-01');
    expect(m.incompatibility(monthly, daily)).toMatch(/identity mapping needs the same partitions/);
    expect(m.incompatibility(daily, tw('daily', '2024-01-01', '2025-01-01', { timezone: 'Asia/Tokyo' }))).toMatch(/identity/);
    expect(m.incompatibility(a, daily)).toMatch(/downstream static, upstream time/);
    expect(m.incompatibility(multi(['p', a], ['q', daily]), multi(['p', a], ['q', monthly]))).toMatch(/identity/);
    expect(m.incompatibility(multi(['p', a], ['q', daily]), multi(['q', a], ['p', daily]))).toMatch(/identity/);
    expect(m.incompatibility(multi(['p', a], ['q', daily]), multi(['p', b], ['q', tw('daily', '2023-01-01', '2023-02-01')]))).toBeUndefined();
    expect(m.incompatibility(undefined, daily)).toBeUndefined();
  });

  it('allPartitions reads every upstream key; every downstream key reads each', () => {
    const m = allPartitions();
    expect(m.upstreamKeys('x', a, b)).toEqual(['y', 'z', 'w']);
    expect(m.upstreamKeys(NO_PARTITION, undefined, b)).toEqual(['y', 'z', 'w']);
    expect(m.downstreamKeys('w', b, a)).toEqual(['x', 'y', 'z']);
    expect(m.downstreamKeys('w', b, undefined)).toEqual([NO_PARTITION]);
    expect(m.incompatibility(a, tw('daily', '2024-01-01', '2024-01-05'))).toBeUndefined();
    expect(expectExactInverse(m, a, b)).toBe(9);
    expectExactInverse(m, undefined, b);
  });

  it('lastPartition reads only the newest upstream key', () => {
    const m = lastPartition();
    const up = tw('daily', '2024-01-01', '2024-01-11');
    expect(m.upstreamKeys('x', a, up)).toEqual(['2024-01-10']);
    expect(m.downstreamKeys('2024-01-10', up, a)).toEqual(['x', 'y', 'z']);
    expect(m.downstreamKeys('2024-01-09', up, a)).toEqual([]);
    expect(m.upstreamKeys(NO_PARTITION, undefined, up)).toEqual(['2024-01-10']);
    expect(expectExactInverse(m, a, up)).toBe(3);
    expectExactInverse(m, undefined, up);
    expect(m.upstreamKeys('x', a, tw('daily', '2024-01-01', '2024-01-01'))).toEqual([]);
  });

  it('defaultMapping: identity between partitioned assets, all for an unpartitioned downstream', () => {
    expect(defaultMapping(a, b).name).toBe('identity');
    expect(defaultMapping(undefined, b).name).toBe('all');
    expect(defaultMapping(a, undefined).name).toBe('identity');
    expect(defaultMapping(undefined, undefined).name).toBe('identity');
  });
});

describe('timeWindow mapping', () => {
  const months = tw('monthly', '2024-01-01', '2025-01-01');

  it('monthly downstream with startOffset -1 reads the previous month too; clipped at the start', () => {
    const m = timeWindow({ startOffset: -1 });
    expect(m.upstreamKeys('2024-03', months, months)).toEqual(['2024-02', '2024-03']);
    expect(m.upstreamKeys('2024-01', months, months)).toEqual(['2024-01']);
    expect(m.downstreamKeys('2024-02', months, months)).toEqual(['2024-02', '2024-03']);
    expect(m.downstreamKeys('2024-12', months, months)).toEqual(['2024-12']);
    expect(timeWindow().upstreamKeys('2024-03', months, months)).toEqual(['2024-03']);
    expect(timeWindow({ endOffset: 1 }).upstreamKeys('2024-12', months, months)).toEqual(['2024-12']);
    expect(timeWindow({ startOffset: -2, endOffset: 1 }).upstreamKeys('2024-06', months, months)).toEqual(['2024-04', '2024-05', '2024-06', '2024-07']);
    expect(expectExactInverse(m, months, months)).toBe(23);
  });

  it('hourly with startOffset -180 reads 181 keys, fewer near the start', () => {
    const h = tw('1h', '2024-01-01', '2024-01-15');
    const keys = [...h.keys()];
    const m = timeWindow({ startOffset: -180 });
    const up = m.upstreamKeys(keys[200], h, h);
    expect(up).toHaveLength(181);
    expect(up[0]).toBe(keys[20]);
    expect(up.at(-1)).toBe(keys[200]);
    expect(up).toEqual(keys.slice(20, 201));
    expect(m.upstreamKeys(keys[5], h, h)).toEqual(keys.slice(0, 6));
    expect(m.downstreamKeys(keys[0], h, h)).toEqual(keys.slice(0, 181));
    expect(m.downstreamKeys(keys.at(-1)!, h, h)).toEqual([keys.at(-1)]);
  });

  it('coarse downstream reads the fine upstream windows inside it, widened by upstream windows', () => {
    const days = tw('daily', '2024-01-01', '2025-01-01');
    expect(timeWindow().upstreamKeys('2024-02', months, days)).toHaveLength(29);
    const widened = timeWindow({ startOffset: -1 }).upstreamKeys('2024-02', months, days);
    expect(widened).toHaveLength(30);
    expect(widened[0]).toBe('2024-01-31');
    expect(widened.at(-1)).toBe('2024-02-29');
    // fine downstream reads the coarse window that contains it
    expect(timeWindow().upstreamKeys('2024-02-10', days, months)).toEqual(['2024-02']);
    expect(timeWindow().downstreamKeys('2024-02', months, days)).toHaveLength(29);
    // Tokyo days overlap two UTC days
    const tokyo = tw('daily', '2024-01-01', '2024-02-01', { timezone: 'Asia/Tokyo' });
    expect(timeWindow().upstreamKeys('2024-01-10', tokyo, days)).toEqual(['2024-01-09', '2024-01-10']);
  });

  it('unknown downstream key, wrong kinds and reversed offsets', () => {
    const m = timeWindow({ startOffset: -1 });
    expect(orreryError(() => m.upstreamKeys('2023-12', months, months)).errorId).toBe(ErrorIds.PARTITION_UNKNOWN);
    expect(orreryError(() => m.upstreamKeys('x', statics('x'), months)).errorId).toBe(ErrorIds.GRAPH_MAPPING);
    expect(m.incompatibility(statics('x'), months)).toBe('time-window mapping needs time-window partitions on both sides');
    expect(m.incompatibility(months, undefined)).toMatch(/time-window partitions on both sides/);
    expect(timeWindow({ startOffset: 1, endOffset: 0 }).incompatibility(months, months)).toMatch(/startOffset 1 is after endOffset 0/);
    expect(m.incompatibility(months, tw('1h', '2024-01-01', '2024-01-02'))).toBeUndefined();
  });

  it('property: downstreamKeys is the exact inverse of upstreamKeys (random cadences, zones, ranges, offsets, calendars)', () => {
    const pairs: Array<[Cadence, Cadence]> = [
      ['monthly', 'monthly'], ['monthly', 'daily'], ['daily', 'monthly'], ['daily', 'daily'], ['daily', '4h'], ['daily', '1h'],
      ['4h', '1h'], ['1h', '4h'], ['1h', '1h'], ['1h', '15m'], ['15m', '1h'], ['4h', '4h'], ['4h', 'daily'],
    ];
    let nonEmpty = 0;
    const maxHours = (c: Cadence) => ({ '15m': 20, '1h': 80, '4h': 240, daily: 24 * 50, monthly: 24 * 300 })[c];
    fc.assert(
      fc.property(
        fc.constantFrom(...pairs),
        fc.constantFrom('UTC', 'Europe/Berlin', 'Asia/Tokyo'),
        fc.constantFrom('UTC', 'Europe/Berlin', 'Asia/Tokyo'),
        fc.oneof(fc.integer({ min: 0, max: 330 }), fc.constantFrom(88, 89, 298, 299)),
        fc.double({ min: 0.1, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.integer({ min: -3, max: 2 }),
        fc.integer({ min: 0, max: 3 }),
        fc.boolean(),
        ([dc, uc], dz, uz, day, spanFrac, dShift, uShift, so, extra, withCalendar) => {
          const hours = Math.max(1, Math.floor(Math.min(maxHours(dc), maxHours(uc)) * spanFrac));
          const base = Date.UTC(2024, 0, 1) + day * 86_400_000;
          const side = (c: Cadence, zone: string, shift: number, calendar?: TseCalendar) => {
            const s = base + Math.floor(shift * hours) * 3_600_000;
            const iso = (ms: number) => DateTime.fromMillis(ms, { zone }).toISO({ includeOffset: false, suppressMilliseconds: true })!;
            return new TimeWindowPartitions({ cadence: c, start: iso(s), end: iso(s + hours * 3_600_000 + (c === 'monthly' ? 40 * 86_400_000 : 0)), timezone: zone, calendar });
          };
          const down = side(dc, dz, dShift);
          const up = side(uc, uz, uShift, withCalendar && (uc === 'daily' || uc === '1h') ? new TseCalendar() : undefined);
          const m = timeWindow({ startOffset: so, endOffset: so + extra });
          expect(m.incompatibility(down, up)).toBeUndefined();
          if (expectExactInverse(m, down, up) > 0) nonEmpty++;
        },
      ),
      { numRuns: 120, seed: 20240101 },
    );
    expect(nonEmpty).toBeGreaterThan(60); // most draws overlap: the property is not vacuous
  });
});

describe('multiToSingle', () => {
  const tf = statics('15m', '1h');
  const sym = statics('XAUUSD', 'XAGUSD', 'XPTUSD');
  const bars = multi(['timeframe', tf], ['symbol', sym]);
  const symbols = statics('XAUUSD', 'XAGUSD');

  it('single downstream reads every upstream key of its dimension value', () => {
    const m = multiToSingle('symbol');
    expect(m.incompatibility(symbols, bars)).toBeUndefined();
    expect(m.upstreamKeys('XAUUSD', symbols, bars)).toEqual(['15m|XAUUSD', '1h|XAUUSD']);
    expect(m.downstreamKeys('1h|XAGUSD', bars, symbols)).toEqual(['XAGUSD']);
    expect(m.downstreamKeys('1h|XPTUSD', bars, symbols)).toEqual([]);
    expect(expectExactInverse(m, symbols, bars)).toBe(4);
  });

  it('multi downstream reads the single upstream key of its dimension value', () => {
    const m = multiToSingle('symbol');
    expect(m.incompatibility(bars, symbols)).toBeUndefined();
    expect(m.upstreamKeys('1h|XAGUSD', bars, symbols)).toEqual(['XAGUSD']);
    expect(m.upstreamKeys('1h|XPTUSD', bars, symbols)).toEqual([]);
    expect(m.downstreamKeys('XAGUSD', symbols, bars)).toEqual(['15m|XAGUSD', '1h|XAGUSD']);
    expect(expectExactInverse(m, bars, symbols)).toBe(4);
  });

  it('with a time dimension on the multi side', () => {
    const month = tw('monthly', '2024-01-01', '2024-07-01');
    const mp = multi(['symbol', sym], ['month', month]);
    const m = multiToSingle('month');
    expect(m.incompatibility(month, mp)).toBeUndefined();
    expect(m.upstreamKeys('2024-03', month, mp)).toEqual(['XAUUSD|2024-03', 'XAGUSD|2024-03', 'XPTUSD|2024-03']);
    expectExactInverse(m, month, mp);
    expectExactInverse(m, mp, month);
    expect(m.incompatibility(tw('daily', '2024-01-01', '2024-07-01'), mp)).toMatch(/dimension "month" and the other side's partitions differ in shape/);
  });

  it('incompatibility messages for wrong shapes', () => {
    expect(multiToSingle('symbol').incompatibility(symbols, statics('a'))).toBe('multiToSingle(symbol) needs one multi and one single-dimension side');
    expect(multiToSingle('symbol').incompatibility(bars, bars)).toMatch(/needs one multi and one single-dimension side/);
    expect(multiToSingle('symbol').incompatibility(bars, undefined)).toMatch(/needs one multi/);
    expect(multiToSingle('pair').incompatibility(symbols, bars)).toBe('multiToSingle: no dimension "pair" in (timeframe, symbol)');
    expect(multiToSingle('symbol').incompatibility(tw('daily', '2024-01-01', '2024-01-05'), bars)).toMatch(/differ in shape/);
  });

  it('property: exact inverse in both directions over random static dimensions', () => {
    const keys = fc.uniqueArray(fc.constantFrom('a', 'b', 'c', 'd', 'e'), { minLength: 1, maxLength: 5 });
    fc.assert(
      fc.property(keys, keys, keys, fc.boolean(), (other, shared, single, multiDown) => {
        const mp = multi(['o', statics(...other)], ['s', statics(...shared)]);
        const sg = statics(...single);
        const m = multiToSingle('s');
        if (multiDown) expectExactInverse(m, mp, sg);
        else expectExactInverse(m, sg, mp);
      }),
      { numRuns: 100, seed: 8 },
    );
  });
});

describe('lookup inside dimensions(): pairs read their legs', () => {
  const timeframes = statics('1h', '4h');
  const symbols = statics('XAUUSD', 'XAGUSD', 'XPTUSD');
  const months = tw('monthly', '2024-01-01', '2024-07-01');
  const bars = multi(['timeframe', timeframes], ['symbol', symbols], ['month', months]);
  const pairs = multi(['timeframe', timeframes], ['pair', statics('XAUUSD_XAGUSD', 'XPTUSD_XAGUSD')], ['month', months]);
  const legs = (pair: string) => pair.split('_');
  const mapping = dimensions({ timeframe: identity(), symbol: { from: 'pair', mapping: lookup('legs', legs) }, month: timeWindow({ startOffset: -1 }) });

  it('upstream keys are exactly the two legs × this month and the one before', () => {
    expect(mapping.incompatibility(pairs, bars)).toBeUndefined();
    expect(mapping.upstreamKeys('1h|XAUUSD_XAGUSD|2024-03', pairs, bars)).toEqual([
      '1h|XAUUSD|2024-02', '1h|XAUUSD|2024-03', '1h|XAGUSD|2024-02', '1h|XAGUSD|2024-03',
    ]);
    expect(mapping.upstreamKeys('4h|XPTUSD_XAGUSD|2024-01', pairs, bars)).toEqual(['4h|XPTUSD|2024-01', '4h|XAGUSD|2024-01']);
  });

  it('downstream keys: a shared leg reaches both pairs, this month and the next', () => {
    expect(mapping.downstreamKeys('1h|XAGUSD|2024-03', bars, pairs)).toEqual([
      '1h|XAUUSD_XAGUSD|2024-03', '1h|XAUUSD_XAGUSD|2024-04', '1h|XPTUSD_XAGUSD|2024-03', '1h|XPTUSD_XAGUSD|2024-04',
    ]);
    expect(mapping.downstreamKeys('4h|XAUUSD|2024-06', bars, pairs)).toEqual(['4h|XAUUSD_XAGUSD|2024-06']);
    expect(expectExactInverse(mapping, pairs, bars)).toBe(2 * 2 * (2 * 6 - 1) * 2);
  });

  it('a leg missing upstream is dropped; an unmapped upstream dimension fans in', () => {
    const few = multi(['timeframe', timeframes], ['symbol', statics('XAUUSD', 'XAGUSD')], ['month', months]);
    expect(mapping.upstreamKeys('1h|XPTUSD_XAGUSD|2024-02', pairs, few)).toEqual(['1h|XAGUSD|2024-01', '1h|XAGUSD|2024-02']);
    expectExactInverse(mapping, pairs, few);
    const sourced = multi(['source', statics('a', 'b')], ['symbol', symbols], ['month', months]);
    const m2 = dimensions({ symbol: { from: 'pair', mapping: lookup('legs', legs) }, month: identity() });
    expect(m2.incompatibility(pairs, sourced)).toBeUndefined();
    expect(m2.upstreamKeys('1h|XAUUSD_XAGUSD|2024-05', pairs, sourced)).toEqual(['a|XAUUSD|2024-05', 'a|XAGUSD|2024-05', 'b|XAUUSD|2024-05', 'b|XAGUSD|2024-05']);
    expect(m2.downstreamKeys('b|XAUUSD|2024-05', sourced, pairs)).toEqual(['1h|XAUUSD_XAGUSD|2024-05', '4h|XAUUSD_XAGUSD|2024-05']);
    expectExactInverse(m2, pairs, sourced);
  });

  it('incompatibility messages', () => {
    expect(mapping.incompatibility(statics('x'), bars)).toBe('dimensions() mapping needs multi partitions on both sides');
    expect(dimensions({ pair: identity() }).incompatibility(pairs, bars)).toBe('dimensions(): upstream has no dimension "pair"');
    expect(dimensions({ symbol: lookup('legs', legs) }).incompatibility(pairs, bars)).toBe('dimensions(): downstream has no dimension "symbol"');
    expect(dimensions({ month: identity() }).incompatibility(pairs, multi(['symbol', symbols], ['month', tw('daily', '2024-01-01', '2024-02-01')])))
      .toMatch(/^dimension month←month: identity mapping needs the same partitions/);
    expect(dimensions({ month: { from: 'timeframe', mapping: timeWindow() } }).incompatibility(pairs, bars)).toMatch(/^dimension month←timeframe: time-window mapping needs/);
    expect(lookup('legs', legs).incompatibility(pairs, bars)).toBe('a lookup mapping works on a single dimension; wrap it in dimensions()');
    expect(orreryError(() => mapping.upstreamKeys('x', statics('x'), bars)).errorId).toBe(ErrorIds.GRAPH_MAPPING);
  });

  it('property: exact inverse over random universes, pairs, month ranges and offsets', () => {
    const SYMS = ['A', 'B', 'C', 'D'];
    const PAIRS = ['A_B', 'A_C', 'B_C', 'C_D', 'A_D', 'E_A', 'B_D'];
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.constantFrom('15m', '1h', '4h'), { minLength: 1, maxLength: 3 }),
        fc.uniqueArray(fc.constantFrom('15m', '1h', '4h'), { minLength: 1, maxLength: 3 }),
        fc.uniqueArray(fc.constantFrom(...SYMS), { minLength: 1, maxLength: 4 }),
        fc.uniqueArray(fc.constantFrom(...PAIRS), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 0, max: 4 }), fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 4 }), fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: -2, max: 0 }), fc.integer({ min: 0, max: 1 }),
        (upTf, downTf, syms, prs, us, ul, ds, dl, so, eo) => {
          const month = (from: number, n: number) =>
            tw('monthly', DateTime.utc(2024, 1, 1).plus({ months: from }).toISODate()!, DateTime.utc(2024, 1, 1).plus({ months: from + n }).toISODate()!);
          const up = multi(['timeframe', statics(...upTf)], ['symbol', statics(...syms)], ['month', month(us, ul)]);
          const down = multi(['timeframe', statics(...downTf)], ['pair', statics(...prs)], ['month', month(ds, dl)]);
          const m = dimensions({ timeframe: identity(), symbol: { from: 'pair', mapping: lookup('legs', legs) }, month: timeWindow({ startOffset: so, endOffset: eo }) });
          expect(m.incompatibility(down, up)).toBeUndefined();
          const n = expectExactInverse(m, down, up);
          // independent count: for each down key, |tf ∩| × |legs ∩ syms| × |months read|
          let expected = 0;
          for (const [t, p, mo] of product(downTf, prs, [...month(ds, dl).keys()])) {
            if (!(upTf as string[]).includes(t)) continue;
            const legsIn = legs(p).filter((s) => syms.includes(s)).length;
            const upMonths = [...month(us, ul).keys()];
            const i = upMonths.indexOf(mo);
            const monthsRead = i < 0 ? 0 : Math.min(upMonths.length - 1, i + eo) - Math.max(0, i + so) + 1;
            expected += legsIn * monthsRead;
          }
          expect(n).toBe(expected);
        },
      ),
      { numRuns: 80, seed: 77 },
    );
  });
});
