/**
 * The ports the kernel depends on. Adapters (`adapters/`) implement them; `core/` never imports
 * an adapter.
 */
export type { EventLog } from './event-log/port.ts';

/** Whole-object storage with atomic writes: a reader sees the old object or the new one, never half. */
export interface ObjectStore {
  /** Writes `bytes` under `key` atomically (temp + rename, or the store's equivalent). */
  put(key: string, bytes: Uint8Array | string): Promise<{ uri: string; size: number }>;
  get(key: string): Promise<Uint8Array>;
  exists(key: string): Promise<boolean>;
  delete(key: string): Promise<void>;
  list(prefix: string): AsyncIterable<string>;
  /** Where a step in another process can read or write the object (a path or a URL). */
  uri(key: string): string;
  /** Moves an object that a step wrote to `fromUri` under `key`, atomically. */
  adopt(fromUri: string, key: string): Promise<{ uri: string; size: number }>;
  /** A fresh location a container step may write its output to before it is adopted. */
  scratchUri(hint: string): string;
}

/** A small key-value store (Redis in cluster mode, memory embedded). */
export interface KeyValue {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlSeconds?: number): Promise<void>;
  delete(key: string): Promise<void>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
