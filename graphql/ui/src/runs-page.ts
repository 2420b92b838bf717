/** Runs: the list (newest first, paged by cursor) and one run with its steps and a live event log. */
import { ApiError, gql, subscribe, type Connection } from './api.ts';
import { announce, duration, h, mount, statusBadge, utc } from './dom.ts';
import { CANCEL_RUN, RUN_DETAIL, RUN_EVENTS_SUB, RUN_STEPS, RUN_SUMMARY, RUNS_PAGE, TERMINAL, type RunEvent, type RunSummary, type StepRow } from './queries.ts';
import { href } from './route.ts';

const LOG_LIMIT = 1000;

export function progressOf(r: RunSummary): { done: number; total: number } {
  const c = r.stepCounts;
  return { done: c.succeeded + c.failed + c.skipped + c.canceled, total: r.stepsTotal };
}

export function progressBar(r: RunSummary): HTMLElement {
  const { done, total } = progressOf(r);
  return h('progress', { max: Math.max(total, 1), value: total ? done : TERMINAL.has(r.status) ? 1 : 0, 'aria-label': `${done} of ${total} steps done` });
}

/** Where a run's row links: its run page, or (in the backfills list) its backfill page. */
type LinkOf = (r: RunSummary) => string;
const runLink: LinkOf = (r) => href({ page: 'runs', id: r.id });

export function runsTable(runs: RunSummary[], linkOf: LinkOf = runLink): HTMLTableElement {
  return h('table', { class: 'runs' },
    h('thead', {}, h('tr', {}, ...['Run', 'Status', 'Kind', 'Selection', 'Created', 'Duration', 'Steps'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, ...runs.map((r) => runRow(r, linkOf))));
}

function runRow(r: RunSummary, linkOf: LinkOf): HTMLTableRowElement {
  const c = r.stepCounts;
  const { done, total } = progressOf(r);
  return h('tr', {},
    h('th', { scope: 'row' }, h('a', { href: linkOf(r), class: 'mono' }, r.id.slice(0, 8))),
    h('td', {}, statusBadge(r.status)),
    h('td', {}, r.kind),
    h('td', { class: 'mono' }, r.selection),
    h('td', {}, utc(r.createdAt)),
    h('td', {}, duration(r.startedAt, r.endedAt)),
    h('td', { class: 'steps' }, progressBar(r), ` ${done}/${total}`, c.failed ? h('span', { class: 'fail-text' }, ` · ${c.failed} failed`) : null));
}

export class RunsList {
  readonly el: HTMLElement;
  private readonly tbody: HTMLElement;
  private readonly more: HTMLButtonElement;
  private readonly statusSel: HTMLSelectElement;
  private after: string | null = null;
  private readonly linkOf: LinkOf;

  constructor(private readonly query = RUNS_PAGE, private readonly field: 'runs' | 'backfills' = 'runs', title = 'Runs') {
    this.linkOf = field === 'backfills' ? (r) => href({ page: 'backfills', id: r.id }) : runLink;
    const table = runsTable([]);
    this.tbody = table.tBodies[0];
    this.more = h('button', { type: 'button', hidden: true }, 'Load more');
    this.more.addEventListener('click', () => void this.page());
    this.statusSel = h('select', { id: `${field}-status` }, h('option', { value: '' }, 'any'), ...['QUEUED', 'STARTED', 'CANCELING', 'SUCCESS', 'FAILED', 'CANCELED'].map((st) => h('option', { value: st }, st.toLowerCase())));
    this.statusSel.addEventListener('change', () => void this.reset());
    this.el = h('section', { 'aria-labelledby': `${field}-title` },
      h('div', { class: 'page-head' }, h('h1', { id: `${field}-title` }, title),
        field === 'runs' ? h('span', {}, h('label', { for: `${field}-status` }, 'Status '), this.statusSel) : null,
        h('button', { type: 'button', onclick: (() => void this.reset()) as EventListener }, 'Refresh')),
      table, this.more);
  }

  async reset(): Promise<void> {
    this.after = null;
    this.tbody.replaceChildren();
    await this.page();
  }

  private async page(): Promise<void> {
    this.more.disabled = true;
    const status = this.statusSel.value || undefined;
    try {
      const data = await gql<Record<string, Connection<RunSummary>>>(this.query, { first: 25, after: this.after, ...(this.field === 'runs' ? { filter: status ? { status } : null } : {}) });
      const conn = data[this.field];
      this.tbody.append(...conn.edges.map((e) => runRow(e.node, this.linkOf)));
      if (!this.tbody.children.length) this.tbody.append(h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'Nothing yet.')));
      this.after = conn.pageInfo.endCursor;
      this.more.hidden = !conn.pageInfo.hasNextPage;
    } catch (e) {
      this.tbody.append(h('tr', {}, h('td', { colspan: 7, class: 'error', role: 'alert' }, `Could not load: ${(e as Error).message}`)));
      this.more.hidden = true;
    } finally {
      this.more.disabled = false;
    }
  }
}

type RunDetailData = RunSummary & { steps: Connection<StepRow>; events: Connection<RunEvent> };

/** One run: summary, progress, steps, and the event log kept live over the subscription. */
export class RunDetail {
  readonly el: HTMLElement;
  private readonly summary: HTMLElement;
  private readonly stepsBody: HTMLElement;
  private readonly log: HTMLOListElement;
  private readonly liveNote: HTMLElement;
  private readonly abort = new AbortController();
  private readonly seen = new Set<string>();
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private run: RunSummary | undefined;
  private pollTimer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly id: string) {
    this.summary = h('div', { class: 'run-summary', 'aria-live': 'off' }, h('p', { class: 'muted' }, 'Loading run…'));
    const steps = h('table', { class: 'steps-table' }, h('thead', {}, h('tr', {}, ...['Asset', 'Partition', 'Status', 'Attempt', 'Started', 'Duration', 'Error'].map((c) => h('th', { scope: 'col' }, c)))), h('tbody'));
    this.stepsBody = steps.tBodies[0];
    this.log = h('ol', { class: 'event-log', role: 'log', 'aria-label': 'Run events', 'aria-live': 'off', tabindex: '0' });
    this.liveNote = h('span', { class: 'muted', role: 'status' });
    this.el = h('section', { 'aria-labelledby': 'run-title' },
      h('div', { class: 'page-head' }, h('h1', { id: 'run-title' }, 'Run ', h('span', { class: 'mono' }, id)), h('a', { href: '#/runs' }, 'All runs')),
      this.summary,
      h('h2', {}, 'Steps'), h('div', { class: 'scroll-x' }, steps),
      h('h2', {}, 'Events ', this.liveNote), this.log);
  }

  dispose(): void {
    this.abort.abort();
    clearTimeout(this.refreshTimer);
    clearInterval(this.pollTimer);
  }

  async start(): Promise<void> {
    let data: { run: RunDetailData | null };
    try {
      data = await gql(RUN_DETAIL, { id: this.id }, this.abort.signal);
    } catch (e) {
      if (!this.abort.signal.aborted) mount(this.summary, h('p', { role: 'alert', class: 'error' }, `Could not load the run: ${(e as Error).message}`));
      return;
    }
    if (!data.run) { mount(this.summary, h('p', { role: 'alert', class: 'error' }, `No run ${this.id}.`)); return; }
    this.renderSummary(data.run);
    this.renderSteps(data.run.steps.edges.map((e) => e.node));
    for (const e of data.run.events.edges) this.addEvent(e.node);
    if (!TERMINAL.has(data.run.status)) this.follow();
  }

  private follow(): void {
    this.liveNote.textContent = '(live)';
    // Polling backs the stream up: a proxy that buffers SSE or a dropped stream still ends in the final state.
    this.pollTimer = setInterval(() => this.scheduleRefresh(0), 2000);
    subscribe<{ runEvents: RunEvent }>(RUN_EVENTS_SUB, { runId: this.id }, (d) => {
      this.addEvent(d.runEvents);
      this.scheduleRefresh(250);
    }, this.abort.signal).then(
      () => this.scheduleRefresh(0),
      (e: Error) => {
        if (this.abort.signal.aborted) return;
        this.liveNote.textContent = e instanceof ApiError ? `(live updates unavailable: ${e.message}; polling)` : '(polling)';
      },
    );
  }

  private scheduleRefresh(delay: number): void {
    if (this.refreshTimer !== undefined) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      void this.refresh();
    }, delay);
  }

  private async refresh(): Promise<void> {
    try {
      const [summary, steps] = await Promise.all([
        gql<{ run: RunSummary | null }>(RUN_SUMMARY, { id: this.id }, this.abort.signal),
        gql<{ run: { steps: Connection<StepRow> } | null }>(RUN_STEPS, { id: this.id, after: null }, this.abort.signal),
      ]);
      if (!summary.run) return;
      const wasTerminal = this.run && TERMINAL.has(this.run.status);
      this.renderSummary(summary.run);
      if (steps.run) this.renderSteps(steps.run.steps.edges.map((e) => e.node));
      if (TERMINAL.has(summary.run.status) && !wasTerminal) {
        clearInterval(this.pollTimer);
        this.liveNote.textContent = '';
        announce(`Run ${summary.run.status.toLowerCase()}`);
      }
    } catch {
      // The next event or poll tries again.
    }
  }

  private renderSummary(r: RunSummary): void {
    this.run = r;
    const { done, total } = progressOf(r);
    const c = r.stepCounts;
    mount(this.summary,
      h('dl', { class: 'kv run-kv' },
        h('dt', {}, 'Status'), h('dd', { 'data-status': r.status }, statusBadge(r.status)),
        h('dt', {}, 'Kind'), h('dd', {}, r.kind, r.kind === 'backfill' ? [' · ', h('a', { href: href({ page: 'backfills', id: r.id }) }, 'partitions by status')] : null),
        h('dt', {}, 'Selection'), h('dd', { class: 'mono' }, r.selection),
        h('dt', {}, 'Created'), h('dd', {}, utc(r.createdAt)),
        h('dt', {}, 'Duration'), h('dd', {}, duration(r.startedAt, r.endedAt))),
      h('div', { class: 'progress-line' }, progressBar(r),
        h('span', { class: 'progress-text' }, `${done} / ${total} steps · ${c.succeeded} succeeded · ${c.failed} failed · ${c.skipped} skipped · ${c.running} running${c.canceled ? ` · ${c.canceled} canceled` : ''}`)),
      r.error ? h('pre', { class: 'error' }, JSON.stringify(r.error, null, 2)) : null,
      !TERMINAL.has(r.status) ? h('button', { type: 'button', onclick: (() => void this.cancel()) as EventListener }, 'Cancel run') : null,
    );
  }

  private async cancel(): Promise<void> {
    try {
      const d = await gql<{ cancelRun: RunSummary }>(CANCEL_RUN, { id: this.id });
      this.renderSummary(d.cancelRun);
      announce('Cancel requested');
    } catch (e) {
      this.summary.append(h('p', { role: 'alert', class: 'error' }, `Could not cancel: ${(e as Error).message}`));
    }
  }

  private renderSteps(steps: StepRow[]): void {
    this.stepsBody.replaceChildren(...steps.map((st) => h('tr', {},
      h('td', {}, h('a', { href: href({ page: 'assets', key: st.assetKey }) }, st.assetKey)),
      h('td', { class: 'mono' }, st.partitionKey || '—'),
      h('td', {}, statusBadge(st.status)),
      h('td', { class: 'num' }, st.attempt),
      h('td', {}, utc(st.startedAt)),
      h('td', {}, duration(st.startedAt, st.endedAt)),
      h('td', { class: 'err-cell' }, st.error ? errorText(st.error) : ''))));
    if (!steps.length) this.stepsBody.append(h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No steps yet.')));
  }

  private addEvent(e: RunEvent): void {
    if (this.seen.has(e.id)) return;
    this.seen.add(e.id);
    const payload = e.payload && typeof e.payload === 'object' && Object.keys(e.payload).length ? ` ${JSON.stringify(e.payload).slice(0, 200)}` : '';
    this.log.append(h('li', { class: `ev ev-${e.type.toLowerCase()}` },
      h('time', { datetime: e.timestamp }, utc(e.timestamp).slice(11)), ' ', h('strong', {}, e.type), e.assetKey ? ` ${e.assetKey}` : '', e.partitionKey ? ` [${e.partitionKey}]` : '', payload));
    while (this.log.children.length > LOG_LIMIT) this.log.firstElementChild?.remove();
    // Follow the tail unless the reader scrolled up.
    if (this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 80) this.log.scrollTop = this.log.scrollHeight;
  }
}

function errorText(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const o = err as Record<string, unknown>;
    const id = o.errorId ?? o.error_id ?? o.code;
    return [id, o.message].filter(Boolean).join(': ') || JSON.stringify(err);
  }
  return String(err);
}
