/** The reference phone app (issue 8 item 4), served by kapu itself under /app/. */
import { readFileSync } from 'node:fs';
import Router from '@koa/router';

/** The reference phone app's files: a small installable web app, nothing from elsewhere. */
const APP_DIR = new URL('./app-files/', import.meta.url);
const APP_FILES: Record<string, { file: string; type: string }> = {
  '/app/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/app/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
  '/app/sw.js': { file: 'sw.js', type: 'text/javascript; charset=utf-8' },
  '/app/manifest.webmanifest': { file: 'manifest.webmanifest', type: 'application/manifest+json; charset=utf-8' },
  '/app/icon.svg': { file: 'icon.svg', type: 'image/svg+xml' },
};

/**
 * The app's own CSP: its script only (no inline script), its API on this origin, and the
 * service worker that keeps it working offline.
 */
const APP_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "manifest-src 'self'",
  "worker-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

export function appRoutes(): Router {
  const router = new Router();
  const files = Object.entries(APP_FILES).map(([path, f]) => ({ path, type: f.type, body: readFileSync(new URL(f.file, APP_DIR)) }));
  for (const f of files) {
    router.get(f.path, (ctx) => {
      ctx.type = f.type;
      ctx.set('Content-Security-Policy', APP_CSP);
      // The service worker keeps its own copy; the browser revalidates.
      ctx.set('Cache-Control', 'no-cache');
      if (f.path === '/app/sw.js') ctx.set('Service-Worker-Allowed', '/app/');
      ctx.body = f.body;
    });
  }
  // Registered after the app's own paths, so that /app/ itself is never redirected.
  router.get('/app', (ctx, next) => {
    if (ctx.path !== '/app') return next();
    ctx.status = 301;
    ctx.redirect('/app/');
  });
  return router;
}
