/** The operator's Prometheus metrics, registered beside the instance's (served on the same /metrics). */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export class OperatorMetrics {
  readonly reconciles: Counter<'kind' | 'result'>;
  readonly duration: Histogram<'kind'>;
  readonly queueDepth: Gauge;
  readonly leader: Gauge;
  readonly jobsCreated: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.reconciles = new Counter({ name: 'operator_reconcile_total', help: 'Reconciles by kind and result (success|error|requeue).', labelNames: ['kind', 'result'], registers });
    this.duration = new Histogram({ name: 'operator_reconcile_duration_seconds', help: 'Duration of one reconcile.', labelNames: ['kind'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30], registers });
    this.queueDepth = new Gauge({ name: 'operator_queue_depth', help: 'Keys waiting in the work queue.', registers });
    this.leader = new Gauge({ name: 'operator_is_leader', help: '1 while this replica holds the leader lease.', registers });
    this.jobsCreated = new Counter({ name: 'operator_jobs_created_total', help: 'Jobs created for Materializations.', registers });
  }
}
