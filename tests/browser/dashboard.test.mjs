// The dashboard (web/index.html) in Debian's headless Chromium, driven by playwright-core.
// Run by tests/browser/run.sh (ctest: dashboard_in_chromium) against a live daemon.
//
// Environment:
//   IOTA_DASHBOARD_URL     the dashboard, e.g. http://127.0.0.1:8080/ (required)
//   IOTA_LOOKUP_ID         a Thing id of the inventory (required)
//   IOTA_LOOKUP_EXPECT     the instance that runs it; default: asked of the REST API after the
//                          orchestrate, and it must be a digit string
//   IOTA_EXPECT_INSTANCES  instance rows expected in Thing's table after the orchestrate (10)
//   IOTA_SCREENSHOT        where the screenshot goes (./dashboard.png)
//   IOTA_CHROMIUM          the browser (/usr/bin/chromium)
//   IOTA_API_TOKEN         the daemon wants this bearer token for writes: the page must ask
//                          for it when Orchestrate gets a 401, and send it
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { chromium } from 'playwright-core';

const WAIT = 60_000; // per wait: CI is a loaded 2-core machine
const url = process.env.IOTA_DASHBOARD_URL;
const lookupId = process.env.IOTA_LOOKUP_ID;
const expectInstances = Number(process.env.IOTA_EXPECT_INSTANCES || 10);
const screenshot = process.env.IOTA_SCREENSHOT || './dashboard.png';
const executablePath = process.env.IOTA_CHROMIUM || '/usr/bin/chromium';
const apiToken = process.env.IOTA_API_TOKEN || '';
const unknownId = 'no-such-thing-00000000-0000-4000-8000-000000000000';

let browser;
let page;
let shot = false;

async function takeScreenshot() {
  if (!page || shot) return;
  shot = true;
  await page.screenshot({ path: screenshot, fullPage: true });
}

before(async () => {
  assert.ok(url, 'IOTA_DASHBOARD_URL is not set');
  assert.ok(lookupId, 'IOTA_LOOKUP_ID is not set');
  assert.ok(fs.existsSync(executablePath), `Chromium not found at ${executablePath}`);
  browser = await chromium.launch({
    executablePath,
    headless: true,
    timeout: WAIT,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run',
    ],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(WAIT);
  page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) console.error(`page console: ${m.text()}`);
  });
  // Failed requests, by URL (the unknown-id lookup's 404 is expected).
  page.on('response', (r) => { if (r.status() >= 400) console.log(`page request: ${r.status()} ${new URL(r.url()).pathname}`); });
});

after(async () => {
  // Whatever happened, leave a picture of the page behind.
  try { await takeScreenshot(); } catch (err) { console.error(`screenshot failed: ${err.message}`); }
  if (browser) await browser.close();
});

// Runs one wait; a timeout names what was awaited and what the page showed instead.
async function waitUntil(what, wait, shown) {
  try {
    return await wait;
  } catch (err) {
    let state = '';
    try { state = ` (page shows: ${await shown()})`; } catch { /* the page is gone */ }
    throw new Error(`waiting for ${what}: ${err.message.split('\n')[0]}${state}`);
  }
}

// The section whose heading is "Thing <summary>".
function resourceSection(name) {
  return page.locator('section').filter({
    has: page.locator('h2', { hasText: new RegExp(`^${name}(\\s|$)`) }),
  });
}

// The lookup row of a section: its input, its Find button and the answer next to it.
function lookup(section) {
  const row = section.locator('.row', { hasText: 'Which instance runs' });
  return { input: row.locator('input'), find: row.getByRole('button', { name: 'Find' }), answer: row.locator('strong') };
}

async function findInstance(section, id, previous) {
  const { input, find, answer } = lookup(section);
  await input.fill(id);
  await find.click();
  // The answer is filled in asynchronously; wait for it to change from what was there.
  const handle = await answer.elementHandle();
  await waitUntil(`the lookup answer for ${id}`,
    page.waitForFunction(([e, prev]) => e.textContent.trim() !== '' && e.textContent !== prev,
      [handle, previous], { timeout: WAIT }),
    async () => JSON.stringify(await answer.textContent()));
  return (await answer.textContent()).trim();
}

test('dashboard: orchestrate Thing, then look resources up', async () => {
  await page.goto(url, { waitUntil: 'domcontentloaded', timeout: WAIT });
  const thing = resourceSection('Thing');
  const health = page.locator('#health');
  await waitUntil('the Thing section', thing.waitFor({ state: 'visible', timeout: WAIT }),
    async () => JSON.stringify(await page.locator('h2').allTextContents()));
  await waitUntil('"ready" in the header', health.filter({ hasText: /^ready$/ }).waitFor({ timeout: WAIT }),
    async () => JSON.stringify(await health.textContent()));

  // Orchestrate, and wait for the outcome message (anything but the in-progress text).
  await thing.getByRole('button', { name: 'Orchestrate' }).click();
  if (apiToken) {
    // A protected daemon answers 401: the page asks for a token, then sends it as a bearer.
    const form = page.locator('#auth');
    await waitUntil('the token form', form.waitFor({ state: 'visible', timeout: WAIT }),
      async () => JSON.stringify(await page.locator('header').textContent()));
    assert.match(await page.locator('#auth-why').textContent(), /needs an API token/, 'why the token is asked for');
    const sent = page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith('/orchestrate') &&
      r.headers()['authorization'] === `Bearer ${apiToken}`, { timeout: WAIT });
    await page.locator('#token').fill(apiToken);
    await page.getByRole('button', { name: 'Use token' }).click();
    await waitUntil('the orchestrate sent again with the bearer token', sent, async () => 'no such request');
    assert.equal(await form.isVisible(), false, 'the token form is hidden once a token is given');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('iota-api-token')), apiToken,
      'the token is kept for this tab');
  }
  const msg = thing.locator('.msg');
  const msgHandle = await msg.elementHandle();
  await waitUntil('the outcome of Orchestrate', page.waitForFunction((e) => {
    const t = e.textContent.trim();
    return t !== '' && !t.startsWith('orchestrating');
  }, msgHandle, { timeout: WAIT }), async () => JSON.stringify(await msg.textContent()));
  assert.equal((await msg.textContent()).trim(), 'orchestrated', 'message after Orchestrate');

  // The instance table: one row per instance (the page refreshes right after the orchestrate).
  const rows = thing.locator('table.instances tbody tr.instance');
  await waitUntil(`${expectInstances} rows in Thing's instance table`,
    page.waitForFunction(([s, n]) => s.querySelectorAll('table.instances tbody tr.instance').length === n,
      [await thing.elementHandle(), expectInstances], { timeout: WAIT }),
    async () => `${await rows.count()} rows`);
  assert.equal(await rows.count(), expectInstances, 'instance rows');
  const ids = await rows.locator('td:first-child').allTextContents();
  assert.deepEqual(ids.map((s) => s.trim()).sort((a, b) => a - b),
    Array.from({ length: expectInstances }, (_, i) => String(i)), 'instance ids in the table');
  const heading = thing.locator('h2');
  await waitUntil(`"on ${expectInstances} instances" in Thing's heading`,
    heading.filter({ hasText: `on ${expectInstances} instances` }).waitFor({ timeout: WAIT }),
    async () => JSON.stringify(await heading.textContent()));

  // The expected instance of the known id: given, or asked of the REST API now that it is placed.
  let expected = process.env.IOTA_LOOKUP_EXPECT;
  if (!expected) {
    const api = new URL(`/v1/api/orchestrations/Thing/${encodeURIComponent(lookupId)}/instances`, url);
    const res = await fetch(api, { signal: AbortSignal.timeout(WAIT) });
    assert.equal(res.status, 200, `GET ${api.pathname}`);
    expected = (await res.json()).runIn;
  }
  assert.match(String(expected), /^\d+$/, 'expected instance id');

  // A known id: the instance that runs it.
  const found = await findInstance(thing, lookupId, '');
  assert.match(found, /^\d+$/, `lookup of ${lookupId}`);
  assert.equal(found, String(expected), `lookup of ${lookupId}`);

  // An unknown id: N/A.
  const missing = await findInstance(thing, unknownId, found);
  assert.equal(missing, 'N/A', `lookup of ${unknownId}`);

  // The known id again: the answer comes back (N/A is not sticky), with why it is there.
  assert.equal(await findInstance(thing, lookupId, 'N/A'), String(expected), `lookup of ${lookupId} again`);
  assert.match(await thing.locator('.why').textContent(), /placed by orchestrate at \d{4}-\d\d-\d\dT/,
    'why the id is there (SPEC 14)');

  // The decision history: the orchestrate's rows, newest first; filtered by kind.
  const history = thing.locator('table.history tbody tr');
  await waitUntil('the orchestrate in the history', history.filter({ hasText: 'finished:' }).first()
    .waitFor({ timeout: WAIT }), async () => JSON.stringify(await history.allTextContents()));
  await thing.locator('select').selectOption('placed');
  await waitUntil('only placements after filtering by kind', page.waitForFunction((t) =>
    [...t.querySelectorAll('table.history tbody tr td:nth-child(2)')].every((td) => td.textContent === 'placed') &&
    t.querySelectorAll('table.history tbody tr').length > 0,
  await thing.elementHandle(), { timeout: WAIT }), async () => JSON.stringify(await history.allTextContents()));

  // The drill-down of an instance: its ids, restarts by cause, last heartbeat, its decisions.
  await rows.first().locator('td.iid').click();
  const drill = thing.locator('tr.drill');
  await waitUntil('the drill-down of an instance', drill.filter({ hasText: 'restarts by cause' })
    .filter({ hasText: 'placed' }).waitFor({ timeout: WAIT }), async () => JSON.stringify(await drill.allTextContents()));

  // The live charts (uPlot, served with the page): three, drawn.
  await waitUntil('three uPlot charts', page.waitForFunction(() =>
    document.querySelectorAll('#live .uplot canvas').length >= 3, null, { timeout: WAIT }),
  async () => JSON.stringify(await page.locator('#live').textContent()));
  assert.equal(await page.locator('#live-msg').textContent(), '', 'no chart error');
  await waitUntil('three samples in the charts', page.waitForFunction(() => live.t.length >= 3, null, { timeout: WAIT }),
    async () => 'fewer samples');

  await takeScreenshot();
});
