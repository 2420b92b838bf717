/**
 * The metrics port. Assets, the runtime and adapters record by the seeds' metric names
 * (`data_missing_rate`, `pipeline_runs_total`, …); an adapter exports them (Prometheus on
 * `/metrics`). The kernel stays free of the exporter: without one, `noMetrics` drops everything.
 */
export type MetricLabels = Record<string, string>;

export interface Metrics {
  /** Adds `by` (default 1) to a counter. */
  inc(name: string, labels?: MetricLabels, by?: number): void;
  /** Sets a gauge. */
  set(name: string, labels: MetricLabels, value: number): void;
  /** Records one observation of a histogram or summary. */
  observe(name: string, labels: MetricLabels, value: number): void;
}

export const noMetrics: Metrics = { inc: () => undefined, set: () => undefined, observe: () => undefined };
