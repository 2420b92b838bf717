/**
 * The DWH port: a columnar warehouse (ClickHouse in a cluster, chDB embedded) that holds the
 * large tabular assets (canonical bars, features). The kernel knows only this interface;
 * `adapters/clickhouse/` implements it.
 *
 * SQL is ClickHouse's dialect. Values are never spliced into SQL text: `query` binds them
 * server-side through ClickHouse placeholders `{name:Type}`, e.g.
 * `query('SELECT * FROM t WHERE symbol = {symbol:String}', { symbol: 'XAUUSD' })`.
 * Rows travel as JSON objects (JSONEachRow): 64-bit integers (`count()`, `UInt64`) come back as
 * strings, as ClickHouse's JSON formats write them.
 */
import { ErrorIds, OrreryError } from './errors.ts';

export interface Dwh {
  /** Runs one statement that returns no rows (DDL, `ALTER`, `INSERT … SELECT`). */
  command(sql: string): Promise<void>;
  /** Runs one `SELECT` (without a `FORMAT` clause) and returns its rows; `params` fill `{name:Type}` placeholders. */
  query<T>(sql: string, params?: Record<string, unknown>): Promise<T[]>;
  /** Appends `rows` to `table` (one JSON object per row, keys are column names). No-op for `[]`. */
  insert<T>(table: string, rows: T[]): Promise<void>;
  /** Releases the connection. Idempotent. */
  close(): Promise<void>;
}

/** Error ids of DWH storage (`{DOMAIN}_{CATEGORY}_{CODE}`). */
export const DwhErrorIds = {
  /** The warehouse cannot be reached or opened. */
  CONNECTION: ErrorIds.STORAGE_CONN,
  /** A statement or query was rejected. */
  QUERY: 'DATA_STORAGE_QUERY',
  /** Rows were rejected on insert (types, columns). */
  INSERT: 'DATA_STORAGE_INSERT',
  /** Rows do not belong where they were written (wrong partition, duplicates). */
  ROWS_INVALID: 'DATA_STORAGE_ROWINVALID',
  /** No `dwh` resource was wired in. */
  MISSING: 'CORE_STORAGE_NODWH',
} as const;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;

/** Returns `name` if it is a plain (optionally `db.`-qualified) identifier; throws otherwise. */
export function sqlIdentifier(name: string): string {
  if (!IDENTIFIER.test(name)) {
    throw new OrreryError(
      DwhErrorIds.QUERY,
      `'${name}' is not a valid table or column name. Use letters, digits and '_' (optionally 'database.table').`,
      { name },
    );
  }
  return name;
}

/**
 * A ClickHouse string literal (`'…'` with backslash escapes), for the few places placeholders
 * are not allowed (partition expressions of `ALTER TABLE … PARTITION`).
 */
export function sqlString(value: string): string {
  let out = "'";
  for (const ch of value) {
    switch (ch) {
      case '\\': out += '\\\\'; break;
      case "'": out += "\\'"; break;
      case '\n': out += '\\n'; break;
      case '\r': out += '\\r'; break;
      case '\t': out += '\\t'; break;
      case '\0': out += '\\0'; break;
      default: out += ch;
    }
  }
  return out + "'";
}

/** The DWH of a step's resources (`resources.dwh`); a clear error when it was not wired in. */
export function requireDwh(resources: Record<string, unknown>): Dwh {
  const dwh = resources.dwh as Partial<Dwh> | undefined;
  if (!dwh || typeof dwh.query !== 'function' || typeof dwh.insert !== 'function' || typeof dwh.command !== 'function') {
    throw new OrreryError(
      DwhErrorIds.MISSING,
      'This asset is stored in the DWH but no `dwh` resource is configured. Open one (embedded chDB, or CLICKHOUSE_URL for a server) and pass it as resources.dwh.',
      {},
    );
  }
  return dwh as Dwh;
}
