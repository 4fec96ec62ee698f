// @ts-check
/**
 * The harness's host-manifest plumbing, proven without a geid host: Chromium finds
 * `<user-data-dir>/NativeMessagingHosts/ge.geid.host.json`, starts the program it names with the
 * caller origin as first argument, and the extension gives up on a program that never answers
 * the handshake (5 s) or does not exist. The host-dependent flows (PIN, cancel, card) replace
 * `silent-host.sh` with the real `geid-host` — see README "Pending".
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DEV_EXTENSION_ID } from '../../scripts/manifest.js';
import { callGeid, launch, openPage, startServer, writeHostManifest } from './harness.js';

/** @type {Awaited<ReturnType<typeof startServer>>} */
let server;
/** @type {import('./harness.js').Browser} */
let browser;
const work = mkdtempSync(join(tmpdir(), 'geid-host-manifest-'));
const marker = join(work, 'started-with');
const silentHost = join(work, 'silent-host.sh');

before(async () => {
  // Not a host: records how it was started, then reads and discards stdin until the port
  // closes. fd 3 keeps the stdout pipe open: Chromium takes a closed stdout for an exited host.
  writeFileSync(silentHost, `#!/bin/sh\nprintf '%s\\n' "$@" > '${marker}'\nexec cat 3>&1 > /dev/null\n`);
  chmodSync(silentHost, 0o755);
  server = await startServer();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

test('a manifest naming a missing program → NATIVE_UNAVAILABLE', async () => {
  writeHostManifest(browser.userDataDir, { path: join(work, 'no-such-geid-host') });
  const page = await openPage(browser.context, server.url('localhost', '/page.html'));
  const out = await callGeid(page, 'geid.status()');
  assert.equal(out.ok === false && out.code, 'NATIVE_UNAVAILABLE', JSON.stringify(out));
  await page.close();
});

test('a program that never answers the handshake → NATIVE_UNAVAILABLE after 5 s', async () => {
  writeHostManifest(browser.userDataDir, { path: silentHost });
  const page = await openPage(browser.context, server.url('localhost', '/page.html'));
  const out = await callGeid(page, 'geid.status()');
  assert.equal(out.ok === false && out.code, 'NATIVE_UNAVAILABLE', JSON.stringify(out));
  assert.ok(out.ms >= 4900 && out.ms < 8000, `gave up after ${out.ms} ms: ${JSON.stringify(out)}`);
  assert.ok(existsSync(marker), 'Chromium started the program the manifest names');
  assert.equal(readFileSync(marker, 'utf8').split('\n')[0], `chrome-extension://${DEV_EXTENSION_ID}/`);
  await page.close();
});
