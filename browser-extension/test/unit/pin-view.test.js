// @ts-check
/** PIN window logic without the DOM, and the two catalogues. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chooseLanguage, digitsOnly, formatMessage, pinAcceptable, viewFromQuery } from '../../src/pin/view.js';

const locales = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', '_locales');
const ka = JSON.parse(readFileSync(join(locales, 'ka', 'messages.json'), 'utf8'));
const en = JSON.parse(readFileSync(join(locales, 'en', 'messages.json'), 'utf8'));

test('Georgian and English catalogues have the same keys and placeholders', () => {
  assert.deepEqual(Object.keys(ka).sort(), Object.keys(en).sort());
  for (const key of Object.keys(en)) {
    assert.deepEqual(Object.keys(ka[key].placeholders ?? {}), Object.keys(en[key].placeholders ?? {}), key);
    assert.match(ka[key].message, /[\u10D0-\u10FF]|PIN|^OK$/, `${key} is translated`);
  }
});

test('language: the request lang, else the browser UI language, else English', () => {
  assert.equal(chooseLanguage('ka', 'en-US'), 'ka');
  assert.equal(chooseLanguage('ka-GE', 'en-US'), 'ka');
  assert.equal(chooseLanguage('EN', 'ka'), 'en');
  assert.equal(chooseLanguage('de', 'ka'), 'ka');
  assert.equal(chooseLanguage(undefined, 'ka-GE'), 'ka');
  assert.equal(chooseLanguage('ru', 'fr'), 'en');
  assert.equal(chooseLanguage(null, null), 'en');
});

test('formatMessage fills placeholders like i18n.getMessage', () => {
  assert.equal(formatMessage(ka, 'retriesLeft', [2]), 'დარჩენილი მცდელობები: 2.');
  assert.equal(formatMessage(en, 'digitsRange', [4, 12]), '4 to 12 digits');
  assert.equal(formatMessage(ka, 'digitsRange', [4, 12]), '4-დან 12-მდე ციფრი');
  assert.equal(formatMessage({ a: { message: 'cost $$5' } }, 'a'), 'cost $5');
  assert.equal(formatMessage(en, 'missingKey'), 'missingKey');
});

test('digits only, within the card lengths', () => {
  assert.equal(digitsOnly('1a2 3-4٥5', 4), '1234');
  assert.equal(pinAcceptable('1234', 4, 4), true);
  assert.equal(pinAcceptable('123', 4, 4), false);
  assert.equal(pinAcceptable('12345', 4, 4), false);
  assert.equal(pinAcceptable('12a4', 4, 4), false);
  assert.equal(pinAcceptable('123456', 6, 6), true);
});

test('viewFromQuery: defaults and clamping for odd input', () => {
  const v = viewFromQuery('?mode=evil&kind=x&minLength=1&maxLength=99&retriesLeft=abc');
  assert.equal(v.mode, 'pin');
  assert.equal(v.kind, 'authentication');
  assert.equal(v.minLength, 4);
  assert.equal(v.maxLength, 12);
  assert.equal(v.retriesLeft, undefined);
  const w = viewFromQuery('?minLength=8&maxLength=6');
  assert.equal(w.maxLength, 8, 'max is never below min');
});
