/**
 * CsvProvider: canonical bars from one CSV file or a directory of `*.csv` files (not recursive),
 * implementing `MarketDataProvider`.
 *
 * Format (strict):
 *   - UTF-8 (a BOM is tolerated), LF or CRLF line ends; fields may be double-quoted (RFC 4180, "" escapes).
 *   - Line 1 is a header naming exactly the columns
 *       ts_utc,symbol,timeframe,open,high,low,close,volume
 *     in any order, each once; a missing, unknown or repeated column is an error.
 *   - Every data line has 8 fields. Empty lines are skipped.
 *   - ts_utc: RFC3339 in UTC (`Z` or `+00:00`), e.g. 2024-03-01T05:00:00Z or 2024-03-01T05:00:00.000Z;
 *     it must be a bar start of its timeframe (aligned to the Unix epoch; daily at 00:00).
 *   - symbol: canonical, [A-Z0-9]+ (upper case, no separators).
 *   - timeframe: 15m, 1h, 4h or daily.
 *   - open/high/low/close: finite decimals > 0, with low <= min(open, close) and high >= max(open, close).
 *   - volume: empty (→ null: unknown) or a finite decimal >= 0.
 *   - (symbol, timeframe, ts_utc) is unique across all files.
 * Every violation becomes one problem `file:line: …`; the load throws one `DATA_CSV_SCHEMA` error
 * listing them (the first 50 in the message, all in `details.problems`). Files are read on first
 * use and cached; `reload()` reads them again.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { OrreryError } from '../../core/errors.ts';
import {
  MarketDataErrorIds,
  isTimeframe,
  timeframeMs,
  toTsUtc,
  type CanonicalBar,
  type FetchTimeSeriesRequest,
  type MarketDataProvider,
  type ProviderCapabilities,
  type ProviderHealth,
  type RateLimitInfo,
  type SymbolMeta,
} from '../../core/market-data.ts';
import { ProviderErrorIds, checkRange } from './http.ts';

export const CSV_PROVIDER_VERSION = 'csv-1.0.0';
export const CSV_COLUMNS = ['ts_utc', 'symbol', 'timeframe', 'open', 'high', 'low', 'close', 'volume'] as const;
type CsvColumn = (typeof CSV_COLUMNS)[number];

export type CsvProblem = { file: string; line: number; column?: string; message: string };

export type CsvProviderOptions = {
  /** A `.csv` file, or a directory whose `*.csv` files are all read. */
  path: string;
  /** Provider id and `source_id` of its bars; default 'csv'. */
  id?: string;
  /** Asset class per symbol for listSymbols; default 'unknown'. */
  assetClasses?: Record<string, string>;
  /** Cap on bars per fetchTimeSeries call; default unbounded. */
  maxBarsPerRequest?: number;
};

type Row = { ts: number; bar: Omit<CanonicalBar, 'source_id' | 'ingest_run_id'> };

/** Splits one CSV line into fields (RFC 4180 quoting); null when a quote is left open. */
export function splitCsvLine(line: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        if (i >= line.length) return null;
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            value += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += line[i++];
      }
      if (i < line.length && line[i] !== ',') return null;
      out.push(value);
    } else {
      const next = line.indexOf(',', i);
      const end = next < 0 ? line.length : next;
      out.push(line.slice(i, end));
      i = end;
    }
    if (i >= line.length) return out;
    i++; // skip the comma
    if (i === line.length) {
      out.push('');
      return out;
    }
  }
}

const TS_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,3})?(Z|\+00:00)$/;
const DECIMAL_RE = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

function parseUtc(text: string): number {
  const m = TS_RE.exec(text);
  if (!m) return Number.NaN;
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) return Number.NaN;
  const d = new Date(ms);
  if (d.getUTCFullYear() !== Number(m[1]) || d.getUTCMonth() + 1 !== Number(m[2]) || d.getUTCDate() !== Number(m[3]) || d.getUTCHours() !== Number(m[4])) return Number.NaN;
  return ms;
}

/**
 * Parses the text of one CSV file; returns its rows and every problem found (file/line numbered,
 * lines counted from 1 with the header on line 1).
 */
export function parseCsvBars(text: string, file: string): { rows: Row[]; problems: CsvProblem[] } {
  const problems: CsvProblem[] = [];
  const rows: Row[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const headerLine = lines[0] ?? '';
  const header = splitCsvLine(headerLine.trim());
  if (headerLine.trim() === '' || !header) {
    problems.push({ file, line: 1, message: `missing header; the first line must name the columns ${CSV_COLUMNS.join(',')}` });
    return { rows, problems };
  }
  const index = new Map<CsvColumn, number>();
  const seen = new Set<string>();
  header.forEach((raw, i) => {
    const name = raw.trim();
    if (seen.has(name)) problems.push({ file, line: 1, column: name, message: `column '${name}' appears twice in the header` });
    seen.add(name);
    if ((CSV_COLUMNS as readonly string[]).includes(name)) index.set(name as CsvColumn, i);
    else problems.push({ file, line: 1, column: name, message: `unknown column '${name}'; the header must be exactly ${CSV_COLUMNS.join(',')}` });
  });
  for (const c of CSV_COLUMNS) if (!index.has(c)) problems.push({ file, line: 1, column: c, message: `header lacks column '${c}'` });
  if (problems.length) return { rows, problems };

  for (let n = 1; n < lines.length; n++) {
    const lineNo = n + 1;
    const line = lines[n];
    if (line.trim() === '') continue;
    const fields = splitCsvLine(line);
    if (!fields) {
      problems.push({ file, line: lineNo, message: 'unterminated quoted field' });
      continue;
    }
    if (fields.length !== header.length) {
      problems.push({ file, line: lineNo, message: `has ${fields.length} fields, the header has ${header.length}` });
      continue;
    }
    const get = (c: CsvColumn) => fields[index.get(c) as number].trim();
    const bad = (column: CsvColumn, message: string) => problems.push({ file, line: lineNo, column, message });
    const before = problems.length;

    const tsText = get('ts_utc');
    const ts = parseUtc(tsText);
    if (!Number.isFinite(ts)) bad('ts_utc', `'${tsText}' is not an RFC3339 UTC timestamp (e.g. 2024-03-01T05:00:00Z)`);
    const symbol = get('symbol');
    if (!/^[A-Z0-9]+$/.test(symbol)) bad('symbol', `'${symbol}' is not a canonical symbol (upper case letters and digits, no separators)`);
    const timeframe = get('timeframe');
    if (!isTimeframe(timeframe)) bad('timeframe', `'${timeframe}' is not one of 15m, 1h, 4h, daily`);
    else if (Number.isFinite(ts) && ts % timeframeMs(timeframe) !== 0) bad('ts_utc', `'${tsText}' is not the start of a ${timeframe} bar`);
    const price = (c: 'open' | 'high' | 'low' | 'close'): number => {
      const t = get(c);
      const v = DECIMAL_RE.test(t) ? Number(t) : Number.NaN;
      if (!Number.isFinite(v)) bad(c, `'${t}' is not a number`);
      else if (v <= 0) bad(c, `${t} is not > 0`);
      return v;
    };
    const open = price('open');
    const high = price('high');
    const low = price('low');
    const close = price('close');
    const volText = get('volume');
    let volume: number | null = null;
    if (volText !== '') {
      const v = DECIMAL_RE.test(volText) ? Number(volText) : Number.NaN;
      if (!Number.isFinite(v)) bad('volume', `'${volText}' is not a number (leave it empty when unknown)`);
      else if (v < 0) bad('volume', `${volText} is negative`);
      else volume = v;
    }
    if (problems.length === before) {
      if (low > Math.min(open, close)) bad('low', `low ${low} is above min(open, close) = ${Math.min(open, close)}`);
      if (high < Math.max(open, close)) bad('high', `high ${high} is below max(open, close) = ${Math.max(open, close)}`);
    }
    if (problems.length !== before) continue;
    rows.push({ ts, bar: { ts_utc: toTsUtc(ts), symbol, timeframe, open, high, low, close, volume, quality_flag: 'ok', metadata: { source_file: basename(file), source_line: lineNo } } });
  }
  return { rows, problems };
}

function csvError(problems: CsvProblem[], path: string): OrreryError {
  const shown = problems.slice(0, 50).map((p) => `${p.file}:${p.line}: ${p.column ? `${p.column}: ` : ''}${p.message}`);
  const more = problems.length > 50 ? `\n… and ${problems.length - 50} more` : '';
  return new OrreryError(ProviderErrorIds.CSV_SCHEMA, `CSV market data in ${path} is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${shown.join('\n')}${more}`, {
    path,
    problems,
  });
}

type Series = { ts: number[]; bars: Array<Row['bar']> };

export class CsvProvider implements MarketDataProvider {
  readonly id: string;
  private readonly opts: CsvProviderOptions;
  private loaded: Promise<Map<string, Series>> | undefined;

  constructor(opts: CsvProviderOptions) {
    this.id = opts.id ?? 'csv';
    this.opts = opts;
    if (opts.maxBarsPerRequest !== undefined && !(Number.isInteger(opts.maxBarsPerRequest) && opts.maxBarsPerRequest > 0)) {
      throw new OrreryError(MarketDataErrorIds.CONFIG_INVALID, `CSV provider '${this.id}': maxBarsPerRequest must be a positive integer.`, { maxBarsPerRequest: opts.maxBarsPerRequest });
    }
  }

  /** Forgets the cached files; the next call reads them again. */
  reload(): void {
    this.loaded = undefined;
  }

  private data(): Promise<Map<string, Series>> {
    if (!this.loaded) {
      this.loaded = this.load();
      this.loaded.catch(() => {
        this.loaded = undefined;
      });
    }
    return this.loaded;
  }

  private async files(): Promise<string[]> {
    let st;
    try {
      st = await stat(this.opts.path);
    } catch (e) {
      throw new OrreryError(MarketDataErrorIds.CONFIG_INVALID, `CSV provider '${this.id}': ${this.opts.path} does not exist or cannot be read.`, { path: this.opts.path }, { cause: e });
    }
    if (!st.isDirectory()) return [this.opts.path];
    const names = (await readdir(this.opts.path)).filter((n) => n.toLowerCase().endsWith('.csv')).sort();
    return names.map((n) => join(this.opts.path, n));
  }

  private async load(): Promise<Map<string, Series>> {
    const problems: CsvProblem[] = [];
    const rows: Array<Row & { file: string }> = [];
    for (const file of await this.files()) {
      const parsed = parseCsvBars(await readFile(file, 'utf8'), file);
      problems.push(...parsed.problems);
      for (const r of parsed.rows) rows.push({ ...r, file });
    }
    const bySeries = new Map<string, Array<Row & { file: string }>>();
    for (const r of rows) {
      const key = `${r.bar.symbol}|${r.bar.timeframe}`;
      let list = bySeries.get(key);
      if (!list) bySeries.set(key, (list = []));
      list.push(r);
    }
    const out = new Map<string, Series>();
    for (const [key, list] of bySeries) {
      list.sort((a, b) => a.ts - b.ts);
      for (let i = 1; i < list.length; i++) {
        if (list[i].ts === list[i - 1].ts) {
          const a = list[i - 1];
          const b = list[i];
          problems.push({
            file: b.file,
            line: b.bar.metadata?.source_line as number,
            column: 'ts_utc',
            message: `duplicate bar ${b.bar.symbol} ${b.bar.timeframe} ${b.bar.ts_utc} (also at ${a.file}:${String(a.bar.metadata?.source_line)})`,
          });
        }
      }
      out.set(key, { ts: list.map((r) => r.ts), bars: list.map((r) => r.bar) });
    }
    if (problems.length) throw csvError(problems, this.opts.path);
    return out;
  }

  async fetchTimeSeries(req: FetchTimeSeriesRequest): Promise<CanonicalBar[]> {
    timeframeMs(req.timeframe);
    const { startMs, endMs } = checkRange(req.start, req.end, req.limit);
    const data = await this.data();
    const series = data.get(`${req.symbol}|${req.timeframe}`);
    if (!series) {
      const known = [...new Set([...data.keys()].map((k) => k.split('|')[0]))];
      if (!known.includes(req.symbol)) {
        throw new OrreryError(MarketDataErrorIds.SYMBOL_UNKNOWN, `CSV provider '${this.id}' has no symbol '${req.symbol}'. Known: ${known.sort().join(', ')}.`, { symbol: req.symbol, provider: this.id });
      }
      return [];
    }
    let lo = 0;
    let hi = series.ts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (series.ts[mid] < startMs) lo = mid + 1;
      else hi = mid;
    }
    const cap = Math.min(req.limit ?? Number.POSITIVE_INFINITY, this.opts.maxBarsPerRequest ?? Number.POSITIVE_INFINITY);
    const out: CanonicalBar[] = [];
    for (let i = lo; i < series.ts.length && series.ts[i] < endMs && out.length < cap; i++) {
      const b = series.bars[i];
      out.push({ ...b, metadata: { ...b.metadata, provider_version: CSV_PROVIDER_VERSION }, source_id: this.id, ingest_run_id: req.ingestRunId });
    }
    return out;
  }

  async listSymbols(filter?: { assetClass?: string }): Promise<SymbolMeta[]> {
    const data = await this.data();
    const symbols = [...new Set([...data.keys()].map((k) => k.split('|')[0]))].sort();
    return symbols
      .map((symbol) => ({ symbol, assetClass: this.opts.assetClasses?.[symbol] ?? 'unknown', sourceSymbol: symbol }))
      .filter((s) => filter?.assetClass === undefined || s.assetClass === filter.assetClass);
  }

  getCapabilities(): ProviderCapabilities {
    return {
      timeframes: ['15m', '1h', '4h', 'daily'],
      assets: [...new Set(Object.values(this.opts.assetClasses ?? {}))],
      limits: { maxBarsPerRequest: this.opts.maxBarsPerRequest ?? null, earliestTs: null },
      latencyProfile: { typicalMs: 0, realtime: false },
    };
  }

  getRateLimit(): RateLimitInfo {
    return { restQps: null, wsChannels: null, burst: null, policy: 'unlimited' };
  }

  async healthCheck(): Promise<ProviderHealth> {
    try {
      const data = await this.data();
      let bars = 0;
      for (const s of data.values()) bars += s.ts.length;
      return { status: 'ok', details: { provider_version: CSV_PROVIDER_VERSION, path: this.opts.path, series: data.size, bars } };
    } catch (e) {
      return { status: 'down', details: { provider_version: CSV_PROVIDER_VERSION, path: this.opts.path, error: e instanceof OrreryError ? e.toJSON() : String(e) } };
    }
  }
}
