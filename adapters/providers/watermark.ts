/**
 * Watermarks (seed 002: "ウォーターマーク: シンボル×足の `last_ts` を保持し差分取得（再実行安全）",
 * "`last_ts` を durable に保存。リカバリ時は `last_ts+1` から再取得").
 *
 * A watermark is the `ts_utc` of the last bar of (symbol, timeframe) that is SAVED downstream.
 * `incrementalFetch` fetches from watermark + one bar, hands each page to `save`, and advances the
 * watermark only after `save` resolved — so a crash (or a throwing `save`) between fetching and
 * saving leaves the watermark where it was and the rerun fetches the same bars again
 * (at-least-once; the saver's idempotent overwrite / latest-wins dedupe absorbs the repeat).
 *
 * `FsWatermarkStore` keeps every watermark in one JSON file
 *   { "version": 1, "watermarks": { "XAUUSD|1h": "2024-03-01T05:00:00.000Z", … } }
 * written temp + fsync + rename (+ fsync of the directory): a reader sees the old file or the new
 * one, never half. `advance` never moves a watermark backwards. Writers in one process are
 * serialised; the file is meant for one writing process at a time.
 */
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { OrreryError } from '../../core/errors.ts';
import { MarketDataErrorIds, timeframeMs, toTsUtc, type CanonicalBar, type MarketDataProvider } from '../../core/market-data.ts';
import { ProviderErrorIds, checkRange } from './http.ts';

export interface WatermarkStore {
  /** `ts_utc` of the last saved bar of (symbol, timeframe); undefined when none. */
  get(symbol: string, timeframe: string): Promise<string | undefined>;
  /** Moves the watermark to `ts` if that is later than the current one; never backwards. */
  advance(symbol: string, timeframe: string, ts: string): Promise<void>;
}

function key(symbol: string, timeframe: string): string {
  if (!symbol || symbol.includes('|') || !timeframe || timeframe.includes('|')) {
    throw new OrreryError(MarketDataErrorIds.REQUEST_INVALID, `Watermark key needs a symbol and timeframe without '|' (got '${symbol}', '${timeframe}').`, { symbol, timeframe });
  }
  return `${symbol}|${timeframe}`;
}

function normalizeTs(ts: string): string {
  const ms = typeof ts === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(ts) ? Date.parse(ts) : Number.NaN;
  if (!Number.isFinite(ms)) throw new OrreryError(MarketDataErrorIds.REQUEST_INVALID, `Watermark timestamp '${String(ts)}' is not an RFC3339 timestamp.`, { ts });
  return toTsUtc(ms);
}

/** In-memory store (tests, one-off runs). */
export class MemoryWatermarkStore implements WatermarkStore {
  private readonly marks = new Map<string, string>();

  async get(symbol: string, timeframe: string): Promise<string | undefined> {
    return this.marks.get(key(symbol, timeframe));
  }

  async advance(symbol: string, timeframe: string, ts: string): Promise<void> {
    const k = key(symbol, timeframe);
    const next = normalizeTs(ts);
    const cur = this.marks.get(k);
    if (cur === undefined || Date.parse(next) > Date.parse(cur)) this.marks.set(k, next);
  }
}

type WatermarkFile = { version: 1; watermarks: Record<string, string> };

export class FsWatermarkStore implements WatermarkStore {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(readonly filePath: string) {}

  private ioError(message: string, cause: unknown): OrreryError {
    return new OrreryError(ProviderErrorIds.WATERMARK_IO, `Watermark file ${this.filePath}: ${message}`, { path: this.filePath }, { cause });
  }

  private async read(): Promise<WatermarkFile> {
    let text: string;
    try {
      text = await readFile(this.filePath, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, watermarks: {} };
      throw this.ioError('cannot be read.', e);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw this.ioError('is not valid JSON; fix or remove it (every series will then be fetched from its start).', e);
    }
    const p = parsed as Partial<WatermarkFile>;
    if (!p || p.version !== 1 || typeof p.watermarks !== 'object' || p.watermarks === null) {
      throw this.ioError('is not a version-1 watermark file ({"version":1,"watermarks":{…}}).', undefined);
    }
    for (const [k, v] of Object.entries(p.watermarks)) {
      if (typeof v !== 'string' || !Number.isFinite(Date.parse(v))) throw this.ioError(`entry '${k}' is not a timestamp.`, undefined);
    }
    return p as WatermarkFile;
  }

  private async write(data: WatermarkFile): Promise<void> {
    const dir = dirname(this.filePath);
    const tmp = join(dir, `.${basename(this.filePath)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await mkdir(dir, { recursive: true });
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(JSON.stringify(data, null, 2) + '\n', 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.filePath);
      const dh = await open(dir, 'r');
      try {
        await dh.sync();
      } catch {
        /* directories cannot be fsynced on every platform */
      } finally {
        await dh.close();
      }
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw this.ioError('cannot be written.', e);
    }
  }

  /** Runs `fn` after every earlier call on this store has finished. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  get(symbol: string, timeframe: string): Promise<string | undefined> {
    const k = key(symbol, timeframe);
    return this.serial(async () => (await this.read()).watermarks[k]);
  }

  advance(symbol: string, timeframe: string, ts: string): Promise<void> {
    const k = key(symbol, timeframe);
    const next = normalizeTs(ts);
    return this.serial(async () => {
      const data = await this.read();
      const cur = data.watermarks[k];
      if (cur !== undefined && Date.parse(cur) >= Date.parse(next)) return;
      data.watermarks[k] = next;
      await this.write(data);
    });
  }

  /** Every watermark, for status pages and tests. */
  all(): Promise<Record<string, string>> {
    return this.serial(async () => ({ ...(await this.read()).watermarks }));
  }
}

export type IncrementalFetchRequest = {
  symbol: string;
  timeframe: string;
  /** Where to start when there is no watermark yet (inclusive). */
  start: Date;
  /** Exclusive end. */
  end: Date;
  ingestRunId: string;
  /** Bars asked for per provider call; default the provider's maxBarsPerRequest (or everything at once). */
  pageLimit?: number;
  /** Upper bound on provider calls; default 10000. */
  maxPages?: number;
};

export type IncrementalFetchResult = {
  /** Watermark found at the start (undefined: none). */
  previousWatermark: string | undefined;
  /** First bar start asked for. */
  from: string;
  /** Bars fetched and saved. */
  saved: number;
  pages: number;
  /** Watermark at the end. */
  watermark: string | undefined;
};

/**
 * Fetches the bars of (symbol, timeframe) after the watermark (or from `start`) up to `end`,
 * page by page; each page is passed to `save` and, only once `save` resolved, the watermark
 * advances to the page's last bar. A throwing `save` propagates and leaves the watermark at the
 * last page that was saved.
 */
export async function incrementalFetch(
  provider: MarketDataProvider,
  store: WatermarkStore,
  req: IncrementalFetchRequest,
  save: (bars: CanonicalBar[]) => Promise<void>,
): Promise<IncrementalFetchResult> {
  const tfMs = timeframeMs(req.timeframe);
  const { startMs, endMs } = checkRange(req.start, req.end, req.pageLimit);
  const previous = await store.get(req.symbol, req.timeframe);
  let cursor = previous === undefined ? startMs : Math.max(startMs, Date.parse(previous) + tfMs);
  const from = toTsUtc(cursor);
  const pageLimit = req.pageLimit ?? provider.getCapabilities().limits.maxBarsPerRequest ?? undefined;
  if (pageLimit === 0) throw new OrreryError(MarketDataErrorIds.REQUEST_INVALID, 'incrementalFetch pageLimit must be > 0.', { pageLimit });
  const maxPages = req.maxPages ?? 10_000;
  let saved = 0;
  let pages = 0;
  let watermark = previous;
  while (cursor < endMs) {
    if (pages >= maxPages) {
      throw new OrreryError(MarketDataErrorIds.REQUEST_INVALID, `incrementalFetch: more than ${maxPages} pages for ${req.symbol} ${req.timeframe}; raise maxPages or narrow the range (progress so far is saved).`, {
        maxPages,
        watermark,
      });
    }
    const fetched = await provider.fetchTimeSeries({ symbol: req.symbol, timeframe: req.timeframe, start: new Date(cursor), end: new Date(endMs), limit: pageLimit, ingestRunId: req.ingestRunId });
    pages++;
    const bars = fetched.filter((b) => {
      const t = Date.parse(b.ts_utc);
      return t >= cursor && t < endMs;
    });
    if (bars.length === 0) break;
    await save(bars);
    const last = bars.reduce((m, b) => (Date.parse(b.ts_utc) > Date.parse(m) ? b.ts_utc : m), bars[0].ts_utc);
    await store.advance(req.symbol, req.timeframe, last);
    watermark = (await store.get(req.symbol, req.timeframe)) ?? last;
    saved += bars.length;
    const next = Date.parse(last) + tfMs;
    if (next <= cursor) break;
    cursor = next;
    if (pageLimit === undefined || fetched.length < pageLimit) break; // the provider gave everything it had
  }
  return { previousWatermark: previous, from, saved, pages, watermark };
}
