/**
 * Prometheus export of the metrics port, with the seeds' names (seed 002 monitoring v1, seed 004
 * §10). Every metric is declared here once — name, type, help, labels — and recording an
 * undeclared name or label throws, so a typo fails a test instead of vanishing from a dashboard.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';
import { OrreryError } from '../../core/errors.ts';
import type { MetricLabels, Metrics } from '../../core/metrics.ts';

type Spec =
  | { type: 'counter'; help: string; labels: readonly string[] }
  | { type: 'gauge'; help: string; labels: readonly string[] }
  | { type: 'histogram'; help: string; labels: readonly string[]; buckets: number[] }
  | { type: 'summary'; help: string; labels: readonly string[]; percentiles: number[] };

const SERIES = ['symbol', 'timeframe'] as const;

/** The catalog: what Orrery exports. */
export const METRICS = {
  // seed 002, data pipeline
  data_ingest_success_rate: { type: 'gauge', help: 'Share of market-data requests that succeeded, per source (SLO ≥ 0.99 daily).', labels: ['source'] },
  data_api_requests_total: { type: 'counter', help: 'Market-data requests by source and outcome (ok|error).', labels: ['source', 'outcome'] },
  data_api_latency_ms: { type: 'summary', help: 'Market-data request latency in ms (p50/p95).', labels: ['source'], percentiles: [0.5, 0.95, 0.99] },
  data_missing_rate: { type: 'gauge', help: 'Missing-bar rate of the latest ingested partition.', labels: SERIES },
  data_outlier_rate: { type: 'gauge', help: 'Outlier rate of the latest ingested partition.', labels: SERIES },
  data_pipeline_lag_seconds: { type: 'gauge', help: 'Seconds from the close of the newest stored bar to the time it was stored.', labels: SERIES },
  data_watermark_lag_bars: { type: 'gauge', help: 'Bars between the newest stored bar and now.', labels: SERIES },
  data_retry_total: { type: 'counter', help: 'Retried market-data requests.', labels: ['source', 'error_id'] },
  data_dedupe_drops_total: { type: 'counter', help: 'Duplicate bars dropped (latest wins).', labels: SERIES },
  data_failover_total: { type: 'counter', help: 'Switches to a lower-priority source.', labels: ['from', 'to'] },
  data_circuit_state: { type: 'gauge', help: 'Circuit breaker state per source × timeframe (0 closed, 1 half-open, 2 open).', labels: ['source', 'timeframe'] },
  data_conflicts_total: { type: 'counter', help: 'Bars flagged conflict (primary and secondary disagree).', labels: SERIES },
  dq_fail_total: { type: 'counter', help: 'Failed data-quality checks and quarantined partitions.', labels: ['asset', 'check'] },
  data_freshness_minutes: { type: 'histogram', help: 'Minutes from a bar\'s close to its storage.', labels: ['timeframe'], buckets: [1, 2, 5, 10, 30, 60, 240, 1440, 10080, 43200] },
  // seed 004 §10, kernel
  pipeline_runs_total: { type: 'counter', help: 'Runs by terminal status.', labels: ['status', 'pipeline'] },
  step_duration_seconds: { type: 'histogram', help: 'Duration of a materialization step.', labels: ['asset', 'outcome'], buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600, 3600] },
} as const satisfies Record<string, Spec>;

export type MetricName = keyof typeof METRICS;

type Instrument = Counter<string> | Gauge<string> | Histogram<string> | Summary<string>;

export class PrometheusMetrics implements Metrics {
  readonly registry = new Registry();
  private readonly instruments = new Map<string, { spec: Spec; instrument: Instrument }>();

  constructor() {
    for (const [name, s] of Object.entries(METRICS) as [string, Spec][]) {
      const common = { name, help: s.help, labelNames: [...s.labels], registers: [this.registry] };
      const instrument =
        s.type === 'counter' ? new Counter(common)
        : s.type === 'gauge' ? new Gauge(common)
        : s.type === 'histogram' ? new Histogram({ ...common, buckets: s.buckets })
        : new Summary({ ...common, percentiles: s.percentiles, maxAgeSeconds: 600, ageBuckets: 5 });
      this.instruments.set(name, { spec: s, instrument });
    }
  }

  inc(name: string, labels: MetricLabels = {}, by = 1): void {
    (this.get(name, 'counter', labels) as Counter<string>).inc(labels, by);
  }

  set(name: string, labels: MetricLabels, value: number): void {
    (this.get(name, 'gauge', labels) as Gauge<string>).set(labels, value);
  }

  observe(name: string, labels: MetricLabels, value: number): void {
    (this.get(name, ['histogram', 'summary'], labels) as Histogram<string>).observe(labels, value);
  }

  /** The text exposition format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  private get(name: string, types: Spec['type'] | Spec['type'][], labels: MetricLabels): Instrument {
    const entry = this.instruments.get(name);
    const allowed = Array.isArray(types) ? types : [types];
    if (!entry || !allowed.includes(entry.spec.type)) {
      throw new OrreryError('CORE_METRIC_UNKNOWN', `No ${allowed.join('/')} metric named '${name}' is declared in adapters/observability/prometheus.ts.`, { name });
    }
    const extra = Object.keys(labels).filter((l) => !entry.spec.labels.includes(l));
    if (extra.length) throw new OrreryError('CORE_METRIC_UNKNOWN', `Metric '${name}' has no label(s) ${extra.join(', ')} (declared: ${entry.spec.labels.join(', ')}).`, { name, extra });
    return entry.instrument;
  }
}

/** Serves `GET /metrics` (Prometheus text format) and `GET /healthz` (the liveness probe) until closed. */
export async function serveMetrics(metrics: PrometheusMetrics, opts: { port: number; host?: string }): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at /metrics\n');
      return;
    }
    metrics.text().then(
      (body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body),
      (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`CORE_METRIC_EXPORT: ${String(e)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  return { server, url: `http://${opts.host ?? '127.0.0.1'}:${port}/metrics`, close: () => new Promise((r) => server.close(() => r())) };
}
