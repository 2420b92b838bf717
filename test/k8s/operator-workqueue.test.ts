import { describe, expect, it } from 'vitest';
import { ExponentialBackoff, WorkQueue } from '../../operator/runtime/workqueue.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('operator work queue', () => {
  it('processes a key queued twice once', async () => {
    const q = new WorkQueue({ concurrency: 2 });
    const seen: string[] = [];
    q.add('a'); q.add('a'); q.add('b'); q.add('a');
    q.run(async (k) => { seen.push(k); });
    await q.idle();
    expect(seen.sort()).toEqual(['a', 'b']);
  });

  it('never runs one key on two workers; a key re-added while processing runs again after', async () => {
    const q = new WorkQueue({ concurrency: 4 });
    let active = 0, maxActive = 0, runs = 0;
    q.run(async () => {
      active++; runs++; maxActive = Math.max(maxActive, active);
      await sleep(20);
      active--;
    });
    q.add('k');
    await sleep(5);
    q.add('k'); q.add('k'); // while processing: queued once more, after
    await q.idle();
    expect(maxActive).toBe(1);
    expect(runs).toBe(2);
  });

  it('limits workers to the configured concurrency', async () => {
    const q = new WorkQueue({ concurrency: 3 });
    let active = 0, maxActive = 0;
    q.run(async () => { active++; maxActive = Math.max(maxActive, active); await sleep(10); active--; });
    for (let i = 0; i < 20; i++) q.add(`k${i}`);
    await q.idle();
    expect(maxActive).toBe(3);
  });

  it('backs off exponentially from 5 ms, capped at 1000 s, and forgets on success', () => {
    const b = new ExponentialBackoff(5, 1_000_000);
    const delays = Array.from({ length: 30 }, () => b.when('x'));
    expect(delays.slice(0, 5)).toEqual([5, 10, 20, 40, 80]);
    expect(Math.max(...delays)).toBe(1_000_000);
    expect(delays.at(-1)).toBe(1_000_000);
    expect(b.when('y')).toBe(5); // per key
    b.forget('x');
    expect(b.when('x')).toBe(5);
  });

  it('retries a failing key with growing delays and resets after success', async () => {
    const q = new WorkQueue({ concurrency: 1, baseDelayMs: 10 });
    const times: number[] = [];
    q.run(async () => {
      times.push(Date.now());
      if (times.length < 4) throw new Error('boom');
    });
    q.add('k');
    while (times.length < 4) await sleep(5);
    await q.idle();
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    expect(gaps[0]).toBeGreaterThanOrEqual(9);
    expect(gaps[1]).toBeGreaterThanOrEqual(19);
    expect(gaps[2]).toBeGreaterThanOrEqual(39);
    expect(q.numRequeues('k')).toBe(0);
  });

  it('honours requeueAfter and shutdown waits for in-flight work, taking no more', async () => {
    const q = new WorkQueue({ concurrency: 1 });
    const done: string[] = [];
    q.run(async (k) => { await sleep(30); done.push(k); });
    q.add('a'); q.add('b');
    await sleep(5);
    await q.shutdown();
    expect(done).toEqual(['a']);
    q.add('c');
    await sleep(40);
    expect(done).toEqual(['a']);

    const r = new WorkQueue();
    let n = 0;
    r.run(async () => (++n < 3 ? { requeueAfterMs: 15 } : undefined));
    r.add('x');
    await sleep(100);
    expect(n).toBe(3);
  });
});
