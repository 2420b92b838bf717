/** The lineage UI's entry: token, shell, hash routing. */
import './app.css';
import { adoptTokenFromUrl, gql, onAuthError, token, type ApiError } from './api.ts';
import { backfillDetail, backfillsPage } from './backfills-page.ts';
import { h, mount } from './dom.ts';
import { GraphPage } from './graph-page.ts';
import { VIEWER } from './queries.ts';
import { parseRoute, type Route } from './route.ts';
import { RunDetail, RunsList } from './runs-page.ts';

adoptTokenFromUrl();

const main = document.getElementById('main')!;
const banner = document.getElementById('banner')!;
const viewerEl = document.getElementById('viewer')!;
let graph: GraphPage | undefined;
let run: RunDetail | undefined;

function showAuthProblem(e: ApiError): void {
  banner.hidden = false;
  const fix = e.kind === 'unauthenticated'
    ? (token() ? 'The token was refused (expired or signed with another key). Open the link with a fresh ?token=… (orrery dev prints one).' : 'No token: open the UI through the link with ?token=… (orrery dev prints one).')
    : 'Your role does not allow this; ask for an editor (or higher) token.';
  mount(banner, h('strong', {}, e.kind === 'unauthenticated' ? 'Not signed in. ' : 'Not allowed. '), fix, h('span', { class: 'muted' }, ` (${e.message})`), ' ',
    h('button', { type: 'button', onclick: (() => { banner.hidden = true; }) as EventListener }, 'Dismiss'));
}
onAuthError(showAuthProblem);

function markNav(route: Route): void {
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a[data-page]')) {
    if (a.dataset.page === route.page) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
}

async function render(): Promise<void> {
  const route = parseRoute(location.hash);
  markNav(route);
  run?.dispose();
  run = undefined;
  if (route.page === 'assets') {
    graph ??= new GraphPage();
    if (graph.el.parentElement !== main) mount(main, graph.el);
    document.title = route.key ? `${route.key} · Orrery` : 'Assets · Orrery';
    await graph.show(route.key);
    return;
  }
  if (route.page === 'runs') {
    document.title = route.id ? `Run ${route.id.slice(0, 8)} · Orrery` : 'Runs · Orrery';
    if (route.id) {
      run = new RunDetail(route.id);
      mount(main, run.el);
      await run.start();
    } else {
      const list = new RunsList();
      mount(main, list.el);
      await list.reset();
    }
    return;
  }
  document.title = 'Backfills · Orrery';
  mount(main, route.id ? await backfillDetail(route.id) : backfillsPage());
}

window.addEventListener('hashchange', () => {
  void render();
  // Move focus to the new content for keyboard and screen reader users (not for the graph panel, which focuses itself).
  if (parseRoute(location.hash).page !== 'assets') main.focus({ preventScroll: true });
});
document.querySelector('.skip')?.addEventListener('click', (e) => { e.preventDefault(); main.focus(); });
if (!location.hash) history.replaceState(null, '', '#/assets');
void render();
gql<{ viewer: { subject: string; role: string } }>(VIEWER).then((d) => { viewerEl.textContent = `${d.viewer.subject} · ${d.viewer.role.toLowerCase()}`; }, () => {});
