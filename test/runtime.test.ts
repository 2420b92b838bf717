import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { container, defineAsset, input } from '../core/definitions/asset.ts';
import { contentHash, objectKeyFor, type IOManager } from '../core/definitions/io.ts';
import { DynamicPartitions, MultiPartitions, StaticPartitions } from '../core/partitions/definitions.ts';
import { dimensions, identity, lookup } from '../core/partitions/mappings.ts';
import { TimeWindowPartitions } from '../core/partitions/time-window.ts';
import { currentInputVersions } from '../core/planning/staleness.ts';
import { testRuntime, type TestRuntime } from './support/runtime.ts';

const months = new TimeWindowPartitions({ cadence: 'monthly', start: '2024-01-01', end: '2024-07-01' });
const parts = new StaticPartitions(['a', 'b']);

let t: TestRuntime | undefined;
const extra: TestRuntime[] = [];
afterEach(async () => {
  // Runtimes sharing t's event log close first; t owns it.
  for (const x of extra.splice(0)) await x.close();
  await t?.close();
  t = undefined;
});

function numbers(codeVersion = '1', calls: string[] = []) {
  return defineAsset<number[]>({
    key: 'numbers',
    partitions: months,
    codeVersion,
    compute: (ctx) => { calls.push(ctx.partitionKey); return { value: [1, 2, Number(ctx.partitionKey.slice(5))], metadata: { month: ctx.partitionKey } }; },
  });
}

describe('runtime: materialize, skip, stale', () => {
  it('materializes a chain, records provenance, skips up-to-date partitions and replans stale ones', async () => {
    const calls: string[] = [];
    const nums = numbers('1', calls);
    const total = defineAsset({
      key: 'total',
      partitions: months,
      ins: { nums: input(nums) },
      codeVersion: '1',
      // `nums` is typed UpstreamPartitions<number[]>: a wrong element type would not compile.
      async compute(_ctx, { nums }) {
        const [{ value }] = await nums.loadAll();
        return { value: value.reduce((a, b) => a + b, 0) };
      },
    });
    t = await testRuntime([nums, total]);
    const first = await t.runtime.launch({ selection: '*', partitions: { kind: 'all' }, skipUpToDate: true });
    expect(first.status).toBe('success');
    expect(first.succeeded).toBe(12);
    const states = await t.eventLog.partitionStates('total');
    expect(states.size).toBe(6);
    const march = states.get('2024-03')!;
    expect(march.dataVersion).toMatch(/^[0-9a-f]{64}$/);
    // One upstream partition read: the fingerprint is its key and data version as they are.
    expect(march.inputVersions.nums).toBe(`2024-03=${(await t.eventLog.partitionStates('numbers')).get('2024-03')!.dataVersion}`);
    // What a step recorded elsewhere (a container step, recorded by the operator) gets: the same.
    expect(await currentInputVersions(t.runtime.graph, 'total', '2024-03', (a, keys) => t!.eventLog.partitionStatesFor(a, keys))).toEqual(march.inputVersions);
    expect(march.materializedRunId).toBe(first.runId);
    expect(readdirSync(join(t.objectStore.root, 'assets', 'total'))).toHaveLength(6);
    expect(Number(Buffer.from(await t.objectStore.get(objectKeyFor('total', '2024-03', 'json'))).toString())).toBe(1 + 2 + 3);

    const second = await t.runtime.launch({ selection: '*', partitions: { kind: 'all' }, skipUpToDate: true });
    expect(second.plan.steps).toHaveLength(0);
    expect(second.plan.skipped).toBe(12);

    // A new code version of `numbers` makes it stale, and `total` runs because its upstream is planned.
    const nums2 = numbers('2', calls);
    const total2 = { ...total, ins: { nums: input(nums2) } };
    const t2 = await testRuntime([nums2, total2], { eventLog: t.eventLog });
    extra.push(t2);
    const plan = await t2.runtime.plan({ selection: '*', partitions: { kind: 'keys', keys: ['2024-02'] }, skipUpToDate: true });
    expect(plan.steps.map((s) => [s.assetKey, s.reason])).toEqual([['numbers', 'stale'], ['total', 'upstream']]);
    expect(plan.steps[0].staleCauses?.[0]).toContain('code version changed (1 → 2)');
    const health = await t2.runtime.health();
    expect(health.find((h) => h.assetKey === 'numbers')).toMatchObject({ materialized: 6, stale: 6, missing: 0 });
  });

  it('rejects bad config before anything is written', async () => {
    const withConfig = defineAsset<number, {}, { factor: number }>({
      key: 'scaled', codeVersion: '1', config: z.strictObject({ factor: z.number().positive() }),
      compute: (ctx) => ({ value: ctx.config.factor * 2 }),
    });
    t = await testRuntime([withConfig]);
    await expect(t.runtime.launch({ selection: 'scaled', partitions: { kind: 'all' }, skipUpToDate: true, config: { scaled: { factor: -1 } } })).rejects.toMatchObject({ errorId: 'CORE_CONFIG_INVALID' });
    await expect(t.runtime.launch({ selection: 'scaled', partitions: { kind: 'all' }, skipUpToDate: true, config: { scaled: { factor: 1, extra: true } } })).rejects.toMatchObject({ errorId: 'CORE_CONFIG_UNKNOWN' });
    await expect(t.runtime.launch({ selection: 'scaled', partitions: { kind: 'all' }, skipUpToDate: true, config: { nope: {} } })).rejects.toMatchObject({ errorId: 'CORE_CONFIG_UNKNOWN' });
    expect(await t.eventLog.listRuns()).toHaveLength(0);
    const ok = await t.runtime.launch({ selection: 'scaled', partitions: { kind: 'all' }, skipUpToDate: true, config: { scaled: { factor: 3 } } });
    expect(ok.status).toBe('success');
    expect(Number(Buffer.from(await t.objectStore.get(objectKeyFor('scaled', '', 'json'))).toString())).toBe(6);
  });
});

describe('runtime: failures, retries, checks', () => {
  it('retries with backoff, then succeeds; STEP_RETRY events record each failed attempt', async () => {
    let attempts = 0;
    const flaky = defineAsset<string>({
      key: 'flaky', codeVersion: '1', retry: { maxAttempts: 3, initialDelayMs: 5, maxDelayMs: 20 },
      compute: () => { attempts++; if (attempts < 3) throw new Error(`transient ${attempts}`); return { value: 'ok' }; },
    });
    t = await testRuntime([flaky]);
    const r = await t.runtime.launch({ selection: 'flaky', partitions: { kind: 'all' }, skipUpToDate: true });
    expect(r.status).toBe('success');
    expect(attempts).toBe(3);
    const events = await t.eventLog.listEvents(r.runId);
    expect(events.filter((e) => e.type === 'STEP_RETRY')).toHaveLength(2);
    expect((await t.eventLog.listSteps(r.runId))[0]).toMatchObject({ status: 'success', attempt: 3 });
  });

  it('a failed step skips its dependents, keeps last good data and fails the run', async () => {
    let fail = false;
    const src = defineAsset<number>({ key: 'src', partitions: parts, codeVersion: '1', compute: (ctx) => { if (fail && ctx.partitionKey === 'b') throw new Error('source down'); return { value: ctx.partitionKey === 'a' ? 1 : 2 }; } });
    const dst = defineAsset({ key: 'dst', partitions: parts, codeVersion: '1', ins: { s: input(src) }, compute: async (ctx, { s }) => ({ value: (await s.load(ctx.partitionKey)) * 10 }) });
    t = await testRuntime([src, dst]);
    expect((await t.runtime.launch({ selection: '*', partitions: { kind: 'all' }, skipUpToDate: true })).status).toBe('success');
    const before = (await t.eventLog.partitionStates('src')).get('b')!.dataVersion;
    fail = true;
    const r = await t.runtime.launch({ selection: '*', partitions: { kind: 'all' }, skipUpToDate: false });
    expect(r.status).toBe('failed');
    expect(r.failures).toEqual([expect.objectContaining({ assetKey: 'src', partitionKey: 'b', message: 'source down' })]);
    expect(r.skipped).toBe(1);
    const srcB = (await t.eventLog.partitionStates('src')).get('b')!;
    expect(srcB.status).toBe('failed');
    expect(srcB.dataVersion).toBe(before);
    const steps = await t.eventLog.listSteps(r.runId);
    expect(steps.find((s) => s.assetKey === 'dst' && s.partitionKey === 'b')?.status).toBe('skipped');
    expect(steps.find((s) => s.assetKey === 'dst' && s.partitionKey === 'a')?.status).toBe('success');
    expect((await t.eventLog.getRun(r.runId))?.status).toBe('failed');
    // --failed re-runs only what failed
    fail = false;
    const plan = await t.runtime.plan({ selection: 'src', partitions: { kind: 'all' }, skipUpToDate: true, onlyFailed: true });
    expect(plan.steps.map((s) => s.partitionKey)).toEqual(['b']);
  });

  it('a failing blocking check writes nothing; a failing WARN check does not block', async () => {
    const checked = defineAsset<number[]>({
      key: 'checked', partitions: parts, codeVersion: '1',
      compute: (ctx) => ({ value: ctx.partitionKey === 'a' ? [1, 2] : [-1] }),
      checks: [
        { name: 'non_negative', severity: 'ERROR', evaluate: (v) => ({ passed: v.every((x) => x >= 0), metadata: { min: Math.min(...v) } }) },
        { name: 'long_enough', severity: 'WARN', evaluate: (v) => ({ passed: v.length >= 2 }) },
      ],
    });
    t = await testRuntime([checked]);
    const r = await t.runtime.launch({ selection: 'checked', partitions: { kind: 'all' }, skipUpToDate: true });
    expect(r.status).toBe('failed');
    expect(r.failures[0]).toMatchObject({ partitionKey: 'b', errorId: 'CORE_CHECK_FAILED' });
    expect(await t.objectStore.exists(objectKeyFor('checked', 'b', 'json'))).toBe(false);
    expect(await t.objectStore.exists(objectKeyFor('checked', 'a', 'json'))).toBe(true);
    const results = await t.eventLog.latestCheckResults('checked', 'b');
    expect(results.find((c) => c.checkName === 'non_negative')).toMatchObject({ passed: false, metadata: { min: -1 } });
    expect(results.find((c) => c.checkName === 'long_enough')).toMatchObject({ passed: false, severity: 'WARN' });
  });
});

describe('runtime: staged writes', () => {
  it('an IO manager that can stage starts storing before the checks run; a passing step commits, a failing blocking check discards', async () => {
    const events: string[] = [];
    const stored = new Map<string, number[]>();
    const io: IOManager<number[]> = {
      write: async (ctx, v) => { events.push(`write ${ctx.partitionKey}`); stored.set(ctx.partitionKey, v); return { uri: `mem://${ctx.partitionKey}`, dataVersion: contentHash(JSON.stringify(v)) }; },
      read: async (ctx) => stored.get(ctx.partitionKey)!,
      uri: (ctx) => `mem://${ctx.partitionKey}`,
      adopt: async () => { throw new Error('not used'); },
      stage(ctx, v) {
        events.push(`stage ${ctx.partitionKey}`);
        return {
          commit: async () => { events.push(`commit ${ctx.partitionKey}`); stored.set(ctx.partitionKey, v); return { uri: `mem://${ctx.partitionKey}`, dataVersion: contentHash(JSON.stringify(v)) }; },
          discard: async () => { events.push(`discard ${ctx.partitionKey}`); },
        };
      },
    };
    const checked = defineAsset<number[]>({
      key: 'staged', partitions: parts, codeVersion: '1', io,
      compute: (ctx) => ({ value: ctx.partitionKey === 'a' ? [1] : [-1] }),
      checks: [{ name: 'non_negative', severity: 'ERROR', evaluate: (v, ctx) => { events.push(`check ${ctx.partitionKey}`); return { passed: v.every((x) => x >= 0) }; } }],
    });
    t = await testRuntime([checked]);
    const r = await t.runtime.launch({ selection: 'staged', partitions: { kind: 'all' }, skipUpToDate: true });
    expect(r.failures.map((f) => f.partitionKey)).toEqual(['b']);
    const of = (k: string) => events.filter((e) => e.endsWith(` ${k}`));
    expect(of('a')).toEqual(['stage a', 'check a', 'commit a']);
    expect(of('b')).toEqual(['stage b', 'check b', 'discard b']);
    expect([...stored.keys()]).toEqual(['a']);
    expect((await t.eventLog.partitionStates('staged')).get('a')?.dataVersion).toBe(contentHash(JSON.stringify([1])));
  });
});

describe('runtime: quarantine', () => {
  it('a quarantined partition is stored, excluded downstream (fan-in reads without it), and released by a passing rerun', async () => {
    let bad = true;
    const src = defineAsset<number>({
      key: 'src', partitions: parts, codeVersion: '1',
      compute: (ctx) => ({ value: ctx.partitionKey === 'a' ? 1 : 2, ...(bad && ctx.partitionKey === 'b' ? { quarantine: { reasons: ['missing_rate 0.09 > 0.05'], details: { missing_rate: 0.09 } } } : {}) }),
    });
    const dst = defineAsset({ key: 'dst', partitions: parts, codeVersion: '1', ins: { s: input(src) }, compute: async (ctx, { s }) => ({ value: (await s.load(ctx.partitionKey)) * 10 }) });
    const model = defineAsset({ key: 'model', codeVersion: '1', ins: { s: input(src, { mapping: (await import('../core/partitions/mappings.ts')).allPartitions() }) }, compute: async (_ctx, { s }) => ({ value: s.partitionKeys.join(',') }) });
    t = await testRuntime([src, dst, model]);
    const r = await t.runtime.launch({ selection: '*', partitions: { kind: 'all' }, skipUpToDate: true });
    expect(r.status).toBe('success');
    expect(r.failed).toBe(0);
    expect(r.skipped).toBe(1);
    const srcB = (await t.eventLog.partitionStates('src')).get('b')!;
    expect(srcB.status).toBe('quarantined');
    expect(srcB.quarantine).toMatchObject({ reasons: ['missing_rate 0.09 > 0.05'], missing_rate: 0.09 });
    expect(await t.objectStore.exists(objectKeyFor('src', 'b', 'json'))).toBe(true);
    expect([...(await t.eventLog.partitionStates('dst')).keys()]).toEqual(['a']);
    const steps = await t.eventLog.listSteps(r.runId);
    expect(steps.find((s) => s.assetKey === 'dst' && s.partitionKey === 'b')?.status).toBe('skipped');
    expect(JSON.parse(Buffer.from(await t.objectStore.get(objectKeyFor('model', '', 'json'))).toString())).toBe('a');
    expect((await t.runtime.health()).find((h) => h.assetKey === 'src')).toMatchObject({ materialized: 1, quarantined: 1 });

    bad = false;
    const again = await t.runtime.launch({ selection: '*', partitions: { kind: 'all' }, skipUpToDate: true });
    expect(again.plan.steps.map((s) => `${s.assetKey}:${s.partitionKey}:${s.reason}`)).toEqual(['src:b:quarantined', 'dst:b:missing', 'model::upstream']);
    expect((await t.eventLog.partitionStates('src')).get('b')).toMatchObject({ status: 'materialized', quarantine: null });
    expect(JSON.parse(Buffer.from(await t.objectStore.get(objectKeyFor('model', '', 'json'))).toString())).toBe('a,b');
  });
});

describe('runtime: pools, cancellation', () => {
  it('never runs more steps of a pool at once than its limit', async () => {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const live = { gpu: 0, cpu: 0 }, peak = { gpu: 0, cpu: 0 };
    const many = new StaticPartitions(Array.from({ length: 12 }, (_, i) => `p${i}`));
    const make = (key: string, pool: 'gpu' | 'cpu') => defineAsset<number>({
      key, partitions: many, codeVersion: '1', pool,
      async compute() { live[pool]++; peak[pool] = Math.max(peak[pool], live[pool]); await sleep(15); live[pool]--; return { value: 1 }; },
    });
    t = await testRuntime([make('train', 'gpu'), make('prep', 'cpu')], { pools: { gpu: 1 }, concurrency: 3 });
    const r = await t.runtime.launch({ selection: '*', partitions: { kind: 'all' }, skipUpToDate: true });
    expect(r.succeeded).toBe(24);
    expect(peak.gpu).toBe(1);
    expect(peak.cpu).toBeGreaterThan(1);
    expect(peak.cpu).toBeLessThanOrEqual(3);
  });

  it('a cancel request stops the run: remaining steps never start', async () => {
    const many = new StaticPartitions(Array.from({ length: 40 }, (_, i) => `p${i}`));
    let started = 0;
    const slow = defineAsset<number>({ key: 'slow', partitions: many, codeVersion: '1', async compute() { started++; await new Promise((r) => setTimeout(r, 30)); return { value: 1 }; } });
    t = await testRuntime([slow], { concurrency: 1 });
    const running = t.runtime.launch({ selection: 'slow', partitions: { kind: 'all' }, skipUpToDate: true }, {
      onProgress: (p) => { if (p.succeeded === 3) void t!.runtime.cancel(runId!); },
      onPlan: (_p, id) => { runId = id; },
    });
    let runId: string | undefined;
    const r = await running;
    expect(r.status).toBe('canceled');
    expect(started).toBeLessThan(40);
    expect((await t.eventLog.getRun(r.runId))?.status).toBe('canceled');
    expect((await t.eventLog.partitionStates('slow')).size).toBe(r.succeeded);
  });
});

describe('runtime: container steps speak the step protocol', () => {
  const script = join(import.meta.dirname, 'fixtures', 'protocol-step.mjs');
  const nums = defineAsset<number[]>({ key: 'nums', partitions: parts, codeVersion: '1', compute: (ctx) => ({ value: ctx.partitionKey === 'a' ? [1, 2, 3] : [10] }) });
  const summed = defineAsset<{ sum: number }, { numbers: ReturnType<typeof input<number[]>> }, { mode?: string }>({
    key: 'summed', codeVersion: '1', ins: { numbers: input(nums) }, config: z.strictObject({ mode: z.string().optional() }),
    compute: container({ image: 'orrery/test-step:1', command: [process.execPath, script], resources: { cpu: '1', gpu: 0 } }),
  });

  it('reads inputs by URI, writes output and a manifest; progress lines become events', async () => {
    t = await testRuntime([nums, summed]);
    const r = await t.runtime.launch({ selection: '*', partitions: { kind: 'all' }, skipUpToDate: true });
    expect(r.status).toBe('success');
    const out = JSON.parse(Buffer.from(await t.objectStore.get(objectKeyFor('summed', '', 'json'))).toString());
    expect(out.sum).toBe(16);
    const state = (await t.eventLog.partitionStates('summed')).get('')!;
    expect(state.metadata).toMatchObject({ sum: 16, inputs: 2 });
    const events = await t.eventLog.listEvents(r.runId);
    expect(events.some((e) => e.type === 'PROGRESS' && e.assetKey === 'summed')).toBe(true);
    expect(await t.eventLog.latestCheckResults('summed')).toEqual([expect.objectContaining({ checkName: 'sum_positive', passed: true })]);
    expect(readdirSync(join(t.objectStore.root, '.tmp'))).toEqual([]);
  });

  it('a failure manifest fails the step with its error id; a silent crash names the exit code', async () => {
    t = await testRuntime([nums, summed]);
    await t.runtime.launch({ selection: 'nums', partitions: { kind: 'all' }, skipUpToDate: true });
    const failed = await t.runtime.launch({ selection: 'summed', partitions: { kind: 'all' }, skipUpToDate: true, config: { summed: { mode: 'fail' } } });
    expect(failed.failures[0]).toMatchObject({ errorId: 'DATA_DQ_THRESHOLD', message: 'too many gaps' });
    const crashed = await t.runtime.launch({ selection: 'summed', partitions: { kind: 'all' }, skipUpToDate: true, config: { summed: { mode: 'silent-crash' } } });
    expect(crashed.failures[0].errorId).toBe('CORE_STEP_FAILED');
    expect(crashed.failures[0].message).toContain('exited with code 3');
    expect(existsSync(t.objectStore.uri(objectKeyFor('summed', '', 'json')))).toBe(false);
  });
});

describe('runtime: pair assets reach their legs through a dimension lookup', () => {
  it('a pair partition loads both legs of its month and the month before', async () => {
    const tf = new StaticPartitions(['1h']);
    const symbols = new DynamicPartitions('symbols', ['XAUUSD', 'XAGUSD', 'EURUSD']);
    const pairs = new DynamicPartitions('pairs', ['XAUUSD_XAGUSD']);
    const bars = defineAsset<string>({ key: 'bars', partitions: new MultiPartitions([['timeframe', tf], ['symbol', symbols], ['month', months]]), codeVersion: '1', compute: (ctx) => ({ value: `${ctx.dimensions.symbol}@${ctx.dimensions.month}` }) });
    const spread = defineAsset({
      key: 'spread', partitions: new MultiPartitions([['timeframe', tf], ['pair', pairs], ['month', months]]), codeVersion: '1',
      ins: { legs: input(bars, { mapping: dimensions({ timeframe: identity(), symbol: { from: 'pair', mapping: lookup('legs', (p) => p.split('_')) }, month: { from: 'month', mapping: (await import('../core/partitions/mappings.ts')).timeWindow({ startOffset: -1 }) } }) }) },
      async compute(_ctx, { legs }) { return { value: (await legs.loadAll()).map((l) => l.value).sort() }; },
    });
    t = await testRuntime([bars, spread]);
    const r = await t.runtime.launch({ selection: '+spread', partitions: { kind: 'keys', keys: ['1h|XAUUSD_XAGUSD|2024-03'] }, skipUpToDate: true });
    expect(r.status).toBe('success');
    // Only the legs' partitions the pair month needs were materialized upstream: not EURUSD.
    expect([...(await t.eventLog.partitionStates('bars')).keys()].sort()).toEqual(['1h|XAGUSD|2024-02', '1h|XAGUSD|2024-03', '1h|XAUUSD|2024-02', '1h|XAUUSD|2024-03']);
    const v = JSON.parse(Buffer.from(await t.objectStore.get(objectKeyFor('spread', '1h|XAUUSD_XAGUSD|2024-03', 'json'))).toString());
    expect(v).toEqual(['XAGUSD@2024-02', 'XAGUSD@2024-03', 'XAUUSD@2024-02', 'XAUUSD@2024-03']);
  });

  it('dynamic partitions registered at run time persist in the event log', async () => {
    const symbols = new DynamicPartitions('symbols', ['XAUUSD']);
    const quotes = defineAsset<number>({ key: 'quotes', partitions: symbols, codeVersion: '1', compute: () => ({ value: 1 }) });
    t = await testRuntime([quotes]);
    await t.runtime.registerDynamicPartitions('symbols', ['XPTUSD']);
    expect(symbols.has('XPTUSD')).toBe(true);
    expect(await t.eventLog.dynamicPartitions('symbols')).toEqual(['XPTUSD']);
    const fresh = new DynamicPartitions('symbols');
    const again = await testRuntime([defineAsset<number>({ key: 'quotes', partitions: fresh, codeVersion: '1', compute: () => ({ value: 1 }) })], { eventLog: t.eventLog });
    extra.push(again);
    await again.runtime.loadDynamicPartitions();
    expect(fresh.has('XPTUSD')).toBe(true);
  });
});
