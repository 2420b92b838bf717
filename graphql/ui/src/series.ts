/** Finding a chartable series in materialization metadata. Pure (no DOM). */

export interface SeriesPoint {
  /** Date or timestamp label when the metadata has one. */
  label?: string;
  /** Epoch ms when `label` parses as a date; charts use it for the x axis. */
  t?: number;
  y: number;
}

export interface Series {
  /** Dotted path of the metadata key the series came from, e.g. `equity_curve` or `backtest.daily_equity`. */
  path: string;
  /** What the series is: an equity curve, or some other numeric series when there is none. */
  kind: 'equity' | 'numeric';
  points: SeriesPoint[];
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const EQUITY_KEY = /equity|curve|nav|pnl/i;
const TIME_FIELDS = ['date', 'ts', 'time', 'timestamp', 't', 'day'];
const VALUE_FIELDS = ['equity', 'value', 'nav', 'y'];

function isObject(v: unknown): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function finite(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function timeOf(v: unknown): { label: string; t?: number } | undefined {
  if (typeof v === 'string') {
    const t = Date.parse(v);
    return { label: v, t: Number.isNaN(t) ? undefined : t };
  }
  if (finite(v)) {
    // Seconds or milliseconds since the epoch.
    const ms = v < 1e11 ? v * 1000 : v;
    return { label: new Date(ms).toISOString(), t: ms };
  }
  return undefined;
}

/** Points of an array that is a series: numbers, or objects with a numeric value field. */
function pointsOf(arr: Json[], preferEquity: boolean): SeriesPoint[] | undefined {
  if (arr.length < 2) return undefined;
  if (arr.every(finite)) return (arr as number[]).map((y) => ({ y }));
  if (!arr.every(isObject)) return undefined;
  const first = arr[0] as Record<string, Json>;
  const fields = preferEquity ? VALUE_FIELDS : [...VALUE_FIELDS, ...Object.keys(first).filter((k) => finite(first[k]) && !TIME_FIELDS.includes(k))];
  const valueField = fields.find((f) => arr.every((o) => finite((o as Record<string, Json>)[f])));
  if (!valueField) return undefined;
  const timeField = TIME_FIELDS.find((f) => arr.every((o) => timeOf((o as Record<string, Json>)[f]) !== undefined));
  return arr.map((o) => {
    const rec = o as Record<string, Json>;
    const time = timeField ? timeOf(rec[timeField]) : undefined;
    return { y: rec[valueField] as number, ...(time ? { label: time.label, ...(time.t !== undefined ? { t: time.t } : {}) } : {}) };
  });
}

interface Candidate { path: string; points: SeriesPoint[]; equity: boolean; depth: number }

function collect(value: Json, path: string, depth: number, out: Candidate[]): void {
  if (depth > 4) return;
  if (Array.isArray(value)) {
    const key = path.split('.').at(-1) ?? '';
    const equityByKey = EQUITY_KEY.test(key);
    const objectsWithEquity = value.length > 0 && value.every((o) => isObject(o) && finite(o.equity));
    const points = pointsOf(value, equityByKey || objectsWithEquity);
    if (points) out.push({ path, points, equity: equityByKey || objectsWithEquity, depth });
    return;
  }
  if (isObject(value)) for (const [k, v] of Object.entries(value)) collect(v, path ? `${path}.${k}` : k, depth + 1, out);
}

/**
 * The series to chart from a materialization's metadata: an equity curve when there is one (an
 * array of `{date|ts, equity}` objects, or numbers under a key like `equity_curve` or
 * `daily_equity`), else the longest numeric series, else undefined.
 */
export function findSeries(metadata: unknown): Series | undefined {
  const found: Candidate[] = [];
  collect(metadata as Json, '', 0, found);
  if (found.length === 0) return undefined;
  // Equity first, then shallower, then longer.
  found.sort((a, b) => Number(b.equity) - Number(a.equity) || a.depth - b.depth || b.points.length - a.points.length);
  const best = found[0];
  return { path: best.path, kind: best.equity ? 'equity' : 'numeric', points: best.points };
}

/**
 * At most `max` points, keeping each bucket's first, min and max so peaks and drawdowns survive
 * (a plain stride would skip them). Series shorter than `max` come back as they are.
 */
export function downsample(points: SeriesPoint[], max: number): SeriesPoint[] {
  if (points.length <= max || max < 4) return points;
  const buckets = Math.floor(max / 3);
  const size = points.length / buckets;
  const out: SeriesPoint[] = [];
  for (let b = 0; b < buckets; b++) {
    const from = Math.floor(b * size);
    const to = Math.min(points.length, Math.floor((b + 1) * size));
    let lo = from;
    let hi = from;
    for (let i = from; i < to; i++) {
      if (points[i].y < points[lo].y) lo = i;
      if (points[i].y > points[hi].y) hi = i;
    }
    for (const i of [...new Set([from, lo, hi])].sort((a, b) => a - b)) out.push(points[i]);
  }
  if (out.at(-1) !== points.at(-1)) out.push(points[points.length - 1]);
  return out;
}

export interface ChartGeometry {
  /** SVG path `d`. */
  d: string;
  min: number;
  max: number;
}

/** The polyline of a series inside a `width` × `height` box (y grows downward, min at the bottom). */
export function linePath(points: SeriesPoint[], width: number, height: number, pad = 0): ChartGeometry {
  if (points.length === 0) return { d: '', min: 0, max: 0 };
  let min = Infinity;
  let max = -Infinity;
  for (const p of points) { if (p.y < min) min = p.y; if (p.y > max) max = p.y; }
  const useTime = points.every((p) => p.t !== undefined);
  const x0 = useTime ? points[0].t! : 0;
  const x1 = useTime ? points[points.length - 1].t! : points.length - 1;
  const spanX = x1 - x0 || 1;
  const spanY = max - min || 1;
  const w = width - 2 * pad;
  const h = height - 2 * pad;
  const r = (v: number) => Math.round(v * 10) / 10;
  const d = points
    .map((p, i) => {
      const x = pad + (((useTime ? p.t! : i) - x0) / spanX) * w;
      const y = pad + h - (max === min ? h / 2 : ((p.y - min) / spanY) * h);
      return `${i === 0 ? 'M' : 'L'}${r(x)},${r(y)}`;
    })
    .join('');
  return { d, min, max };
}
