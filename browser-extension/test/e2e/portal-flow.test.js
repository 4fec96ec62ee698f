// @ts-check
/**
 * The citizen's whole journey on the reference portal, out of real parts: the `geid-portal`
 * binary in demo mode (its own test PKI, in-process OCSP responder, SQLite) → its pages and
 * `portal.js` in Debian's Chromium → geid.js → the unpacked extension → the real `geid-host`
 * (native messaging) → a real pcscd with the vpcd reader → the virtual card
 * (`geid testkit card`) holding a certificate from the portal's demo PKI. The PIN is typed into
 * the extension's real popup window; the portal verifies the token (chain, OCSP, origin, nonce).
 *
 * Cases run in order on one portal, one card and one browser profile: register, log out and log
 * in, a wrong PIN then the right one, a cancelled PIN window, screenshots.
 *
 * Needs pcscd and vsmartcard-vpcd (skipped with the reason otherwise), cargo (or
 * `GEID_HOST_BIN`, `GEID_BIN` and `GEID_PORTAL_BIN`), and Debian's chromium.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, afterEach, before, describe, test } from 'node:test';
import { launch, outputFile } from './harness.js';
import {
  binaries, hostEnvironment, missing, noPinWindow, pinWindow, startPcscd, startPortal, typePin, virtualCard,
} from './world.js';

const AUTH_PIN = '1234';
const HOLDER = { name: 'გიორგი ბერიძე', personalNumber: '01001000001' };
const EMAIL = 'giorgi.beridze@example.ge';
const PHONE = '+995 555 12 34 56';
const skip = missing() ?? false;

/** @type {import('./harness.js').Browser} */
let browser;
/** @type {Awaited<ReturnType<typeof startPcscd>>} */
let pcscd;
/** @type {Awaited<ReturnType<typeof startPortal>>} */
let portal;
/** @type {ReturnType<typeof virtualCard>} */
let card;
/** @type {ReturnType<typeof hostEnvironment>} */
let host;

before(async () => {
  if (skip) return;
  const bins = binaries({ portal: true });
  pcscd = await startPcscd();
  // The portal first: it writes the demo PKI the card's certificates must come from.
  portal = await startPortal(bins.portal);
  card = virtualCard(bins.geid, portal.pkiDir);
  await card.insert();
  host = hostEnvironment({ cardTimeoutSecs: 30, pinTimeoutSecs: 30 });
  // viewport null: the PIN popup keeps the size the background gives its window.
  browser = await launch({ nativeHost: { path: bins.host }, env: host.env, viewport: null });
}, { timeout: 900_000 });

after(async () => {
  await browser?.close();
  await card?.remove();
  await portal?.stop();
  await pcscd?.stop();
  host?.remove();
});

/**
 * Opens a portal page (path with `?lang=` when a language is wanted) in a new tab.
 * @param {string} path
 */
async function open(path) {
  const page = await browser.context.newPage();
  await page.goto(portal.url(path));
  return page;
}

/**
 * Presses one of the start page's card buttons and answers the PIN window; resolves when the
 * portal has sent the page on (its URL path then is `to`).
 * @param {import('playwright-core').Page} page the start page
 * @param {'#login-with-card' | '#register-with-card'} button
 * @param {string} to path the portal sends the page to, e.g. `/register`
 */
async function withCard(page, button, to) {
  await page.click(button);
  const popup = await pinWindow(browser);
  assert.equal(await popup.textContent('#origin'), portal.origin);
  assert.equal(await popup.textContent('#holder'), HOLDER.name);
  const arrived = page.waitForURL((u) => u.pathname === to, { timeout: 30_000 });
  await typePin(popup, AUTH_PIN);
  await arrived;
  await noPinWindow(browser);
}

/**
 * Logs out from the account page with `#logout`; the portal sends the page to the start page.
 * @param {import('playwright-core').Page} page
 */
async function logOut(page) {
  await Promise.all([page.waitForURL((u) => u.pathname === '/'), page.click('#logout')]);
  await page.waitForSelector('#login-with-card');
}

/** Whether the browser's session is logged in: `/account` shows the account, else goes home. */
async function loggedIn() {
  const page = await open('/account');
  const path = new URL(page.url()).pathname;
  await page.close();
  return path === '/account';
}

/** @param {import('playwright-core').Page} page @param {string} name */
const shoot = (page, name) => page.screenshot({ path: outputFile(name), fullPage: true });

describe('the reference portal through the extension, geid-host, pcscd + vpcd and the virtual card', { skip }, () => {
  // A failed test may leave its PIN window open; the next one must not find it. Each case starts
  // logged out, with only the tabs it opens.
  afterEach(async () => {
    for (const p of browser.context.pages()) {
      if (p.url().includes('/pin.html')) await p.close().catch(() => {});
    }
    await noPinWindow(browser);
    for (const p of browser.context.pages()) {
      if (p.url().startsWith(portal.origin)) await p.close().catch(() => {});
    }
    await browser.context.clearCookies();
  });

  test('1. register with the ID card: PIN, verified identity, e-mail and phone, account', async () => {
    const page = await open('/?lang=ka');
    assert.equal(await page.getAttribute('html', 'lang'), 'ka');
    await page.click('#register-with-card');
    const popup = await pinWindow(browser);
    // The page is Georgian, so is the extension's window.
    assert.equal(await popup.getAttribute('html', 'lang'), 'ka');
    assert.equal(await popup.textContent('#origin'), portal.origin);
    assert.equal(await popup.textContent('#holder'), HOLDER.name);
    const arrived = page.waitForURL((u) => u.pathname === '/register', { timeout: 30_000 });
    await typePin(popup, AUTH_PIN);
    await arrived;
    await noPinWindow(browser);

    // The identity the card proved, shown back before anything is created.
    assert.equal((await page.textContent('#identity-name'))?.trim(), HOLDER.name);
    assert.equal((await page.textContent('#identity-personal-number'))?.trim(), HOLDER.personalNumber);
    await shoot(page, 'portal-identity-ka.png');
    await page.goto(portal.url('/register?lang=en'));
    assert.equal((await page.textContent('#identity-name'))?.trim(), HOLDER.name);
    await shoot(page, 'portal-identity-en.png');
    assert.equal(await loggedIn(), false, 'no account before the form is sent');

    await page.fill('#email', EMAIL);
    await page.fill('#phone', PHONE);
    await Promise.all([page.waitForURL((u) => u.pathname === '/account'), page.click('#submit')]);
    assert.equal((await page.textContent('#account-name'))?.trim(), HOLDER.name);
    assert.equal((await page.textContent('#account-personal-number'))?.trim(), HOLDER.personalNumber);
    assert.equal((await page.textContent('#account-email'))?.trim(), EMAIL);
    assert.match((await page.textContent('#account-phone')) ?? '', /^\s*\+995\s*555\s*12\s*34\s*56\s*$/);
    assert.equal(await page.getAttribute('#account-registration-method', 'data-method'), 'id-card');
    assert.equal((await page.textContent('#notice'))?.trim(), 'Your account was created.');
    // The portal audited the card login that led here.
    assert.match((await page.textContent('#recent-logins')) ?? '', /card\s*OK/);
    assert.equal(await loggedIn(), true);
  });

  test('2. log out, log in with the card; registering again finds the existing account', async () => {
    // The session of case 1 was cleared: start from a fresh login.
    const page = await open('/?lang=en');
    await withCard(page, '#login-with-card', '/account');
    assert.equal((await page.textContent('#account-personal-number'))?.trim(), HOLDER.personalNumber);

    await logOut(page);
    assert.equal(await loggedIn(), false, 'logged out');

    await withCard(page, '#login-with-card', '/account');
    assert.equal((await page.textContent('#account-name'))?.trim(), HOLDER.name);
    assert.equal((await page.textContent('#account-personal-number'))?.trim(), HOLDER.personalNumber);
    assert.equal(await page.isVisible('#notice'), false);
    const logins = await page.$$eval('#recent-logins tbody tr', (rows) => rows.map((r) => r.textContent ?? ''));
    assert.ok(logins.filter((r) => /card/.test(r) && /OK/.test(r)).length >= 3, logins.join(' | '));

    await logOut(page);
    await withCard(page, '#register-with-card', '/account');
    assert.equal(new URL(page.url()).searchParams.get('notice'), 'existing');
    assert.equal((await page.textContent('#notice'))?.trim(), 'You already have an account; you are now logged in to it.');
    assert.equal((await page.textContent('#account-email'))?.trim(), EMAIL, 'the same account, not a new one');
    assert.equal(await page.getAttribute('#account-registration-method', 'data-method'), 'id-card');
  });

  test('3. a wrong PIN shows the tries left in the window, then the right PIN logs in', async () => {
    const page = await open('/?lang=en');
    await page.click('#login-with-card');
    const popup = await pinWindow(browser);
    assert.equal(await popup.textContent('#retries'), 'Tries left: 3.');
    await typePin(popup, '9999');
    await popup.waitForFunction(() => document.getElementById('retries')?.textContent === 'Wrong PIN. Tries left: 2.');
    assert.equal(await popup.isVisible('#pin'), true);
    // Nothing went to the portal yet: the page is still waiting on the start page.
    assert.equal(new URL(page.url()).pathname, '/');
    assert.equal(await loggedIn(), false);
    const arrived = page.waitForURL((u) => u.pathname === '/account', { timeout: 30_000 });
    await typePin(popup, AUTH_PIN);
    await arrived;
    await noPinWindow(browser);
    assert.equal((await page.textContent('#account-personal-number'))?.trim(), HOLDER.personalNumber);

    // The right PIN reset the card's counter.
    await logOut(page);
    await page.click('#login-with-card');
    const next = await pinWindow(browser);
    assert.equal(await next.textContent('#retries'), 'Tries left: 3.');
    const again = page.waitForURL((u) => u.pathname === '/account', { timeout: 30_000 });
    await typePin(next, AUTH_PIN);
    await again;
  });

  test('4. closing the PIN window: a clear "cancelled" message, nothing logged in', async () => {
    for (const [lang, text] of [['en', 'Card login cancelled. You are not logged in.'], ['ka', 'ბარათით შესვლა გაუქმდა. სისტემაში არ შეხვედით.']]) {
      const page = await open(`/?lang=${lang}`);
      await page.click('#login-with-card');
      const popup = await pinWindow(browser);
      const logStart = host.log().length;
      await popup.close();
      await page.waitForFunction(() => document.getElementById('message')?.dataset.code === 'USER_CANCELLED', undefined, { timeout: 10_000 });
      assert.equal((await page.textContent('#message'))?.trim(), text);
      assert.equal(new URL(page.url()).pathname, '/');
      assert.match(host.log().slice(logStart), /code=USER_CANCELLED/);
      assert.equal(await loggedIn(), false);
      if (lang === 'en') await shoot(page, 'portal-cancelled-en.png');
      await page.close();
    }
    // The card still works afterwards.
    const page = await open('/?lang=en');
    await withCard(page, '#login-with-card', '/account');
  });

  test('5. screenshots: start page, identity confirmation and account page in Georgian and English', async () => {
    for (const lang of ['ka', 'en']) {
      const start = await open(`/?lang=${lang}`);
      assert.equal(await start.getAttribute('html', 'lang'), lang);
      assert.equal((await start.textContent('#register-with-card'))?.trim(), lang === 'ka' ? 'რეგისტრაცია პირადობის მოწმობით' : 'Register with the ID card');
      await shoot(start, `portal-start-${lang}.png`);
      await withCard(start, '#login-with-card', '/account');
      await start.goto(portal.url(`/account?lang=${lang}`));
      assert.equal(await start.getAttribute('html', 'lang'), lang);
      assert.equal((await start.textContent('#account-name'))?.trim(), HOLDER.name);
      await shoot(start, `portal-account-${lang}.png`);
      await logOut(start);
      await start.close();
    }
    // The identity confirmation exists only between the card step and the form of a first
    // registration; case 1 took those two.
    for (const lang of ['ka', 'en']) {
      assert.ok(existsSync(outputFile(`portal-identity-${lang}.png`)), `portal-identity-${lang}.png (written by case 1)`);
    }
  });
});
