// @ts-check
/**
 * The PIN window's logic without the DOM: reading the view from the URL, choosing the language,
 * filling message placeholders, and deciding whether a typed PIN may be sent.
 * @module
 */

/** Languages the PIN window is translated into. */
export const LANGUAGES = /** @type {const} */ (['ka', 'en']);

/**
 * `ka` or `en`: the request's `lang` when it names one of them, else the browser's UI
 * language, else English.
 * @param {string | null | undefined} requested the page's `lang` option
 * @param {string | null | undefined} uiLanguage `i18n.getUILanguage()`
 * @returns {'ka' | 'en'}
 */
export function chooseLanguage(requested, uiLanguage) {
  for (const tag of [requested, uiLanguage]) {
    const primary = typeof tag === 'string' ? tag.toLowerCase().split(/[-_]/)[0] : '';
    if (primary === 'ka' || primary === 'en') return primary;
  }
  return 'en';
}

/**
 * Reads the view the background put into `pin.html?…` (`viewToQuery` in background/prompt.js).
 * Unknown or malformed values fall back to safe defaults.
 * @param {string} search `location.search`
 * @returns {import('../background/request.js').PromptView}
 */
export function viewFromQuery(search) {
  const q = new URLSearchParams(search);
  const int = (/** @type {string} */ name) => {
    const v = q.get(name);
    return v !== null && /^[0-9]{1,3}$/.test(v) ? Number(v) : undefined;
  };
  const mode = q.get('mode');
  const kind = q.get('kind');
  const minLength = clamp(int('minLength') ?? 4);
  return {
    mode: mode === 'card' || mode === 'busy' ? mode : 'pin',
    requestId: q.get('requestId') ?? '',
    lang: q.get('lang') ?? undefined,
    origin: q.get('origin') ?? '',
    kind: kind === 'signing' ? 'signing' : 'authentication',
    holder: q.get('holder') ?? undefined,
    retriesLeft: int('retriesLeft'),
    minLength,
    maxLength: Math.max(minLength, clamp(int('maxLength') ?? 12)),
    pinPad: q.get('pinPad') === '1',
    retry: q.get('retry') === '1',
    reason: q.get('reason') ?? undefined,
    stage: q.get('stage') ?? undefined,
  };
}

/** @param {number} n */
function clamp(n) {
  return Math.min(12, Math.max(4, n));
}

/**
 * Keeps only the digits of what was typed, at most `maxLength` of them.
 * @param {string} typed
 * @param {number} maxLength
 */
export function digitsOnly(typed, maxLength) {
  return typed.replace(/[^0-9]/g, '').slice(0, maxLength);
}

/**
 * May this PIN be sent?
 * @param {string} pin
 * @param {number} minLength
 * @param {number} maxLength
 */
export function pinAcceptable(pin, minLength, maxLength) {
  return /^[0-9]+$/.test(pin) && pin.length >= minLength && pin.length <= maxLength;
}

/**
 * A `_locales/<lang>/messages.json` catalogue.
 * @typedef {Record<string, {message: string, placeholders?: Record<string, {content: string}>}>} Catalogue
 */

/**
 * Formats a message the way `i18n.getMessage` does: `$name$` placeholders resolve through
 * `placeholders` to `$1`, `$2`, … which take `substitutions`; `$$` is a dollar sign.
 * @param {Catalogue} catalogue
 * @param {string} key
 * @param {Array<string | number>} [substitutions]
 */
export function formatMessage(catalogue, key, substitutions = []) {
  const entry = catalogue[key];
  if (!entry) return key;
  const placeholders = entry.placeholders ?? {};
  const lower = Object.fromEntries(Object.entries(placeholders).map(([k, v]) => [k.toLowerCase(), v.content]));
  const numbered = (/** @type {string} */ text) => text.replace(/\$([1-9])/g, (_, n) => String(substitutions[Number(n) - 1] ?? ''));
  return entry.message
    .replace(/\$([A-Za-z0-9_@]+)\$/g, (whole, name) => {
      const content = lower[name.toLowerCase()];
      return content === undefined ? whole : numbered(content);
    })
    .replace(/\$\$/g, '$');
}
