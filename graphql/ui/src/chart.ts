/** An SVG line chart of one series (a backtest's equity curve). */
import { s, h } from './dom.ts';
import { downsample, linePath, type Series } from './series.ts';

const W = 400;
const H = 160;
const PAD_L = 56;
const PAD_B = 22;
const PAD_T = 8;
const PAD_R = 8;

function fmt(v: number): string {
  return Math.abs(v) >= 1000 ? v.toLocaleString('en-US', { maximumFractionDigits: 0 }) : String(Number(v.toPrecision(4)));
}

export function lineChart(series: Series, title: string): HTMLElement {
  const pts = downsample(series.points, 600);
  const innerW = W - PAD_L - PAD_R;
  const innerH = H - PAD_T - PAD_B;
  const { d, min, max } = linePath(pts, innerW, innerH);
  const first = series.points[0];
  const last = series.points[series.points.length - 1];
  const xLabel = (p: typeof first, i: number) => (p.label ? p.label.slice(0, 10) : String(i));
  const summary = `${title}: ${series.points.length} points${first.label ? ` from ${first.label.slice(0, 10)} to ${last.label?.slice(0, 10)}` : ''}, starting at ${fmt(first.y)}, ending at ${fmt(last.y)}, low ${fmt(min)}, high ${fmt(max)}.`;
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': summary, preserveAspectRatio: 'none' },
    s('title', {}, summary),
    s('g', { transform: `translate(${PAD_L},${PAD_T})` },
      s('line', { class: 'axis', x1: 0, y1: innerH, x2: innerW, y2: innerH }),
      s('line', { class: 'axis', x1: 0, y1: 0, x2: 0, y2: innerH }),
      s('path', { class: 'series', d, fill: 'none' }),
    ),
    s('text', { class: 'tick', x: PAD_L - 6, y: PAD_T + 10, 'text-anchor': 'end' }, fmt(max)),
    s('text', { class: 'tick', x: PAD_L - 6, y: PAD_T + innerH, 'text-anchor': 'end' }, fmt(min)),
    s('text', { class: 'tick', x: PAD_L, y: H - 6 }, xLabel(first, 0)),
    s('text', { class: 'tick', x: W - PAD_R, y: H - 6, 'text-anchor': 'end' }, xLabel(last, series.points.length - 1)),
  );
  return h('figure', { class: 'chart-fig' }, svg, h('figcaption', {}, `${title} (metadata key ${series.path})`));
}
