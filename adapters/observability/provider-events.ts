/**
 * Market-data provider events → the seed's metrics and JSON log lines (seed 002 monitoring v1:
 * `data_retry_total`, `data_api_latency_ms`, `data_ingest_success_rate`, breaker state, failover).
 */
import type { Logger } from 'pino';
import type { Metrics } from '../../core/metrics.ts';
import type { BreakerState, ResilienceEvent } from '../providers/resilient.ts';

const BREAKER_LEVEL: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

export function providerEventObserver(metrics: Metrics, logger: Logger): (e: ResilienceEvent) => void {
  const requests = new Map<string, { ok: number; total: number }>();
  return (e) => {
    switch (e.type) {
      case 'request': {
        const r = requests.get(e.source) ?? { ok: 0, total: 0 };
        r.total++;
        if (e.ok) r.ok++;
        requests.set(e.source, r);
        metrics.inc('data_api_requests_total', { source: e.source, outcome: e.ok ? 'ok' : 'error' });
        metrics.set('data_ingest_success_rate', { source: e.source }, r.ok / r.total);
        metrics.observe('data_api_latency_ms', { source: e.source }, e.latencyMs);
        if (!e.ok) logger.warn({ event: 'api_error', source: e.source, symbol: e.symbol, timeframe: e.timeframe, errorId: e.errorId, details: { latency_ms: Math.round(e.latencyMs) } }, `${e.source} failed for ${e.symbol} ${e.timeframe}`);
        return;
      }
      case 'retry':
        metrics.inc('data_retry_total', { source: e.source, error_id: e.errorId });
        logger.warn({ event: 'retry', source: e.source, timeframe: e.timeframe, errorId: e.errorId, details: { retry: e.retry, delay_ms: e.delayMs } }, e.message);
        return;
      case 'dedupe':
        metrics.inc('data_dedupe_drops_total', { symbol: e.symbol, timeframe: e.timeframe }, e.dropped);
        return;
      case 'breaker':
        metrics.set('data_circuit_state', { source: e.source, timeframe: e.timeframe }, BREAKER_LEVEL[e.to]);
        logger.warn({ event: 'circuit', source: e.source, timeframe: e.timeframe, errorId: e.to === 'open' ? 'DATA_CIRCUIT_OPEN' : undefined, details: { from: e.from, to: e.to } }, `circuit ${e.source}/${e.timeframe}: ${e.from} → ${e.to}`);
        return;
      case 'failover':
        metrics.inc('data_failover_total', { from: e.from, to: e.to ?? 'none' });
        logger.warn({ event: 'failover', symbol: e.symbol, timeframe: e.timeframe, details: { from: e.from, to: e.to, reason: e.reason } }, `failover ${e.from} → ${e.to ?? 'none'}`);
        return;
      case 'failback':
        logger.info({ event: 'failback', symbol: e.symbol, timeframe: e.timeframe, details: { from: e.from, to: e.to } }, `failback ${e.from} → ${e.to}`);
        return;
      case 'conflict':
        metrics.inc('data_conflicts_total', { symbol: e.symbol, timeframe: e.timeframe }, e.count);
        logger.warn({ event: 'conflict', symbol: e.symbol, timeframe: e.timeframe, details: { count: e.count, secondary: e.secondary } }, `${e.count} bar(s) disagree with ${e.secondary}`);
        return;
    }
  };
}
