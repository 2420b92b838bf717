import { DateTime } from 'luxon';
import { z } from 'zod';
import { defineAsset } from '../../core/definitions/asset.ts';
import type { IOManager } from '../../core/definitions/io.ts';
import { SessionCalendar } from '../../core/partitions/calendars.ts';
import { timeframeMs, toTsUtc, type CanonicalBar, type MarketDataProvider } from '../../core/market-data.ts';
import type { AssetCheck } from '../../core/definitions/checks.ts';
import type { JsonObject } from '../../core/event-log/port.ts';
import { dqThresholdsFromPolicy, quarantineDecision, runDq } from '../../checks/dq/index.ts';
import { compileContract, CONTRACT_FILES, loadContract } from '../../checks/contracts/index.ts';
import { ErrorIds, OrreryError } from '../../core/errors.ts';
import { noMetrics } from '../../core/metrics.ts';
import type { Policies } from '../policies/index.ts';
import type { PipelinePartitions } from './partitions.ts';
import { barChecks } from '../../checks/bar-contract.ts';

export type CanonicalBars = CanonicalBar[];

/**
 * Canonical OHLCV bars of one symbol, timeframe and month (seed 002 canonical_bar), fetched from
 * the market-data provider and kept to the symbol's trading sessions (`universe.yaml`).
 */
export function canonicalBarsAsset(policies: Policies, partitions: PipelinePartitions, io?: IOManager<CanonicalBars>) {
  const calendars = new Map<string, SessionCalendar>();
  for (const pair of policies.universe.pairs) {
    for (const leg of [pair.leg_A, pair.leg_B]) {
      calendars.set(leg.canonical_symbol, new SessionCalendar({ sessions: leg.trading_hours.sessions, timezone: leg.timezone, holidaysCalendar: leg.trading_hours.holidays_calendar }));
    }
  }
  const p = policies.pipeline;
  const thresholds = dqThresholdsFromPolicy(p, { outlier_window_bars: p.outlier_window_bars, dq_spike_window_bars: p.dq_spike_window_bars, dq_min_periods: p.dq_min_periods });
  const contractChecks = compileContract(loadContract(CONTRACT_FILES.canonical_bar), {
    enums: { timeframe_allowed: p.timeframe_allowed },
    // A bar must overlap its symbol's trading sessions.
    businessDay: ({ ms, row }) => calendars.get(String(row.symbol))?.isOpen(ms, ms + timeframeMs(String(row.timeframe))) ?? true,
  }) as AssetCheck<CanonicalBars>[];

  // Context bars before a month so its first bars are outlier/spike-tested like any other.
  const lookbackBars = Math.max(thresholds.outlier_window_bars, thresholds.dq_spike_window_bars);

  return defineAsset<CanonicalBars, {}, { refetch?: boolean }>({
    key: 'canonical_bars',
    description: 'UTC OHLCV bars in the canonical schema, one symbol × timeframe × month, within trading sessions, after the seed\'s DQ rules.',
    group: 'data',
    kinds: ['clickhouse', 'bars'],
    partitions: partitions.bars,
    config: z.strictObject({
      /** Fetch the whole month again even where an incremental fetch would do (after a provider revision). */
      refetch: z.boolean().optional(),
    }),
    codeVersion: '3',
    retry: { maxAttempts: 3, initialDelayMs: 200, maxDelayMs: 2000 },
    checks: [...barChecks, ...contractChecks],
    io,
    async compute(ctx) {
      const provider = ctx.resources.provider as MarketDataProvider | undefined;
      if (!provider) throw new OrreryError(ErrorIds.STEP_FAILED, 'No market-data provider is configured (resources.provider).', {});
      const metrics = ctx.resources.metrics ?? noMetrics;
      const { timeframe, symbol } = ctx.dimensions;
      const window = ctx.window!;
      const now = ctx.resources.clock.now().getTime();
      const step = timeframeMs(timeframe);
      const series = { symbol, timeframe };
      let log = ctx.log.child({ symbol, timeframe, run_id: ctx.runId, ingest_run_id: ctx.runId });
      // The DWH deletes bars older than the canonical retention: refuse to write a month that would vanish at once.
      // The first of the month, `canonical_months` before this month's (UTC).
      const today = new Date(now);
      const cutoffMs = Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - policies.retention.canonical_months, 1);
      if (window.end.getTime() <= cutoffMs) {
        const cutoff = DateTime.fromMillis(cutoffMs, { zone: 'UTC' });
        throw new OrreryError('DATA_RETENTION_EXPIRED', `${ctx.partitionKey} is older than the canonical retention (${policies.retention.canonical_months} months, before ${cutoff.toFormat('yyyy-MM')}); raise data_retention canonical_months or move pipeline_policy history_start.`, { cutoff: cutoff.toISODate() });
      }
      // Only closed bars exist: the month in progress is expected up to the last bar that has closed.
      const end = Math.min(window.end.getTime(), Math.floor(now / step) * step);
      if (end <= window.start.getTime()) throw new OrreryError('DATA_PARTITION_FUTURE', `${ctx.partitionKey} has no closed bar yet; materialize it once its first bar has closed.`, { window_start: window.start.toISOString() });

      // The bars that should exist: every bar start of the month (so far) inside the symbol's sessions.
      const calendar = calendars.get(symbol);
      const expected: string[] = [];
      for (let t = window.start.getTime(); t < end; t += step) if (!calendar || calendar.isOpen(t, t + step)) expected.push(toTsUtc(t));

      // The month in progress, stored before and clean, is extended from its watermark (the last
      // real bar stored — durable, since it is the data itself); a closed or quarantined month is fetched whole.
      const previous = !ctx.config.refetch && window.end.getTime() > now ? await ctx.previous() : undefined;
      const stored = previous?.status === 'materialized' ? ((await previous.load()) as CanonicalBar[]).filter((b) => b.quality_flag !== 'resampled') : [];
      const watermark = stored.length ? Date.parse(stored[stored.length - 1].ts_utc) : undefined;
      const fetchFrom = watermark !== undefined ? watermark + step : lookbackStart(window.start.getTime(), step, lookbackBars);
      const t0 = performance.now();
      const fetched = await provider.fetchTimeSeries({ symbol, timeframe, start: new Date(fetchFrom), end: new Date(end), ingestRunId: ctx.runId });
      const fetchMs = performance.now() - t0;
      // The sources that actually served (the provider may fail over between them).
      const source = [...new Set(fetched.map((b) => b.source_id))].sort().join(',') || provider.id;
      log = log.child({ source });
      const inWindow = (b: CanonicalBar) => Date.parse(b.ts_utc) >= window.start.getTime();
      const fresh = fetched.filter(inWindow);
      const lookback = watermark !== undefined ? stored : fetched.filter((b) => !inWindow(b));
      const bars = watermark !== undefined ? [...stored, ...fresh] : fresh;
      if (bars.length === 0 && expected.length > 0) {
        throw new OrreryError('DATA_API_NODATA', `${source} returned no bars for ${symbol} ${timeframe} in ${ctx.partitionKey} although ${expected.length} were expected; check the symbol mapping in sources.yaml and the source's coverage.`, { source, expected: expected.length });
      }

      const dq = runDq({ symbol, timeframe, bars, expected, lookback }, thresholds);
      const decision = quarantineDecision(dq.report, thresholds);
      const last = dq.bars[dq.bars.length - 1];
      const lagSeconds = last ? Math.max(0, (now - (Date.parse(last.ts_utc) + step)) / 1000) : null;

      metrics.set('data_missing_rate', series, dq.report.missing_rate);
      metrics.set('data_outlier_rate', series, dq.report.outlier_rate);
      if (dq.report.duplicates_dropped) metrics.inc('data_dedupe_drops_total', series, dq.report.duplicates_dropped);
      if (lagSeconds !== null) {
        metrics.set('data_pipeline_lag_seconds', series, lagSeconds);
        metrics.set('data_watermark_lag_bars', series, Math.floor((lagSeconds * 1000) / step));
        metrics.observe('data_freshness_minutes', { timeframe }, lagSeconds / 60);
      }
      log.info({ event: 'ingest', details: { partition: ctx.partitionKey, mode: watermark !== undefined ? 'incremental' : 'full', fetched: fetched.length, fetch_ms: Math.round(fetchMs), rows: dq.bars.length, missing_rate: dq.report.missing_rate, outlier_rate: dq.report.outlier_rate, duplicates_dropped: dq.report.duplicates_dropped } }, `ingested ${ctx.partitionKey}`);
      if (decision.quarantined) log.warn({ event: 'quarantine', errorId: decision.error_id, details: { reasons: decision.reasons } }, `quarantining ${ctx.partitionKey}`);

      const metadata = {
        rows: dq.bars.length,
        first_ts: dq.bars[0]?.ts_utc ?? null,
        last_ts: last?.ts_utc ?? null,
        source,
        ingest_run_id: ctx.runId,
        fetch: { mode: watermark !== undefined ? 'incremental' : 'full', from: toTsUtc(fetchFrom), watermark_before: watermark === undefined ? null : toTsUtc(watermark), fetched: fetched.length, lookback: lookback.length },
        dq: dq.report as unknown as JsonObject,
      };
      return {
        value: dq.bars,
        metadata,
        ...(decision.quarantined ? { quarantine: { reasons: decision.reasons, details: decision as unknown as JsonObject } } : {}),
      };
    },
  });
}

/** Where to start fetching so `bars` bars precede `start` even across a weekend or holiday week. */
function lookbackStart(start: number, step: number, bars: number): number {
  return start - Math.ceil(bars * 1.5) * step - 10 * 86_400_000;
}
