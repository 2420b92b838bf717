/**
 * The inference server's Prometheus metrics (seed 002 monitoring: `inference_latency_seconds`; NFR
 * 推論レイテンシ < 200 ms per pair and new bar, hence a 0.2 s bucket). Its own registry: one server,
 * one model version per process.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { SIGNALS } from './signal.ts';

export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5];

export class ServingMetrics {
  readonly registry = new Registry();
  /** Seconds from a `/predict` request's arrival to its answer, for answered predictions (HTTP 200). */
  readonly latency = new Histogram({ name: 'inference_latency_seconds', help: 'Latency of answered /predict requests in seconds: body read, validation, normalisation, both ONNX models, calibration, signal (SLO < 0.2 s per pair and new bar).', buckets: LATENCY_BUCKETS, registers: [this.registry] });
  /** Every `/predict` request by its HTTP status (200, 400, 413, 500, 503). */
  readonly requests = new Counter({ name: 'inference_requests_total', help: '/predict requests by HTTP status.', labelNames: ['status'], registers: [this.registry] });
  readonly rows = new Counter({ name: 'inference_rows_total', help: 'Rows scored by /predict.', registers: [this.registry] });
  readonly signals = new Counter({ name: 'inference_signals_total', help: 'Entry signals produced, by signal.', labelNames: ['signal'], registers: [this.registry] });
  readonly ready = new Gauge({ name: 'inference_ready', help: '1 while the model bundle is loaded and verified and the server takes predictions.', registers: [this.registry] });
  readonly model = new Gauge({ name: 'inference_model_info', help: 'The served model version (value 1).', labelNames: ['group', 'version', 'timeframe', 'key_id', 'feature_schema_hash'], registers: [this.registry] });

  constructor() {
    for (const s of SIGNALS) this.signals.inc({ signal: s }, 0);
    this.ready.set(0);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
