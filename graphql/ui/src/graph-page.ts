/** The asset graph: every asset as a node (key, group, health strip, badges), edges upstream → downstream. */
import { ApiError, gql, type Connection } from './api.ts';
import { AssetPanel } from './asset-panel.ts';
import { announce, h, s } from './dom.ts';
import { describeHealth, healthStrip } from './health.ts';
import { NODE_H, NODE_W, type Layout, type LayoutCache } from './layout-hash.ts';
import { ASSETS_PAGE, type GraphAsset } from './queries.ts';
import { href } from './route.ts';

export interface GraphTimings { nodes: number; edges: number; fetchMs: number; layoutMs: number; drawMs: number; totalMs: number }

declare global {
  interface Window { __orrery?: { graph?: GraphTimings } }
}

const STRIP_W = NODE_W - 24;
const KEY_CHARS = 26;
/** Stats older than this are refetched when the page is shown again. */
const REFRESH_MS = 5_000;

export async function fetchGraphAssets(): Promise<GraphAsset[]> {
  const out: GraphAsset[] = [];
  let after: string | null = null;
  let first = 500;
  for (;;) {
    let data: { assets: Connection<GraphAsset> };
    try {
      data = await gql(ASSETS_PAGE, { after, first });
    } catch (e) {
      // A server with a tighter cost limit than this one's default: smaller pages cost less.
      if (e instanceof ApiError && e.code === 'API_LIMIT_COMPLEXITY' && first > 50) { first = Math.floor(first / 4); continue; }
      throw e;
    }
    for (const e of data.assets.edges) out.push(e.node);
    if (!data.assets.pageInfo.hasNextPage || !data.assets.pageInfo.endCursor) return out;
    after = data.assets.pageInfo.endCursor;
  }
}

function failingChecks(a: GraphAsset): number {
  return a.checks.filter((c) => c.failed > 0).length;
}

function structureOf(assets: GraphAsset[]): string {
  return assets.map((a) => `${a.key}<${a.upstream.map((u) => u.key).sort().join(',')}`).sort().join(';');
}

export class GraphPage {
  readonly el: HTMLElement;
  private readonly canvas: HTMLElement;
  private readonly svg: SVGSVGElement;
  private readonly viewport: SVGGElement;
  private readonly status: HTMLElement;
  private readonly filter: HTMLInputElement;
  private readonly panel = new AssetPanel();
  private assets: GraphAsset[] = [];
  private layout: Layout | undefined;
  private structure = '';
  private loadedAt = 0;
  private loading: Promise<void> | undefined;
  private readonly nodes = new Map<string, SVGGElement>();
  private readonly edgeEls: Array<{ from: string; to: string; el: SVGPathElement }> = [];
  private selected: string | undefined;
  private view = { x: 0, y: 0, k: 1 };
  private dragged = false;
  /** Set once the person pans or zooms: from then on the view is theirs, not refitted on resize. */
  private userMoved = false;

  constructor() {
    this.status = h('p', { class: 'muted', role: 'status' }, 'Loading assets…');
    this.filter = h('input', { type: 'search', placeholder: 'Filter by key or group', 'aria-label': 'Filter assets by key or group', class: 'filter' });
    this.filter.addEventListener('input', () => this.applyFilter());
    this.filter.addEventListener('keydown', (e) => {
      if (e.key !== 'Enter') return;
      const first = [...this.nodes.entries()].find(([, g]) => !g.classList.contains('dim'));
      first?.[1].focus();
    });
    this.svg = s('svg', { class: 'graph', role: 'group', 'aria-label': 'Asset graph: Tab moves between assets, Enter opens one' });
    this.viewport = s('g');
    this.svg.append(
      s('defs', {},
        s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse' },
          s('path', { d: 'M0,0L10,5L0,10z', class: 'arrowhead' }))),
      this.viewport,
    );
    this.canvas = h('div', { class: 'canvas' }, this.svg);
    const zoomBtn = (label: string, text: string, f: () => void) => h('button', { type: 'button', 'aria-label': label, onclick: f as EventListener }, text);
    const toolbar = h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Graph' },
      this.filter,
      zoomBtn('Zoom in', '+', () => this.zoomBy(1.25)),
      zoomBtn('Zoom out', '−', () => this.zoomBy(0.8)),
      zoomBtn('Fit the graph to the view', 'Fit', () => { this.userMoved = false; this.fit(); }),
      zoomBtn('Reload assets', 'Reload', () => void this.load(true)),
      legend(),
      this.status,
    );
    this.el = h('div', { class: 'graph-page' }, h('h1', { class: 'sr-only' }, 'Assets graph'), h('div', { class: 'graph-main' }, toolbar, this.canvas), this.panel.el);
    this.installPanZoom();
    // The panel opening or closing changes the canvas size: keep the graph fitted until the person moves it.
    new ResizeObserver(() => {
      if (!this.userMoved) this.fit();
      else if (this.selected) this.ensureVisible(this.selected);
    }).observe(this.canvas);
  }

  /** Shows the page, with the panel of `key` open when given. */
  async show(key: string | undefined): Promise<void> {
    if (key) void this.panel.open(key); else this.panel.close();
    this.el.classList.toggle('with-panel', Boolean(key));
    this.select(key);
    await this.load(Date.now() - this.loadedAt > REFRESH_MS);
    this.select(key);
  }

  private load(force: boolean): Promise<void> {
    if (this.loading) return this.loading;
    if (!force && this.layout) return Promise.resolve();
    this.loading = this.reload().finally(() => { this.loading = undefined; });
    return this.loading;
  }

  private async reload(): Promise<void> {
    const t0 = performance.now();
    // ELK is most of the script: it loads (and warms up) while the assets are being fetched.
    let arrived = false;
    const elk = loadLayout(() => !arrived);
    try {
      this.assets = await fetchGraphAssets();
      arrived = true;
    } catch (e) {
      this.status.textContent = `Could not load assets: ${(e as Error).message}`;
      return;
    }
    const t1 = performance.now();
    this.loadedAt = Date.now();
    const structure = structureOf(this.assets);
    let t2 = t1;
    if (structure !== this.structure || !this.layout) {
      const edges = this.assets.flatMap((a) => a.upstream.map((u) => ({ from: u.key, to: a.key })));
      this.layout = await (await elk).cachedLayout(this.assets.map((a) => a.key), edges, storage());
      this.structure = structure;
      t2 = performance.now();
      this.draw();
      this.fit();
    } else {
      this.updateNodes();
    }
    // Wait for the frame that paints it: the timing then covers what a person sees.
    await new Promise((r) => requestAnimationFrame(() => r(undefined)));
    const t3 = performance.now();
    const timings: GraphTimings = { nodes: this.assets.length, edges: this.layout.edges.length, fetchMs: t1 - t0, layoutMs: t2 - t1, drawMs: t3 - t2, totalMs: t3 - t0 };
    window.__orrery = { ...window.__orrery, graph: timings };
    this.svg.dataset.drawn = String(this.assets.length);
    this.status.textContent = `${this.assets.length} assets`;
    this.applyFilter();
  }

  private draw(): void {
    const layout = this.layout!;
    this.nodes.clear();
    this.edgeEls.length = 0;
    const edgeLayer = s('g', { class: 'edges', 'aria-hidden': 'true' });
    for (const e of layout.edges) {
      const d = e.points.map((p, i) => `${i ? 'L' : 'M'}${p.x},${p.y}`).join('');
      const el = s('path', { d, class: 'edge', 'marker-end': 'url(#arrow)' });
      this.edgeEls.push({ from: e.from, to: e.to, el });
      edgeLayer.append(el);
    }
    const nodeLayer = s('g', { class: 'nodes' });
    // DOM order is Tab order: follow the drawing, upstream columns first, top to bottom.
    const placed = this.assets.filter((a) => layout.nodes.has(a.key)).map((a) => ({ a, pos: layout.nodes.get(a.key)! }));
    placed.sort((p, q) => p.pos.x - q.pos.x || p.pos.y - q.pos.y);
    for (const { a, pos } of placed) {
      const g = s('g', { class: 'node', tabindex: '0', role: 'button', transform: `translate(${pos.x},${pos.y})`, 'data-key': a.key });
      this.fillNode(g, a);
      g.addEventListener('click', () => { if (!this.dragged) this.openAsset(a.key); });
      g.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); this.openAsset(a.key); }
      });
      g.addEventListener('focus', () => this.ensureVisible(a.key));
      this.nodes.set(a.key, g);
      nodeLayer.append(g);
    }
    this.viewport.replaceChildren(edgeLayer, nodeLayer);
  }

  private fillNode(g: SVGGElement, a: GraphAsset): void {
    const stale = a.partitionStats.stale;
    const failing = failingChecks(a);
    const key = a.key.length > KEY_CHARS ? `${a.key.slice(0, KEY_CHARS - 1)}…` : a.key;
    const badges: SVGElement[] = [];
    let right = NODE_W - 8;
    const badge = (text: string, cls: string) => {
      const w = text.length * 6.4 + 12;
      right -= w;
      badges.push(s('g', { class: `nbadge ${cls}`, transform: `translate(${right},8)` }, s('rect', { width: w, height: 16, rx: 8 }), s('text', { x: w / 2, y: 12, 'text-anchor': 'middle' }, text)));
      right -= 4;
    };
    if (failing > 0) badge(`${failing} check${failing === 1 ? '' : 's'} failing`, 'nb-fail');
    if (stale > 0) badge(`${stale.toLocaleString('en-US')} stale`, 'nb-stale');
    const strip = s('g', { class: 'strip', transform: `translate(12,${NODE_H - 20})` }, s('rect', { class: 'strip-bg', width: STRIP_W, height: 8, rx: 2 }));
    for (const seg of healthStrip(a.partitionStats, STRIP_W)) strip.append(s('rect', { class: `seg-${seg.kind}`, x: seg.x, width: seg.width, height: 8 }));
    const label = [`Asset ${a.key}`, a.group ? `group ${a.group}` : '', describeHealth(a.partitionStats), stale ? `${stale} stale` : '', failing ? `${failing} failing checks` : ''].filter(Boolean).join('; ');
    g.setAttribute('aria-label', label);
    g.replaceChildren(
      s('title', {}, label),
      s('rect', { class: 'node-box', width: NODE_W, height: NODE_H, rx: 6 }),
      s('text', { class: 'node-key', x: 12, y: badges.length ? 40 : 26 }, key),
      s('text', { class: 'node-group', x: 12, y: badges.length ? 54 : 42 }, [a.group ?? 'no group', ...a.kinds].join(' · ')),
      ...badges,
      strip,
    );
  }

  private updateNodes(): void {
    for (const a of this.assets) {
      const g = this.nodes.get(a.key);
      if (g) this.fillNode(g, a);
    }
  }

  private openAsset(key: string): void {
    location.hash = href({ page: 'assets', key });
  }

  private select(key: string | undefined): void {
    this.selected = key;
    for (const [k, g] of this.nodes) {
      if (k === key) g.setAttribute('aria-current', 'true'); else g.removeAttribute('aria-current');
    }
    for (const e of this.edgeEls) e.el.classList.toggle('hl', key !== undefined && (e.from === key || e.to === key));
  }

  private applyFilter(): void {
    const q = this.filter.value.trim().toLowerCase();
    let shown = 0;
    for (const a of this.assets) {
      const hit = !q || a.key.toLowerCase().includes(q) || (a.group ?? '').toLowerCase().includes(q);
      this.nodes.get(a.key)?.classList.toggle('dim', !hit);
      if (hit) shown++;
    }
    if (q) announce(`${shown} of ${this.assets.length} assets match`);
  }

  // --- pan and zoom -------------------------------------------------------------------------

  private apply(): void {
    this.viewport.setAttribute('transform', `translate(${this.view.x},${this.view.y}) scale(${this.view.k})`);
  }

  fit(): void {
    const l = this.layout;
    if (!l) return;
    const w = this.canvas.clientWidth || 800;
    const hgt = this.canvas.clientHeight || 600;
    const k = Math.max(0.15, Math.min(1, (w - 16) / l.width, (hgt - 16) / l.height));
    this.view = { k, x: (w - l.width * k) / 2, y: Math.max(8, (hgt - l.height * k) / 2) };
    this.apply();
  }

  private zoomBy(f: number, cx = this.canvas.clientWidth / 2, cy = this.canvas.clientHeight / 2): void {
    this.userMoved = true;
    const k = Math.min(3, Math.max(0.1, this.view.k * f));
    // Keep the point under the cursor where it is.
    this.view.x = cx - ((cx - this.view.x) * k) / this.view.k;
    this.view.y = cy - ((cy - this.view.y) * k) / this.view.k;
    this.view.k = k;
    this.apply();
  }

  private ensureVisible(key: string): void {
    const pos = this.layout?.nodes.get(key);
    if (!pos) return;
    const { x, y, k } = this.view;
    const w = this.canvas.clientWidth;
    const hgt = this.canvas.clientHeight;
    const left = x + pos.x * k;
    const top = y + pos.y * k;
    if (left >= 0 && top >= 0 && left + NODE_W * k <= w && top + NODE_H * k <= hgt) return;
    this.view.x = w / 2 - (pos.x + NODE_W / 2) * k;
    this.view.y = hgt / 2 - (pos.y + NODE_H / 2) * k;
    this.apply();
  }

  private installPanZoom(): void {
    this.svg.addEventListener('wheel', (e) => {
      e.preventDefault();
      const r = this.svg.getBoundingClientRect();
      this.zoomBy(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
    }, { passive: false });
    let start: { x: number; y: number; vx: number; vy: number; id: number } | undefined;
    this.svg.addEventListener('pointerdown', (e) => {
      if (e.button !== 0) return;
      this.dragged = false;
      start = { x: e.clientX, y: e.clientY, vx: this.view.x, vy: this.view.y, id: e.pointerId };
    });
    this.svg.addEventListener('pointermove', (e) => {
      if (!start || e.pointerId !== start.id) return;
      const dx = e.clientX - start.x;
      const dy = e.clientY - start.y;
      if (!this.dragged && Math.hypot(dx, dy) < 4) return;
      if (!this.dragged) { this.dragged = true; this.userMoved = true; this.svg.setPointerCapture(e.pointerId); this.svg.classList.add('panning'); }
      this.view.x = start.vx + dx;
      this.view.y = start.vy + dy;
      this.apply();
    });
    const end = (e: PointerEvent) => {
      if (!start || e.pointerId !== start.id) return;
      start = undefined;
      this.svg.classList.remove('panning');
      // The click that ends a drag must not open a node; clear the flag after it has fired.
      setTimeout(() => { this.dragged = false; }, 0);
    };
    this.svg.addEventListener('pointerup', end);
    this.svg.addEventListener('pointercancel', end);
  }
}

let layoutModule: Promise<typeof import('./layout.ts')> | undefined;
/** ELK's module; `warm()` says whether there is still time to warm it up before the real layout. */
function loadLayout(warm: () => boolean): Promise<typeof import('./layout.ts')> {
  layoutModule ??= import('./layout.ts').then((m) => { if (warm()) void m.warmUp(); return m; });
  return layoutModule;
}

function storage(): LayoutCache | undefined {
  try {
    const ls = localStorage;
    return { get: (k) => ls.getItem(k), set: (k, v) => ls.setItem(k, v) };
  } catch {
    return undefined;
  }
}

function legend(): HTMLElement {
  const item = (cls: string, text: string) => h('li', {}, h('span', { class: `swatch ${cls}`, 'aria-hidden': 'true' }), text);
  return h('ul', { class: 'legend', 'aria-label': 'Partition health colours' },
    item('seg-fresh', 'materialized'), item('seg-stale', 'stale'), item('seg-failed', 'failed'), item('seg-quarantined', 'quarantined'), item('seg-missing', 'missing'));
}
