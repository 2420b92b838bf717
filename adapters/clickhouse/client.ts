/**
 * The DWH port on `@clickhouse/client`, in its two modes:
 * - embedded: an in-process chDB engine on a data directory, plugged into the client through
 *   `chdb/connection` (same client code, no wire);
 * - cluster: a ClickHouse server over HTTP(S).
 * Rows travel as JSONEachRow both ways. Every failure becomes an `OrreryError` with an id.
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { drainPending } from 'chdb';
import { createChdbConnection } from 'chdb/connection';
import { DwhErrorIds, sqlIdentifier, type Dwh } from '../../core/dwh.ts';
import { OrreryError } from '../../core/errors.ts';

export type HttpDwhOptions = {
  username?: string;
  password?: string;
  /** Database for unqualified table names (default: the server's, usually `default`). */
  database?: string;
  /** Per-request timeout in ms (client default 30 000). */
  requestTimeoutMs?: number;
};

/** Network failures: the server is not there (as opposed to a statement it rejected). */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN']);

type ClientConfig = NonNullable<Parameters<typeof createClient>[0]>;

type ServerError = Error & { code: string; type: string };

/**
 * A ClickHouse server error (`ClickHouseError`). Matched by shape: embedded errors come from
 * `@clickhouse/client-common`'s own copy of the class, so `instanceof` would miss them.
 */
function isServerError(e: unknown): e is ServerError {
  const x = e as { code?: unknown; type?: unknown } | null;
  return e instanceof Error && typeof x?.code === 'string' && /^\d+$/.test(x.code) && typeof x.type === 'string';
}

function isNetworkError(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur instanceof Error && depth < 5; cur = cur.cause, depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && (NETWORK_CODES.has(code) || code === 'CHDB_CONNECTION' || code === 'CHDB_CLOSED')) return true;
    if (/socket hang up|Timeout error|ChdbConnection is closed/i.test(cur.message)) return true;
  }
  return false;
}

function shortSql(sql: string): string {
  const s = sql.replace(/\s+/g, ' ').trim();
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

class ClickHouseDwh implements Dwh {
  #closed = false;

  constructor(
    private readonly client: ClickHouseClient,
    /** What the user would recognise: the URL or the data directory. */
    private readonly where: string,
    private readonly afterClose: () => Promise<void> = async () => {},
    /**
     * chdb's connection reads an insert's value stream and silently skips the insert when the
     * stream comes back empty, which happened under concurrent steps (rows lost, no error).
     * Embedded inserts therefore send their rows inline in the statement.
     */
    private readonly inlineInserts = false,
  ) {}

  async command(sql: string): Promise<void> {
    this.assertOpen();
    try {
      await this.client.command({ query: sql });
    } catch (e) {
      throw this.fail(e, 'command', { sql: shortSql(sql) });
    }
  }

  async query<T>(sql: string, params?: Record<string, unknown>): Promise<T[]> {
    this.assertOpen();
    try {
      const rs = await this.client.query({ query: sql, format: 'JSONEachRow', query_params: params });
      return await rs.json<T>();
    } catch (e) {
      throw this.fail(e, 'query', { sql: shortSql(sql) });
    }
  }

  async insert<T>(table: string, rows: T[]): Promise<void> {
    this.assertOpen();
    sqlIdentifier(table);
    if (rows.length === 0) return;
    try {
      if (this.inlineInserts) {
        const body = rows.map((r) => JSON.stringify(r)).join('\n');
        await this.client.command({ query: `INSERT INTO ${table} FORMAT JSONEachRow\n${body}` });
      } else {
        await this.client.insert({ table, values: rows, format: 'JSONEachRow' });
      }
    } catch (e) {
      throw this.fail(e, 'insert', { table, rows: rows.length });
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.client.close();
    } finally {
      await this.afterClose();
    }
  }

  private assertOpen(): void {
    if (this.#closed) {
      throw new OrreryError(DwhErrorIds.CONNECTION, `The DWH at ${this.where} is closed. Open it again before using it.`, { where: this.where });
    }
  }

  private fail(e: unknown, op: 'command' | 'query' | 'insert', details: Record<string, unknown>): OrreryError {
    if (e instanceof OrreryError) return e;
    const message = e instanceof Error ? e.message : String(e);
    if (!isServerError(e) && isNetworkError(e)) {
      return new OrreryError(
        DwhErrorIds.CONNECTION,
        `Cannot reach the DWH at ${this.where}: ${message}. Check that ClickHouse is running and CLICKHOUSE_URL points at it, then retry.`,
        { ...details, where: this.where },
        { cause: e },
      );
    }
    const server = isServerError(e) ? { clickhouseCode: Number(e.code), clickhouseType: e.type } : {};
    // ClickHouse may quote the offending input; keep the message readable.
    const trimmed = message.trim();
    const text = (trimmed.length > 600 ? `${trimmed.slice(0, 600)}…` : trimmed).replace(/[.\s]+$/, '');
    if (op === 'insert') {
      return new OrreryError(
        DwhErrorIds.INSERT,
        `ClickHouse rejected the rows for table ${String(details.table)}: ${text}. Make every row's fields match the table's columns and types; nothing of this insert was stored.`,
        { ...details, ...server, where: this.where },
        { cause: e },
      );
    }
    return new OrreryError(
      DwhErrorIds.QUERY,
      `ClickHouse rejected the ${op === 'command' ? 'statement' : 'query'}: ${text}. Fix the SQL (see details.sql) or create the table it needs.`,
      { ...details, ...server, where: this.where },
      { cause: e },
    );
  }
}

async function verify(dwh: Dwh, where: string, hint: string): Promise<void> {
  try {
    await dwh.query('SELECT 1 AS ok');
  } catch (e) {
    await dwh.close().catch(() => {});
    const message = e instanceof Error ? e.message : String(e);
    throw new OrreryError(DwhErrorIds.CONNECTION, `Cannot open the DWH at ${where}: ${message}. ${hint}`, { where }, { cause: e });
  }
}

/**
 * Opens the embedded DWH: chDB on `dataDir` (created if missing), through `@clickhouse/client`.
 * chDB binds ONE data directory per process: a second DWH on the same directory is fine, one on
 * another directory fails with `CORE_STORAGE_CONNFAIL` until the first is closed.
 */
export async function openEmbeddedDwh(dataDir: string): Promise<Dwh> {
  const path = resolve(dataDir);
  const hint = 'chDB opens one data directory per process: close the other DWH (or use the same directory), and check the directory is writable.';
  let client: ClickHouseClient;
  try {
    await mkdir(path, { recursive: true });
    // chdb 3.4 types its Connection against @clickhouse/client-common 1.23.0 while the client
    // bundles its own copy of that contract; the shapes match at run time, only the settings
    // type lists differ, hence the cast.
    const connection = createChdbConnection({ path }) as unknown as ClientConfig['connection'];
    client = createClient({ connection, log: { level: ClickHouseLogLevel.OFF } });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    throw new OrreryError(DwhErrorIds.CONNECTION, `Cannot open the embedded DWH (chDB) at ${path}: ${message}. ${hint}`, { where: path }, { cause: e });
  }
  // drainPending: close() returns before chDB releases a connection that still has work on
  // it; waiting here lets the process open another data directory right after.
  const dwh = new ClickHouseDwh(client, path, () => drainPending(), true);
  await verify(dwh, path, hint);
  return dwh;
}

/** Opens a ClickHouse server over HTTP(S) at `url` (e.g. `http://clickhouse:8123`) and checks it answers. */
export async function openHttpDwh(url: string, options: HttpDwhOptions = {}): Promise<Dwh> {
  let client: ClickHouseClient;
  let where = url;
  try {
    const u = new URL(url);
    where = `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`; // no credentials in messages
    client = createClient({
      url,
      username: options.username,
      password: options.password,
      database: options.database,
      request_timeout: options.requestTimeoutMs,
      application: 'orrery',
      log: { level: ClickHouseLogLevel.OFF }, // failures are thrown as OrreryError; no second report on stderr
    });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    throw new OrreryError(DwhErrorIds.CONNECTION, `Cannot use '${where}' as a ClickHouse URL: ${message}. Set CLICKHOUSE_URL to e.g. http://host:8123.`, { where }, { cause: e });
  }
  const dwh = new ClickHouseDwh(client, where);
  await verify(dwh, where, 'Check that ClickHouse is running, that CLICKHOUSE_URL points at its HTTP port (8123), and the credentials.');
  return dwh;
}
