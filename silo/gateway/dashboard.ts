/**
 * `GET /dashboard`: one server-rendered page with a small inline script (no build step), kept
 * live over Server-Sent Events (`GET /dashboard/events`, one `snapshot` event per interval).
 * It shows the cluster's silos and status, activations by type, calls/s and error rate
 * (from the difference between two snapshots), p50/p99 latency per type and method, the
 * slowest grains, and recent grain exceptions.
 *
 * Behind the gateway's token like the management routes. A browser cannot put a bearer
 * header on a page load or on an `EventSource`, so these two routes also take the token as
 * `?token=` (the page passes it on to its event stream).
 */
import type { Hono, MiddlewareHandler } from 'hono';
import { streamSSE } from 'hono/streaming';
import { timingSafeEqual } from 'hono/utils/buffer';
import type { DashboardSnapshot } from '../dashboard-data.js';
import type { GatewayEnv } from './env.js';
import { HttpError } from './http-errors.js';

export interface DashboardFeed {
  snapshot(): Promise<DashboardSnapshot>;
  /** How often the page gets a snapshot (ms). */
  readonly intervalMs: number;
}

export function mountDashboard(app: Hono<GatewayEnv>, feed: (() => DashboardFeed | undefined) | undefined, guards: readonly MiddlewareHandler[], token: string | undefined): void {
  const need = (): DashboardFeed => {
    const f = feed?.();
    if (f === undefined) throw new HttpError('not_found', 'this gateway has no dashboard (see docs/observability.md for what each host offers)');
    return f;
  };
  // `?token=` admits as the bearer header would; anything else goes through the usual guards.
  const queryToken: MiddlewareHandler<GatewayEnv> = async (c, next) => {
    const given = c.req.query('token');
    if (token !== undefined && given !== undefined && c.req.header('authorization') === undefined) {
      if (!(await timingSafeEqual(given, token))) throw new HttpError('unauthorized', 'the token in ?token= is not the gateway\'s');
      c.set('dashboardAdmitted' as never, true as never);
    }
    await next();
  };
  const guarded = (guard: MiddlewareHandler): MiddlewareHandler<GatewayEnv> => async (c, next) =>
    (c.get('dashboardAdmitted' as never) ? next() : guard(c, next));
  for (const path of ['/dashboard', '/dashboard/events']) {
    app.get(path, queryToken);
    for (const guard of guards) app.get(path, guarded(guard));
  }
  app.get('/dashboard', async (c) => {
    const first = await need().snapshot();
    c.header('cache-control', 'no-store');
    c.header('content-security-policy', "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:");
    return c.html(renderPage(first, c.req.query('token')));
  });
  app.get('/dashboard/events', (c) => {
    const f = need();
    c.header('cache-control', 'no-store');
    return streamSSE(c, async (stream) => {
      let open = true;
      stream.onAbort(() => { open = false; });
      while (open) {
        const snapshot = await f.snapshot().catch(() => undefined);
        if (snapshot !== undefined) await stream.writeSSE({ event: 'snapshot', data: JSON.stringify(snapshot) });
        await stream.sleep(f.intervalMs);
      }
    });
  });
}

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
/** JSON inside a <script>: no `</script>` or `<!--` can end it early. */
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');

function renderPage(first: DashboardSnapshot, token: string | undefined): string {
  const events = `/dashboard/events${token === undefined ? '' : `?token=${encodeURIComponent(token)}`}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Granary dashboard</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d232a; background: #f7f7f5; }
  h1 { font-size: 1.3rem; margin: 0 0 .2rem; } h2 { font-size: 1rem; margin: 1.2rem 0 .4rem; }
  .muted { color: #6b7280; } .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(26rem, 1fr)); gap: 0 2rem; }
  .figures { display: flex; gap: 1rem; margin: 1rem 0; } .figure { background: #fff; border: 1px solid #e5e7eb; border-radius: 6px; padding: .6rem 1rem; min-width: 8rem; }
  .figure b { display: block; font-size: 1.5rem; }
  table { border-collapse: collapse; width: 100%; background: #fff; } th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #eee; font-variant-numeric: tabular-nums; }
  th { font-weight: 600; background: #f0f0ee; } td.n { text-align: right; } .active { color: #15803d; } .draining { color: #b45309; } .err { color: #b91c1c; }
  code { font-size: 12px; }
</style></head>
<body>
<h1>Granary</h1>
<div class="muted">served by silo <code id="served-by">${esc(first.servedBy)}</code> · <span id="status">connecting…</span> · updated <span id="updated">${esc(new Date(first.time).toISOString())}</span></div>
<div class="figures">
  <div class="figure">silos<b id="silo-count">${first.silos.length}</b></div>
  <div class="figure">activations<b id="activations-total">${Object.values(first.activationsByType).reduce((a, b) => a + b, 0)}</b></div>
  <div class="figure">calls/s<b id="calls-rate">–</b></div>
  <div class="figure">error rate<b id="error-rate">–</b></div>
  <div class="figure">calls in all<b id="calls-total">${first.calls}</b></div>
</div>
<div class="grid">
<section><h2>Silos</h2><table><thead><tr><th>silo</th><th>status</th><th>activations</th></tr></thead><tbody id="silos">${
  first.silos.map((s) => `<tr><td><code>${esc(s.id)}</code></td><td class="${esc(s.status)}">${esc(s.status)}</td><td class="n">${s.activations ?? '?'}</td></tr>`).join('')
}</tbody></table></section>
<section><h2>Activations by type</h2><table><thead><tr><th>type</th><th>activations</th></tr></thead><tbody id="types"></tbody></table></section>
<section><h2>Latency by method</h2><table><thead><tr><th>type/method</th><th>calls</th><th>errors</th><th>p50</th><th>p99</th></tr></thead><tbody id="latency"></tbody></table></section>
<section><h2>Slowest grains (last minutes)</h2><table><thead><tr><th>grain</th><th>method</th><th>took</th></tr></thead><tbody id="slowest"></tbody></table></section>
<section><h2>Recent errors</h2><table><thead><tr><th>when</th><th>grain</th><th>method</th><th>error</th></tr></thead><tbody id="errors"></tbody></table></section>
</div>
<script>
(() => {
  const first = ${scriptJson(first)};
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => '&#' + c.charCodeAt(0) + ';');
  const ms = (v) => v === null ? '–' : v === Infinity || v === null ? '> 30 s' : v < 1 ? v.toFixed(1) + ' ms' : Math.round(v) + ' ms';
  const rows = (id, items, cells) => { $(id).innerHTML = items.map((x) => '<tr>' + cells(x).join('') + '</tr>').join('') || '<tr><td class="muted">none yet</td></tr>'; };
  let prev = null;
  function render(s) {
    $('served-by').textContent = s.servedBy;
    $('updated').textContent = new Date(s.time).toISOString();
    $('silo-count').textContent = s.silos.length;
    const byType = Object.entries(s.activationsByType).sort((a, b) => b[1] - a[1]);
    $('activations-total').textContent = byType.reduce((a, [, n]) => a + n, 0);
    $('calls-total').textContent = s.calls;
    if (prev !== null && s.time > prev.time) {
      const dt = (s.time - prev.time) / 1000, dc = s.calls - prev.calls, de = s.errors - prev.errors;
      $('calls-rate').textContent = (dc / dt).toFixed(dc / dt < 10 ? 1 : 0);
      $('error-rate').textContent = dc > 0 ? (100 * de / dc).toFixed(1) + ' %' : '0 %';
    }
    prev = s;
    rows('silos', s.silos, (x) => ['<td><code>' + esc(x.id) + '</code></td>', '<td class="' + esc(x.status) + '">' + esc(x.status) + '</td>', '<td class="n">' + (x.activations ?? '?') + '</td>']);
    rows('types', byType, ([t, n]) => ['<td>' + esc(t) + '</td>', '<td class="n">' + n + '</td>']);
    rows('latency', s.latency, (m) => ['<td>' + esc(m.type + '/' + m.method) + '</td>', '<td class="n">' + m.count + '</td>', '<td class="n' + (m.errors ? ' err' : '') + '">' + m.errors + '</td>', '<td class="n">' + ms(m.p50Ms) + '</td>', '<td class="n">' + ms(m.p99Ms) + '</td>']);
    rows('slowest', s.slowest, (c) => ['<td>' + esc(c.type + '/' + c.key) + '</td>', '<td>' + esc(c.method) + '</td>', '<td class="n">' + ms(c.seconds * 1000) + '</td>']);
    rows('errors', s.recentErrors, (e) => ['<td>' + esc(new Date(e.time).toISOString().slice(11, 19)) + '</td>', '<td>' + esc(e.type + '/' + e.key) + '</td>', '<td>' + esc(e.method) + '</td>', '<td class="err">' + esc(e.error + ': ' + e.message) + '</td>']);
  }
  render(first);
  const source = new EventSource(${scriptJson(events)});
  source.addEventListener('open', () => { $('status').textContent = 'live'; });
  source.addEventListener('error', () => { $('status').textContent = 'reconnecting…'; });
  source.addEventListener('snapshot', (e) => render(JSON.parse(e.data)));
})();
</script>
</body></html>`;
}
