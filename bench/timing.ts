/** Process-CPU and wall timing for the benchmarks: CPU time is the robust figure on a shared 2-core box. */
export interface Timing { cpuMs: number; wallMs: number }

export function timed(fn: () => void): Timing {
  const c0 = process.cpuUsage(), t0 = performance.now();
  fn();
  const c = process.cpuUsage(c0);
  return { cpuMs: (c.user + c.system) / 1000, wallMs: performance.now() - t0 };
}

/** The fastest of several runs, CPU and wall separately. */
export function best(runs: Timing[]): Timing {
  return { cpuMs: Math.min(...runs.map((r) => r.cpuMs)), wallMs: Math.min(...runs.map((r) => r.wallMs)) };
}
