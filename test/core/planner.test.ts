import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { PartitionSpec, RunRequest } from '../../core/event-log/port.ts';
import type { AssetGraph } from '../../core/graph/asset-graph.ts';
import { dimensions, identity, lookup, multiToSingle, timeWindow } from '../../core/partitions/mappings.ts';
import { planRun, type PlannedStep } from '../../core/planning/planner.ts';
import { createHash } from 'node:crypto';
import { assessPartition, fingerprintMatches, inputFingerprint } from '../../core/planning/staleness.ts';
import { keysInRange, resolveTargets } from '../../core/planning/targets.ts';
import { ErrorIds } from '../../core/errors.ts';
import {
  asset, emptyStates, fingerprintsFor, graphOf, keysOfAsset, materialize, materializeAll, multi, orreryError, stateRow, statics, tw, type States,
} from './builders.ts';

const MONTHS = ['2024-01', '2024-02', '2024-03', '2024-04', '2024-05', '2024-06'];
const req = (selection: string, partitions: PartitionSpec = { kind: 'all' }, extra: Partial<RunRequest> = {}): RunRequest =>
  ({ selection, partitions, skipUpToDate: true, ...extra });
const brief = (steps: PlannedStep[]) => steps.map((s) => `${s.assetKey}:${s.partitionKey}:${s.reason}`);

/** bars (monthly) → features (monthly, reads the month before too) → model (unpartitioned) ⇢ report (order-only dep). */
function chain(versions: Partial<Record<'bars' | 'features' | 'model' | 'report', string>> = {}): AssetGraph {
  const months = () => tw('monthly', '2024-01-01', '2024-07-01');
  return graphOf(
    asset('bars', { partitions: months(), codeVersion: versions.bars }),
    asset('features', { partitions: months(), ins: { bars: { from: 'bars', mapping: timeWindow({ startOffset: -1 }) } }, codeVersion: versions.features }),
    asset('model', { ins: { features: 'features' }, codeVersion: versions.model }),
    asset('report', { deps: ['model'], codeVersion: versions.report }),
  );
}

/** daily bars → monthly features (the day before the month too) → daily signals (their month). */
function cadences(): AssetGraph {
  return graphOf(
    asset('daily_bars', { partitions: tw('daily', '2024-01-01', '2024-07-01') }),
    asset('monthly_features', { partitions: tw('monthly', '2024-01-01', '2024-07-01'), ins: { bars: { from: 'daily_bars', mapping: timeWindow({ startOffset: -1 }) } } }),
    asset('signals', { partitions: tw('daily', '2024-01-01', '2024-07-01'), ins: { features: { from: 'monthly_features', mapping: timeWindow() } } }),
  );
}

/** bars timeframe×symbol×month → pairs timeframe×pair×month (legs, month before) → pair_stats (pair) → model. */
function pairsGraph(): AssetGraph {
  const tf = () => statics('1h', '4h');
  const months = () => tw('monthly', '2024-01-01', '2024-07-01');
  const pairs = () => statics('XAUUSD_XAGUSD', 'XPTUSD_XAGUSD');
  return graphOf(
    asset('bars', { partitions: multi(['timeframe', tf()], ['symbol', statics('XAUUSD', 'XAGUSD', 'XPTUSD')], ['month', months()]) }),
    asset('pairs', {
      partitions: multi(['timeframe', tf()], ['pair', pairs()], ['month', months()]),
      ins: { bars: { from: 'bars', mapping: dimensions({ timeframe: identity(), symbol: { from: 'pair', mapping: lookup('legs', (p) => p.split('_')) }, month: timeWindow({ startOffset: -1 }) }) } },
    }),
    asset('pair_stats', { partitions: pairs(), ins: { pairs: { from: 'pairs', mapping: multiToSingle('pair') } } }),
    asset('model', { ins: { stats: 'pair_stats' } }),
  );
}

describe('staleness: assessPartition and inputFingerprint', () => {
  it('inputFingerprint depends on keys, their order and data versions; missing reads as ∅', () => {
    const st = new Map([['a', stateRow('x', 'a', { dataVersion: 'd1' })], ['b', stateRow('x', 'b', { dataVersion: 'd2' })]]);
    const f = inputFingerprint(['a', 'b'], st);
    expect(f).toMatch(/^[0-9a-f]{40}$/);
    expect(inputFingerprint(['a', 'b'], new Map(st))).toBe(f);
    expect(inputFingerprint(['b', 'a'], st)).not.toBe(f);
    expect(inputFingerprint(['a'], st)).not.toBe(f);
    expect(inputFingerprint(['a', 'b'], new Map([...st, ['b', stateRow('x', 'b', { dataVersion: 'd3' })]]))).not.toBe(f);
    expect(inputFingerprint(['a', 'c'], st)).toBe(inputFingerprint(['a', 'c'], new Map([['a', st.get('a')!]])));
    expect(inputFingerprint(['c'], undefined)).toBe(inputFingerprint(['c'], new Map()));
  });

  it('a one-key input is fingerprinted as its key and data version; one recorded as the SHA-1 of old still matches', () => {
    const st = new Map([['2024-03', stateRow('bars', '2024-03', { dataVersion: 'dv-9' })]]);
    expect(inputFingerprint(['2024-03'], st)).toBe('2024-03=dv-9');
    expect(inputFingerprint(['2024-04'], st)).toBe('2024-04=∅');
    // What earlier versions recorded: SHA-1 of "key=version\n", computed here independently.
    const legacy = createHash('sha1').update('2024-03=dv-9\n').digest('hex');
    expect(fingerprintMatches(legacy, ['2024-03'], st)).toBe(true);
    expect(fingerprintMatches(legacy, ['2024-03'], new Map([['2024-03', stateRow('bars', '2024-03', { dataVersion: 'dv-10' })]]))).toBe(false);
    expect(fingerprintMatches(undefined, ['2024-03'], st)).toBe(false);
    // Many keys keep the SHA-1 form (bounded size).
    const two = new Map([...st, ['2024-04', stateRow('bars', '2024-04', { dataVersion: 'dv-1' })]]);
    expect(inputFingerprint(['2024-03', '2024-04'], two)).toBe(createHash('sha1').update('2024-03=dv-9\n2024-04=dv-1\n').digest('hex'));
  });

  it('fingerprintMatches holds exactly when every key\'s data version is the recorded one (property)', () => {
    const key = fc.constantFrom('a', 'b', 'c', 'd');
    const version = fc.option(fc.constantFrom('v1', 'v2', 'v3'), { nil: null });
    fc.assert(fc.property(fc.uniqueArray(key, { maxLength: 4 }), fc.dictionary(key, version), fc.dictionary(key, version), (keys, before, after) => {
      const states = (vs: Record<string, string | null>) => new Map(Object.entries(vs).map(([k, v]) => [k, stateRow('up', k, { dataVersion: v })]));
      const recorded = inputFingerprint(keys, states(before));
      const same = keys.every((k) => (before[k] ?? null) === (after[k] ?? null));
      expect(fingerprintMatches(recorded, keys, states(after))).toBe(same);
    }));
  });

  it('health and causes', () => {
    const g = chain({ features: 'v2' });
    const states = materializeAll(chain());
    expect(assessPartition(g, 'bars', '2024-01', states)).toEqual({ health: 'materialized', staleCauses: [] });
    expect(assessPartition(g, 'features', '2024-03', states)).toEqual({ health: 'materialized', staleCauses: ['code version changed (v1 → v2)'] });
    states.get('bars')!.delete('2024-02');
    expect(assessPartition(g, 'bars', '2024-02', states)).toEqual({ health: 'missing', staleCauses: [] });
    expect(assessPartition(g, 'features', '2024-03', states).staleCauses).toEqual(['code version changed (v1 → v2)', 'upstream bars changed']);
    states.get('bars')!.set('2024-04', stateRow('bars', '2024-04', { status: 'failed', dataVersion: null }));
    expect(assessPartition(g, 'bars', '2024-04', states).health).toBe('failed');
    // a failure after a success keeps its data: failed, and still judged on it
    states.get('bars')!.set('2024-05', stateRow('bars', '2024-05', { status: 'failed' }));
    expect(assessPartition(g, 'bars', '2024-05', states)).toEqual({ health: 'failed', staleCauses: [] });
  });
});

describe('planRun on a monthly chain', () => {
  it('all missing: every target planned, in topological then partition order', () => {
    const g = chain();
    const plan = planRun(g, req('*'), emptyStates(g));
    expect(brief(plan.steps)).toEqual([
      ...MONTHS.map((m) => `bars:${m}:missing`),
      ...MONTHS.map((m) => `features:${m}:missing`),
      'model::missing',
      'report::missing',
    ]);
    expect(plan).toMatchObject({ skipped: 0, targets: 14, assets: ['bars', 'features', 'model', 'report'] });
  });

  it('everything materialized with the same code and matching fingerprints: nothing to do', () => {
    const g = chain();
    const states = materializeAll(g);
    const plan = planRun(g, req('*'), states);
    expect(plan.steps).toEqual([]);
    expect(plan.skipped).toBe(14);
    expect(plan.targets).toBe(14);
  });

  it('a code version change makes the asset stale, with the cause, and its downstream runs as upstream', () => {
    const states = materializeAll(chain());
    const plan = planRun(chain({ features: 'v2' }), req('*'), states);
    expect(brief(plan.steps)).toEqual([...MONTHS.map((m) => `features:${m}:stale`), 'model::upstream', 'report::upstream']);
    for (const s of plan.steps.slice(0, 6)) expect(s.staleCauses).toEqual(['code version changed (v1 → v2)']);
    expect(plan.steps[6].staleCauses).toBeUndefined();
    expect(plan.skipped).toBe(6);
  });

  it('an upstream data version change makes exactly the readers stale', () => {
    const g = chain();
    const states = materializeAll(g);
    states.get('bars')!.set('2024-03', stateRow('bars', '2024-03', { dataVersion: 'new-data' }));
    const plan = planRun(g, req('*'), states);
    // features 2024-03 reads 02+03, 2024-04 reads 03+04
    expect(brief(plan.steps)).toEqual(['features:2024-03:stale', 'features:2024-04:stale', 'model::upstream', 'report::upstream']);
    expect(plan.steps[0].staleCauses).toEqual(['upstream bars changed']);
    expect(brief(planRun(g, req('features'), states).steps)).toEqual(['features:2024-03:stale', 'features:2024-04:stale']);
    expect(planRun(g, req('bars'), states).steps).toEqual([]);
  });

  it('an order-only dependency never makes an asset stale, but a planned dep still runs it', () => {
    const g = chain();
    const states = materializeAll(g);
    states.get('model')!.set('', stateRow('model', '', { dataVersion: 'changed', inputVersions: fingerprintsFor(g, 'model', '', states) }));
    expect(planRun(g, req('report'), states).steps).toEqual([]);
    expect(brief(planRun(g, req('model,report'), states).steps)).toEqual([]);
    states.get('model')!.delete('');
    expect(brief(planRun(g, req('model+'), states).steps)).toEqual(['model::missing', 'report::upstream']);
  });

  it('failed and missing partitions; onlyMissing and onlyFailed', () => {
    const g = chain();
    const states = materializeAll(g);
    const f = states.get('features')!;
    f.set('2024-02', { ...f.get('2024-02')!, status: 'failed' }); // failed after a success: keeps its data
    f.set('2024-05', stateRow('features', '2024-05', { status: 'failed', dataVersion: null }));
    f.delete('2024-06');
    states.get('bars')!.set('2024-01', stateRow('bars', '2024-01', { dataVersion: 'changed' })); // makes features 01, 02 stale

    expect(brief(planRun(g, req('features'), states).steps)).toEqual(['features:2024-01:stale', 'features:2024-02:failed', 'features:2024-05:failed', 'features:2024-06:missing']);
    const missing = planRun(g, req('features+', { kind: 'all' }, { onlyMissing: true }), states);
    expect(brief(missing.steps)).toEqual(['features:2024-06:missing']);
    expect(missing.skipped).toBe(7);
    const failed = planRun(g, req('*', { kind: 'all' }, { onlyFailed: true }), states);
    expect(brief(failed.steps)).toEqual(['features:2024-02:failed', 'features:2024-05:failed']);
    expect(failed.skipped).toBe(12);
  });

  it('skipUpToDate: false plans every target as requested', () => {
    const g = chain();
    const plan = planRun(g, req('*', { kind: 'all' }, { skipUpToDate: false }), materializeAll(g));
    expect(plan.steps).toHaveLength(14);
    expect(new Set(plan.steps.map((s) => s.reason))).toEqual(new Set(['requested']));
    expect(plan.skipped).toBe(0);
    const some = planRun(g, req('features', { kind: 'range', from: '2024-02', to: '2024-04' }, { skipUpToDate: false }), materializeAll(g));
    expect(brief(some.steps)).toEqual(['features:2024-02:requested', 'features:2024-03:requested', 'features:2024-04:requested']);
  });

  it('a range of months applies to every selected asset that has them', () => {
    const g = chain();
    const plan = planRun(g, req('bars,features', { kind: 'range', from: '2024-02', to: '2024-04' }), emptyStates(g));
    expect(brief(plan.steps)).toEqual(['bars:2024-02:missing', 'bars:2024-03:missing', 'bars:2024-04:missing', 'features:2024-02:missing', 'features:2024-03:missing', 'features:2024-04:missing']);
    // model has no months: it runs as a downstream effect
    expect(brief(planRun(g, req('features+', { kind: 'keys', keys: ['2024-06'] }), emptyStates(g)).steps)).toEqual(['features:2024-06:missing', 'model::missing', 'report::missing']);
  });
});

describe('partition specs propagate through mappings', () => {
  const days = (from: string, to: string) => {
    const out: string[] = [];
    for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000) out.push(new Date(t).toISOString().slice(0, 10));
    return out;
  };

  it('a month key: upstream days it reads, downstream days that read it', () => {
    const g = cadences();
    const targets = resolveTargets(g, g.order, { kind: 'keys', keys: ['2024-03'] });
    expect(targets.get('monthly_features')).toEqual(['2024-03']);
    expect(targets.get('daily_bars')).toEqual(['2024-02-29', ...days('2024-03-01', '2024-03-31')]);
    expect(targets.get('signals')).toEqual(days('2024-03-01', '2024-03-31'));
    const plan = planRun(g, req('*', { kind: 'keys', keys: ['2024-03'] }), emptyStates(g));
    expect(plan.steps).toHaveLength(32 + 1 + 31);
    expect(plan.steps.map((s) => s.assetKey)).toEqual([...Array(32).fill('daily_bars'), 'monthly_features', ...Array(31).fill('signals')]);
    expect(plan.steps[0].partitionKey).toBe('2024-02-29');
  });

  it('a day key applies to both daily assets; the month reading it is a downstream effect', () => {
    const g = cadences();
    const mid = resolveTargets(g, g.order, { kind: 'keys', keys: ['2024-03-15'] });
    expect(Object.fromEntries(mid)).toEqual({ daily_bars: ['2024-03-15'], signals: ['2024-03-15'], monthly_features: ['2024-03'] });
    // the last day of March is also read by April (startOffset -1)
    expect(resolveTargets(g, g.order, { kind: 'keys', keys: ['2024-03-31'] }).get('monthly_features')).toEqual(['2024-03', '2024-04']);
    // only the selected assets get targets
    expect(Object.fromEntries(resolveTargets(g, ['monthly_features', 'signals'], { kind: 'keys', keys: ['2024-03'] }))).toEqual({
      monthly_features: ['2024-03'], signals: days('2024-03-01', '2024-03-31'),
    });
    expect(Object.fromEntries(resolveTargets(g, ['daily_bars', 'monthly_features'], { kind: 'keys', keys: ['2024-01'] }))).toEqual({
      monthly_features: ['2024-01'], daily_bars: days('2024-01-01', '2024-01-31'),
    });
  });

  it('a key no selected asset has: CORE_PART_UNKNOWN', () => {
    const g = cadences();
    expect(orreryError(() => planRun(g, req('*', { kind: 'keys', keys: ['2024-13'] }), emptyStates(g))).errorId).toBe(ErrorIds.PARTITION_UNKNOWN);
    const e = orreryError(() => planRun(g, req('daily_bars', { kind: 'keys', keys: ['2024-03'] }), emptyStates(g)));
    expect(e.errorId).toBe(ErrorIds.PARTITION_UNKNOWN);
    expect(e.message).toContain('"2024-03"');
    expect(e.message).toContain('daily_bars: daily windows');
    const partly = orreryError(() => planRun(g, req('*', { kind: 'keys', keys: ['2024-03', 'bogus'] }), emptyStates(g)));
    expect(partly.errorId).toBe(ErrorIds.PARTITION_UNKNOWN);
    expect(partly.message).toContain('"bogus"');
    expect(partly.message).not.toContain('"2024-03"');
    expect(orreryError(() => planRun(g, req('*', { kind: 'range', from: '2023-12', to: '2024-02' }), emptyStates(g))).errorId).toBe(ErrorIds.PARTITION_UNKNOWN);
    const c = chain();
    expect(orreryError(() => planRun(c, req('model', { kind: 'keys', keys: ['2024-01'] }), emptyStates(c))).errorId).toBe(ErrorIds.PARTITION_UNKNOWN);
  });
});

describe('ranges over multi partitions', () => {
  const g = pairsGraph();
  const empty = emptyStates(g);

  it('full keys: the months between, other dimensions fixed', () => {
    const plan = planRun(g, req('bars', { kind: 'range', from: '1h|XAUUSD|2024-02', to: '1h|XAUUSD|2024-04' }), empty);
    expect(plan.steps.map((s) => s.partitionKey)).toEqual(['1h|XAUUSD|2024-02', '1h|XAUUSD|2024-03', '1h|XAUUSD|2024-04']);
    expect(keysInRange(g.get('bars').partitions, '4h|XPTUSD|2024-06', '4h|XPTUSD|2024-06')).toEqual(['4h|XPTUSD|2024-06']);
  });

  it('bare months: every timeframe and symbol of those months', () => {
    const plan = planRun(g, req('bars', { kind: 'range', from: '2024-02', to: '2024-03' }), empty);
    expect(plan.steps).toHaveLength(2 * 3 * 2);
    expect(new Set(plan.steps.map((s) => s.partitionKey.split('|')[2]))).toEqual(new Set(['2024-02', '2024-03']));
    expect(new Set(plan.steps.map((s) => s.partitionKey))).toEqual(new Set(
      ['1h', '4h'].flatMap((t) => ['XAUUSD', 'XAGUSD', 'XPTUSD'].flatMap((s) => ['2024-02', '2024-03'].map((m) => `${t}|${s}|${m}`))),
    ));
    const both = planRun(g, req('bars,pairs', { kind: 'range', from: '2024-06', to: '2024-06' }), empty);
    expect(both.steps.filter((s) => s.assetKey === 'pairs')).toHaveLength(4);
    expect(both.steps.filter((s) => s.assetKey === 'bars')).toHaveLength(6);
  });

  it('a pair range pulls in exactly the legs and months it reads, and its downstream pair', () => {
    const targets = resolveTargets(g, g.order, { kind: 'range', from: '1h|XAUUSD_XAGUSD|2024-03', to: '1h|XAUUSD_XAGUSD|2024-04' });
    expect(targets.get('pairs')).toEqual(['1h|XAUUSD_XAGUSD|2024-03', '1h|XAUUSD_XAGUSD|2024-04']);
    expect(targets.get('bars')).toEqual(['1h|XAGUSD|2024-02', '1h|XAGUSD|2024-03', '1h|XAGUSD|2024-04', '1h|XAUUSD|2024-02', '1h|XAUUSD|2024-03', '1h|XAUUSD|2024-04'].sort());
    expect(targets.get('pair_stats')).toEqual(['XAUUSD_XAGUSD']);
    expect(targets.get('model')).toEqual(['']);
  });

  it('a range whose non-time dimensions differ is rejected', () => {
    const e = orreryError(() => planRun(g, req('bars', { kind: 'range', from: '1h|XAUUSD|2024-02', to: '4h|XAUUSD|2024-04' }), empty));
    expect(e.errorId).toBe(ErrorIds.PARTITION_INVALID);
    expect(e.message).toContain('differ in timeframe');
    const e2 = orreryError(() => planRun(g, req('bars', { kind: 'range', from: '1h|XAUUSD|2024-02', to: '4h|XAGUSD|2024-04' }), empty));
    expect(e2.message).toContain('differ in timeframe, symbol');
  });

  it('a range on non-UTC hourly keys follows time, not string order, across fall-back', () => {
    const berlin = graphOf(asset('ticks', { partitions: tw('1h', '2024-10-26', '2024-10-29', { timezone: 'Europe/Berlin' }) }));
    expect(keysInRange(berlin.get('ticks').partitions, '2024-10-27T02:00+02:00', '2024-10-27T02:00+01:00')).toEqual(['2024-10-27T02:00+02:00', '2024-10-27T02:00+01:00']);
    expect(keysInRange(berlin.get('ticks').partitions, '2024-10-27T00:00+02:00', '2024-10-27T02:00+02:00')).toEqual(['2024-10-27T00:00+02:00', '2024-10-27T01:00+02:00', '2024-10-27T02:00+02:00']);
    const plan = planRun(berlin, req('ticks', { kind: 'range', from: '2024-10-27T01:00+02:00', to: '2024-10-27T03:00+01:00' }), emptyStates(berlin));
    expect(plan.steps.map((s) => s.partitionKey)).toEqual(['2024-10-27T01:00+02:00', '2024-10-27T02:00+02:00', '2024-10-27T02:00+01:00', '2024-10-27T03:00+01:00']);
  });
});

describe('planner properties', () => {
  type Kind = 'missing' | 'failedKeep' | 'failedNone' | 'fresh' | 'oldCode' | 'badInput';
  const kindArb = fc.constantFrom<Kind>('missing', 'failedKeep', 'failedNone', 'fresh', 'fresh', 'fresh', 'oldCode', 'badInput');
  const g = pairsGraph();
  const all = g.order.flatMap((a) => keysOfAsset(g, a).map((k) => [a, k] as const));

  function buildStates(kinds: Kind[]): { states: States; kindOf: Map<string, Kind> } {
    const states = emptyStates(g);
    const kindOf = new Map<string, Kind>();
    all.forEach(([a, k], i) => {
      const kind = kinds[i];
      kindOf.set(`${a}\u0000${k}`, kind);
      if (kind === 'missing') return;
      if (kind === 'failedNone') { states.get(a)!.set(k, stateRow(a, k, { status: 'failed', dataVersion: null })); return; }
      materialize(g, states, a, k, { dataVersion: `${a}@${k}#${i}` });
      const st = states.get(a)!.get(k)!;
      if (kind === 'failedKeep') st.status = 'failed';
      if (kind === 'oldCode') st.codeVersion = 'v0';
      if (kind === 'badInput') st.inputVersions = Object.fromEntries(Object.keys(st.inputVersions).map((n) => [n, 'bogus']));
    });
    return { states, kindOf };
  }

  const specArb = fc.oneof(
    fc.constant<PartitionSpec>({ kind: 'all' }),
    fc.constantFrom<PartitionSpec>(
      { kind: 'keys', keys: ['1h|XAUUSD_XAGUSD|2024-03'] },
      { kind: 'keys', keys: ['4h|XAGUSD|2024-01', '1h|XPTUSD|2024-06'] },
      { kind: 'keys', keys: ['XPTUSD_XAGUSD'] },
      { kind: 'range', from: '2024-02', to: '2024-04' },
      { kind: 'range', from: '4h|XPTUSD_XAGUSD|2024-01', to: '4h|XPTUSD_XAGUSD|2024-06' },
    ),
  );

  it('property: planned upstream steps come earlier; reasons match the states; planned upstreams pull in their readers', () => {
    let planned = 0, nonEmpty = 0;
    fc.assert(
      fc.property(
        fc.array(kindArb, { minLength: all.length, maxLength: all.length }),
        fc.constantFrom('*', '+pairs', 'pairs+', 'bars+', '+pair_stats', 'bars,model', 'pairs,pair_stats'),
        specArb,
        fc.constantFrom<Partial<RunRequest>>({}, {}, {}, { onlyMissing: true }, { onlyFailed: true }, { skipUpToDate: false }),
        (kinds, selection, spec, flags) => {
          const { states, kindOf } = buildStates(kinds);
          let plan;
          try {
            plan = planRun(g, req(selection, spec, flags), states);
          } catch (e) {
            // only a spec that matches no selected asset may fail
            expect((e as { errorId?: string }).errorId).toBe(ErrorIds.PARTITION_UNKNOWN);
            return;
          }
          planned++;
          if (plan.steps.length) nonEmpty++;
          const index = new Map(plan.steps.map((s, i) => [`${s.assetKey}\u0000${s.partitionKey}`, i]));
          expect(index.size).toBe(plan.steps.length); // no duplicates
          const targets = resolveTargets(g, plan.assets, spec);
          expect(plan.targets).toBe([...targets.values()].reduce((n, l) => n + l.length, 0));
          expect(plan.skipped + plan.steps.length).toBe(plan.targets);
          const order = new Map(g.order.map((k, i) => [k, i]));
          for (let i = 1; i < plan.steps.length; i++) expect(order.get(plan.steps[i - 1].assetKey)!).toBeLessThanOrEqual(order.get(plan.steps[i].assetKey)!);

          for (const [a, keys] of targets) {
            const def = g.get(a);
            for (const k of keys) {
              const i = index.get(`${a}\u0000${k}`);
              const plannedUp: number[] = [];
              for (const e of g.upstreamEdges(a)) {
                for (const uk of e.mapping.upstreamKeys(k, def.partitions, g.get(e.from).partitions)) {
                  const j = index.get(`${e.from}\u0000${uk}`);
                  if (j !== undefined && plan.assets.includes(e.from)) plannedUp.push(j);
                }
              }
              if (i !== undefined) for (const j of plannedUp) expect(j).toBeLessThan(i);
              const kind = kindOf.get(`${a}\u0000${k}`)!;
              const hasInputs = g.upstreamEdges(a).some((e) => e.input);
              const stale = kind === 'oldCode' || (kind === 'badInput' && hasInputs);
              let expected: string | undefined;
              if (flags.onlyFailed) expected = kind === 'failedKeep' || kind === 'failedNone' ? 'failed' : undefined;
              else if (flags.onlyMissing) expected = kind === 'missing' ? 'missing' : undefined;
              else if (flags.skipUpToDate === false) expected = 'requested';
              else if (kind === 'missing') expected = 'missing';
              else if (kind === 'failedKeep' || kind === 'failedNone') expected = 'failed';
              else if (stale) expected = 'stale';
              else if (plannedUp.length) expected = 'upstream';
              expect(i === undefined ? undefined : plan.steps[i].reason, `${a} ${k} (${kind})`).toBe(expected);
            }
          }
        },
      ),
      { numRuns: 150, seed: 99 },
    );
    expect(planned).toBeGreaterThan(100);
    expect(nonEmpty).toBeGreaterThan(80);
  });
});
