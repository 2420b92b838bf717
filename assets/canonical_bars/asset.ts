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

  return defineAsset<CanonicalBars, {}, { source?: string }>({
    key: 'canonical_bars',
    description: 'UTC OHLCV bars in the canonical schema, one symbol × timeframe × month, within trading sessions, after the seed\'s DQ rules.',
    group: 'data',
    kinds: ['clickhouse', 'bars'],
    partitions: partitions.bars,
    config: z.strictObject({ source: z.string().optional() }),
    codeVersion: '2',
    retry: { maxAttempts: 3, initialDelayMs: 200, maxDelayMs: 2000 },
    checks: [...barChecks, ...contractChecks],
    io,
    async compute(ctx) {
      const provider = ctx.resources.provider as MarketDataProvider | undefined;
      if (!provider) throw new OrreryError(ErrorIds.STEP_FAILED, 'No market-data provider is configured (resources.provider).', {});
      const { timeframe, symbol } = ctx.dimensions;
      const window = ctx.window!;
      // The DWH deletes bars older than the canonical retention: refuse to write a month that would vanish at once.
      const cutoff = DateTime.fromJSDate(ctx.resources.clock.now(), { zone: 'UTC' }).startOf('month').minus({ months: policies.retention.canonical_months });
      if (window.end.getTime() <= cutoff.toMillis()) {
        throw new OrreryError('DATA_RETENTION_EXPIRED', `${ctx.partitionKey} is older than the canonical retention (${policies.retention.canonical_months} months, before ${cutoff.toFormat('yyyy-MM')}); raise data_retention canonical_months or move pipeline_policy history_start.`, { cutoff: cutoff.toISODate() });
      }
      const fetched = await provider.fetchTimeSeries({ symbol, timeframe, start: window.start, end: window.end, ingestRunId: ctx.runId });

      // The bars that should exist: every bar start of the month inside the symbol's sessions.
      const step = timeframeMs(timeframe);
      const calendar = calendars.get(symbol);
      const expected: string[] = [];
      for (let t = window.start.getTime(); t < window.end.getTime(); t += step) if (!calendar || calendar.isOpen(t, t + step)) expected.push(toTsUtc(t));

      const dq = runDq({ symbol, timeframe, bars: fetched, expected }, thresholds);
      const decision = quarantineDecision(dq.report, thresholds);
      const metadata = { rows: dq.bars.length, first_ts: dq.bars[0]?.ts_utc ?? null, last_ts: dq.bars[dq.bars.length - 1]?.ts_utc ?? null, source: provider.id, dq: dq.report as unknown as JsonObject };
      if (decision.quarantined) ctx.log.warn({ errorId: decision.error_id, reasons: decision.reasons }, `quarantining ${ctx.partitionKey}`);
      return {
        value: dq.bars,
        metadata,
        ...(decision.quarantined ? { quarantine: { reasons: decision.reasons, details: decision as unknown as JsonObject } } : {}),
      };
    },
  });
}
