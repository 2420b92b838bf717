import { DateTime } from 'luxon';
import { z } from 'zod';
import { defineAsset } from '../../core/definitions/asset.ts';
import type { IOManager } from '../../core/definitions/io.ts';
import { SessionCalendar } from '../../core/partitions/calendars.ts';
import type { CanonicalBar, MarketDataProvider } from '../../core/market-data.ts';
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
  return defineAsset<CanonicalBars, {}, { source?: string }>({
    key: 'canonical_bars',
    description: 'UTC OHLCV bars in the canonical schema, one symbol × timeframe × month, within trading sessions.',
    group: 'data',
    kinds: ['clickhouse-ready', 'bars'],
    partitions: partitions.bars,
    config: z.strictObject({ source: z.string().optional() }),
    codeVersion: '1',
    retry: { maxAttempts: 3, initialDelayMs: 200, maxDelayMs: 2000 },
    checks: barChecks,
    io,
    async compute(ctx) {
      const provider = ctx.resources.provider as MarketDataProvider | undefined;
      if (!provider) throw new OrreryError(ErrorIds.STEP_FAILED, 'No market-data provider is configured (resources.provider).', {});
      const { timeframe, symbol } = ctx.dimensions;
      // The DWH deletes bars older than the canonical retention: refuse to write a month that would vanish at once.
      const cutoff = DateTime.fromJSDate(ctx.resources.clock.now(), { zone: 'UTC' }).startOf('month').minus({ months: policies.retention.canonical_months });
      if (ctx.window!.end.getTime() <= cutoff.toMillis()) {
        throw new OrreryError('DATA_RETENTION_EXPIRED', `${ctx.partitionKey} is older than the canonical retention (${policies.retention.canonical_months} months, before ${cutoff.toFormat('yyyy-MM')}); raise data_retention canonical_months or move pipeline_policy history_start.`, { cutoff: cutoff.toISODate() });
      }
      const fetched = await provider.fetchTimeSeries({ symbol, timeframe, start: ctx.window!.start, end: ctx.window!.end, ingestRunId: ctx.runId });
      const calendar = calendars.get(symbol);
      const stepMs = fetched.length > 1 ? Date.parse(fetched[1].ts_utc) - Date.parse(fetched[0].ts_utc) : 0;
      const bars = calendar ? fetched.filter((b) => { const t = Date.parse(b.ts_utc); return calendar.isOpen(t, t + (stepMs || 1)); }) : fetched;
      return {
        value: bars,
        metadata: {
          rows: bars.length,
          outside_session: fetched.length - bars.length,
          first_ts: bars[0]?.ts_utc ?? null,
          last_ts: bars[bars.length - 1]?.ts_utc ?? null,
          source: provider.id,
        },
      };
    },
  });
}
