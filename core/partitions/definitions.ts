import { ErrorIds, OrreryError } from '../errors.ts';

/** The storage key of an unpartitioned asset's single materialization. */
export const NO_PARTITION = '';

/** Separates the dimensions of a multi-dimensional key: `1h|XAUUSD|2024-03`. */
export const DIMENSION_SEPARATOR = '|';

export interface PartitionsDescription {
  kind: 'time' | 'static' | 'dynamic' | 'multi';
  [k: string]: unknown;
}

/** Which partitions an asset has. Keys stream in order; nothing forces all keys into memory. */
export interface PartitionsDefinition {
  readonly kind: PartitionsDescription['kind'];
  keys(): Iterable<string>;
  count(): number;
  has(key: string): boolean;
  describe(): PartitionsDescription;
}

export function assertValidKeyPart(key: string, where: string): void {
  if (key.length === 0 || /[|,\n\r\t]/.test(key)) {
    throw new OrreryError(ErrorIds.PARTITION_INVALID, `Partition key ${JSON.stringify(key)} in ${where} is empty or contains one of | , or a control character; pick a plain key.`, { key, where });
  }
}

export class StaticPartitions implements PartitionsDefinition {
  readonly kind = 'static' as const;
  private readonly set: Set<string>;

  constructor(readonly keyList: readonly string[]) {
    for (const k of keyList) assertValidKeyPart(k, 'static partitions');
    this.set = new Set(keyList);
    if (this.set.size !== keyList.length) throw new OrreryError(ErrorIds.PARTITION_INVALID, 'Static partitions contain a duplicate key; list each key once.', { keys: keyList });
  }
  keys(): Iterable<string> { return this.keyList; }
  count(): number { return this.keyList.length; }
  has(key: string): boolean { return this.set.has(key); }
  indexOf(key: string): number { return this.keyList.indexOf(key); }
  describe(): PartitionsDescription { return { kind: 'static', keys: [...this.keyList] }; }
}

/**
 * Partitions registered at run time (new pairs or symbols). The registry is process-local;
 * the event log persists additions and the runtime reloads them at start.
 */
export class DynamicPartitions implements PartitionsDefinition {
  readonly kind = 'dynamic' as const;
  private readonly ordered: string[] = [];
  private readonly set = new Set<string>();

  constructor(readonly name: string, initial: readonly string[] = []) {
    this.add(initial);
  }
  add(keys: readonly string[]): string[] {
    const added: string[] = [];
    for (const k of keys) {
      assertValidKeyPart(k, `dynamic partitions "${this.name}"`);
      if (!this.set.has(k)) { this.set.add(k); this.ordered.push(k); added.push(k); }
    }
    return added;
  }
  keys(): Iterable<string> { return this.ordered; }
  count(): number { return this.ordered.length; }
  has(key: string): boolean { return this.set.has(key); }
  describe(): PartitionsDescription { return { kind: 'dynamic', name: this.name, keys: [...this.ordered] }; }
}

/** A cartesian product of named dimensions; keys join the dimension keys with `|` in declared order. */
export class MultiPartitions implements PartitionsDefinition {
  readonly kind = 'multi' as const;
  readonly dimensionNames: readonly string[];

  constructor(readonly dimensions: ReadonlyArray<readonly [name: string, def: PartitionsDefinition]>) {
    if (dimensions.length < 2) throw new OrreryError(ErrorIds.PARTITION_INVALID, 'Multi partitions need at least two dimensions; use the single definition directly.', {});
    for (const [, def] of dimensions) {
      if (def.kind === 'multi') throw new OrreryError(ErrorIds.PARTITION_INVALID, 'Multi partitions cannot nest; flatten the dimensions into one list.', {});
    }
    this.dimensionNames = dimensions.map(([n]) => n);
    if (new Set(this.dimensionNames).size !== this.dimensionNames.length) throw new OrreryError(ErrorIds.PARTITION_INVALID, 'Multi partition dimension names must be distinct.', { dims: this.dimensionNames });
  }

  dimension(name: string): PartitionsDefinition {
    const d = this.dimensions.find(([n]) => n === name);
    if (!d) throw new OrreryError(ErrorIds.PARTITION_INVALID, `No dimension "${name}" in partitions (${this.dimensionNames.join(', ')}).`, { name });
    return d[1];
  }

  split(key: string): Record<string, string> {
    const parts = key.split(DIMENSION_SEPARATOR);
    if (parts.length !== this.dimensions.length) {
      throw new OrreryError(ErrorIds.PARTITION_UNKNOWN, `Partition key "${key}" should have ${this.dimensions.length} parts (${this.dimensionNames.join(DIMENSION_SEPARATOR)}).`, { key });
    }
    const out: Record<string, string> = {};
    this.dimensionNames.forEach((n, i) => { out[n] = parts[i]; });
    return out;
  }

  join(parts: Record<string, string>): string {
    return this.dimensionNames.map((n) => parts[n]).join(DIMENSION_SEPARATOR);
  }

  *keys(): Iterable<string> {
    const lists = this.dimensions.map(([, d]) => [...d.keys()]);
    if (lists.some((l) => l.length === 0)) return;
    const idx = new Array<number>(lists.length).fill(0);
    for (;;) {
      yield lists.map((l, i) => l[idx[i]]).join(DIMENSION_SEPARATOR);
      let d = lists.length - 1;
      while (d >= 0) {
        idx[d]++;
        if (idx[d] < lists[d].length) break;
        idx[d] = 0;
        d--;
      }
      if (d < 0) return;
    }
  }

  count(): number {
    return this.dimensions.reduce((n, [, d]) => n * d.count(), 1);
  }

  has(key: string): boolean {
    const parts = key.split(DIMENSION_SEPARATOR);
    return parts.length === this.dimensions.length && this.dimensions.every(([, d], i) => d.has(parts[i]));
  }

  describe(): PartitionsDescription {
    return { kind: 'multi', dimensions: this.dimensions.map(([name, d]) => ({ name, ...d.describe() })) };
  }
}
