import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { JsonObject } from '../event-log/port.ts';
import type { Resources } from './resources.ts';

export interface IOContext {
  assetKey: string;
  partitionKey: string;
  resources: Resources;
}

export interface Written {
  uri: string;
  /** Content hash of what was stored: the data version downstream staleness compares. */
  dataVersion: string;
  metadata?: JsonObject;
}

/** How an asset's value is stored and read back. Writes are atomic: a crash leaves the old value. */
export interface IOManager<T> {
  write(ctx: IOContext, value: T): Promise<Written>;
  read(ctx: IOContext): Promise<T>;
  /** Where another process (a container step) can read the stored value. */
  uri(ctx: IOContext): string;
  /** Takes over the file a container step wrote to `fromUri`, as the stored value. */
  adopt(ctx: IOContext, fromUri: string): Promise<Written>;
  /**
   * Optional: `write` in two halves. Starts storing `value` out of sight (nothing a reader sees
   * changes); `commit` makes it the stored value atomically, `discard` drops it. The executor
   * stages before the checks run, so storing overlaps them.
   */
  stage?(ctx: IOContext, value: T): StagedWrite;
}

/** A staged write: exactly one of `commit` or `discard` is called. */
export interface StagedWrite {
  commit(): Promise<Written>;
  discard(): Promise<void>;
}

export function contentHash(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function objectKeyFor(assetKey: string, partitionKey: string, extension: string): string {
  const part = partitionKey === '' ? '__all__' : encodeURIComponent(partitionKey);
  return `assets/${assetKey}/${part}.${extension}`;
}

/** The IO manager an asset stores through: its own, or JSON in the object store. */
export function ioOf(def: { io?: IOManager<any> }): IOManager<unknown> {
  return (def.io as IOManager<unknown> | undefined) ?? jsonObjectIO();
}

/** The default IO manager: one JSON document per partition in the object store. */
export function jsonObjectIO<T>(): IOManager<T> {
  const key = (ctx: IOContext) => objectKeyFor(ctx.assetKey, ctx.partitionKey, 'json');
  return {
    async write(ctx, value) {
      const bytes = JSON.stringify(value);
      const { uri, size } = await ctx.resources.objectStore.put(key(ctx), bytes);
      return { uri, dataVersion: contentHash(bytes), metadata: { bytes: size } };
    },
    async read(ctx) {
      const bytes = await ctx.resources.objectStore.get(key(ctx));
      return JSON.parse(Buffer.from(bytes).toString('utf8')) as T;
    },
    uri: (ctx) => ctx.resources.objectStore.uri(key(ctx)),
    async adopt(ctx, fromUri) {
      const bytes = await readFile(fromUri);
      JSON.parse(bytes.toString('utf8')); // refuse to store output that is not JSON
      const { uri, size } = await ctx.resources.objectStore.adopt(fromUri, key(ctx));
      return { uri, dataVersion: contentHash(bytes), metadata: { bytes: size } };
    },
  };
}

/** Opaque bytes (a model file, a Parquet file) stored as they are. */
export function binaryObjectIO(extension: string): IOManager<Uint8Array> {
  const key = (ctx: IOContext) => objectKeyFor(ctx.assetKey, ctx.partitionKey, extension);
  return {
    async write(ctx, value) {
      const { uri, size } = await ctx.resources.objectStore.put(key(ctx), value);
      return { uri, dataVersion: contentHash(value), metadata: { bytes: size } };
    },
    read: (ctx) => ctx.resources.objectStore.get(key(ctx)),
    uri: (ctx) => ctx.resources.objectStore.uri(key(ctx)),
    async adopt(ctx, fromUri) {
      const bytes = await readFile(fromUri);
      const { uri, size } = await ctx.resources.objectStore.adopt(fromUri, key(ctx));
      return { uri, dataVersion: contentHash(bytes), metadata: { bytes: size } };
    },
  };
}
