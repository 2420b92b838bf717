/**
 * Split / reverse-split adjustment (seed 004 §4.4 `corporate_actions/adjust.py`), as a pure
 * transform. For each action in `action_date` order, the rows of its ticker dated strictly
 * before the action date are adjusted:
 *   split r:          open/high/low/close ÷ r, volume × r   (a 1:2 split is ratio 2)
 *   reverse_split r:  open/high/low/close × r, volume ÷ r   (a 5:1 consolidation is ratio 5)
 * so the series is continuous across the action in post-action units. Several actions compound.
 *
 * Choices where §4.4 is silent:
 *   - dates compare as CALENDAR DATES: a row's date is the YYYY-MM-DD its text starts with (the
 *     local date of an ISO date-time like `2024-03-27T00:00:00+09:00`, or a plain date), and so is
 *     the action date; "strictly before" compares those strings. The seed compares pandas
 *     timestamps with the action date at midnight, which is the same thing for daily rows;
 *   - actions on the same date keep their input order (a stable sort; §4.4's sort_values is not
 *     stable, but the products commute up to rounding);
 *   - the arithmetic is the seed's, operation by operation (÷ r, then the next action's ÷ r'), so
 *     the numbers equal pandas' to the last bit; volume may become fractional (pandas makes it float);
 *   - an action with a ratio that is not a finite number > 0, an unknown action_type or a
 *     malformed date is rejected with `DATA_CA_INVALID` (the seed silently skips unknown types);
 *   - the input is not mutated; rows come back in input order, other fields untouched.
 */
import { OrreryError } from '../core/errors.ts';

export const CorporateActionErrorIds = { INVALID: 'DATA_CA_INVALID' } as const;

export interface PriceRow {
  ticker: string;
  /** `YYYY-MM-DD` or an ISO date-time starting with the local date. */
  date: string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

export interface CorporateAction {
  ticker: string;
  /** `YYYY-MM-DD`: the first date traded on the new basis. */
  action_date: string;
  action_type: 'split' | 'reverse_split';
  /** Shares after / before for a split (2 for 1:2); before / after for a reverse split. */
  ratio: number;
}

const DATE_PREFIX = /^(\d{4}-\d{2}-\d{2})(?:$|T)/;

function calendarDate(text: unknown, what: string, details: Record<string, unknown>): string {
  const m = typeof text === 'string' ? DATE_PREFIX.exec(text) : null;
  if (!m || Number.isNaN(Date.parse(`${m[1]}T00:00:00Z`))) {
    throw new OrreryError(CorporateActionErrorIds.INVALID, `${what} "${String(text)}" is not a date (YYYY-MM-DD or an ISO date-time).`, details);
  }
  return m[1];
}

export function adjustForActions<R extends PriceRow>(rows: readonly R[], actions: readonly CorporateAction[]): R[] {
  const sorted = actions
    .map((a, i) => {
      if (a.action_type !== 'split' && a.action_type !== 'reverse_split') {
        throw new OrreryError(CorporateActionErrorIds.INVALID, `Unknown action_type "${String(a.action_type)}" (use split or reverse_split).`, { action: { ...a } });
      }
      if (typeof a.ratio !== 'number' || !Number.isFinite(a.ratio) || !(a.ratio > 0)) {
        throw new OrreryError(CorporateActionErrorIds.INVALID, `Action ratio must be a finite number > 0, got ${String(a.ratio)}.`, { action: { ...a } });
      }
      return { a, i, d: calendarDate(a.action_date, 'action_date', { action: { ...a } }) };
    })
    .sort((x, y) => (x.d < y.d ? -1 : x.d > y.d ? 1 : x.i - y.i));
  const out = rows.map((r) => ({ ...r }));
  const dates = out.map((r, i) => calendarDate(r.date, 'date', { row: i, ticker: r.ticker }));
  for (const { a, d } of sorted) {
    const r = Number(a.ratio);
    for (let i = 0; i < out.length; i++) {
      const row = out[i];
      if (row.ticker !== a.ticker || !(dates[i] < d)) continue;
      if (a.action_type === 'split') {
        row.open /= r; row.high /= r; row.low /= r; row.close /= r; row.volume *= r;
      } else {
        row.open *= r; row.high *= r; row.low *= r; row.close *= r; row.volume /= r;
      }
    }
  }
  return out;
}
