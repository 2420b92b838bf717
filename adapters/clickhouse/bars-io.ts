/**
 * IO manager of canonical bars in the DWH: one Orrery partition (`TIMEFRAME|SYMBOL|YYYY-MM`) is
 * one ClickHouse partition of `canonical_bars`, replaced atomically on every write. The DWH is
 * the step's `resources.dwh`.
 *
 * The data version is the content hash of the bars as stored (canonical fields, ascending time,
 * sorted metadata keys), so the same bars give the same version whether a step returned them
 * (`write`) or a container step wrote them to a file (`adopt`), in whatever order.
 */
import { readFile, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { requireDwh } from '../../core/dwh.ts';
import { contentHash, type IOContext, type IOManager, type Written } from '../../core/definitions/io.ts';
import { ErrorIds, OrreryError } from '../../core/errors.ts';
import type { CanonicalBar } from '../../core/market-data.ts';
import { BARS_TABLE, canonicalBarsText, parseBarsPartition, readBarsPartition, stageBarsPartition, writeBarsPartition } from './bars-table.ts';

/** Content hash of a partition's bars in stored form (order- and key-order-independent). */
export function barsDataVersion(bars: CanonicalBar[]): string {
  return contentHash(canonicalBarsText(bars)); // = canonicalJson(normalizeBars(bars))
}

export function clickhouseBarsIO(): IOManager<CanonicalBar[]> {
  const uri = (ctx: IOContext) => `clickhouse://${BARS_TABLE}/${ctx.partitionKey}`;

  function checkArray(ctx: IOContext, bars: CanonicalBar[]): void {
    if (!Array.isArray(bars)) {
      throw new OrreryError(
        ErrorIds.STORAGE_WRITE,
        `Asset ${ctx.assetKey} partition ${ctx.partitionKey} produced ${typeof bars}, not an array of canonical bars. Return CanonicalBar[] (an empty array clears the partition).`,
        { assetKey: ctx.assetKey, partitionKey: ctx.partitionKey },
      );
    }
  }

  async function store(ctx: IOContext, bars: CanonicalBar[]): Promise<Written> {
    checkArray(ctx, bars);
    const partition = parseBarsPartition(ctx.partitionKey);
    // The data version is hashed while ClickHouse stores the rows.
    const dataVersion = await writeBarsPartition(requireDwh(ctx.resources), partition, bars, contentHash);
    return { uri: uri(ctx), dataVersion, metadata: { rows: bars.length, table: BARS_TABLE } };
  }

  return {
    write: store,
    stage(ctx, bars) {
      checkArray(ctx, bars);
      const staged = stageBarsPartition(requireDwh(ctx.resources), parseBarsPartition(ctx.partitionKey), bars, contentHash);
      return {
        commit: async () => ({ uri: uri(ctx), dataVersion: await staged.commit(), metadata: { rows: bars.length, table: BARS_TABLE } }),
        discard: () => staged.discard(),
      };
    },
    read: async (ctx) => readBarsPartition(requireDwh(ctx.resources), parseBarsPartition(ctx.partitionKey)),
    uri,
    async adopt(ctx, fromUri) {
      const path = fromUri.startsWith('file:') ? fileURLToPath(fromUri) : fromUri;
      let bars: unknown;
      try {
        bars = JSON.parse(await readFile(path, 'utf8'));
      } catch (e) {
        throw new OrreryError(
          ErrorIds.STEP_PROTOCOL,
          `The step's output at ${path} is not readable JSON: ${e instanceof Error ? e.message : String(e)}. A canonical-bars step writes a JSON array of bars to ORRERY_OUTPUT_URI.`,
          { assetKey: ctx.assetKey, partitionKey: ctx.partitionKey, fromUri },
          { cause: e },
        );
      }
      if (!Array.isArray(bars)) {
        throw new OrreryError(
          ErrorIds.STEP_PROTOCOL,
          `The step's output at ${path} is JSON but not an array. A canonical-bars step writes a JSON array of bars to ORRERY_OUTPUT_URI.`,
          { assetKey: ctx.assetKey, partitionKey: ctx.partitionKey, fromUri },
        );
      }
      const written = await store(ctx, bars as CanonicalBar[]);
      await rm(path, { force: true }); // taken over: the DWH holds it now
      return written;
    },
  };
}
