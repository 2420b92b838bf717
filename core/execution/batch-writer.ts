import type { EventLog, Materialization } from '../event-log/port.ts';

/**
 * Group commit for materializations: steps that finish close together share one transaction.
 * A step's `record` resolves only after its row is durable, so a crash never forgets reported work.
 */
export class MaterializationWriter {
  private queue: Array<{ m: Materialization; resolve: () => void; reject: (e: unknown) => void }> = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly log: EventLog, private readonly options: { maxBatch?: number; maxDelayMs?: number } = {}) {}

  record(m: Materialization): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ m, resolve, reject });
      if (this.queue.length >= (this.options.maxBatch ?? 256)) void this.flush();
      else this.timer ??= setTimeout(() => void this.flush(), this.options.maxDelayMs ?? 5);
    });
  }

  flush(): Promise<void> {
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return this.flushing;
    this.flushing = this.flushing.then(async () => {
      try {
        await this.log.recordMaterializations(batch.map((b) => b.m));
        for (const b of batch) b.resolve();
      } catch (e) {
        for (const b of batch) b.reject(e);
      }
    });
    return this.flushing;
  }
}
