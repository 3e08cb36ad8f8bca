// What the browser tests share: `valuelab serve` on a fresh database with an admin account,
// and headless Debian Chromium. (Not a test file: `node --test` runs only *.test.mjs here.)

import { spawn, execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

// fileURLToPath rather than import.meta.dirname: Debian 12's Node 18 lacks the latter.
export const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
export const bin = process.env.VALUELAB_BIN ?? join(root, 'target/debug/valuelab');
export const staticDir = process.env.VALUELAB_STATIC_DIR ?? join(root, 'static');
export const shots = join(root, 'tests/e2e/screenshots');
export const PASSWORD = 'a long enough password';

/**
 * Adds the admin `admin` to a fresh database in `dir` and starts `valuelab [global] serve
 * --port 0 ... [flags]` on it; resolves with the server process and its address.
 */
export function serve(dir, { global = [], flags = [] } = {}) {
  const database = `sqlite://${join(dir, 'valuelab.db')}`;
  execFileSync(bin, ['user', 'add', '--role', 'admin', '--username', 'admin', '--database-url', database], {
    input: `${PASSWORD}\n`,
  });
  const server = spawn(bin, [...global, 'serve', '--port', '0', '--database-url', database, '--static-dir', staticDir, ...flags], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((ok, fail) => {
    let out = '';
    server.stdout.on('data', (chunk) => {
      out += chunk;
      const found = out.match(/serving (http:\/\/[^/\s]+)\//);
      if (found) ok({ server, base: found[1] });
    });
    server.on('exit', (code) => fail(new Error(`valuelab serve exited with ${code}: ${out}`)));
  });
}

/** Headless Chromium (CHROMIUM, default /usr/bin/chromium). */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}
