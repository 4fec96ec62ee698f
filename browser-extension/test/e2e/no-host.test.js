// @ts-check
/**
 * End-to-end cases that need no native host: the extension in a real Chromium, a page served on
 * loopback, and the refusals the extension decides by itself.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEV_EXTENSION_ID } from '../../scripts/manifest.js';
import { NON_LOOPBACK_HOST, callGeid, launch, openPage, startServer } from './harness.js';

/** @type {Awaited<ReturnType<typeof startServer>>} */
let server;
/** @type {import('./harness.js').Browser} */
let browser;

before(async () => {
  server = await startServer();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.close();
});

describe('extension loaded, no geid-host installed', () => {
  test('the unpacked extension has the documented fixed id', () => {
    assert.equal(browser.extensionId, DEV_EXTENSION_ID);
  });

  test('status() on a loopback page → NATIVE_UNAVAILABLE', async () => {
    const page = await openPage(browser.context, server.url('localhost', '/page.html'));
    const out = await callGeid(page, 'geid.status()');
    assert.equal(out.ok, false);
    assert.equal(out.ok === false && out.name, 'GeidError');
    assert.equal(out.ok === false && out.code, 'NATIVE_UNAVAILABLE', JSON.stringify(out));
    assert.ok(out.ms < 5000, `answered in ${out.ms} ms`);
    await page.close();
  });

  test('authenticate() on 127.0.0.1 → NATIVE_UNAVAILABLE', async () => {
    const page = await openPage(browser.context, server.url('127.0.0.1', '/page.html'));
    const nonce = Buffer.alloc(32, 7).toString('base64');
    const out = await callGeid(page, `geid.authenticate(${JSON.stringify(nonce)}, {lang: 'ka'})`);
    assert.equal(out.ok === false && out.code, 'NATIVE_UNAVAILABLE', JSON.stringify(out));
    await page.close();
  });

  test('a plain-http page of a non-loopback origin → CONTEXT_INSECURE', async () => {
    const page = await openPage(browser.context, server.url(NON_LOOPBACK_HOST, '/page.html'));
    assert.equal(await page.evaluate(() => window.isSecureContext), false);
    const out = await callGeid(page, 'geid.status()');
    assert.equal(out.ok === false && out.code, 'CONTEXT_INSECURE', JSON.stringify(out));
    await page.close();
  });

  test('a page in an iframe of another origin → ORIGIN_NOT_ALLOWED', async () => {
    const inner = server.url('127.0.0.1', '/page.html');
    const page = await browser.context.newPage();
    await page.goto(server.url('localhost', `/frame.html?src=${encodeURIComponent(inner)}`));
    const frame = await waitForGeidFrame(page, inner);
    const out = await callGeid(frame, 'geid.status()');
    assert.equal(out.ok === false && out.code, 'ORIGIN_NOT_ALLOWED', JSON.stringify(out));
    await page.close();
  });

  test('a page in an iframe of the same origin passes the frame rule (→ NATIVE_UNAVAILABLE)', async () => {
    const inner = server.url('localhost', '/page.html');
    const page = await browser.context.newPage();
    await page.goto(server.url('localhost', `/frame.html?src=${encodeURIComponent(inner)}`));
    const frame = await waitForGeidFrame(page, inner);
    const out = await callGeid(frame, 'geid.status()');
    assert.equal(out.ok === false && out.code, 'NATIVE_UNAVAILABLE', JSON.stringify(out));
    await page.close();
  });

  test('a forged postMessage from another window is ignored by the content script', async () => {
    const page = await openPage(browser.context, server.url('localhost', '/page.html'));
    const acked = await page.evaluate(() => new Promise((resolve) => {
      const other = /** @type {HTMLIFrameElement} */ (document.createElement('iframe'));
      document.body.append(other);
      window.addEventListener('message', (e) => {
        if (e.data?.type === 'geid:ack') resolve(true);
      });
      // Sent from the iframe's window: event.source is not the page's window.
      /** @type {any} */ (other.contentWindow).eval(
        "parent.postMessage({type: 'geid:status', requestId: 'forged-1', arguments: {}}, '*')",
      );
      setTimeout(() => resolve(false), 1500);
    }));
    assert.equal(acked, false);
    await page.close();
  });
});

/**
 * @param {import('playwright-core').Page} page
 * @param {string} url
 */
async function waitForGeidFrame(page, url) {
  for (let i = 0; i < 100; i++) {
    const frame = page.frames().find((f) => f.url() === url);
    if (frame && (await frame.evaluate(() => /** @type {any} */ (window).geidReady === true).catch(() => false))) return frame;
    await page.waitForTimeout(50);
  }
  throw new Error(`frame ${url} did not load geid.js`);
}
