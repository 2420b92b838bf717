/** Backfills: the launch form, the list, and one backfill's per-partition status. */
import { gql, type Connection } from './api.ts';
import { announce, h, mount, statusBadge, utc } from './dom.ts';
import { ASSET_KEYS, BACKFILL_DETAIL, BACKFILLS_PAGE, LAUNCH_BACKFILL, RETRY_BACKFILL, type RunSummary, type StepCounts, type StepRow } from './queries.ts';
import { href } from './route.ts';
import { backfillRequest } from './forms.ts';
import { progressBar, RunsList } from './runs-page.ts';

export function launchForm(): HTMLElement {
  const list = h('datalist', { id: 'asset-keys' });
  void gql<{ assets: Connection<{ key: string }> }>(ASSET_KEYS, { after: null }).then((d) => list.append(...d.assets.edges.map((e) => h('option', { value: e.node.key }))), () => {});
  const field = (id: string, label: string, input: HTMLElement, hint?: string) => h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('small', { id: `${id}-hint` }, hint) : null);
  const selection = h('input', { id: 'bf-selection', name: 'selection', required: true, list: 'asset-keys', autocomplete: 'off', 'aria-describedby': 'bf-selection-hint' });
  const from = h('input', { id: 'bf-from', name: 'from', autocomplete: 'off', 'aria-describedby': 'bf-from-hint' });
  const to = h('input', { id: 'bf-to', name: 'to', autocomplete: 'off' });
  const keys = h('textarea', { id: 'bf-keys', name: 'keys', rows: 3, 'aria-describedby': 'bf-keys-hint' });
  const radio = (name: string, value: string, label: string, checked = false) => h('label', { class: 'radio' }, h('input', { type: 'radio', name, value, checked }), ` ${label}`);
  const rangeBox = h('div', { class: 'range' }, field('bf-from', 'From', from, 'A full key (1h|XAUUSD|2024-01) or a bare month (2024-01)'), field('bf-to', 'To', to));
  const keysBox = h('div', { class: 'keys', hidden: true }, field('bf-keys', 'Partition keys', keys, 'One per line or comma-separated'));
  const message = h('p', { class: 'form-msg', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Launch backfill');
  const form = h('form', { class: 'launch', 'aria-labelledby': 'launch-title', novalidate: true },
    h('h2', { id: 'launch-title' }, 'Launch backfill'),
    list,
    field('bf-selection', 'Selection', selection, 'An asset key, key+ (with downstream), +key (with upstream), * or a comma list'),
    h('fieldset', {}, h('legend', {}, 'Partitions'), radio('mode', 'range', 'range', true), radio('mode', 'keys', 'keys'), radio('mode', 'all', 'all partitions')),
    rangeBox, keysBox,
    h('fieldset', {}, h('legend', {}, 'Only'), radio('filter', 'all', 'everything in range', true), radio('filter', 'missing', 'only missing'), radio('filter', 'failed', 'only failed')),
    submit, message);
  form.addEventListener('change', () => {
    const mode = (form.elements.namedItem('mode') as RadioNodeList).value;
    rangeBox.hidden = mode !== 'range';
    keysBox.hidden = mode !== 'keys';
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const val = (n: string) => ((form.elements.namedItem(n) as RadioNodeList | HTMLInputElement | null)?.value ?? '');
    const req = backfillRequest({ selection: val('selection'), mode: val('mode'), from: val('from'), to: val('to'), keys: val('keys'), filter: val('filter') });
    if (typeof req === 'string') { message.textContent = req; message.className = 'form-msg error'; return; }
    submit.disabled = true;
    message.className = 'form-msg';
    message.textContent = 'Launching…';
    try {
      const d = await gql<{ launchBackfill: { runId: string } }>(LAUNCH_BACKFILL, { ...req });
      announce('Backfill launched');
      location.hash = href({ page: 'runs', id: d.launchBackfill.runId });
    } catch (err) {
      message.className = 'form-msg error';
      message.textContent = `Not launched: ${(err as Error).message}`;
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

export function backfillsPage(): HTMLElement {
  const list = new RunsList(BACKFILLS_PAGE, 'backfills', 'Backfills');
  void list.reset();
  return h('div', { class: 'backfills' }, list.el, launchForm());
}

interface BackfillData { id: string; run: RunSummary; partitionCounts: StepCounts; partitions: Connection<StepRow> }

export async function backfillDetail(id: string): Promise<HTMLElement> {
  const el = h('section', { 'aria-labelledby': 'bf-title' }, h('h1', { id: 'bf-title' }, 'Backfill ', h('span', { class: 'mono' }, id)), h('p', { class: 'muted' }, 'Loading…'));
  const fill = async () => {
    let d: { backfill: BackfillData | null };
    try {
      d = await gql(BACKFILL_DETAIL, { id, after: null });
    } catch (e) {
      mount(el, el.firstChild, h('p', { role: 'alert', class: 'error' }, `Could not load: ${(e as Error).message}`));
      return;
    }
    if (!d.backfill) { mount(el, el.firstChild, h('p', { role: 'alert', class: 'error' }, `No backfill ${id}.`)); return; }
    const b = d.backfill;
    const c = b.partitionCounts;
    const tbody = h('tbody', {}, ...b.partitions.edges.map((e) => stepRow(e.node)));
    let after = b.partitions.pageInfo.endCursor;
    const more = h('button', { type: 'button', hidden: !b.partitions.pageInfo.hasNextPage }, 'Load more');
    more.addEventListener('click', async () => {
      const next = await gql<{ backfill: BackfillData }>(BACKFILL_DETAIL, { id, after });
      tbody.append(...next.backfill.partitions.edges.map((e) => stepRow(e.node)));
      after = next.backfill.partitions.pageInfo.endCursor;
      more.hidden = !next.backfill.partitions.pageInfo.hasNextPage;
    });
    const retry = h('button', { type: 'button' }, 'Retry failed partitions');
    retry.addEventListener('click', async () => {
      try {
        const r = await gql<{ retryBackfill: { runId: string } }>(RETRY_BACKFILL, { id });
        location.hash = href({ page: 'runs', id: r.retryBackfill.runId });
      } catch (e) {
        retry.after(h('p', { role: 'alert', class: 'error' }, `Not retried: ${(e as Error).message}`));
      }
    });
    const count = (label: string, v: number) => [h('div', {}, h('dt', {}, label), h('dd', {}, v.toLocaleString('en-US')))];
    mount(el, el.firstChild,
      h('dl', { class: 'kv' },
        h('dt', {}, 'Status'), h('dd', {}, statusBadge(b.run.status)),
        h('dt', {}, 'Selection'), h('dd', { class: 'mono' }, b.run.selection),
        h('dt', {}, 'Created'), h('dd', {}, utc(b.run.createdAt)),
        h('dt', {}, 'Run'), h('dd', {}, h('a', { href: href({ page: 'runs', id: b.run.id }) }, 'events and steps'))),
      h('div', { class: 'progress-line' }, progressBar(b.run)),
      h('h2', {}, 'Partitions by status'),
      h('dl', { class: 'stats' }, ...count('succeeded', c.succeeded), ...count('failed', c.failed), ...count('running', c.running), ...count('skipped', c.skipped), ...count('canceled', c.canceled)),
      c.failed > 0 ? retry : null,
      h('div', { class: 'scroll-x' }, h('table', {}, h('thead', {}, h('tr', {}, ...['Asset', 'Partition', 'Status', 'Attempt', 'Ended'].map((t) => h('th', { scope: 'col' }, t)))), tbody)),
      more);
  };
  void fill();
  return el;
}

function stepRow(st: StepRow): HTMLElement {
  return h('tr', {},
    h('td', {}, h('a', { href: href({ page: 'assets', key: st.assetKey }) }, st.assetKey)),
    h('td', { class: 'mono' }, st.partitionKey || '—'),
    h('td', {}, statusBadge(st.status)),
    h('td', { class: 'num' }, st.attempt),
    h('td', {}, utc(st.endedAt)));
}
