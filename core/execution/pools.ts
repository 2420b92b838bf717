/** Named concurrency pools (`cpu`, `gpu`, user-defined) under one overall limit. */
export class Pools {
  private readonly used = new Map<string, number>();
  private total = 0;

  constructor(private readonly limits: Record<string, number>, private readonly overall: number) {}

  tryAcquire(pool: string): boolean {
    const limit = this.limits[pool] ?? this.overall;
    const used = this.used.get(pool) ?? 0;
    if (used >= limit || this.total >= this.overall) return false;
    this.used.set(pool, used + 1);
    this.total++;
    return true;
  }

  release(pool: string): void {
    this.used.set(pool, (this.used.get(pool) ?? 1) - 1);
    this.total--;
  }
}
