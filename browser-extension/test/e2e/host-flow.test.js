// @ts-check
/**
 * The whole chain in a real browser: a page on loopback calls geid.js → content script →
 * background → the real `geid-host` (native messaging) → a real pcscd with the vpcd reader →
 * the virtual card (`geid testkit card`). The PIN is typed into the real PIN window, the popup
 * the background opens with `chrome.windows.create`.
 *
 * Needs pcscd and vsmartcard-vpcd (skipped with the reason otherwise), cargo (or
 * `GEID_HOST_BIN` / `GEID_BIN`), and Debian's chromium.
 */
import assert from 'node:assert/strict';
import { X509Certificate, createHash, randomBytes, verify } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { launch, openPage, outputFile, startServer } from './harness.js';
import {
  READER_NAME, binaries, hostEnvironment, makePki, missing, noPinWindow, pinWindow, startPcscd, submitPin, typePin, virtualCard,
} from './world.js';

const AUTH_PIN = '1234';
const SIGN_PIN = '123456';
const skip = missing() ?? false;

/** @type {Awaited<ReturnType<typeof startServer>>} */
let server;
/** @type {import('./harness.js').Browser} */
let browser;
/** @type {Awaited<ReturnType<typeof startPcscd>>} */
let pcscd;
/** @type {ReturnType<typeof makePki>} */
let pki;
/** @type {ReturnType<typeof virtualCard>} */
let card;
/** @type {ReturnType<typeof hostEnvironment>} */
let host;
/** @type {string} */
let pkiDir;
/** @type {ReturnType<typeof binaries>} */
let bins;

before(async () => {
  if (skip) return;
  bins = binaries();
  pcscd = await startPcscd();
  pkiDir = mkdtempSync(join(tmpdir(), 'geid-e2e-pki-'));
  pki = makePki(bins.geid, pkiDir);
  card = virtualCard(bins.geid, pkiDir);
  host = hostEnvironment({ cardTimeoutSecs: 30, pinTimeoutSecs: 30 });
  server = await startServer();
  // viewport null: the PIN popup keeps the size the background gives its window.
  browser = await launch({ nativeHost: { path: bins.host }, env: host.env, viewport: null });
}, { timeout: 600_000 });

after(async () => {
  await browser?.close();
  await server?.close();
  await card?.remove();
  await pcscd?.stop();
  if (pkiDir) rmSync(pkiDir, { recursive: true, force: true });
  host?.remove();
});

/** A fresh challenge nonce (32 random bytes, standard base64). */
const newNonce = () => randomBytes(32).toString('base64');

/**
 * Starts a geid.js call in the page without waiting for it; `result(page)` waits. Times are
 * wall-clock milliseconds taken in the page (`performance.timeOrigin + performance.now()`).
 * @param {import('playwright-core').Page} page
 * @param {string} expression
 */
async function begin(page, expression) {
  await page.evaluate((expr) => {
    const w = /** @type {any} */ (window);
    const now = () => performance.timeOrigin + performance.now();
    const started = now();
    // eslint-disable-next-line no-new-func
    w.geidCall = Promise.resolve().then(() => new Function('geid', `return ${expr};`)(w.geid)).then(
      (/** @type {any} */ value) => ({ ok: true, value, started, ended: now() }),
      (/** @type {any} */ e) => ({ ok: false, name: e?.name, code: e?.code, message: e?.message, retriesLeft: e?.retriesLeft, started, ended: now() }),
    );
  }, expression);
}

/**
 * @param {import('playwright-core').Page} page
 * @returns {Promise<{ok: boolean, value?: any, name?: string, code?: string, message?: string, retriesLeft?: number, started: number, ended: number}>}
 */
function result(page) {
  return page.evaluate(() => /** @type {any} */ (window).geidCall);
}

/**
 * Checks a Web eID token as a portal would, with node's crypto: format, algorithm, the RS256
 * signature over SHA256(origin) ‖ SHA256(nonce), and the certificate issued by the test
 * authentication CA (and that CA by the test root).
 * @param {any} token
 * @param {string} origin
 * @param {string} nonce
 */
function verifyToken(token, origin, nonce) {
  assert.equal(typeof token, 'object');
  assert.equal(token.format, 'web-eid:1.0');
  assert.equal(token.algorithm, 'RS256');
  assert.match(token.appVersion, /^https:\/\//);
  const cert = new X509Certificate(Buffer.from(token.unverifiedCertificate, 'base64'));
  const authCa = new X509Certificate(pki.authCaPem);
  const root = new X509Certificate(pki.rootPem);
  assert.ok(cert.checkIssued(authCa), `issuer ${cert.issuer}`);
  assert.ok(cert.verify(authCa.publicKey), 'certificate signed by the authentication CA');
  assert.ok(authCa.verify(root.publicKey), 'authentication CA signed by the root');
  assert.equal(cert.raw.toString('base64'), pki.pem(pki.citizen.cert_pem).replace(/-----[^-]+-----|\s/g, ''));
  const sha256 = (/** @type {string} */ s) => createHash('sha256').update(s, 'utf8').digest();
  const signed = Buffer.concat([sha256(origin), sha256(nonce)]);
  const signature = Buffer.from(token.signature, 'base64');
  assert.ok(verify('sha256', signed, cert.publicKey, signature), 'token signature verifies');
  // The same signature must not verify for another origin or nonce.
  assert.equal(verify('sha256', Buffer.concat([sha256('https://evil.example'), sha256(nonce)]), cert.publicKey, signature), false);
  assert.match(cert.subject, /serialNumber=PNOGE-\d{11}/);
  verifyWithGeidVerify(token, origin, nonce);
}

/**
 * What a portal's server does with the token: `geid verify` (geid-verify) with the test PKI as
 * the only trust anchor and the page's origin as the site origin. OCSP is off here because the
 * test PKI's AIA points at no responder in this test; revocation is covered by geid-verify's own
 * tests against the testkit OCSP responder.
 * @param {any} token
 * @param {string} origin
 * @param {string} nonce
 */
function verifyWithGeidVerify(token, origin, nonce) {
  const args = ['verify', '--token', '-', '--origin', origin, '--nonce', nonce,
    '--trust', join(pki.dir, 'root.cert.pem'), '--intermediate', join(pki.dir, 'auth-ca.cert.pem'),
    '--ocsp', 'off', '--json'];
  const out = spawnSync(bins.geid, args, { input: JSON.stringify(token), encoding: 'utf8' });
  assert.equal(out.status, 0, `geid verify refused the token: ${out.stdout} ${out.stderr}`);
  const identity = JSON.parse(out.stdout);
  assert.equal(identity.personalNumber, '01001000001');
  assert.equal(identity.givenName, 'გიორგი');
  // The same token for another site is refused with the verifier's stable code.
  const other = spawnSync(bins.geid, args.map((a) => (a === origin ? 'https://evil.example' : a)), { input: JSON.stringify(token), encoding: 'utf8' });
  assert.equal(other.status, 1);
  assert.equal(JSON.parse(other.stdout).error, 'SIGNATURE_INVALID');
}

/** @param {string} host */
const pageUrl = (host = 'localhost') => server.url(host, '/page.html');
const pageOrigin = (host = 'localhost') => `http://${host}:${server.port}`;

describe('through geid-host, pcscd + vpcd and the virtual card', { skip }, () => {
  // A failed test may leave its PIN window (and its request) open; the next test must not find it.
  afterEach(async () => {
    for (const p of browser.context.pages()) {
      if (p.url().includes('/pin.html')) await p.close().catch(() => {});
    }
    await noPinWindow(browser);
  });

  test('successful login: PIN typed into the popup PIN window, token verified', async () => {
    await card.insert();
    const page = await openPage(browser.context, pageUrl());
    const nonce = newNonce();
    await begin(page, `geid.authenticate(${JSON.stringify(nonce)}, {lang: 'en'})`);
    const popup = await pinWindow(browser);
    assert.equal(await popup.textContent('#origin'), pageOrigin());
    assert.equal(await popup.textContent('#holder'), pki.citizen.holder.common_name);
    assert.equal(await popup.textContent('#pin-label'), 'Authentication PIN');
    assert.equal(await popup.textContent('#retries'), 'Tries left: 3.');
    await typePin(popup, AUTH_PIN);
    const out = await result(page);
    assert.equal(out.ok, true, JSON.stringify(out));
    verifyToken(out.value, pageOrigin(), nonce);
    await noPinWindow(browser);
    await page.close();
  });

  test('wrong PIN, then the right one: the window shows the tries left (3 → 2)', async () => {
    await card.insert();
    const page = await openPage(browser.context, pageUrl('127.0.0.1'));
    const nonce = newNonce();
    await begin(page, `geid.authenticate(${JSON.stringify(nonce)}, {lang: 'en'})`);
    const popup = await pinWindow(browser);
    assert.equal(await popup.textContent('#retries'), 'Tries left: 3.');
    await typePin(popup, '9999');
    await popup.waitForFunction(() => document.getElementById('retries')?.textContent === 'Wrong PIN. Tries left: 2.');
    assert.equal(await popup.isVisible('#pin'), true);
    await popup.screenshot({ path: outputFile('host-pin-window-retry-en.png') });
    await typePin(popup, AUTH_PIN);
    const out = await result(page);
    assert.equal(out.ok, true, JSON.stringify(out));
    verifyToken(out.value, pageOrigin('127.0.0.1'), nonce);
    await page.close();

    // The right PIN reset the counter: the next login starts at 3 again.
    const again = await openPage(browser.context, pageUrl());
    await begin(again, `geid.authenticate(${JSON.stringify(newNonce())}, {lang: 'en'})`);
    const next = await pinWindow(browser);
    assert.equal(await next.textContent('#retries'), 'Tries left: 3.');
    await typePin(next, AUTH_PIN);
    assert.equal((await result(again)).ok, true);
    await again.close();
  });

  test('closing the PIN window cancels: the page gets USER_CANCELLED', async () => {
    await card.insert();
    const page = await openPage(browser.context, pageUrl());
    await begin(page, `geid.authenticate(${JSON.stringify(newNonce())}, {lang: 'en'})`);
    const popup = await pinWindow(browser);
    const logStart = host.log().length;
    await popup.close();
    const out = await result(page);
    assert.equal(out.ok, false);
    assert.equal(out.code, 'USER_CANCELLED', JSON.stringify(out));
    assert.ok(out.ended - out.started < 10_000);
    // The host itself ended the request as cancelled (not only the extension's grace timer).
    assert.match(host.log().slice(logStart), /request id=\S+ command="cancel"[\s\S]*code=USER_CANCELLED/);
    await page.close();
  });

  test('no card inserted, then inserted: the window asks for the card, then the PIN', async () => {
    await card.remove();
    const page = await openPage(browser.context, pageUrl());
    const nonce = newNonce();
    await begin(page, `geid.authenticate(${JSON.stringify(nonce)}, {lang: 'en'})`);
    const popup = await pinWindow(browser);
    await popup.waitForSelector('#prompt:not([hidden])');
    assert.equal(await popup.textContent('#prompt-text'), 'Insert your ID card into the reader.');
    assert.equal(await popup.isVisible('#pin'), false);
    await popup.screenshot({ path: outputFile('host-pin-window-insert-card-en.png') });
    await card.insert();
    // The same window turns into the PIN view.
    await typePin(popup, AUTH_PIN);
    const out = await result(page);
    assert.equal(out.ok, true, JSON.stringify(out));
    verifyToken(out.value, pageOrigin(), nonce);
    await page.close();
  });

  test('status() with the card present: reader, card kind and holder', async () => {
    await card.insert();
    const page = await openPage(browser.context, pageUrl());
    await begin(page, 'geid.status()');
    const out = await result(page);
    assert.equal(out.ok, true, JSON.stringify(out));
    const status = out.value;
    assert.equal(status.protocol, 'geid-nm/1');
    assert.equal(status.pcscAvailable, true);
    const reader = status.readers.find((/** @type {any} */ r) => r.name === READER_NAME);
    assert.ok(reader, JSON.stringify(status));
    assert.equal(reader.cardPresent, true);
    assert.equal(reader.card, 'GeorgiaEIDv1');
    assert.equal(reader.holder, pki.citizen.holder.common_name);
    await page.close();
  });

  test('getSigningCertificate() and sign() with the signing PIN', async () => {
    await card.insert();
    const page = await openPage(browser.context, pageUrl());
    await begin(page, "geid.getSigningCertificate({lang: 'en'})");
    const got = await result(page);
    assert.equal(got.ok, true, JSON.stringify(got));
    const signEntry = pki.manifest.entries.find((/** @type {any} */ e) => e.name === 'citizen' && e.role === 'citizen-sign');
    const expected = pki.pem(signEntry.cert_pem).replace(/-----[^-]+-----|\s/g, '');
    assert.equal(got.value.certificate, expected);
    assert.ok(got.value.supportedSignatureAlgorithms.some(
      (/** @type {any} */ a) => a.cryptoAlgorithm === 'RSA' && a.hashFunction === 'SHA-256' && a.paddingScheme === 'PKCS1.5',
    ), JSON.stringify(got.value));

    const document = Buffer.from('geid end-to-end test document', 'utf8');
    const hash = createHash('sha256').update(document).digest('base64');
    await begin(page, `geid.sign(${JSON.stringify(got.value.certificate)}, ${JSON.stringify(hash)}, 'SHA-256', {lang: 'en'})`);
    const popup = await pinWindow(browser);
    assert.equal(await popup.textContent('#pin-label'), 'Signature PIN');
    assert.equal(await popup.textContent('#hint'), '6 digits');
    assert.equal(await popup.textContent('#holder'), pki.citizen.holder.common_name);
    await typePin(popup, SIGN_PIN);
    const signed = await result(page);
    assert.equal(signed.ok, true, JSON.stringify(signed));
    assert.deepEqual(signed.value.signatureAlgorithm, { cryptoAlgorithm: 'RSA', hashFunction: 'SHA-256', paddingScheme: 'PKCS1.5' });
    const cert = new X509Certificate(Buffer.from(got.value.certificate, 'base64'));
    assert.ok(verify('sha256', document, cert.publicKey, Buffer.from(signed.value.signature, 'base64')), 'signature verifies');
    await page.close();
  });

  test('screenshots of the real popup PIN window in Georgian and English', async () => {
    await card.insert();
    for (const lang of ['ka', 'en']) {
      const page = await openPage(browser.context, pageUrl());
      await page.evaluate((l) => { document.documentElement.lang = l; }, lang);
      await begin(page, `geid.authenticate(${JSON.stringify(newNonce())}, {lang: ${JSON.stringify(lang)}})`);
      const popup = await pinWindow(browser);
      await popup.waitForSelector('#pin-form:not([hidden])');
      assert.equal(await popup.getAttribute('html', 'lang'), lang);
      assert.equal(await popup.textContent('#title'), lang === 'ka' ? 'შესვლა პირადობის მოწმობით' : 'Log in with your ID card');
      await popup.screenshot({ path: outputFile(`host-pin-window-${lang}.png`) });
      await typePin(popup, AUTH_PIN);
      assert.equal((await result(page)).ok, true);
      await page.close();
    }
  });

  test('timing: authenticate() to token, split into browser/extension, host and card', async () => {
    await card.insert();
    /** @type {ReturnType<typeof split>[]} */
    const runs = [];
    for (let i = 0; i < 5; i++) {
      const logStart = host.log().length;
      const page = await openPage(browser.context, pageUrl());
      const nonce = newNonce();
      await begin(page, `geid.authenticate(${JSON.stringify(nonce)}, {lang: 'en'})`);
      const popup = await pinWindow(browser);
      await popup.waitForSelector('#pin-form:not([hidden]) #pin:not([disabled])');
      const shown = Date.now();
      await popup.fill('#pin', AUTH_PIN);
      const submitted = Date.now();
      await submitPin(popup);
      const out = await result(page);
      assert.equal(out.ok, true, JSON.stringify(out));
      verifyToken(out.value, pageOrigin(), nonce);
      await page.close();
      await noPinWindow(browser);
      // The host writes "done" before the answer; wait for the log to have it.
      runs.push(split(host.log().slice(logStart), { started: out.started, ended: out.ended, shown, submitted }));
    }
    const median = (/** @type {number[]} */ xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const keys = /** @type {(keyof typeof runs[0])[]} */ (Object.keys(runs[0]));
    const summary = Object.fromEntries(keys.map((k) => [k, round(median(runs.map((r) => r[k])))]));
    const report = {
      what: 'authenticate() to token on the virtual card through Chromium, the extension, geid-host (debug build), pcscd and vpcd; wall-clock ms, median of runs',
      runs: runs.length,
      median: summary,
      each: runs.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, round(v)]))),
      definitions: DEFINITIONS,
    };
    writeFileSync(outputFile('timings.json'), `${JSON.stringify(report, null, 2)}\n`);
    console.log(`timings (ms, median of ${runs.length}):`);
    for (const k of keys) console.log(`  ${k.padEnd(22)} ${String(summary[k]).padStart(8)}   ${DEFINITIONS[k]}`);
    assert.ok(summary.total > 0 && summary.card >= 0 && summary.host >= 0 && summary.browserExtension >= 0);
  });
});

const DEFINITIONS = {
  total: 'authenticate() called → token in the page (page clock)',
  browserExtension: 'total − host − card − user: content script, background, starting geid-host, PIN window, relays',
  host: 'geid-host process start → "done", minus card and the PIN wait',
  card: 'sum of APDU round trips the host logged (pcscd + vpcd + virtual card)',
  user: 'PIN window ready → PIN submitted (the test typing)',
  hostStart: 'authenticate() → geid-host logged "started" (page → content script → background → Chromium starting the host)',
  pinWindow: 'host asked for the PIN → PIN window ready for typing (extension + Chromium popup)',
  pinReturn: 'PIN typed, OK about to be clicked → the PIN reached the host',
  answer: 'host "done" → token in the page',
};

/** @param {number} v */
const round = (v) => Math.round(v * 10) / 10;

/**
 * Splits one login's time using the host log (microsecond UTC timestamps, one line per APDU and
 * per request) and the page's and test's wall-clock times.
 * @param {string} log the host log lines of this login only
 * @param {{started: number, ended: number, shown: number, submitted: number}} t
 */
function split(log, t) {
  /** @type {{at: number, text: string}[]} */
  const lines = [];
  for (const line of log.split('\n')) {
    const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z\s+(.*)$/.exec(line);
    if (!m) continue;
    lines.push({ at: Date.parse(`${m[1]}Z`) + Number(m[2] ?? 0) * 1000, text: m[3] });
  }
  const find = (/** @type {RegExp} */ re) => {
    const i = lines.findIndex((l) => re.test(l.text));
    if (i < 0) throw new Error(`host log has no ${re}:\n${log}`);
    return i;
  };
  const iStart = find(/geid_host: started/);
  const iAuth = find(/request id=\S+ command="authenticate"/);
  const iPin = find(/request id=\S+ command="pin"/);
  const iDone = find(/done id=\S+ ms=\d+/);
  // Card: each APDU line is written when its response arrives; its round trip is taken as the
  // time since the line before it (for the first APDU of a burst that includes connecting to the
  // card and the host's own work since the previous line, so card time is an upper bound).
  let card = 0;
  for (let i = iAuth + 1; i <= iDone; i++) {
    if (/ apdu /.test(lines[i].text)) card += lines[i].at - lines[i - 1].at;
  }
  // The host asks for the PIN right after the last APDU before the pin request (the retry
  // counter read).
  let iAsk = iPin - 1;
  while (iAsk > iAuth && !/ apdu /.test(lines[iAsk].text)) iAsk--;
  const pinWait = lines[iPin].at - lines[iAsk].at;
  const total = t.ended - t.started;
  const hostSpan = lines[iDone].at - lines[iStart].at;
  const host = hostSpan - card - pinWait;
  const user = t.submitted - t.shown;
  return {
    total,
    browserExtension: total - host - card - user,
    host,
    card,
    user,
    hostStart: lines[iStart].at - t.started,
    pinWindow: t.shown - lines[iAsk].at,
    pinReturn: lines[iPin].at - t.submitted,
    answer: t.ended - lines[iDone].at,
  };
}
