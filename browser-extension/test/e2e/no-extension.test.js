// @ts-check
/** A browser without the extension: geid.js must say so instead of waiting forever. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { callGeid, launch, openPage, startServer } from './harness.js';

/** @type {Awaited<ReturnType<typeof startServer>>} */
let server;
/** @type {import('./harness.js').Browser} */
let browser;

before(async () => {
  server = await startServer();
  browser = await launch({ extension: false });
});
after(async () => {
  await browser?.close();
  await server?.close();
});

test('no extension → EXTENSION_UNAVAILABLE after the acknowledgement timeout', async () => {
  const page = await openPage(browser.context, server.url('localhost', '/page.html'));
  const out = await callGeid(page, 'geid.status()');
  assert.equal(out.ok === false && out.code, 'EXTENSION_UNAVAILABLE', JSON.stringify(out));
  assert.ok(out.ms >= 1900 && out.ms < 4000, `gave up after ${out.ms} ms (ack timeout 2000 ms)`);
  await page.close();
});

test('no extension, shorter ack timeout, two actions at once: each is refused on its own', async () => {
  const page = await openPage(browser.context, server.url('localhost', '/page.html'));
  const out = await page.evaluate(async () => {
    const geid = /** @type {any} */ (window).geid;
    geid.configure({ ackTimeout: 300 });
    const codes = await Promise.all([
      geid.status().catch((/** @type {any} */ e) => e.code),
      geid.status().catch((/** @type {any} */ e) => e.code),
      geid.getSigningCertificate().catch((/** @type {any} */ e) => e.code),
    ]);
    return codes;
  });
  assert.deepEqual(out, ['EXTENSION_UNAVAILABLE', 'ACTION_PENDING', 'EXTENSION_UNAVAILABLE']);
  await page.close();
});
