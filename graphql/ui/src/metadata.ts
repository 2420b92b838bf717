/** Grouping and formatting of materialization metadata for people. Pure (no DOM). */

export interface MetaRow { key: string; value: string }
export interface MetaTable { columns: string[]; rows: string[][]; more: number }
export interface MetaSection { title: string; rows: MetaRow[]; tables: Array<{ key: string; table: MetaTable }> }

const BACKTEST = new Set(['trades', 'trades_per_year', 'ann_return', 'sharpe', 'sharpe_ci95', 'max_dd', 'calmar', 'e_per_trade', 'win_rate', 'halt_rate', 'ai2_false_stop_rate', 'acceptance', 'acceptance_reasons', 'stress_scenarios', 'theta1', 'theta2', 'period']);
const MODEL = /(^|_)(auc|brier|ece|f1|f1_weighted|pr_auc|recall|precision|samples|accuracy|logloss|walk_forward_steps|oos_from|oos_to|onnx_max_abs_diff)($|_)/;
/** Fractions shown as percentages. */
const PERCENT = /(^|_)(ann_return|max_dd|win_rate|halt_rate|false_stop_rate|missing_rate|outlier_rate|rate)$/;

export function formatValue(key: string, v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return String(v);
    if (PERCENT.test(key) && Math.abs(v) <= 10) return `${(v * 100).toFixed(2)} %`;
    if (Number.isInteger(v)) return v.toLocaleString('en-US');
    return Math.abs(v) >= 1000 ? v.toLocaleString('en-US', { maximumFractionDigits: 2 }) : String(Number(v.toPrecision(4)));
  }
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && v.every((x) => x === null || ['string', 'number', 'boolean'].includes(typeof x))) {
    if (v.length === 0) return '(none)';
    return v.map((x) => formatValue(key, x)).join(key.endsWith('ci95') ? ' … ' : ', ');
  }
  return JSON.stringify(v);
}

function tableOf(arr: Array<Record<string, unknown>>, limit: number): MetaTable {
  const columns = [...new Set(arr.slice(0, 50).flatMap((o) => Object.keys(o)))];
  const rows = arr.slice(0, limit).map((o) => columns.map((c) => formatValue(c, o[c])));
  return { columns, rows, more: Math.max(0, arr.length - limit) };
}

function isRecordArray(v: unknown): v is Array<Record<string, unknown>> {
  return Array.isArray(v) && v.length > 0 && v.every((o) => typeof o === 'object' && o !== null && !Array.isArray(o));
}

function sectionTitle(key: string): string {
  if (key === 'dq' || key === 'dq_report') return 'DQ report';
  return key.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase());
}

/**
 * Sections of a metadata object: backtest KPIs, model metrics, each nested object (the DQ report,
 * the fetch details, …) on its own, and the remaining scalars under "Details". Arrays of objects
 * become tables (first `tableLimit` rows); `skip` leaves out a key already shown elsewhere (the
 * charted series).
 */
export function metadataSections(metadata: unknown, options: { tableLimit?: number; skip?: string } = {}): MetaSection[] {
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) return [];
  const limit = options.tableLimit ?? 10;
  const kpis: MetaSection = { title: 'Backtest KPIs', rows: [], tables: [] };
  const model: MetaSection = { title: 'Model metrics', rows: [], tables: [] };
  const details: MetaSection = { title: 'Details', rows: [], tables: [] };
  const nested: MetaSection[] = [];
  for (const [key, v] of Object.entries(metadata as Record<string, unknown>)) {
    if (key === options.skip) continue;
    if (isRecordArray(v)) { details.tables.push({ key, table: tableOf(v, limit) }); continue; }
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      const section: MetaSection = { title: sectionTitle(key), rows: [], tables: [] };
      flattenInto(section, v as Record<string, unknown>, '', limit, options.skip?.startsWith(`${key}.`) ? options.skip.slice(key.length + 1) : undefined);
      nested.push(section);
      continue;
    }
    const row = { key, value: formatValue(key, v) };
    if (BACKTEST.has(key)) kpis.rows.push(row);
    else if (MODEL.test(key)) model.rows.push(row);
    else details.rows.push(row);
  }
  // A backtest needs a few KPI keys to be called one; a lone `trades` is just a detail.
  if (kpis.rows.length < 3) { details.rows.unshift(...kpis.rows); kpis.rows = []; }
  return [kpis, model, ...nested, details].filter((s) => s.rows.length > 0 || s.tables.length > 0);
}

/** Nested objects inside a section: dotted keys (`per_rule.gaps`), arrays of objects as tables. */
function flattenInto(section: MetaSection, obj: Record<string, unknown>, prefix: string, limit: number, skip: string | undefined): void {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (key === skip) continue;
    if (isRecordArray(v)) section.tables.push({ key, table: tableOf(v, limit) });
    else if (typeof v === 'object' && v !== null && !Array.isArray(v) && key.split('.').length < 4) flattenInto(section, v as Record<string, unknown>, key, limit, skip);
    else section.rows.push({ key, value: formatValue(k, v) });
  }
}
