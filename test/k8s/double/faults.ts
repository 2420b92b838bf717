/** Fault injection for reliability tests: failing or slow requests, dropped and expired watches. */

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface FaultRule {
  method?: HttpMethod;
  /** Matched against the request path (no query string). */
  path?: RegExp;
  /** Answer with this status (a Status object with the matching reason) instead of serving. */
  status?: number;
  /** Delay before serving (or before failing). */
  delayMs?: number;
  /** How many matching requests it applies to (default 1; Infinity for "until cleared"). */
  times?: number;
  /** Only watch requests (`?watch=true`) or only non-watch requests. */
  watch?: boolean;
}

export type FaultPlan = FaultRule[];

export interface FaultHandle {
  /** Matching requests it has affected so far. */
  readonly hits: number;
  cancel(): void;
}

interface ActiveRule extends FaultRule {
  hits: number;
  left: number;
}

export class FaultController {
  private rules: ActiveRule[] = [];
  private expireNext = 0;
  /** Set by the server: closes every open watch connection abruptly. */
  dropper: () => number = () => 0;

  constructor(plan: FaultPlan = []) {
    for (const r of plan) this.add(r);
  }

  private add(rule: FaultRule): FaultHandle {
    const r: ActiveRule = { ...rule, hits: 0, left: rule.times ?? 1 };
    this.rules.push(r);
    return {
      get hits() {
        return r.hits;
      },
      cancel: () => {
        this.rules = this.rules.filter((x) => x !== r);
      },
    };
  }

  /** The next `times` requests matching method/path fail with `status` (500, 409, 429, 503…). */
  inject(o: { method?: HttpMethod; path?: RegExp; status: number; times?: number; watch?: boolean }): FaultHandle {
    return this.add(o);
  }

  /** The next `times` matching requests wait `ms` first (times: Infinity for a slow server). */
  delay(o: { method?: HttpMethod; path?: RegExp; ms: number; times?: number; watch?: boolean }): FaultHandle {
    return this.add({ method: o.method, path: o.path, delayMs: o.ms, times: o.times, watch: o.watch });
  }

  /** Closes every open watch stream now, without a final event (like a dropped connection). */
  dropWatches(): number {
    return this.dropper();
  }

  /** The next `times` watch requests that carry a resourceVersion get 410 Gone (Expired). */
  expireWatches(o: { times?: number } = {}): void {
    this.expireNext += o.times ?? 1;
  }

  clear(): void {
    this.rules = [];
    this.expireNext = 0;
  }

  /** Called by the server for each request: what to do, consuming the rules that apply. */
  match(method: string, path: string, isWatch: boolean): { status?: number; delayMs: number } {
    let status: number | undefined;
    let delayMs = 0;
    for (const r of this.rules) {
      if (r.left <= 0) continue;
      if (r.method && r.method !== method) continue;
      if (r.path && !r.path.test(path)) continue;
      if (r.watch !== undefined && r.watch !== isWatch) continue;
      if (r.status !== undefined && status !== undefined) continue;
      r.left--;
      r.hits++;
      if (r.status !== undefined) status = r.status;
      if (r.delayMs) delayMs += r.delayMs;
    }
    this.rules = this.rules.filter((r) => r.left > 0);
    return { status, delayMs };
  }

  takeWatchExpiry(): boolean {
    if (this.expireNext <= 0) return false;
    this.expireNext--;
    return true;
  }
}
