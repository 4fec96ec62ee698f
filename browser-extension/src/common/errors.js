// @ts-check
/**
 * The stable error codes a page sees, and the mapping from host errors to them.
 *
 * Host codes (docs/protocol.md §7) keep their spelling. The extension adds its own codes for the
 * failures only it can see. A host code this version does not know becomes `INTERNAL` (as §7
 * asks) and keeps the host's message, so the page still only ever sees codes from this list.
 * @module
 */

/** Codes `geid-host` reports (docs/protocol.md §7), in the order of that table. */
export const HOST_ERROR_CODES = Object.freeze([
  'USER_CANCELLED',
  'TIMEOUT',
  'NO_READER',
  'NO_CARD',
  'SEVERAL_CARDS',
  'UNSUPPORTED_CARD',
  'CARD_REMOVED',
  'CARD_ERROR',
  'PIN_INCORRECT',
  'PIN_BLOCKED',
  'PIN_FORMAT',
  'PIN_NOT_SET',
  'PCSC_UNAVAILABLE',
  'ORIGIN_NOT_ALLOWED',
  'INVALID_ARGUMENT',
  'INVALID_MESSAGE',
  'MESSAGE_TOO_LARGE',
  'UNKNOWN_COMMAND',
  'BUSY',
  'CERTIFICATE_MISMATCH',
  'NOT_IMPLEMENTED',
  'INTERNAL',
]);

/** Codes only the extension or the page library produce. */
export const EXTENSION_ERROR_CODES = Object.freeze([
  'EXTENSION_UNAVAILABLE', // page library: no content script acknowledged the request
  'NATIVE_UNAVAILABLE', // geid-host is not installed, did not start or did not answer in time
  'VERSION_MISMATCH', // geid-host speaks another protocol version
  'CONTEXT_INSECURE', // the page is not https (or http on a loopback host)
  'ACTION_PENDING', // the same action is already running for this page
  'USER_TIMEOUT', // the user did not finish the card and PIN steps in time
  // USER_CANCELLED is also a host code: the extension reports it when the PIN window is closed.
]);

/** Every code a page can see. */
export const PAGE_ERROR_CODES = Object.freeze([
  ...new Set([...HOST_ERROR_CODES, ...EXTENSION_ERROR_CODES, 'USER_CANCELLED']),
]);

const KNOWN = new Set(PAGE_ERROR_CODES);

/**
 * The error a request ends with, as the page receives it.
 * @typedef {{code: string, message: string, retriesLeft?: number}} PageError
 */

/**
 * @param {string} code
 * @param {string} message
 * @returns {PageError}
 */
export function pageError(code, message) {
  return { code, message };
}

/**
 * Maps the `error` object of a host `error` message to the page-facing error.
 * @param {unknown} error the host's `error` field: `{code, message, retriesLeft?}`
 * @returns {PageError}
 */
export function mapHostError(error) {
  if (typeof error !== 'object' || error === null) {
    return pageError('INTERNAL', 'geid-host sent an error without details');
  }
  const e = /** @type {Record<string, unknown>} */ (error);
  const hostCode = typeof e.code === 'string' ? e.code : '';
  const hostMessage = typeof e.message === 'string' ? e.message.slice(0, 500) : '';
  /** @type {PageError} */
  let out;
  if (KNOWN.has(hostCode) && HOST_ERROR_CODES.includes(hostCode)) {
    out = pageError(hostCode, hostMessage || hostCode);
  } else {
    out = pageError('INTERNAL', `geid-host error ${hostCode || '(no code)'}: ${hostMessage}`);
  }
  if (Number.isInteger(e.retriesLeft) && /** @type {number} */ (e.retriesLeft) >= 0) {
    out.retriesLeft = /** @type {number} */ (e.retriesLeft);
  }
  return out;
}
