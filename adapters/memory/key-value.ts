import type { KeyValue } from '../../core/ports.ts';

/** The embedded key-value store: a Map with expiry, for one process. */
export class MemoryKeyValue implements KeyValue {
  private readonly data = new Map<string, { value: string; expiresAt: number }>();

  async get(key: string): Promise<string | undefined> {
    const e = this.data.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= Date.now()) { this.data.delete(key); return undefined; }
    return e.value;
  }

  async set(key: string, value: string, ttlSeconds?: number): Promise<void> {
    this.data.set(key, { value, expiresAt: ttlSeconds ? Date.now() + ttlSeconds * 1000 : Infinity });
  }

  async delete(key: string): Promise<void> {
    this.data.delete(key);
  }
}
