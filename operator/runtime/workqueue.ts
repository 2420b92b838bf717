/**
 * A rate-limited work queue in the manner of client-go's: a key queued twice is processed once,
 * a key is never processed by two workers at once (re-added while processing, it is queued again
 * after), failures back off exponentially per key, and shutdown finishes what is in flight.
 */
export interface WorkQueueOptions {
  /** Workers processing keys at once. */
  concurrency?: number;
  /** First retry delay of a failing key (ms); doubles per failure up to maxDelayMs. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Called when the queue depth changes (metrics). */
  onDepth?: (depth: number) => void;
}

/** What a handler returns: nothing (done), or a delay after which the key is looked at again. */
export type HandlerResult = void | { requeueAfterMs: number };
export type Handler = (key: string) => Promise<HandlerResult>;

/** Per-key exponential backoff: base × 2^failures, capped. */
export class ExponentialBackoff {
  private readonly failures = new Map<string, number>();
  constructor(private readonly baseMs = 5, private readonly maxMs = 1_000_000) {}

  when(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    return Math.min(this.maxMs, this.baseMs * 2 ** Math.min(n, 62));
  }
  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }
  forget(key: string): void {
    this.failures.delete(key);
  }
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private head = 0;
  /** Keys waiting in the queue (or to be requeued after processing). */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly backoff: ExponentialBackoff;
  private readonly concurrency: number;
  private handler?: Handler;
  private shuttingDown = false;
  private idleWaiters: Array<() => void> = [];
  private errorListener?: (key: string, error: unknown) => void;

  constructor(private readonly o: WorkQueueOptions = {}) {
    this.concurrency = Math.max(1, o.concurrency ?? 1);
    this.backoff = new ExponentialBackoff(o.baseDelayMs ?? 5, o.maxDelayMs ?? 1_000_000);
  }

  /** Starts workers calling `handler` for each key; a throw requeues the key with backoff. */
  run(handler: Handler, onError?: (key: string, error: unknown) => void): void {
    this.handler = handler;
    this.errorListener = onError;
    this.pump();
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    // A key being processed waits in `dirty` and is queued when its worker finishes.
    if (!this.processing.has(key)) this.queue.push(key);
    this.depthChanged();
    this.pump();
  }

  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    const at = Date.now() + delayMs;
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => { this.timers.delete(key); this.add(key); }, delayMs);
    timer.unref?.();
    this.timers.set(key, { at, timer });
  }

  /** Requeues after this key's next backoff delay. */
  addRateLimited(key: string): void {
    this.addAfter(key, this.backoff.when(key));
  }

  /** Clears the key's failure count (it succeeded). */
  forget(key: string): void {
    this.backoff.forget(key);
  }

  numRequeues(key: string): number {
    return this.backoff.retries(key);
  }

  get depth(): number {
    return this.queue.length - this.head;
  }

  get inFlight(): number {
    return this.processing.size;
  }

  /** Stops taking work (queued keys stay unprocessed) and resolves when in-flight keys finish. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    for (const t of this.timers.values()) clearTimeout(t.timer);
    this.timers.clear();
    if (this.processing.size === 0) return;
    await new Promise<void>((r) => this.idleWaiters.push(r));
  }

  /** Resolves when nothing is queued or processing (tests, benchmarks). */
  async idle(): Promise<void> {
    while (this.depth > 0 || this.processing.size > 0) await new Promise((r) => setTimeout(r, 5));
  }

  private pump(): void {
    const handler = this.handler;
    if (!handler) return;
    while (!this.shuttingDown && this.processing.size < this.concurrency && this.head < this.queue.length) {
      const key = this.queue[this.head++];
      if (this.head > 1024 && this.head * 2 > this.queue.length) { this.queue.splice(0, this.head); this.head = 0; }
      this.dirty.delete(key);
      this.processing.add(key);
      this.depthChanged();
      void this.process(handler, key);
    }
  }

  private async process(handler: Handler, key: string): Promise<void> {
    try {
      const result = await handler(key);
      this.forget(key);
      if (result && result.requeueAfterMs >= 0) this.addAfter(key, result.requeueAfterMs);
    } catch (e) {
      this.errorListener?.(key, e);
      if (!this.shuttingDown) this.addRateLimited(key);
    } finally {
      this.processing.delete(key);
      // Re-added while it was processing: now it may run again.
      if (this.dirty.has(key) && !this.shuttingDown) this.queue.push(key);
      this.depthChanged();
      if (this.shuttingDown && this.processing.size === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
      this.pump();
    }
  }

  private depthChanged(): void {
    this.o.onDepth?.(this.depth);
  }
}
