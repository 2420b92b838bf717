/** The GraphQL client: bearer token, errors people can act on, subscriptions over SSE. */
import { takeToken } from './route.ts';
import { SseParser } from './sse.ts';

const TOKEN_KEY = 'orrery.token';
const ENDPOINT = '/graphql';

export type ApiErrorKind = 'unauthenticated' | 'forbidden' | 'graphql' | 'network';

export class ApiError extends Error {
  constructor(message: string, readonly kind: ApiErrorKind, readonly code?: string) {
    super(message);
  }
}

/** Moves `?token=` from the address bar into sessionStorage (once, at start). */
export function adoptTokenFromUrl(): void {
  const { token, cleanUrl } = takeToken(location.href);
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  if (cleanUrl !== location.href) history.replaceState(history.state, '', cleanUrl);
}

export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

const authListeners = new Set<(e: ApiError) => void>();
/** Called on every 401/403 so the shell can say what is wrong. */
export function onAuthError(fn: (e: ApiError) => void): void {
  authListeners.add(fn);
}

function headers(accept: string): Record<string, string> {
  const h: Record<string, string> = { 'content-type': 'application/json', accept };
  const t = token();
  if (t) h.authorization = `Bearer ${t}`;
  return h;
}

interface GqlError { message: string; extensions?: { code?: string } }

function errorOf(status: number, errors: GqlError[] | undefined): ApiError {
  const first = errors?.[0];
  const code = first?.extensions?.code;
  let kind: ApiErrorKind = 'graphql';
  if (status === 401 || code === 'API_AUTH_UNAUTHENTICATED') kind = 'unauthenticated';
  else if (status === 403 || code === 'API_AUTH_FORBIDDEN') kind = 'forbidden';
  const message = first?.message ?? `HTTP ${status}`;
  const err = new ApiError(code && !message.includes(code) ? `${message} (${code})` : message, kind, code);
  if (kind !== 'graphql') for (const fn of authListeners) fn(err);
  return err;
}

export async function gql<T>(query: string, variables: Record<string, unknown> = {}, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(ENDPOINT, { method: 'POST', headers: headers('application/graphql-response+json, application/json'), body: JSON.stringify({ query, variables }), signal });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(`The server did not answer: ${(e as Error).message}`, 'network');
  }
  let body: { data?: T; errors?: GqlError[] } | undefined;
  try { body = await res.json(); } catch { body = undefined; }
  if (!res.ok || body?.errors?.length || !body?.data) throw errorOf(res.status, body?.errors);
  return body.data;
}

/**
 * A GraphQL subscription over SSE (fetch streaming, so the Authorization header goes along and the
 * token never appears in a URL). Resolves when the server completes the stream; rejects on errors.
 */
export async function subscribe<T>(query: string, variables: Record<string, unknown>, onNext: (data: T) => void, signal: AbortSignal): Promise<void> {
  const res = await fetch(ENDPOINT, { method: 'POST', headers: headers('text/event-stream'), body: JSON.stringify({ query, variables }), signal });
  if (!res.ok || !res.body) {
    let errors: GqlError[] | undefined;
    try { errors = (await res.json()).errors; } catch { /* not JSON */ }
    throw errorOf(res.status, errors);
  }
  const parser = new SseParser();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    for (const ev of parser.push(value)) {
      if (ev.event === 'complete') { await reader.cancel().catch(() => {}); return; }
      if (ev.event !== 'next' && ev.event !== 'message') continue;
      if (!ev.data) continue;
      const payload = JSON.parse(ev.data) as { data?: T; errors?: GqlError[] };
      if (payload.errors?.length) throw errorOf(200, payload.errors);
      if (payload.data) onNext(payload.data);
    }
  }
}

/** Relay connection shape used by every list. */
export interface Connection<T> {
  edges: Array<{ cursor: string; node: T }>;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}
