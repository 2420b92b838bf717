/**
 * Virtual list maths and cursor paging for the partition list. Pure (no DOM): the list view only
 * asks which rows are visible and where to put them, and which pages to fetch.
 */

/**
 * Browsers cap an element's height (Firefox near 17.9 M px, Chrome near 33.5 M px); beyond this
 * the spacer stays at the cap and scroll positions map proportionally onto rows.
 */
export const MAX_SCROLL_PX = 8_000_000;

export interface ViewportInput {
  scrollTop: number;
  viewportHeight: number;
  rowHeight: number;
  total: number;
  /** Extra rows rendered above and below the visible ones. */
  overscan?: number;
  maxScrollPx?: number;
}

export interface RowWindow {
  /** Height of the scrolling spacer, px. */
  spacerHeight: number;
  /** First and one-past-last row index to render. */
  start: number;
  end: number;
  /** The `top` of row `start` inside the spacer, px; row i sits at top + (i − start) · rowHeight. */
  top: number;
  /** First and last row actually in view (without the overscan), for "rows a–b of n". */
  firstVisible: number;
  lastVisible: number;
}

export function spacerHeight(total: number, rowHeight: number, maxScrollPx = MAX_SCROLL_PX): number {
  return Math.min(Math.max(0, total) * rowHeight, maxScrollPx);
}

export function visibleWindow(i: ViewportInput): RowWindow {
  const total = Math.max(0, Math.floor(i.total));
  const overscan = i.overscan ?? 8;
  const realHeight = total * i.rowHeight;
  const spacer = spacerHeight(total, i.rowHeight, i.maxScrollPx);
  if (total === 0) return { spacerHeight: 0, start: 0, end: 0, top: 0, firstVisible: 0, lastVisible: -1 };
  const maxScroll = Math.max(0, spacer - i.viewportHeight);
  const scrollTop = Math.min(Math.max(0, i.scrollTop), maxScroll);
  // Where the viewport's top edge falls in the full (uncapped) list.
  const ratio = maxScroll > 0 ? Math.max(0, realHeight - i.viewportHeight) / maxScroll : 0;
  const realTop = scrollTop * ratio;
  const firstVisible = Math.min(total - 1, Math.floor(realTop / i.rowHeight));
  const visibleCount = Math.ceil(i.viewportHeight / i.rowHeight) + 1;
  const start = Math.max(0, firstVisible - overscan);
  const end = Math.min(total, firstVisible + visibleCount + overscan);
  const top = scrollTop + (start * i.rowHeight - realTop);
  const lastVisible = Math.min(total - 1, Math.ceil((realTop + i.viewportHeight) / i.rowHeight) - 1);
  return { spacerHeight: spacer, start, end, top, firstVisible, lastVisible };
}

export interface Page<T> {
  rows: T[];
  endCursor: string | null;
  hasNextPage: boolean;
}

export type PageFetcher<T> = (after: string | null, first: number) => Promise<Page<T>>;

/** One page of the connection: where it starts, the cursor that fetches it, and (once fetched) its rows. */
interface PageSlot<T> {
  after: string | null;
  start: number;
  /** Known once fetched; pages may be short (a server's bounded scan) or even empty. */
  size?: number;
  /** Dropped when the page is evicted; `size` and `after` stay so it can come back. */
  rows?: T[];
}

/**
 * Rows fetched by Relay cursor, page by page. A cursor connection cannot jump to row n, so reaching
 * row n walks the pages before it once; each page's cursor, start and size are kept (a few bytes
 * each) so the walk is never repeated, while rows are kept only for the most recently used pages
 * (memory stays bounded however far one scrolls through a million partitions). Pages may hold fewer
 * rows than asked for, even none, while more follow: row numbers come from the sizes actually seen.
 */
export class CursorPager<T> {
  private readonly slots: PageSlot<T>[] = [{ after: null, start: 0 }];
  private readonly resident: number[] = [];
  private readonly inflight = new Map<number, Promise<void>>();
  private walking: Promise<void> | undefined;
  private wantedRow = 0;
  private ended = false;
  /** The number of rows there are, once the last page has been fetched. */
  endRow: number | undefined;
  /** Number of fetches made (for tests and the UI's status line). */
  fetches = 0;

  constructor(
    private readonly fetchPage: PageFetcher<T>,
    readonly pageSize: number,
    private readonly keepPages = 24,
    private readonly onChange: () => void = () => {},
  ) {}

  /** Rows whose position is known: everything before the first page not yet fetched. */
  get knownRows(): number {
    const last = this.slots[this.slots.length - 1];
    return last.size === undefined ? last.start : last.start + last.size;
  }

  /** True when the server said there is nothing after the last page fetched. */
  get exhausted(): boolean {
    return this.ended;
  }

  /** Row i if its page is loaded. */
  row(i: number): T | undefined {
    const p = this.slotOf(i);
    if (p < 0) return undefined;
    const slot = this.slots[p];
    return slot.rows?.[i - slot.start];
  }

  /** Slots currently holding rows. */
  loadedPages(): number[] {
    return [...this.resident];
  }

  /** Makes sure rows [start, end) are loaded (or known not to exist); resolves when they are. */
  ensure(start: number, end: number): Promise<void> {
    const work: Promise<void>[] = [];
    // Pages already walked past whose rows were evicted come back directly by their cursor.
    for (let p = Math.max(0, this.firstSlotFrom(start)); p < this.slots.length; p++) {
      const slot = this.slots[p];
      if (slot.start >= end || slot.size === undefined) break;
      if (!slot.rows) work.push(this.fetchInto(p));
    }
    if (!this.ended && this.knownRows < end) {
      this.wantedRow = Math.max(this.wantedRow, end);
      this.walking ??= this.walk().finally(() => { this.walking = undefined; });
      work.push(this.walking);
    }
    return Promise.all(work).then(() => {});
  }

  /** The walk: fetch the first unfetched page until the wanted row (possibly raised meanwhile) is covered. */
  private async walk(): Promise<void> {
    while (!this.ended && this.knownRows < this.wantedRow) await this.fetchInto(this.slots.length - 1);
    this.wantedRow = 0;
  }

  /** The last slot starting at or before row i (0 when none). */
  private firstSlotFrom(i: number): number {
    let lo = 0;
    let hi = this.slots.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.slots[mid].start <= i) lo = mid; else hi = mid - 1;
    }
    return lo;
  }

  /** The fetched slot whose rows cover row i, or -1. */
  private slotOf(i: number): number {
    const lo = this.firstSlotFrom(i);
    // Every earlier slot ends where the next begins, so if this one does not cover i, none does.
    const slot = this.slots[lo];
    return slot.size !== undefined && i >= slot.start && i < slot.start + slot.size ? lo : -1;
  }

  /**
   * True when row i's page is loaded even if the row itself is not there (the page came back
   * shorter on a refetch because the data changed): the list shows a gap rather than waiting.
   */
  settled(i: number): boolean {
    const p = this.slotOf(i);
    return p >= 0 && this.slots[p].rows !== undefined;
  }

  private fetchInto(p: number): Promise<void> {
    let pending = this.inflight.get(p);
    if (!pending) {
      pending = this.load(p).finally(() => this.inflight.delete(p));
      this.inflight.set(p, pending);
    }
    return pending;
  }

  private async load(p: number): Promise<void> {
    const slot = this.slots[p];
    this.fetches++;
    const page = await this.fetchPage(slot.after, this.pageSize);
    const first = slot.size === undefined;
    // A page fetched again keeps the size it had: later rows were numbered from it.
    slot.rows = first ? page.rows : page.rows.slice(0, slot.size);
    if (first) {
      slot.size = page.rows.length;
      const stuck = page.rows.length === 0 && page.endCursor === slot.after;
      if (page.hasNextPage && page.endCursor !== null && !stuck) this.slots.push({ after: page.endCursor, start: slot.start + slot.size });
      else { this.ended = true; this.endRow = slot.start + slot.size; }
    }
    this.keep(p);
    this.onChange();
  }

  private keep(p: number): void {
    const at = this.resident.indexOf(p);
    if (at >= 0) this.resident.splice(at, 1);
    this.resident.push(p);
    while (this.resident.length > this.keepPages) {
      const old = this.resident.shift()!;
      this.slots[old].rows = undefined;
    }
  }
}
