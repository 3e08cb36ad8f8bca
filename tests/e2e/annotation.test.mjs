// Browser test of a whole pairwise study (issue 8): an admin creates a study from two fixture
// `eval args` runs and invites three annotators; they complete it (one reloads mid-way and
// resumes, one uses only the keyboard); the admin sees kappa and the win/tie/lose chart.
// Headless Debian Chromium via playwright-core; screenshots land in tests/e2e/screenshots/.
//
// Needs: the valuelab binary (VALUELAB_BIN, default target/debug/valuelab), the fixture writer
// (FIXTURES_BIN, default target/debug/write-fixtures) and the built bundle in static/pkg.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root, staticDir, shots, PASSWORD, serve, launchBrowser } from './server.mjs';

const fixturesBin = process.env.FIXTURES_BIN ?? join(root, 'target/debug/write-fixtures');

let server, browser, base, runs;

before(async () => {
  assert.ok(existsSync(join(staticDir, 'pkg/valuelab_frontend.js')), 'build the bundle first: scripts/build-frontend.sh');
  mkdirSync(shots, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'valuelab-e2e-'));
  runs = execFileSync(fixturesBin, [join(dir, 'runs'), '1', '2']).toString().trim().split('\n');
  ({ server, base } = await serve(dir));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  server?.kill();
});

/** A fresh browser profile (its own cookies) on a page of the app. */
async function person(path) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error('page error:', err));
  await page.goto(base + path);
  return page;
}

/** Which side shows method A: the fixture's run A argues "in favor of", run B "against". */
/** Whether the image at `selector` has loaded with a width within 10 s: a chart's <img> may
 * still be loading when the element it sits beside appears. */
async function drawn(page, selector) {
  const loaded = (s) => {
    const img = document.querySelector(s);
    return Boolean(img && img.complete && img.naturalWidth > 0);
  };
  return page.waitForFunction(loaded, selector, { timeout: 10_000 }).then(() => true, () => false);
}

async function aIsLeft(page) {
  return (await page.locator('#left .stance').innerText()).trim() === 'in favor of';
}

/** Judges until the completion code shows; `pick(aLeft)` returns 'left' | 'right'. */
async function annotate(page, pick, { keyboard = false, reloadAfter = -1, name }) {
  let judged = 0;
  for (;;) {
    await page.waitForSelector('#conclusion, #completion-code');
    if (await page.locator('#completion-code').count()) break;
    const progress = await page.locator('#progress').innerText();
    const side = pick(await aIsLeft(page));
    if (keyboard) {
      await page.keyboard.press(side === 'left' ? '1' : '2');
    } else {
      await page.click(side === 'left' ? '#choose-left' : '#choose-right');
    }
    judged += 1;
    await page.waitForFunction(
      (before) => document.querySelector('#completion-code') || document.querySelector('#progress')?.innerText !== before,
      progress,
    );
    if (judged === 1) await page.screenshot({ path: join(shots, `${name}-after-first.png`), fullPage: true });
    if (judged === reloadAfter) {
      await page.reload();
      await page.waitForSelector('#progress');
      assert.equal(await page.locator('#progress').innerText(), `Pair ${judged + 1} of 2`, 'a reload resumes');
    }
  }
  await page.screenshot({ path: join(shots, `${name}-done.png`), fullPage: true });
  return judged;
}

test('an admin runs a study that three annotators complete, and sees kappa and the chart', async () => {
  const admin = await person('/login');
  await admin.fill('#username', 'admin');
  await admin.fill('#password', PASSWORD);
  await admin.click('button[type=submit]');
  await admin.waitForURL(`${base}/studies`);
  await admin.fill('#study-name', 'School uniforms');
  await admin.fill('#run-a', runs[0]);
  await admin.fill('#run-b', runs[1]);
  await admin.fill('#guidelines', 'Pick the argument **closer to the profile**.');
  await admin.click('form.create-study button[type=submit]');
  await admin.waitForURL(/\/studies\/\d+$/);
  const studyUrl = admin.url();
  await admin.click('#invite-3');
  await admin.waitForFunction(() => document.querySelectorAll('#invite-links li').length === 3);
  const links = await admin.locator('#invite-links li').allInnerTexts();
  await admin.screenshot({ path: join(shots, 'admin-study-created.png'), fullPage: true });

  const choices = [(aLeft) => (aLeft ? 'left' : 'right'), (aLeft) => (aLeft ? 'left' : 'right'), (aLeft) => (aLeft ? 'right' : 'left')];
  for (const [i, link] of links.entries()) {
    const page = await person(new URL(link).pathname);
    await page.fill('#username', `annotator${i}`);
    await page.fill('#password', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForSelector('#consent');
    assert.match(await page.locator('#guidelines').innerHTML(), /<strong>closer to the profile<\/strong>/);
    await page.click('#consent');
    await page.waitForSelector('#conclusion');
    assert.ok(await drawn(page, '#profile'), 'the profile chart is drawn');
    const judged = await annotate(page, choices[i], {
      keyboard: i === 2,
      reloadAfter: i === 1 ? 1 : -1,
      name: `annotator${i}`,
    });
    assert.equal(judged, 2, `annotator ${i} judges both pairs`);
    assert.match(await page.locator('#completion-code').innerText(), /^[A-Z2-9]{8}$/);
    // an annotator never reaches the admin pages
    await page.goto(`${base}/studies`);
    await page.waitForSelector('.error');
    assert.match(await page.locator('.error').innerText(), /admin or member/);
  }

  await admin.goto(studyUrl);
  await admin.waitForSelector('#agreement');
  // Every item got A, A, B: counts (2, 1, 0) twice. P̄ = 1/3, p = (2/3, 1/3, 0),
  // Pe = 5/9, kappa = (1/3 − 5/9) / (4/9) = −0.5; percent agreement 1/3.
  const rows = await admin.locator('#agreement tbody tr').allInnerTexts();
  assert.match(rows[0], /Fleiss' kappa\s+-0\.500/);
  assert.match(rows[3], /Percent agreement\s+0\.333/);
  assert.ok(await drawn(admin, '#win-tie-lose'), 'the win/tie/lose chart is drawn');
  await admin.screenshot({ path: join(shots, 'admin-report.png'), fullPage: true });

  // The study list pools the method pair over studies (Figure 3, one bar per pair).
  await admin.goto(`${base}/studies`);
  await admin.waitForSelector('.method-pairs');
  const pairRow = await admin.locator('.method-pairs tbody tr').first().innerText();
  assert.match(pairRow, /prompt-long vs vim/);
  assert.ok(await drawn(admin, '.method-pairs img'), 'the method-pair chart is drawn');
  await admin.screenshot({ path: join(shots, 'admin-method-pairs.png'), fullPage: true });
});
