// Browser test of runs launched from the browser (issue 9): an admin fills the run form (a bad
// field first, which the server names beside its input), queues a small PVQ evaluation with the
// tiny test model, watches its progress reach 100 %, opens the run it produced in the explorer,
// and finds it in the run list with its filters. Headless Debian Chromium via playwright-core;
// screenshots land in tests/e2e/screenshots/.
//
// Needs: the valuelab binary (VALUELAB_BIN, default target/debug/valuelab), the tiny-model
// writer (TINY_MODEL_BIN, default target/debug/write-tiny-model), the built bundle in
// static/pkg, and the shared research data (VALUELAB_DATA_DIR, default ../shared/data).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root, staticDir, shots, PASSWORD, serve, launchBrowser } from './server.mjs';

const tinyModelBin = process.env.TINY_MODEL_BIN ?? join(root, 'target/debug/write-tiny-model');
const dataDir = process.env.VALUELAB_DATA_DIR ?? join(root, '../shared/data');

let server, browser, base, model;

before(async () => {
  assert.ok(existsSync(join(staticDir, 'pkg/valuelab_frontend.js')), 'build the bundle first: scripts/build-frontend.sh');
  mkdirSync(shots, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'valuelab-e2e-jobs-'));
  model = execFileSync(tinyModelBin, [join(dir, 'tiny.gguf')]).toString().trim();
  // one job worker on one thread, relative outputs under the test's folder
  ({ server, base } = await serve(dir, {
    global: ['--data-dir', dataDir],
    flags: ['--job-workers', '1', '--job-threads', '1', '--jobs-dir', join(dir, 'jobs')],
  }));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  server?.kill();
});

async function logInAsAdmin(page) {
  await page.goto(`${base}/login`);
  await page.fill('#username', 'admin');
  await page.fill('#password', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/studies`);
}

test('an admin launches an evaluation from the browser, watches it finish and opens its run', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error('page error:', err));
  await logInAsAdmin(page);
  await page.goto(`${base}/jobs`);
  await page.waitForSelector('form.new-job');

  await page.selectOption('#task', 'pvq');
  await page.selectOption('#method', 'prompt-short');
  await page.fill('#groups', 'Group_1, Albania');
  await page.fill('#model', model);
  await page.fill('#limit-items', '4');
  await page.fill('#batch-size', '0');
  await page.fill('#out', 'runs/from-browser');
  // The spec preview is the JSON the server receives.
  const spec = JSON.parse(await page.locator('#spec').inputValue());
  assert.deepEqual(spec.groups, { names: ['Group_1', 'Albania'] });

  // A bad field is named beside its input; nothing is queued.
  await page.click('#queue');
  const fieldError = page.locator('.field-error[data-field="model.batch_size"]');
  await fieldError.waitFor();
  assert.match(await fieldError.innerText(), /at least 1/);
  await page.screenshot({ path: join(shots, 'jobs-field-error.png'), fullPage: true });

  await page.fill('#batch-size', '2');
  await page.click('#queue');
  await page.waitForURL(/\/jobs\/\d+$/);
  await page.waitForFunction(() => document.querySelector('#job-status')?.innerText === 'done', null, { timeout: 60_000 });
  assert.equal((await page.locator('#job-progress-text').innerText()).trim(), '8 / 8 (100 %)');
  assert.equal(await page.locator('#job-progress').getAttribute('value'), '100');
  const log = await page.locator('#log').innerText();
  assert.match(log, /queued by admin/);
  assert.match(log, /done in/);
  await page.screenshot({ path: join(shots, 'jobs-done.png'), fullPage: true });

  await page.click('#job-run');
  await page.waitForSelector('#run-table');
  assert.equal(await page.locator('#run-status').innerText(), 'done');
  const groups = await page.locator('#run-table tbody tr td:first-child').allInnerTexts();
  assert.deepEqual(groups, ['Group_1', 'Albania']);
  await page.screenshot({ path: join(shots, 'run-page.png'), fullPage: true });

  // The explorer lists it; a filter that excludes it empties the list.
  await page.goto(`${base}/runs`);
  await page.waitForSelector('#runs');
  assert.equal(await page.locator('#runs tbody tr').count(), 1);
  await page.selectOption('#filter-task', 'valuenet');
  await page.waitForSelector('text=No run matches.');
  await page.selectOption('#filter-task', 'pvq');
  await page.waitForSelector('#runs');
  await page.fill('#search', 'albania');
  assert.equal(await page.locator('#runs tbody tr').count(), 1);
  await page.screenshot({ path: join(shots, 'runs-list.png'), fullPage: true });

  // A second run, without values, launched the same way; then the two compared.
  await page.goto(`${base}/jobs`);
  await page.waitForSelector('form.new-job');
  await page.selectOption('#method', 'base');
  await page.fill('#groups', 'Group_1, Albania');
  await page.fill('#model', model);
  await page.fill('#limit-items', '4');
  await page.fill('#out', 'runs/base');
  await page.click('#queue');
  await page.waitForURL(/\/jobs\/\d+$/);
  await page.waitForFunction(() => document.querySelector('#job-status')?.innerText === 'done', null, { timeout: 60_000 });

  await page.goto(`${base}/runs`);
  await page.waitForSelector('#runs');
  for (const box of await page.locator('.select-run').all()) await box.check();
  await page.click('#compare-selected');
  await page.waitForURL(/\/compare\?ids=\d+,\d+$/);
  await page.waitForSelector('#comparison');
  const labels = await page.locator('#comparison tbody tr td:first-child').allInnerTexts();
  for (const label of ['prompt-short', 'base', 'value-blind']) assert.ok(labels.includes(label), `${label} in ${labels}`);
  const drawn = await page.locator('#chart-nmse').evaluate((img) => new Promise((done) => {
    if (img.complete) done(img.naturalWidth);
    else img.onload = () => done(img.naturalWidth);
  }));
  assert.ok(drawn > 0, 'the NMSE chart is drawn');
  // Pinning a run makes the differences relative to it: its own are zero.
  await page.locator('#comparison a.pin').first().click();
  await page.waitForURL(/baseline=\d+$/);
  await page.waitForSelector('#comparison');
  const pinned = new URL(page.url()).searchParams.get('baseline');
  const row = page.locator('#comparison tbody tr', { has: page.locator(`a[href="/runs/${pinned}"]`) });
  assert.match(await row.innerText(), /\+0\.0000/);
  await page.screenshot({ path: join(shots, 'compare.png'), fullPage: true });
});

test('a simulation sent as JSON runs and its page compares the population with people', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error('page error:', err));
  await logInAsAdmin(page);
  await page.goto(`${base}/jobs`);
  await page.waitForSelector('form.new-job');
  const spec = {
    job: 'simulate',
    strategy: 'h-np',
    n: 12,
    instruments: ['pvq40', 'prosocial'],
    model: { method: 'prompt-dominant', model, batch_size: 4, seed: 1 },
    human: join(dataDir, 'ess/microdata/ess9_no.csv'),
    limit_items: 10,
    out: 'sims/from-browser',
  };
  await page.fill('#spec', JSON.stringify(spec, null, 2));
  assert.ok(await page.locator('#use-raw').isChecked(), 'typing in the spec sends it as it is');
  await page.click('#queue');
  await page.waitForURL(/\/jobs\/\d+$/);
  await page.waitForFunction(() => document.querySelector('#job-status')?.innerText === 'done', null, { timeout: 60_000 });
  await page.waitForSelector('#simulation-summary');
  const summary = await page.locator('#simulation-summary').innerText();
  assert.match(summary, /matrix r against ess9_no\.csv/);
  assert.match(summary, /ceiling: two halves of the people\s+0\.9\d\d/);
  assert.equal(await page.locator('#simulation-checks li').count(), 4);
  const drawn = await page.locator('#plot-relations').evaluate((img) => new Promise((done) => {
    if (img.complete) done(img.naturalWidth);
    else img.onload = () => done(img.naturalWidth);
  }));
  assert.ok(drawn > 0, 'the value–behaviour heat map is drawn');
  assert.ok(await page.locator('a[download="respondents.csv"]').count() === 1);
  await page.screenshot({ path: join(shots, 'simulation.png'), fullPage: true });
});
