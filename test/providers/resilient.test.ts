import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { OrreryError } from '../../core/errors.ts';
import type { CanonicalBar } from '../../core/market-data.ts';
import { TwelveDataProvider } from '../../adapters/providers/twelvedata.ts';
import { GenericRestProvider } from '../../adapters/providers/generic-rest.ts';
import { SecretResolver } from '../../adapters/providers/secrets.ts';
import { SyntheticProvider } from '../../adapters/providers/synthetic.ts';
import {
  CircuitBreaker,
  ResilientProvider,
  SEED_BACKOFF_MAX_MS,
  SEED_CIRCUIT_HALF_OPEN_AFTER_MS,
  SEED_CIRCUIT_OPEN_THRESHOLD_ERRORS,
  SEED_DIFF_THRESH,
  SEED_RETRY_MAX,
  backoffDelayMs,
  compareCloses,
  dedupeLatestWins,
  resilienceOptionsFromPolicy,
  sourcesFromConfig,
  type ResilienceEvent,
  type ResilientProviderOptions,
  type SourceRegistration,
} from '../../adapters/providers/resilient.ts';
import { FakeGenericRest, FakeTwelveData, ManualClock, generateBars, startFakeGenericRest, startFakeTwelveData } from './fake-servers.ts';
import { caught } from '../support/rejection.ts';

const H = 3_600_000;
const env = { TWELVEDATA_API_KEY: 'test-key' };
const DAY_REQ = { symbol: 'XAUUSD', timeframe: '1h', start: new Date('2024-03-01T00:00:00Z'), end: new Date('2024-03-01T06:00:00Z'), ingestRunId: 'run' };

function td(server: FakeTwelveData, timeoutMs = 2000) {
  return new TwelveDataProvider({ baseUrl: server.url, secrets: new SecretResolver({ env }), timeoutMs });
}
function generic(server: FakeGenericRest, id = 'secondary_x') {
  return new GenericRestProvider({ id, baseUrl: server.url, timeframes: ['1h', '4h'], pageSize: 500, timeoutMs: 2000 });
}


describe('the seed numbers', () => {
  it('are the defaults', () => {
    expect(SEED_RETRY_MAX).toBe(5);
    expect(SEED_BACKOFF_MAX_MS).toBe(60_000);
    expect(SEED_CIRCUIT_OPEN_THRESHOLD_ERRORS).toBe(5);
    expect(SEED_CIRCUIT_HALF_OPEN_AFTER_MS).toBe(120_000);
    expect(SEED_DIFF_THRESH).toBe(0.003);
    expect(resilienceOptionsFromPolicy({ retry_max: 5, retry_backoff_max_seconds: 60, circuit_breaker: { open_threshold_errors: 5, half_open_after_seconds: 120 }, diff_thresh: 0.003 })).toEqual({
      retry: { max: 5, maxDelayMs: 60_000 },
      circuitBreaker: { openThresholdErrors: 5, halfOpenAfterMs: 120_000 },
      diffThresh: 0.003,
    });
  });

  it('backoff is 1x, 2x, 4x … capped at 60 s, jitter only shortens', () => {
    const noJitter = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffDelayMs(n, {}, () => 0));
    expect(noJitter).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.double({ min: 0, max: 0.9999999, noNaN: true }), (n, u) => {
        const d = backoffDelayMs(n, {}, () => u);
        const nominal = Math.min(60_000, 1000 * 2 ** (n - 1));
        return d <= nominal && d >= nominal * 0.8;
      }),
    );
    expect(backoffDelayMs(1, { baseDelayMs: 10, maxDelayMs: 50 }, () => 0, 120_000)).toBe(50); // Retry-After capped
    expect(backoffDelayMs(1, {}, () => 0, 5000)).toBe(5000); // Retry-After longer than the schedule
  });
});

describe('CircuitBreaker', () => {
  it('opens after 5 consecutive failures, half-opens after 120 s with one trial, closes on success', () => {
    const clock = new ManualClock(0);
    const transitions: string[] = [];
    const b = new CircuitBreaker({}, clock, (f, t) => transitions.push(`${f}->${t}`));
    for (let i = 0; i < 4; i++) {
      expect(b.tryAcquire()).toBe(true);
      b.onFailure();
    }
    expect(b.state()).toBe('closed');
    b.onSuccess(); // a success resets the count
    for (let i = 0; i < 5; i++) {
      expect(b.tryAcquire()).toBe(true);
      b.onFailure();
    }
    expect(b.state()).toBe('open');
    expect(b.tryAcquire()).toBe(false);
    clock.advance(119_999);
    expect(b.tryAcquire()).toBe(false);
    clock.advance(1);
    expect(b.state()).toBe('half-open');
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false); // one trial at a time
    b.onFailure(); // trial failed: open for another 120 s
    expect(b.state()).toBe('open');
    clock.advance(120_000);
    expect(b.tryAcquire()).toBe(true);
    b.onSuccess();
    expect(b.state()).toBe('closed');
    expect(transitions).toEqual(['closed->open', 'open->half-open', 'half-open->open', 'open->half-open', 'half-open->closed']);
  });
});

describe('dedupe and conflicts', () => {
  const bar = (ts: string, close: number, source = 'a', seq?: number): CanonicalBar => ({
    ts_utc: ts,
    symbol: 'XAUUSD',
    timeframe: '1h',
    open: close,
    high: close,
    low: close,
    close,
    volume: null,
    quality_flag: 'ok',
    source_id: source,
    ingest_run_id: 'r',
    ...(seq !== undefined ? { metadata: { ingest_seq: seq } } : {}),
  });

  it('dedupes by (source, symbol, timeframe, ts), the latest received winning', () => {
    const t1 = '2024-03-01T01:00:00.000Z';
    const t2 = '2024-03-01T02:00:00.000Z';
    const { bars, dropped } = dedupeLatestWins([bar(t2, 1), bar(t1, 2), bar(t1, 3), bar(t1, 9, 'b'), bar(t2, 4)]);
    expect(dropped).toBe(2);
    expect(bars.map((b) => [b.ts_utc, b.source_id, b.close])).toEqual([
      [t1, 'a', 3],
      [t1, 'b', 9],
      [t2, 'a', 4],
    ]);
    // ingest_seq decides when present, whatever the order
    expect(dedupeLatestWins([bar(t1, 5, 'a', 7), bar(t1, 6, 'a', 3)]).bars[0].close).toBe(5);
    // the same instant written differently is the same key
    expect(dedupeLatestWins([bar('2024-03-01T01:00:00Z', 1), bar(t1, 2)]).bars).toHaveLength(1);
    expect(dedupeLatestWins([bar(t1, 1, 'a'), bar(t1, 2, 'b')], { key: 'canonical' }).bars.map((b) => b.close)).toEqual([2]);
  });

  it('flags conflicts above 0.3 % and not at or below it', () => {
    const ts = ['2024-03-01T01:00:00.000Z', '2024-03-01T02:00:00.000Z', '2024-03-01T03:00:00.000Z', '2024-03-01T04:00:00.000Z', '2024-03-01T05:00:00.000Z'];
    const primary = ts.map((t) => bar(t, 2000));
    const secondary = [bar(ts[0], 2000 * 1.0031, 'b'), bar(ts[1], 2000 * 1.003, 'b'), bar(ts[2], 2000 * 0.9969, 'b'), bar(ts[3], 2000 * 0.9971, 'b')];
    const r = compareCloses(primary, secondary, 0.003);
    expect(r.bars.map((b) => b.quality_flag)).toEqual(['conflict', 'ok', 'conflict', 'ok', 'ok']);
    expect(r.compared).toBe(4);
    expect(r.missingInSecondary).toBe(1);
    expect(r.conflicts.map((c) => c.ts_utc)).toEqual([ts[0], ts[2]]);
    expect(r.bars[0].close).toBe(2000); // the primary's values are kept
    expect(r.bars[0].metadata?.conflict).toMatchObject({ secondary_source: 'b', diff_thresh: 0.003 });
  });
});

describe('ResilientProvider over fake HTTP sources', () => {
  let primary: FakeTwelveData;
  let secondary: FakeGenericRest;
  const opened: ResilientProvider[] = [];

  beforeAll(async () => {
    primary = await startFakeTwelveData();
    secondary = await startFakeGenericRest((_s, ts, c) => {
      // disagreements at chosen bars of 2024-03-01
      if (ts === Date.parse('2024-03-01T01:00:00Z')) return c * 1.0031; // > 0.3 %: conflict
      if (ts === Date.parse('2024-03-01T02:00:00Z')) return c * 1.003; // = 0.3 %: not a conflict
      if (ts === Date.parse('2024-03-01T03:00:00Z')) return c * 0.9968; // > 0.3 % below: conflict
      if (ts === Date.parse('2024-03-01T04:00:00Z')) return c * 1.0025; // < 0.3 %: not a conflict
      return c;
    });
  });
  afterAll(async () => {
    await Promise.all([primary.close(), secondary.close()]);
  });
  afterEach(async () => {
    for (const p of opened.splice(0)) await p.close();
    for (const s of [primary, secondary]) {
      s.requests.length = 0;
      s.faults.length = 0;
      s.persistentFault = null;
    }
  });

  function make(opts: Partial<ResilientProviderOptions> & { withSecondary?: boolean; timeoutMs?: number } = {}) {
    const sources: SourceRegistration[] = [{ id: 'twelvedata', provider: td(primary, opts.timeoutMs), priority: 1, timeframes: ['15m', '1h', '4h'] }];
    if (opts.withSecondary) sources.push({ id: 'secondary_x', provider: generic(secondary), priority: 2, timeframes: ['1h'] });
    const delays: number[] = [];
    const events: ResilienceEvent[] = [];
    const p = new ResilientProvider({
      retry: { baseDelayMs: 5, maxDelayMs: 100 },
      random: () => 0,
      sleep: async (ms) => {
        delays.push(ms);
        await new Promise((r) => setTimeout(r, ms));
      },
      onEvent: (e) => events.push(e),
      ...opts,
      sources: opts.sources ?? sources,
    });
    opened.push(p);
    return { p, delays, events };
  }

  it('retries 429 and 500 with 1x, 2x backoff, then succeeds', async () => {
    const { p, delays } = make();
    primary.faults.push({ kind: 'status', status: 429 }, { kind: 'status', status: 500 });
    const bars = await p.fetchTimeSeries(DAY_REQ);
    expect(bars).toHaveLength(6);
    expect(primary.requests).toHaveLength(3);
    expect(delays).toEqual([5, 10]);
    expect(p.metrics().data_retry_total).toBe(2);
  });

  it('retries a 429 error body (HTTP 200, status "error") and honours Retry-After up to the cap', async () => {
    const { p, delays } = make();
    primary.faults.push({ kind: 'error-body', code: 429, message: 'You have run out of API credits for the current minute.' }, { kind: 'status', status: 429, retryAfter: '120' });
    expect(await p.fetchTimeSeries(DAY_REQ)).toHaveLength(6);
    expect(primary.requests).toHaveLength(3);
    expect(delays).toEqual([5, 100]); // Retry-After 120 s capped at maxDelayMs
  });

  it('gives up after 5 retries (6 attempts) with the capped schedule', async () => {
    const { p, delays } = make({ circuitBreaker: { openThresholdErrors: 100 } });
    primary.persistentFault = { kind: 'status', status: 503 };
    const e = await caught(p.fetchTimeSeries(DAY_REQ));
    expect(e.errorId).toBe('DATA_SOURCE_UNAVAILABLE');
    expect(e.message).toMatch(/5 retries exhausted/);
    expect(primary.requests).toHaveLength(6);
    expect(delays).toEqual([5, 10, 20, 40, 80]);
  });

  it('never retries a 400 (nor fails over on it)', async () => {
    const { p, delays } = make({ withSecondary: true });
    primary.faults.push({ kind: 'status', status: 400, message: 'bad request' });
    const e = await caught(p.fetchTimeSeries(DAY_REQ));
    expect(e.errorId).toBe('DATA_API_CLIENT');
    expect(primary.requests).toHaveLength(1);
    expect(secondary.requests).toHaveLength(0);
    expect(delays).toEqual([]);
    primary.faults.push({ kind: 'error-body', code: 404, message: '**symbol** not found' });
    expect((await caught(p.fetchTimeSeries(DAY_REQ))).errorId).toBe('DATA_API_CLIENT');
    expect(primary.requests).toHaveLength(2);
    expect(p.breakerState('twelvedata', '1h').state).toBe('closed');
  });

  it('retries timeouts (held socket) and malformed JSON', async () => {
    const { p } = make({ timeoutMs: 500 });
    primary.faults.push({ kind: 'hold' }, { kind: 'malformed' });
    const t0 = performance.now();
    expect(await p.fetchTimeSeries(DAY_REQ)).toHaveLength(6);
    expect(primary.requests).toHaveLength(3);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(490);
  });

  it('opens the breaker after 5 errors, fails over, half-opens after 120 s, fails back on recovery', async () => {
    const clock = new ManualClock(Date.parse('2024-03-10T00:00:00Z'));
    const { p, events } = make({ withSecondary: true, clock });
    primary.persistentFault = { kind: 'status', status: 500 };

    // 1st fetch: 5 failed attempts open the circuit, the secondary serves
    const first = await p.fetchTimeSeries(DAY_REQ);
    expect(primary.requests).toHaveLength(5);
    expect(first).toHaveLength(6);
    expect(new Set(first.map((b) => b.source_id))).toEqual(new Set(['secondary_x']));
    expect(p.breakerState('twelvedata', '1h').state).toBe('open');
    expect(events).toContainEqual(expect.objectContaining({ type: 'failover', from: 'twelvedata', to: 'secondary_x' }));

    // while open: the primary is not asked
    clock.advance(60_000);
    expect((await p.fetchTimeSeries(DAY_REQ))[0].source_id).toBe('secondary_x');
    clock.advance(59_999);
    expect((await p.fetchTimeSeries(DAY_REQ))[0].source_id).toBe('secondary_x');
    expect(primary.requests).toHaveLength(5);
    // another timeframe has its own (closed) breaker
    primary.persistentFault = null;
    expect((await p.fetchTimeSeries({ ...DAY_REQ, timeframe: '4h', end: new Date('2024-03-02T00:00:00Z') }))[0].source_id).toBe('twelvedata');
    expect(primary.requests).toHaveLength(6);
    primary.persistentFault = { kind: 'status', status: 500 };

    // 120 s after opening: half-open, one trial; the primary is still down → open again
    clock.advance(1);
    expect(p.breakerState('twelvedata', '1h').state).toBe('half-open');
    expect((await p.fetchTimeSeries(DAY_REQ))[0].source_id).toBe('secondary_x');
    expect(primary.requests).toHaveLength(7);
    expect(p.breakerState('twelvedata', '1h').state).toBe('open');

    // the primary recovers; the circuit stays open until its cool-down has passed
    primary.persistentFault = null;
    clock.advance(119_000);
    expect((await p.fetchTimeSeries(DAY_REQ))[0].source_id).toBe('secondary_x');
    expect(primary.requests).toHaveLength(7);
    clock.advance(1_000);
    const back = await p.fetchTimeSeries(DAY_REQ);
    expect(new Set(back.map((b) => b.source_id))).toEqual(new Set(['twelvedata']));
    expect(primary.requests).toHaveLength(8);
    expect(p.breakerState('twelvedata', '1h').state).toBe('closed');
    expect(events).toContainEqual(expect.objectContaining({ type: 'failback', from: 'secondary_x', to: 'twelvedata' }));
    expect(events.filter((e) => e.type === 'breaker' && e.timeframe === '1h').map((e) => (e.type === 'breaker' ? `${e.from}->${e.to}` : ''))).toEqual([
      'closed->open',
      'open->half-open',
      'half-open->open',
      'open->half-open',
      'half-open->closed',
    ]);
    const gen = generateBars('XAU/USD', H, Date.UTC(2024, 2, 1), Date.UTC(2024, 2, 1, 5));
    expect(back.map((b) => b.close)).toEqual(gen.map((g) => g.close));
  });

  it('fails over to the synthetic provider when it is the secondary', async () => {
    const synthetic = new SyntheticProvider({
      seed: 1,
      pairs: [
        {
          pairId: 'XAUUSD_XAGUSD',
          legA: { symbol: 'XAUUSD', price0: 2000, tickSize: 0.01, annualVol: 0.15 },
          legB: { symbol: 'XAGUSD', price0: 23, tickSize: 0.001, annualVol: 0.25 },
          beta: 80,
          halfLifeBars: 24,
          spreadVol: 5,
        },
      ],
    });
    const { p } = make({
      sources: [
        { id: 'twelvedata', provider: td(primary), priority: 1 },
        { provider: synthetic, priority: 2, timeframes: ['1h'] },
      ],
    });
    primary.persistentFault = { kind: 'status', status: 502 };
    const bars = await p.fetchTimeSeries(DAY_REQ);
    expect(bars).toHaveLength(6);
    expect(bars[0].source_id).toBe('synthetic');
  });

  it('reports every source down when all fail', async () => {
    const { p } = make({ withSecondary: true });
    primary.persistentFault = { kind: 'status', status: 500 };
    secondary.persistentFault = { kind: 'status', status: 503 };
    const e = await caught(p.fetchTimeSeries(DAY_REQ));
    expect(e.errorId).toBe('DATA_SOURCE_UNAVAILABLE');
    expect((e.details.attempts as Array<{ source: string }>).map((a) => a.source)).toEqual(['twelvedata', 'secondary_x']);
    expect((await p.healthCheck()).status).not.toBe('ok');
  });

  it('keeps requests per second at or under rest_qps (measured at the server)', async () => {
    const qps = 10;
    const { p } = make({ sources: [{ id: 'twelvedata', provider: td(primary), priority: 1, rateLimits: { restQps: qps } }] });
    await p.fetchTimeSeries(DAY_REQ); // warm-up: the connection is open before the burst
    await new Promise((r) => setTimeout(r, 150));
    primary.requests.length = 0;
    const days = Array.from({ length: 16 }, (_, i) => i);
    const t0 = performance.now();
    const results = await Promise.all(
      days.map((d) => p.fetchTimeSeries({ ...DAY_REQ, start: new Date(Date.UTC(2024, 0, 1 + d)), end: new Date(Date.UTC(2024, 0, 1 + d, 6)) })),
    );
    const elapsed = performance.now() - t0;
    expect(results.flat().length).toBeGreaterThan(0);
    const at = primary.requests.map((r) => r.at).sort((a, b) => a - b);
    expect(at).toHaveLength(16);
    for (let i = 0; i < at.length; i++) {
      const inWindow = at.filter((t) => t >= at[i] && t < at[i] + 1000).length;
      expect(inWindow).toBeLessThanOrEqual(qps);
    }
    expect(elapsed).toBeGreaterThanOrEqual(1500); // 16 requests at <= 10/s
  });

  it('holds requests beyond the per-minute REST budget', async () => {
    const { p } = make({ sources: [{ id: 'twelvedata', provider: td(primary), priority: 1, rateLimits: { restQps: null, restPerMinute: 3 } }] });
    const pending = [0, 1, 2, 3].map((d) => p.fetchTimeSeries({ ...DAY_REQ, start: new Date(Date.UTC(2024, 0, 1 + d)), end: new Date(Date.UTC(2024, 0, 1 + d, 6)) }));
    const settled = pending.map((q) => q.then(() => 'done', (e: OrreryError) => e.errorId));
    for (let i = 0; i < 100 && primary.requests.length < 3; i++) await new Promise((r) => setTimeout(r, 20)); // bounded: <= 2 s
    await new Promise((r) => setTimeout(r, 200));
    expect(primary.requests).toHaveLength(3); // the 4th waits for the next minute's budget
    await p.close(); // drops the waiting request
    expect((await Promise.all(settled)).sort()).toEqual(['DATA_SOURCE_CLOSED', 'done', 'done', 'done']);
    expect(primary.requests).toHaveLength(3);
  });

  it('flags conflicts against the secondary at > 0.3 % and not at <= 0.3 %', async () => {
    const { p, events } = make({ withSecondary: true });
    const r = await p.fetchWithConflicts(DAY_REQ);
    expect(r.primarySources).toEqual(['twelvedata']);
    expect(r.secondarySource).toBe('secondary_x');
    expect(r.compared).toBe(6);
    expect(r.bars.map((b) => [b.ts_utc.slice(11, 13), b.quality_flag])).toEqual([
      ['00', 'ok'],
      ['01', 'conflict'],
      ['02', 'ok'],
      ['03', 'conflict'],
      ['04', 'ok'],
      ['05', 'ok'],
    ]);
    const gen = generateBars('XAU/USD', H, Date.UTC(2024, 2, 1), Date.UTC(2024, 2, 1, 5));
    expect(r.bars.map((b) => b.close)).toEqual(gen.map((g) => g.close));
    expect(r.conflicts[0]).toMatchObject({ primary_source: 'twelvedata', secondary_source: 'secondary_x' });
    expect(r.conflicts[0].rel_diff).toBeCloseTo(0.0031, 6);
    expect(p.metrics().conflicts_total).toBe(2);
    expect(events).toContainEqual(expect.objectContaining({ type: 'conflict', count: 2 }));
    // 4h has no secondary configured: nothing compared
    const only = await p.fetchWithConflicts({ ...DAY_REQ, timeframe: '4h', end: new Date('2024-03-02T00:00:00Z') });
    expect(only.secondarySource).toBeNull();
    expect(only.bars.every((b) => b.quality_flag === 'ok')).toBe(true);
  });

  it('returns the primary bars unflagged when the secondary is down', async () => {
    const { p } = make({ withSecondary: true, retry: { max: 1, baseDelayMs: 1 } });
    secondary.persistentFault = { kind: 'status', status: 500 };
    const r = await p.fetchWithConflicts(DAY_REQ);
    expect(r.secondaryError?.errorId).toBe('DATA_SOURCE_UNAVAILABLE');
    expect(r.bars.every((b) => b.quality_flag === 'ok')).toBe(true);
    expect(r.bars).toHaveLength(6);
  });

  it('pages long ranges through the composition one HTTP request per window', async () => {
    const { p } = make();
    const start = Date.UTC(2023, 0, 2);
    const end = Date.UTC(2024, 2, 1);
    const bars = await p.fetchTimeSeries({ ...DAY_REQ, start: new Date(start), end: new Date(end) });
    const expected = generateBars('XAU/USD', H, start, end - 1);
    expect(bars.map((b) => b.ts_utc)).toEqual(expected.map((b) => new Date(b.ts).toISOString()));
    expect(primary.requests.length).toBe(Math.ceil((end - start) / (5000 * H)));
  });

  it('builds registrations from sources.yaml entries', async () => {
    const regs = sourcesFromConfig(
      {
        twelvedata: { type: 'TwelveData', enabled: true, base_url: primary.url, api_key_ref: 'ENV:TWELVEDATA_API_KEY', timeframes: ['15m', '1h', '4h'], priority: 1, rate_limits: { rest_qps: 10, ws_channels: 500 } },
        secondary_x: { type: 'GenericRest', base_url: secondary.url, api_key_ref: 'VAULT:secret/path', timeframes: ['1h'], priority: 2 },
        off: { type: 'GenericRest', enabled: false, base_url: secondary.url, timeframes: ['1h'], priority: 3 },
      },
      { secrets: new SecretResolver({ env }) },
      { rest_rate_limit_budget: 610 },
    );
    expect(regs.map((r) => [r.id, r.priority, r.rateLimits])).toEqual([
      ['twelvedata', 1, { restQps: 10, restPerMinute: 610 }],
      ['secondary_x', 2, { restQps: null, restPerMinute: null }],
    ]);
    const { p } = make({ sources: regs });
    expect(p.sourceIds()).toEqual(['twelvedata', 'secondary_x']);
    expect(await p.fetchTimeSeries(DAY_REQ)).toHaveLength(6);
    // the secondary's VAULT key cannot be resolved: a clear, non-retried error once it is needed
    primary.persistentFault = { kind: 'status', status: 500 };
    const e = await caught(p.fetchTimeSeries({ ...DAY_REQ, start: new Date('2024-03-04T00:00:00Z'), end: new Date('2024-03-04T03:00:00Z') }));
    expect(e.errorId).toBe('DATA_SECRET_UNRESOLVED');
    expect(e.message).toMatch(/Vault is not reachable/);
    expect(secondary.requests).toHaveLength(0);
  });
});
