// @ts-check
/**
 * The PIN window (`pin.html`). Shows the requesting origin, the card holder, the PIN kind and
 * the tries left; takes digits only, within the card's lengths; sends the PIN to the background
 * over the `geid-pin` port and clears the field at once. Closing the window cancels the request
 * (the background sees the window and the port go).
 *
 * Opened without a `requestId` (e.g. `pin.html?lang=ka&origin=…`) it only renders — the
 * end-to-end tests use that for screenshots — and a typed PIN goes nowhere.
 */
import { chooseLanguage, digitsOnly, formatMessage, pinAcceptable, viewFromQuery } from './pin/view.js';

const api = /** @type {typeof chrome} */ (/** @type {any} */ (globalThis).browser ?? globalThis.chrome);

/** @param {string} id */
const el = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const input = /** @type {HTMLInputElement} */ (el('pin'));
const ok = /** @type {HTMLButtonElement} */ (el('ok'));

let view = viewFromQuery(location.search);
const lang = chooseLanguage(view.lang, api?.i18n?.getUILanguage?.());
/** @type {import('./pin/view.js').Catalogue} */
let catalogue = {};
/** @type {chrome.runtime.Port | null} */
let port = null;

/** @param {string} key @param {Array<string | number>} [subs] */
const t = (key, subs) => formatMessage(catalogue, key, subs);

function render() {
  document.documentElement.lang = lang;
  const signing = view.kind === 'signing';
  document.title = t(signing ? 'pinTitleSigning' : 'pinTitleAuthentication');
  el('title').textContent = document.title;
  el('origin-label').textContent = t('requestedBy');
  el('origin').textContent = view.origin;
  el('holder-label').textContent = t('cardHolder');
  el('holder').textContent = view.holder ?? '—';
  el('warning').textContent = t('warning');
  el('pin-label').textContent = t(signing ? 'pinLabelSigning' : 'pinLabelAuthentication');
  const min = view.minLength ?? 4;
  const max = view.maxLength ?? 12;
  el('hint').textContent = min === max ? t('digitsExact', [min]) : t('digitsRange', [min, max]);
  const retries = el('retries');
  retries.textContent = [
    view.retry ? t('wrongPin') : '',
    view.retriesLeft !== undefined ? t('retriesLeft', [view.retriesLeft]) : '',
  ].filter(Boolean).join(' ');
  retries.classList.toggle('warn', view.retry === true || (view.retriesLeft !== undefined && view.retriesLeft <= 1));
  el('cancel').textContent = t('cancel');
  el('prompt-cancel').textContent = t('cancel');
  ok.textContent = t('ok');
  input.maxLength = max;

  const typing = view.mode === 'pin' && !view.pinPad;
  el('pin-form').hidden = !typing;
  el('prompt').hidden = typing;
  if (typing) {
    input.disabled = false;
    input.value = '';
    ok.disabled = true;
    input.focus();
  } else {
    input.value = '';
    el('prompt-text').textContent = promptText();
  }
  el('app').hidden = false;
}

function promptText() {
  if (view.mode === 'pin' && view.pinPad) {
    return [view.retry ? t('wrongPin') : '', t('pinPadPrompt'),
      view.retriesLeft !== undefined ? t('retriesLeft', [view.retriesLeft]) : ''].filter(Boolean).join(' ');
  }
  if (view.mode === 'card') return t(view.reason === 'NO_READER' ? 'connectReader' : 'insertCard');
  if (view.stage === 'signing') return t('signing');
  return t('checking');
}

input.addEventListener('input', () => {
  const max = view.maxLength ?? 12;
  const cleaned = digitsOnly(input.value, max);
  if (cleaned !== input.value) input.value = cleaned;
  ok.disabled = !pinAcceptable(cleaned, view.minLength ?? 4, max);
});

el('pin-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const pin = input.value;
  input.value = '';
  ok.disabled = true;
  if (!pinAcceptable(pin, view.minLength ?? 4, view.maxLength ?? 12)) return;
  if (port) port.postMessage({ type: 'pin', pin });
  view = { ...view, mode: 'busy', stage: 'verifying-pin' };
  render();
});

for (const id of ['cancel', 'prompt-cancel']) el(id).addEventListener('click', () => window.close());
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape') window.close();
});

async function main() {
  const response = await fetch(api.runtime.getURL(`_locales/${lang}/messages.json`));
  catalogue = await response.json();
  render();
  if (view.requestId && api?.runtime?.connect) {
    port = api.runtime.connect({ name: 'geid-pin' });
    port.onMessage.addListener((/** @type {any} */ message) => {
      if (message?.type === 'view' && typeof message.view === 'object') {
        if (JSON.stringify(message.view) === JSON.stringify(view)) return; // keep what is typed
        view = { ...message.view };
        render();
      }
    });
    port.onDisconnect.addListener(() => window.close());
  }
}

main();
