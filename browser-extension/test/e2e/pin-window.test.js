// @ts-check
/**
 * The PIN window rendered by Chromium in Georgian and English, with screenshots saved under
 * `test-output/`. Without a host nothing can raise `pin-required`, so the page is opened
 * directly with the view in its query, exactly as the background opens it (no `requestId`, so
 * a typed PIN goes nowhere).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, outputFile } from './harness.js';

/** @type {import('./harness.js').Browser} */
let browser;

before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** @param {Record<string, string>} view */
async function openPin(view) {
  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 440, height: 520 });
  await page.goto(`chrome-extension://${browser.extensionId}/pin.html?${new URLSearchParams(view)}`);
  await page.waitForSelector('#app:not([hidden])');
  return page;
}

const holder = 'გიორგი ბერიძე';
const origin = 'https://portal.example.ge';

test('authentication PIN window in Georgian', async () => {
  const page = await openPin({ mode: 'pin', lang: 'ka', origin, holder, kind: 'authentication', retriesLeft: '3', minLength: '4', maxLength: '4' });
  assert.equal(await page.textContent('#title'), 'შესვლა პირადობის მოწმობით');
  assert.equal(await page.textContent('#origin'), origin);
  assert.equal(await page.textContent('#holder'), holder);
  assert.equal(await page.textContent('#pin-label'), 'ავთენტიფიკაციის PIN-კოდი');
  assert.equal(await page.textContent('#hint'), '4 ციფრი');
  assert.equal(await page.textContent('#retries'), 'დარჩენილი მცდელობები: 3.');
  assert.equal(await page.getAttribute('html', 'lang'), 'ka');
  await page.screenshot({ path: outputFile('pin-window-ka.png') });

  // Digits only, at most maxLength; OK only at a valid length; the field is cleared on submit.
  assert.equal(await page.isDisabled('#ok'), true);
  await page.locator('#pin').pressSequentially('1a2b3');
  assert.equal(await page.inputValue('#pin'), '123');
  assert.equal(await page.isDisabled('#ok'), true);
  await page.locator('#pin').pressSequentially('45');
  assert.equal(await page.inputValue('#pin'), '1234');
  assert.equal(await page.isDisabled('#ok'), false);
  await page.click('#ok');
  assert.equal(await page.inputValue('#pin'), '');
  assert.equal(await page.isVisible('#prompt-text'), true);
  assert.equal(await page.textContent('#prompt-text'), 'PIN-კოდი მოწმდება…');
  await page.close();
});

test('authentication PIN window in English', async () => {
  const page = await openPin({ mode: 'pin', lang: 'en', origin, holder, kind: 'authentication', retriesLeft: '3', minLength: '4', maxLength: '4' });
  assert.equal(await page.textContent('#title'), 'Log in with your ID card');
  assert.equal(await page.textContent('#pin-label'), 'Authentication PIN');
  assert.equal(await page.textContent('#retries'), 'Tries left: 3.');
  await page.screenshot({ path: outputFile('pin-window-en.png') });
  await page.close();
});

test('signing PIN window after a wrong PIN, in both languages', async () => {
  for (const lang of ['ka', 'en']) {
    const page = await openPin({ mode: 'pin', lang, origin, holder, kind: 'signing', retriesLeft: '1', minLength: '6', maxLength: '6', retry: '1' });
    const text = await page.textContent('#retries');
    assert.equal(text, lang === 'ka' ? 'PIN-კოდი არასწორია. დარჩენილი მცდელობები: 1.' : 'Wrong PIN. Tries left: 1.');
    assert.equal(await page.textContent('#hint'), lang === 'ka' ? '6 ციფრი' : '6 digits');
    await page.screenshot({ path: outputFile(`pin-window-signing-retry-${lang}.png`) });
    await page.close();
  }
});

test('PIN-pad reader: a prompt, no input', async () => {
  const page = await openPin({ mode: 'pin', lang: 'ka', origin, holder, kind: 'authentication', pinPad: '1', retriesLeft: '3' });
  assert.equal(await page.isVisible('#pin'), false);
  assert.match(/** @type {string} */ (await page.textContent('#prompt-text')), /წამკითხველის კლავიატურაზე/);
  await page.screenshot({ path: outputFile('pin-window-pinpad-ka.png') });
  await page.close();
});

test('no lang in the request: the browser UI language decides (English here)', async () => {
  const page = await openPin({ mode: 'card', origin, kind: 'authentication', reason: 'NO_CARD' });
  assert.equal(await page.textContent('#prompt-text'), 'Insert your ID card into the reader.');
  await page.close();
});
