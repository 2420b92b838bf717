/** Hash routes (#/assets, #/assets/KEY, #/runs, #/runs/ID, #/backfills, #/backfills/ID). Pure. */

export type Route =
  | { page: 'assets'; key?: string }
  | { page: 'runs'; id?: string }
  | { page: 'backfills'; id?: string };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map((p) => {
    try { return decodeURIComponent(p); } catch { return p; }
  });
  const [page, arg] = parts;
  if (page === 'runs') return arg ? { page, id: arg } : { page };
  if (page === 'backfills') return arg ? { page, id: arg } : { page };
  return arg && page === 'assets' ? { page: 'assets', key: arg } : { page: 'assets' };
}

export function href(route: Route): string {
  if (route.page === 'assets') return route.key ? `#/assets/${encodeURIComponent(route.key)}` : '#/assets';
  return route.id ? `#/${route.page}/${encodeURIComponent(route.id)}` : `#/${route.page}`;
}

/**
 * Takes `token` out of a URL: the token to keep and the URL to show instead (the same URL without
 * it), so the token neither stays in the address bar nor lands in the history or a shared link.
 */
export function takeToken(url: string): { token?: string; cleanUrl: string } {
  const u = new URL(url);
  const token = u.searchParams.get('token') ?? undefined;
  if (token === undefined) return { cleanUrl: url };
  u.searchParams.delete('token');
  return { token: token || undefined, cleanUrl: u.toString() };
}
