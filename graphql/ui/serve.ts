/**
 * The lineage UI's files, built in memory with esbuild at the first request and cached for the
 * life of the process (the sources do not change under a running server).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export interface UiFile { body: Buffer | string; type: string }
export interface UiBundle { files: Map<string, UiFile> }

const SRC = join(dirname(fileURLToPath(import.meta.url)), 'src');

const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Orrery</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/app.css">
<script type="module" src="/app.js"></script>
<!--preload-->
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
<span class="brand">Orrery</span>
<nav aria-label="Main">
<ul>
<li><a href="#/assets" data-page="assets">Assets graph</a></li>
<li><a href="#/runs" data-page="runs">Runs</a></li>
<li><a href="#/backfills" data-page="backfills">Backfills</a></li>
</ul>
</nav>
<span id="viewer" aria-label="Signed in as"></span>
</header>
<div id="banner" role="alert" hidden></div>
<main id="main" tabindex="-1"></main>
<div id="live" class="sr-only" aria-live="polite"></div>
<noscript>The Orrery UI needs JavaScript.</noscript>
</body>
</html>
`;

let cached: Promise<UiBundle> | undefined;

async function buildBundle(): Promise<UiBundle> {
  const out = await build({
    entryPoints: { app: join(SRC, 'main.ts') },
    bundle: true,
    minify: true,
    format: 'esm',
    // ELK (most of the bytes) goes into its own chunk, loaded while the first query is in flight.
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    target: 'es2022',
    platform: 'browser',
    write: false,
    outdir: '/ui',
    legalComments: 'none',
    logLevel: 'silent',
    // elkjs' bundle carries a `require('web-worker')` branch for Node that never runs in a browser.
    external: ['web-worker'],
  });
  const files = new Map<string, UiFile>();
  for (const f of out.outputFiles) {
    const path = f.path.slice(f.path.indexOf('/ui/') + 3);
    if (path.endsWith('.js')) files.set(path, { body: Buffer.from(f.contents), type: 'text/javascript; charset=utf-8' });
    else if (path.endsWith('.css')) files.set(path, { body: Buffer.from(f.contents), type: 'text/css; charset=utf-8' });
  }
  // The browser fetches (and compiles) the chunks in parallel with app.js instead of after it asks.
  const preload = [...files.keys()].filter((p) => p.startsWith('/chunks/')).map((p) => `<link rel="modulepreload" href="${p}">`).join('\n');
  const html = { body: INDEX_HTML.replace('<!--preload-->', preload), type: 'text/html; charset=utf-8' };
  files.set('/', html);
  files.set('/index.html', html);
  if (!files.has('/app.js') || !files.has('/app.css')) throw new Error(`UI build produced ${out.outputFiles.map((f) => f.path).join(', ')}, not app.js and app.css`);
  return { files };
}

/** The UI's files by URL path: `/` and `/index.html`, `/app.js`, `/app.css`, and the lazily loaded chunks under `/chunks/`. */
export function uiBundle(): Promise<UiBundle> {
  cached ??= buildBundle().catch((e: unknown) => {
    // A failed build is not cached: the next request tries again.
    cached = undefined;
    throw e;
  });
  return cached;
}
