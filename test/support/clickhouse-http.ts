/**
 * A loopback ClickHouse HTTP server for tests: it speaks enough of ClickHouse's HTTP interface
 * (https://clickhouse.com/docs/interfaces/http) for `@clickhouse/client`, and runs every query in
 * a real engine — chDB, in this process — so the HTTP code path is tested against ClickHouse
 * itself, not a mock.
 *
 * Supported: `GET /ping`; `GET|POST /` with the query in the `query` URL parameter, in the body,
 * or both (the body is appended, as for `INSERT … FORMAT X` + data); `param_NAME` bound to
 * `{NAME:Type}` placeholders; `default_format`; `database`; `query_id`; any other URL parameter
 * is a setting for that one query; multipart/form-data bodies (`query`, `param_*` parts);
 * gzip/deflate request bodies. Responses carry `X-ClickHouse-Query-Id`, `-Format`, `-Timezone`,
 * `-Summary`; errors are status 500 with `X-ClickHouse-Exception-Code` and ClickHouse's
 * `Code: N. DB::Exception: … (TYPE)` text.
 *
 * chDB binds one data directory per process: while this server is up, an embedded DWH in the
 * same process must use the same `dataDir` (or wait until `close()`).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { gunzipSync, inflateSync } from 'node:zlib';
import { Session, drainPending, version } from 'chdb';

export type ClickHouseHttpServer = {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** Every statement the server ran, in order (for tests that want to see the wire). */
  log: Array<{ sql: string; params: Record<string, string | null>; settings: Record<string, string> }>;
  close(): Promise<void>;
};

/** URL parameters that are part of the protocol, not settings. */
const PROTOCOL_PARAMS = new Set([
  'query', 'query_id', 'database', 'default_format', 'session_id', 'session_timeout', 'session_check',
  'role', 'user', 'password', 'quota_key', 'compress', 'decompress', 'buffer_size',
]);
/** Settings that only the HTTP layer understands (the client may send them; chDB rejects them). */
const HTTP_ONLY_SETTINGS = new Set([
  'wait_end_of_query', 'send_progress_in_http_headers', 'http_response_buffer_size', 'http_headers_progress_interval_ms',
  'http_send_progress_interval_ms', 'enable_http_compression', 'http_zlib_compression_level', 'http_response_compression_method',
  'http_native_compression_disable_checksumming_on_decompress', 'output_format_parallel_formatting',
]);

const CONTENT_TYPES: Record<string, string> = {
  JSONEachRow: 'application/x-ndjson; charset=UTF-8',
  JSONCompactEachRow: 'application/x-ndjson; charset=UTF-8',
  JSON: 'application/json; charset=UTF-8',
  JSONCompact: 'application/json; charset=UTF-8',
  CSV: 'text/csv; charset=UTF-8; header=absent',
  CSVWithNames: 'text/csv; charset=UTF-8; header=present',
};

/** Undoes ClickHouse's TSV/Escaped encoding of a `param_*` value (`\N` alone is NULL). */
function unescapeParam(v: string): string | null {
  if (v === '\\N') return null;
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i];
    if (c !== '\\' || i === v.length - 1) { out += c; continue; }
    const n = v[++i];
    out += n === 'n' ? '\n' : n === 't' ? '\t' : n === 'r' ? '\r' : n === 'b' ? '\b' : n === 'f' ? '\f' : n === '0' ? '\0' : n;
  }
  return out;
}

function quoteSetting(v: string): string {
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  const enc = String(req.headers['content-encoding'] ?? '').toLowerCase();
  if (enc === 'gzip') return gunzipSync(raw);
  if (enc === 'deflate') return inflateSync(raw);
  return raw;
}

/** form-data parts by name (the client's `use_multipart_params`). */
function parseMultipart(body: Buffer, contentType: string): Map<string, string> {
  const boundary = /boundary=("?)([^";]+)\1/.exec(contentType)?.[2];
  const parts = new Map<string, string>();
  if (!boundary) return parts;
  for (const chunk of body.toString('utf8').split(`--${boundary}`)) {
    const sep = chunk.indexOf('\r\n\r\n');
    if (sep < 0) continue;
    const name = /name="([^"]+)"/.exec(chunk.slice(0, sep))?.[1];
    if (name) parts.set(name, chunk.slice(sep + 4).replace(/\r\n$/, ''));
  }
  return parts;
}

/** The output format a statement's own `FORMAT` clause names, if any (not for INSERT: that one is input). */
function formatClause(sql: string): string | undefined {
  if (/^\s*INSERT\b/i.test(sql)) return undefined;
  return /\bFORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$/i.exec(sql)?.[1];
}

function errorText(e: unknown): { code: number; text: string } {
  const message = e instanceof Error ? e.message : String(e);
  const cause = (e as { clickhouseCode?: unknown }).clickhouseCode;
  const m = /^Code: (\d+)\./.exec(message.trim());
  if (m) return { code: Number(m[1]), text: message.trim() };
  const code = typeof cause === 'number' ? cause : 1001;
  return { code, text: `Code: ${code}. DB::Exception: ${message.trim()}. (${code === 1001 ? 'STD_EXCEPTION' : 'UNKNOWN_EXCEPTION'})` };
}

export async function startClickHouseHttpServer(options: { dataDir: string }): Promise<ClickHouseHttpServer> {
  const shared = new Session(options.dataDir);
  const engineVersion = version().libchdb;
  const log: ClickHouseHttpServer['log'] = [];
  const inflight = new Set<Promise<unknown>>();

  async function run(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/ping') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=UTF-8' }).end('Ok.\n');
      return;
    }
    if (url.pathname !== '/') {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=UTF-8' }).end(`There is no handle ${url.pathname}\n`);
      return;
    }
    const queryId = url.searchParams.get('query_id') || randomUUID();
    const body = req.method === 'POST' ? await readBody(req) : Buffer.alloc(0);
    const fields = new Map<string, string>(url.searchParams);
    let bodyText = body.toString('utf8');
    const contentType = String(req.headers['content-type'] ?? '');
    if (contentType.startsWith('multipart/form-data')) {
      for (const [k, v] of parseMultipart(body, contentType)) fields.set(k, v);
      bodyText = '';
    }
    const queryParam = fields.get('query') ?? '';
    const sql = queryParam && bodyText ? `${queryParam}\n${bodyText}` : queryParam || bodyText;

    const params: Record<string, string | null> = {};
    const settings: Record<string, string> = {};
    for (const [k, v] of fields) {
      if (k.startsWith('param_')) params[k.slice('param_'.length)] = unescapeParam(v);
      else if (!PROTOCOL_PARAMS.has(k) && !HTTP_ONLY_SETTINGS.has(k)) settings[k] = v;
    }
    const database = fields.get('database');
    const format = fields.get('default_format') || 'TabSeparated';
    const outFormat = formatClause(sql) ?? format;
    log.push({ sql, params, settings });

    const headers = {
      'X-ClickHouse-Query-Id': queryId,
      'X-ClickHouse-Timezone': 'UTC',
      'X-ClickHouse-Server-Display-Name': 'chdb-loopback',
      'Keep-Alive': 'timeout=10',
    };
    // Settings and `database` hold for one query: run those on a connection of their own
    // (same data directory, so same data), the rest on the shared one.
    const own = Object.keys(settings).length > 0 || (database !== undefined && database !== 'default');
    const session = own ? new Session(options.dataDir) : shared;
    try {
      if (!sql.trim()) throw new Error('Empty query. (SYNTAX_ERROR)');
      if (own) {
        for (const [k, v] of Object.entries(settings)) {
          if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`Code: 115. DB::Exception: Unknown setting '${k}'. (UNKNOWN_SETTING)`);
          await session.queryAsync(`SET ${k} = ${quoteSetting(v)}`);
        }
        if (database !== undefined && database !== 'default') await session.queryAsync(`USE \`${database.replace(/`/g, '')}\``);
      }
      const result = Object.keys(params).length > 0
        ? await session.queryBindAsync(sql, params, { format })
        : await session.queryAsync(sql, { format });
      const bytes = result.bytes();
      const isInsert = /^\s*INSERT\b/i.test(sql);
      const summary = {
        read_rows: String(result.rowsRead), read_bytes: String(result.bytesRead),
        written_rows: isInsert ? String(result.rowsRead) : '0', written_bytes: isInsert ? String(result.bytesRead) : '0',
        total_rows_to_read: '0', result_rows: isInsert ? '0' : String(result.rowsRead), result_bytes: String(bytes.length),
        elapsed_ns: String(Math.round(result.elapsed * 1e9)),
      };
      res.writeHead(200, {
        ...headers,
        'Content-Type': CONTENT_TYPES[outFormat] ?? 'text/tab-separated-values; charset=UTF-8',
        'X-ClickHouse-Format': outFormat,
        'X-ClickHouse-Summary': JSON.stringify(summary),
      }).end(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } catch (e) {
      const { code, text } = errorText(e);
      res.writeHead(500, {
        ...headers,
        'Content-Type': 'text/plain; charset=UTF-8',
        'X-ClickHouse-Exception-Code': String(code),
      }).end(`${text} (version ${engineVersion})\n`);
    } finally {
      if (own) session.close();
    }
  }

  const server = createServer((req, res) => {
    const p = run(req, res).catch((e) => {
      if (!res.headersSent) res.writeHead(500, { 'X-ClickHouse-Exception-Code': '1001' });
      res.end(`Code: 1001. DB::Exception: ${e instanceof Error ? e.message : String(e)}. (STD_EXCEPTION)\n`);
    });
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  let closed = false;
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    async close() {
      if (closed) return;
      closed = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await stopped;
      await Promise.allSettled([...inflight]);
      shared.close();
      await drainPending();
    },
  };
}
