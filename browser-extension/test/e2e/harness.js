// @ts-check
/**
 * End-to-end harness: a loopback HTTP server for test pages and `geid.js`, and Debian's
 * Chromium driven by playwright-core with the unpacked extension loaded.
 *
 * Host-dependent tests write a host manifest with `writeHostManifest` (or pass `nativeHost` to
 * `launch`) pointing at a real `geid-host`; Chromium with a custom `--user-data-dir` reads
 * `<user-data-dir>/NativeMessagingHosts/ge.geid.host.json`.
 *
 * Environment: `GEID_CHROMIUM` (default `/usr/bin/chromium`), `GEID_E2E_HEADFUL=1` to run with a
 * window (under Xvfb or a desktop) instead of `--headless=new`.
 * @module
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { build } from '../../scripts/build.js';
import { DEV_EXTENSION_ID } from '../../scripts/manifest.js';
import { HOST_NAME } from '../../src/common/protocol.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const OUTPUT_DIR = join(ROOT, 'test-output');
export const CHROMIUM = process.env.GEID_CHROMIUM ?? '/usr/bin/chromium';
/** A host name that resolves to loopback inside the test browser but is not a loopback origin. */
export const NON_LOOPBACK_HOST = 'portal.test';

const TYPES = /** @type {Record<string, string>} */ ({
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
});

/**
 * Serves `test/e2e/pages/` at `/` and `lib/` at `/lib/` on 127.0.0.1.
 * @returns {Promise<{port: number, url: (host: string, path: string) => string, close: () => Promise<void>}>}
 */
export async function startServer() {
  const pages = join(ROOT, 'test', 'e2e', 'pages');
  const lib = join(ROOT, 'lib');
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const [base, rel] = path.startsWith('/lib/') ? [lib, path.slice(5)] : [pages, path.slice(1)];
    const file = normalize(join(base, rel));
    if (!file.startsWith(base) || !existsSync(file) || rel === '') {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    res.end(readFileSync(file));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    url: (host, path) => `http://${host}:${port}${path}`,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve(undefined));
    }),
  };
}

let built = /** @type {string | null} */ (null);

/** Builds `dist/chromium/` once per test process. */
export function extensionDir() {
  built ??= build('chromium');
  return built;
}

/**
 * Writes the native-messaging host manifest into a Chromium profile.
 * @param {string} userDataDir
 * @param {{path: string, extensionId?: string}} host `path`: absolute path of `geid-host`
 */
export function writeHostManifest(userDataDir, host) {
  const dir = join(userDataDir, 'NativeMessagingHosts');
  mkdirSync(dir, { recursive: true });
  const manifest = {
    name: HOST_NAME,
    description: 'geid native host (test)',
    path: host.path,
    type: 'stdio',
    allowed_origins: [`chrome-extension://${host.extensionId ?? DEV_EXTENSION_ID}/`],
  };
  const file = join(dir, `${HOST_NAME}.json`);
  writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`);
  return file;
}

/**
 * @typedef {object} Browser
 * @property {import('playwright-core').BrowserContext} context
 * @property {string | null} extensionId the id Chromium gave the loaded extension
 * @property {import('playwright-core').Worker | null} serviceWorker
 * @property {string} userDataDir
 * @property {() => Promise<void>} close
 */

/**
 * Starts Chromium with a fresh profile.
 * @param {{extension?: boolean, nativeHost?: {path: string}, env?: Record<string, string>,
 *           viewport?: {width: number, height: number} | null}} [options]
 *   `env`: added to Chromium's environment, which the native host inherits; `viewport: null`
 *   lets every page (the PIN popup too) keep its real window size instead of 800×600
 * @returns {Promise<Browser>}
 */
export async function launch(options = {}) {
  const withExtension = options.extension ?? true;
  const userDataDir = mkdtempSync(join(tmpdir(), 'geid-e2e-'));
  if (options.nativeHost) writeHostManifest(userDataDir, options.nativeHost);
  const headful = process.env.GEID_E2E_HEADFUL === '1';
  const args = [
    '--no-sandbox', // the tests run as root in CI
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-features=HttpsUpgrades,HttpsFirstBalancedModeAutoEnable',
    `--host-resolver-rules=MAP ${NON_LOOPBACK_HOST} 127.0.0.1`,
  ];
  if (!headful) args.push('--headless=new');
  if (withExtension) {
    const dir = extensionDir();
    args.push(`--disable-extensions-except=${dir}`, `--load-extension=${dir}`);
  }
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: !headful,
    args,
    ignoreDefaultArgs: ['--disable-extensions'],
    viewport: options.viewport === undefined ? { width: 800, height: 600 } : options.viewport,
    ...(options.env ? { env: { ...process.env, ...options.env } } : {}),
  });
  let serviceWorker = null;
  let extensionId = null;
  if (withExtension) {
    serviceWorker = context.serviceWorkers()[0] ?? await context.waitForEvent('serviceworker', { timeout: 15_000 });
    extensionId = new URL(serviceWorker.url()).host;
  }
  return {
    context,
    extensionId,
    serviceWorker,
    userDataDir,
    close: async () => {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Opens a test page and waits until `geid.js` is loaded in it.
 * @param {import('playwright-core').BrowserContext} context
 * @param {string} url
 */
export async function openPage(context, url) {
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForFunction(() => /** @type {any} */ (window).geidReady === true);
  return page;
}

/**
 * Runs a geid.js call in a page or frame and returns its outcome as plain data.
 * @param {import('playwright-core').Page | import('playwright-core').Frame} target
 * @param {string} expression e.g. `geid.status()`; `geid` is the imported module
 * @returns {Promise<{ok: true, value: any, ms: number} | {ok: false, name: string, code: string, message: string, ms: number}>}
 */
export function callGeid(target, expression) {
  return target.evaluate(async (expr) => {
    const started = performance.now();
    try {
      // eslint-disable-next-line no-new-func
      const value = await new Function('geid', `return ${expr};`)(/** @type {any} */ (window).geid);
      return { ok: /** @type {const} */ (true), value, ms: performance.now() - started };
    } catch (e) {
      const err = /** @type {any} */ (e);
      return { ok: /** @type {const} */ (false), name: err?.name, code: err?.code, message: err?.message, ms: performance.now() - started };
    }
  }, expression);
}

/** Makes `test-output/` and returns the path of a file in it. @param {string} name */
export function outputFile(name) {
  mkdirSync(OUTPUT_DIR, { recursive: true });
  return join(OUTPUT_DIR, name);
}
