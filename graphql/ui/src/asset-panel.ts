/** The panel of one asset: description, partition health, checks, latest materialization, partitions, runs. */
import { gql, type Connection } from './api.ts';
import { lineChart } from './chart.ts';
import { announce, h, mount, utc } from './dom.ts';
import { healthStrip, SEGMENT_LABEL, SEGMENT_ORDER, segmentCounts } from './health.ts';
import { metadataSections } from './metadata.ts';
import { PartitionList } from './partition-list.ts';
import { ASSET_DETAIL, type AssetDetail, type RunSummary } from './queries.ts';
import { href } from './route.ts';
import { runsTable } from './runs-page.ts';
import { findSeries } from './series.ts';

export class AssetPanel {
  readonly el: HTMLElement;
  private readonly body: HTMLElement;
  private current: string | undefined;
  private request = 0;

  constructor() {
    this.body = h('div', { class: 'panel-body' });
    this.el = h('aside', { class: 'panel', 'aria-label': 'Asset details', hidden: true }, this.body);
    this.el.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') location.hash = href({ page: 'assets' });
    });
  }

  close(): void {
    const key = this.current;
    this.current = undefined;
    this.el.hidden = true;
    this.body.replaceChildren();
    // Back to the node the panel belonged to, so keyboard users keep their place.
    if (key) (document.querySelector(`.node[data-key="${CSS.escape(key)}"]`) as SVGGElement | null)?.focus({ preventScroll: true });
  }

  async open(key: string): Promise<void> {
    if (this.current === key && !this.el.hidden) return;
    this.current = key;
    const req = ++this.request;
    this.el.hidden = false;
    mount(this.body, h('p', { class: 'muted' }, `Loading ${key}…`));
    let data: { asset: AssetDetail | null; runs: Connection<RunSummary> };
    try {
      data = await gql(ASSET_DETAIL, { key });
    } catch (e) {
      if (req === this.request) mount(this.body, closeButton(), h('p', { role: 'alert', class: 'error' }, `Could not load ${key}: ${(e as Error).message}`));
      return;
    }
    if (req !== this.request) return;
    if (!data.asset) { mount(this.body, closeButton(), h('p', { role: 'alert', class: 'error' }, `No asset ${key}.`)); return; }
    this.render(data.asset, data.runs.edges.map((e) => e.node));
    announce(`Opened asset ${key}`);
  }

  private render(a: AssetDetail, runs: RunSummary[]): void {
    const heading = h('h2', { tabindex: '-1', id: 'asset-title' }, a.key);
    const meta = [a.group ? `group ${a.group}` : undefined, a.kinds.length ? a.kinds.join(', ') : undefined, a.codeVersion ? `code version ${a.codeVersion}` : undefined].filter(Boolean).join(' · ');
    const link = (k: string) => h('a', { href: href({ page: 'assets', key: k }) }, k);
    const join = (keys: Array<{ key: string }>) => (keys.length ? keys.flatMap((u, i) => (i ? [', ', link(u.key)] : [link(u.key)])) : ['—']);
    mount(this.body,
      h('header', { class: 'panel-head' }, heading, closeButton()),
      meta ? h('p', { class: 'muted' }, meta) : null,
      a.description ? h('p', { class: 'description' }, a.description) : null,
      h('p', { class: 'lineage-links' }, h('span', { class: 'muted' }, 'Upstream: '), ...join(a.upstream), h('br'), h('span', { class: 'muted' }, 'Downstream: '), ...join(a.downstream)),
      section('Partitions', statsView(a), new PartitionList(a.key, a.partitionStats).el),
      section('Checks', checksTable(a)),
      a.staleCauses.length ? section('Why stale', h('ul', { class: 'stale-causes' }, ...a.staleCauses.slice(0, 10).map((c) => h('li', {}, h('span', { class: 'mono' }, c.partitionKey), ': ', c.reason)))) : null,
      section('Latest materialization', latestView(a)),
      section('Recent runs', runs.length ? runsTable(runs) : h('p', { class: 'muted' }, 'No runs yet.')),
    );
    heading.focus({ preventScroll: true });
  }
}

function closeButton(): HTMLElement {
  return h('a', { class: 'close', href: href({ page: 'assets' }), 'aria-label': 'Close the asset panel' }, '×');
}

function section(title: string, ...children: Array<Node | null>): HTMLElement {
  const id = `sec-${title.toLowerCase().replace(/\W+/g, '-')}`;
  return h('section', { 'aria-labelledby': id }, h('h3', { id }, title), ...children);
}

function statsView(a: AssetDetail): HTMLElement {
  const W = 400;
  const strip = h('div', { class: 'strip-big', role: 'img', 'aria-label': `Partition health: ${SEGMENT_ORDER.map((k) => `${segmentCounts(a.partitionStats)[k]} ${SEGMENT_LABEL[k]}`).join(', ')}` });
  for (const seg of healthStrip(a.partitionStats, W)) strip.append(h('span', { class: `seg-${seg.kind}`, style: `width:${(seg.width / W) * 100}%` }));
  const st = a.partitionStats;
  const cell = (label: string, v: number, cls: string) => h('div', {}, h('dt', {}, h('span', { class: `swatch ${cls}`, 'aria-hidden': 'true' }), label), h('dd', {}, v.toLocaleString('en-US')));
  return h('div', {}, strip, h('dl', { class: 'stats' },
    cell('total', st.total, 'seg-none'), cell('materialized', st.materialized, 'seg-fresh'), cell('stale', st.stale, 'seg-stale'),
    cell('failed', st.failed, 'seg-failed'), cell('quarantined', st.quarantined, 'seg-quarantined'), cell('missing', st.missing, 'seg-missing')));
}

function checksTable(a: AssetDetail): HTMLElement {
  if (a.checks.length === 0) return h('p', { class: 'muted' }, 'No checks.');
  return h('table', {},
    h('thead', {}, h('tr', {}, ...['Check', 'Severity', 'Passing', 'Failing', 'Last failure'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, ...a.checks.map((c) => h('tr', { class: c.failed > 0 ? 'row-fail' : '' },
      h('th', { scope: 'row' }, c.name), h('td', {}, c.severity), h('td', { class: 'num' }, c.passed), h('td', { class: 'num' }, c.failed > 0 ? h('strong', {}, c.failed) : '0'),
      h('td', {}, c.lastFailure ? [c.lastFailure.partitionKey, ' at ', utc(c.lastFailure.evaluatedAt)].join('') : '—')))));
}

function latestView(a: AssetDetail): HTMLElement {
  const m = a.latestMaterialization;
  if (!m) return h('p', { class: 'muted' }, 'Never materialized.');
  const series = findSeries(m.metadata);
  const out = h('div', {},
    h('dl', { class: 'kv' },
      h('dt', {}, 'Partition'), h('dd', { class: 'mono' }, m.partitionKey || '(unpartitioned)'),
      h('dt', {}, 'When'), h('dd', {}, utc(m.timestamp)),
      h('dt', {}, 'Run'), h('dd', {}, h('a', { href: href({ page: 'runs', id: m.runId }) }, m.runId)),
      h('dt', {}, 'Data version'), h('dd', { class: 'mono' }, m.dataVersion ? m.dataVersion.slice(0, 16) : '—')));
  if (series) out.append(lineChart(series, series.kind === 'equity' ? 'Backtest equity curve' : `Series ${series.path}`));
  for (const sec of metadataSections(m.metadata, { skip: series?.path })) {
    const body: Node[] = [];
    if (sec.rows.length) body.push(h('dl', { class: 'kv' }, ...sec.rows.flatMap((r) => [h('dt', {}, r.key), h('dd', {}, r.value)])));
    for (const t of sec.tables) {
      body.push(h('table', { class: 'meta-table' }, h('caption', {}, t.key),
        h('thead', {}, h('tr', {}, ...t.table.columns.map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, ...t.table.rows.map((r) => h('tr', {}, ...r.map((v) => h('td', {}, v)))))));
      if (t.table.more) body.push(h('p', { class: 'muted' }, `… and ${t.table.more} more rows`));
    }
    out.append(h('section', { class: 'meta' }, h('h4', {}, sec.title), ...body));
  }
  return out;
}
