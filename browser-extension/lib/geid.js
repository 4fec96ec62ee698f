// @ts-check
/**
 * geid.js — the page library for logging in and signing with the Georgian ID card through the
 * geid browser extension.
 *
 * ```js
 * import { authenticate, GeidError } from './geid.js';
 * const { nonce } = await (await fetch('/auth/challenge')).json();
 * try {
 *   const token = await authenticate(nonce, { lang: 'ka' });
 *   await fetch('/auth/login', { method: 'POST', body: JSON.stringify(token) });
 * } catch (e) {
 *   if (e instanceof GeidError) showMessage(e.code); else throw e;
 * }
 * ```
 *
 * Talks to the extension's content script with `window.postMessage`; the content script
 * acknowledges every request within a second, so a missing acknowledgement means the extension
 * is not installed or not enabled (`EXTENSION_UNAVAILABLE`).
 * @module
 */

/** Version of this library. */
export const VERSION = '0.1.0';

const PREFIX = 'geid:';

/** How long to wait for the extension's acknowledgement, in milliseconds. */
let ackTimeoutMs = 2000;
/** Margin added to the extension's own user timeout before the library gives up on an answer. */
const ANSWER_MARGIN_MS = 15_000;
const DEFAULT_USER_TIMEOUT_MS = 120_000;

/** An error from geid: `code` is one of the stable codes listed in the README. */
export class GeidError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {{retriesLeft?: number}} [details]
   */
  constructor(code, message, details = {}) {
    super(message);
    this.name = 'GeidError';
    /** The stable error code, e.g. `USER_CANCELLED` or `NATIVE_UNAVAILABLE`. */
    this.code = code;
    if (details.retriesLeft !== undefined) {
      /** Tries left on the PIN, for `PIN_INCORRECT`. */
      this.retriesLeft = details.retriesLeft;
    }
  }
}

/** @type {Set<string>} */
const pending = new Set();
let counter = 0;

/**
 * Library settings, mainly for tests.
 * @param {{ackTimeout?: number}} options `ackTimeout` in milliseconds (default 2000)
 */
export function configure(options) {
  if (typeof options.ackTimeout === 'number' && options.ackTimeout > 0) ackTimeoutMs = options.ackTimeout;
}

/**
 * @param {string} action
 * @param {Record<string, unknown>} args
 * @param {number} answerTimeoutMs
 * @returns {Promise<any>}
 */
function call(action, args, answerTimeoutMs) {
  if (pending.has(action)) {
    return Promise.reject(new GeidError('ACTION_PENDING', `${action} is already running`));
  }
  pending.add(action);
  counter += 1;
  const requestId = `${Date.now().toString(36)}-${counter}-${Math.random().toString(36).slice(2, 10)}`;
  return new Promise((resolve, reject) => {
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let timer;
    const done = () => {
      clearTimeout(timer);
      window.removeEventListener('message', onMessage);
      pending.delete(action);
    };
    /** @param {MessageEvent} event */
    const onMessage = (event) => {
      if (event.source !== window) return;
      const data = event.data;
      if (typeof data !== 'object' || data === null || data.requestId !== requestId) return;
      if (data.type === `${PREFIX}ack`) {
        clearTimeout(timer);
        timer = setTimeout(() => {
          done();
          reject(new GeidError('EXTENSION_UNAVAILABLE', 'the geid extension stopped answering'));
        }, answerTimeoutMs);
      } else if (data.type === `${PREFIX}result`) {
        done();
        resolve(data.result);
      } else if (data.type === `${PREFIX}error`) {
        done();
        const error = typeof data.error === 'object' && data.error !== null ? data.error : {};
        const code = typeof error.code === 'string' ? error.code : 'INTERNAL';
        const message = typeof error.message === 'string' ? error.message : code;
        const retriesLeft = Number.isInteger(error.retriesLeft) ? error.retriesLeft : undefined;
        reject(new GeidError(code, message, { retriesLeft }));
      }
    };
    window.addEventListener('message', onMessage);
    timer = setTimeout(() => {
      done();
      reject(new GeidError('EXTENSION_UNAVAILABLE', 'the geid extension is not installed or not enabled in this browser'));
    }, ackTimeoutMs);
    const origin = window.location.origin;
    window.postMessage({ type: `${PREFIX}${action}`, requestId, arguments: args }, origin && origin !== 'null' ? origin : '*');
  });
}

/**
 * @param {unknown} lang
 * @returns {Record<string, unknown>}
 */
function langArg(lang) {
  if (lang === undefined) return {};
  if (typeof lang !== 'string') throw new GeidError('INVALID_ARGUMENT', 'lang must be a string such as "ka" or "en"');
  return { lang };
}

/**
 * Versions of the extension's host and the readers and cards it sees.
 * @returns {Promise<import('./geid-types.js').Status>}
 */
export function status() {
  return call('status', {}, 10_000);
}

/**
 * Signs a login challenge with the card's authentication key; resolves to the Web eID 1.0 token
 * the portal verifies.
 * @param {string} challengeNonce the portal's nonce, base64 (44–128 characters)
 * @param {{lang?: string, timeout?: number}} [options] `timeout` in milliseconds for the card
 *   and PIN steps (default 120 000)
 * @returns {Promise<import('./geid-types.js').AuthToken>}
 */
export function authenticate(challengeNonce, options = {}) {
  try {
    if (typeof challengeNonce !== 'string') throw new GeidError('INVALID_ARGUMENT', 'challengeNonce must be a string');
    const args = { challengeNonce, ...langArg(options.lang) };
    let timeout = DEFAULT_USER_TIMEOUT_MS;
    if (options.timeout !== undefined) {
      if (typeof options.timeout !== 'number' || !(options.timeout > 0)) throw new GeidError('INVALID_ARGUMENT', 'timeout must be a positive number of milliseconds');
      timeout = options.timeout;
      Object.assign(args, { timeout });
    }
    return call('authenticate', args, timeout + ANSWER_MARGIN_MS);
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * Reads the card's qualified-signature certificate.
 * @param {{lang?: string}} [options]
 * @returns {Promise<import('./geid-types.js').SigningCertificate>}
 */
export function getSigningCertificate(options = {}) {
  try {
    return call('get-signing-certificate', langArg(options.lang), DEFAULT_USER_TIMEOUT_MS + ANSWER_MARGIN_MS);
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * Signs a hash with the card's qualified-signature key.
 * @param {string} certificate the base64 signing certificate from `getSigningCertificate`
 * @param {string} hash the base64 hash to sign
 * @param {string} hashFunction `SHA-256`, `SHA-384`, `SHA-512`, `SHA-224` or `SHA3-*`
 * @param {{lang?: string}} [options]
 * @returns {Promise<import('./geid-types.js').Signature>}
 */
export function sign(certificate, hash, hashFunction, options = {}) {
  try {
    for (const [name, value] of Object.entries({ certificate, hash, hashFunction })) {
      if (typeof value !== 'string') throw new GeidError('INVALID_ARGUMENT', `${name} must be a string`);
    }
    return call('sign', { certificate, hash, hashFunction, ...langArg(options.lang) }, 2 * DEFAULT_USER_TIMEOUT_MS + ANSWER_MARGIN_MS);
  } catch (e) {
    return Promise.reject(e);
  }
}
