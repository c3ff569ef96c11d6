/**
 * The dashboard in a real headless Chromium (Debian's `chromium`, driven by playwright-core):
 * the page loads behind the gateway token, shows the silo, and its numbers move after calls
 * (calls, calls/s, latency per method, slowest grains, recent errors). Keeps a screenshot
 * in docs/dashboard.png.
 */
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Silo } from '../../index.js';
import { REPO } from '../process/silo-process.js';
import { Back, Front } from './grains.js';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const TOKEN = 'dashboard-token-1';

/** The page's document, as far as these tests read it (this project's TypeScript has no DOM types). */
type Page = { document: { getElementById(id: string): { textContent: string | null } | null } };
/**
 * Conditions run in the page. Each is sent there as source, so it refers to nothing outside
 * itself: `{ id, value }` comes in as the argument.
 */
const textIs = ({ id, value }: { id: string; value: string }) => (globalThis as unknown as Page).document.getElementById(id)?.textContent === value;
const textHas = ({ id, value }: { id: string; value: string }) => ((globalThis as unknown as Page).document.getElementById(id)?.textContent ?? '').includes(value);
const numberAtLeast = ({ id, value }: { id: string; value: number }) => Number((globalThis as unknown as Page).document.getElementById(id)?.textContent) >= value;

describe('GET /dashboard in headless Chromium', () => {
  let silo: Silo;
  let browser: Browser;
  beforeAll(async () => {
    silo = await Silo.start({ grains: [Front, Back], gateway: { port: 0, host: '127.0.0.1', token: TOKEN }, dashboardIntervalMs: 250 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await silo?.stop();
  });

  const call = (path: string, args: unknown[]) =>
    fetch(`${silo.gateway!.url}/grains/${path}`, {
      method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ args }),
    }).then((r) => r.status);

  it('needs the token', async () => {
    expect((await fetch(`${silo.gateway!.url}/dashboard`)).status).toBe(401);
    expect((await fetch(`${silo.gateway!.url}/dashboard?token=wrong-token-2`)).status).toBe(401);
  });

  it('loads, shows the silo, and its numbers move after calls', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // Conditions go to the page as functions: its CSP forbids evaluating strings.
    await page.goto(`${silo.gateway!.url}/dashboard?token=${TOKEN}`);
    await page.waitForFunction(textIs, { id: 'status', value: 'live' });
    expect(await page.textContent('#silo-count')).toBe('1');
    expect(await page.textContent('#silos')).toContain(silo.id);
    expect(await page.textContent('#silos')).toContain('active');
    expect(await page.textContent('#calls-total')).toBe('0');

    for (let i = 0; i < 20; i++) expect(await call(`Front/f${i % 4}/relay`, [`b${i % 4}`])).toBe(200);
    for (let i = 0; i < 3; i++) expect(await call(`Back/x${i}/fail`, ['not today'])).toBe(500);

    await page.waitForFunction(numberAtLeast, { id: 'calls-total', value: 23 }, { timeout: 10_000 });
    await page.waitForFunction(numberAtLeast, { id: 'calls-rate', value: 0.1 }, { timeout: 10_000 });
    expect(await page.textContent('#latency')).toContain('Front/relay');
    expect(await page.textContent('#latency')).toContain('Back/fail');
    expect(await page.textContent('#types')).toContain('Back');
    expect(Number(await page.textContent('#activations-total'))).toBe(11); // Front f0–f3, Back b0–b3, x0–x2
    expect(await page.textContent('#slowest')).toMatch(/Front\/f\d|Back\/x\d/);
    await page.waitForFunction(textHas, { id: 'errors', value: 'RangeError: not today' });
    expect(await page.textContent('#error-rate')).toMatch(/%$/);
    expect(errors).toEqual([]);
    await page.screenshot({ path: join(REPO, 'docs', 'dashboard.png'), fullPage: true });
    await page.close();
  }, 60_000);
});
