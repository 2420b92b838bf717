/**
 * An asset's partitions in a fixed-height scrolling list that renders only the visible rows and
 * fetches pages by cursor as they scroll into view: a million partitions cost a few dozen DOM
 * rows and the pages near the viewport.
 */
import { gql, type Connection } from './api.ts';
import { h, utc } from './dom.ts';
import type { PartitionStats } from './health.ts';
import { PARTITIONS_PAGE, PARTITION_STATUSES, type PartitionRow, type PartitionStatus } from './queries.ts';
import { href } from './route.ts';
import { CursorPager, visibleWindow } from './virtual.ts';

const ROW_H = 28;
const PAGE = 200;

export function countFor(stats: PartitionStats, status: PartitionStatus | undefined): number {
  switch (status) {
    case undefined: return stats.total;
    case 'MATERIALIZED': return stats.materialized;
    case 'STALE': return stats.stale;
    case 'FAILED': return stats.failed;
    case 'QUARANTINED': return stats.quarantined;
    case 'MISSING': return stats.missing;
  }
}

export class PartitionList {
  readonly el: HTMLElement;
  private readonly scroller: HTMLElement;
  private readonly spacer: HTMLElement;
  private readonly rows: HTMLElement;
  private readonly note: HTMLElement;
  private pager: CursorPager<PartitionRow>;
  private total: number;
  private frame = 0;
  private generation = 0;

  constructor(private readonly assetKey: string, private readonly stats: PartitionStats) {
    this.total = stats.total;
    const select = h('select', { id: `pf-${assetKey}`, 'aria-label': 'Show partitions with status' },
      h('option', { value: '' }, `all (${stats.total.toLocaleString('en-US')})`),
      ...PARTITION_STATUSES.map((st) => h('option', { value: st }, `${st.toLowerCase()} (${countFor(stats, st).toLocaleString('en-US')})`)));
    select.addEventListener('change', () => this.setStatus((select.value || undefined) as PartitionStatus | undefined));
    this.note = h('span', { class: 'muted', role: 'status' });
    this.spacer = h('div', { class: 'vspacer' });
    this.rows = h('div', { class: 'vrows', role: 'rowgroup' });
    this.spacer.append(this.rows);
    this.scroller = h('div', { class: 'vlist', tabindex: '0', role: 'table', 'aria-label': `Partitions of ${assetKey}`, 'aria-rowcount': String(this.total) }, 
      h('div', { class: 'vrow vhead', role: 'row' }, ...['Partition', 'Status', 'Materialized', 'Run'].map((c) => h('span', { role: 'columnheader' }, c))),
      this.spacer);
    this.scroller.addEventListener('scroll', () => this.schedule(), { passive: true });
    this.el = h('div', { class: 'partitions' }, h('div', { class: 'row-controls' }, h('label', { for: `pf-${assetKey}` }, 'Status '), select, ' ', this.note), this.scroller);
    this.pager = this.newPager(undefined);
    this.schedule();
  }

  private newPager(status: PartitionStatus | undefined): CursorPager<PartitionRow> {
    const gen = ++this.generation;
    return new CursorPager<PartitionRow>(async (after, first) => {
      const data: { asset: { partitions: Connection<PartitionRow> } | null } = await gql(PARTITIONS_PAGE, { key: this.assetKey, status: status ?? null, first, after });
      const conn = data.asset?.partitions;
      if (!conn) return { rows: [], endCursor: null, hasNextPage: false };
      return { rows: conn.edges.map((e) => e.node), endCursor: conn.pageInfo.endCursor, hasNextPage: conn.pageInfo.hasNextPage };
    }, PAGE, 24, () => { if (gen === this.generation) this.schedule(); });
  }

  private setStatus(status: PartitionStatus | undefined): void {
    this.total = countFor(this.stats, status);
    this.scroller.setAttribute('aria-rowcount', String(this.total));
    this.pager = this.newPager(status);
    this.scroller.scrollTop = 0;
    this.schedule();
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => { this.frame = 0; this.render(); });
  }

  private render(): void {
    const header = ROW_H;
    // The stats and the list are read at different moments: the list's end wins once it is known.
    if (this.pager.endRow !== undefined && this.pager.endRow !== this.total) {
      this.total = this.pager.endRow;
      this.scroller.setAttribute('aria-rowcount', String(this.total));
    }
    const win = visibleWindow({ scrollTop: this.scroller.scrollTop, viewportHeight: this.scroller.clientHeight - header, rowHeight: ROW_H, total: this.total });
    this.spacer.style.height = `${win.spacerHeight}px`;
    this.rows.style.transform = `translateY(${win.top}px)`;
    const out: HTMLElement[] = [];
    let waiting = false;
    for (let i = win.start; i < win.end; i++) {
      const p = this.pager.row(i);
      if (!p) {
        const settled = this.pager.settled(i);
        waiting ||= !settled;
        out.push(h('div', { class: 'vrow loading', role: 'row', 'aria-rowindex': String(i + 1) }, h('span', { role: 'cell' }, settled ? '(changed since loaded)' : '…')));
        continue;
      }
      out.push(h('div', { class: 'vrow', role: 'row', 'aria-rowindex': String(i + 1) },
        h('span', { role: 'cell', class: 'mono' }, p.key || '(unpartitioned)'),
        h('span', { role: 'cell' }, h('span', { class: `dot seg-${p.status === 'MATERIALIZED' ? 'fresh' : p.status.toLowerCase()}`, 'aria-hidden': 'true' }), p.status.toLowerCase()),
        h('span', { role: 'cell' }, utc(p.materializedAt)),
        h('span', { role: 'cell' }, p.runId ? h('a', { href: href({ page: 'runs', id: p.runId }) }, p.runId.slice(0, 8)) : '—')));
    }
    this.rows.replaceChildren(...out);
    if (this.total === 0) this.rows.replaceChildren(h('div', { class: 'vrow', role: 'row' }, h('span', { role: 'cell' }, 'No partitions.')));
    this.note.textContent = this.total ? `rows ${(win.firstVisible + 1).toLocaleString('en-US')}–${(win.lastVisible + 1).toLocaleString('en-US')} of ${this.total.toLocaleString('en-US')}${waiting ? ', loading…' : ''}` : '';
    if (waiting) {
      const pager = this.pager;
      pager.ensure(win.start, win.end).catch((e: Error) => {
        if (pager === this.pager) this.note.textContent = `Could not load partitions: ${e.message}`;
      });
    }
  }
}
