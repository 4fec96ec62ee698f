// @ts-check
/**
 * Builds the host command's `arguments` from what the page sent. Only known fields are copied,
 * each checked for type and size, so a page can neither smuggle fields to the host (which
 * refuses unknown fields anyway) nor choose the origin. The host checks the values in depth.
 * @module
 */
import {
  ACTIONS, HASH_LENGTHS, MAX_USER_TIMEOUT_MS, MIN_USER_TIMEOUT_MS, USER_TIMEOUT_MS,
} from '../common/protocol.js';

const NONCE_PATTERN = /^[A-Za-z0-9+/]{42,128}={0,2}$/;
const BASE64_PATTERN = /^[A-Za-z0-9+/]+={0,2}$/;
const LANG_PATTERN = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/;
const CERTIFICATE_MAX_LEN = 16_384;

/**
 * A request ready to run: the host command and arguments, and the extension's own settings.
 * @typedef {{action: import('../common/protocol.js').Action, hostArguments: Record<string, string> | undefined,
 *            lang: string | undefined, userTimeoutMs: number}} PreparedRequest
 */

/**
 * @typedef {{ok: true, request: PreparedRequest} | {ok: false, code: string, message: string}} Prepared
 */

/**
 * @param {unknown} action
 * @returns {action is import('../common/protocol.js').Action}
 */
export function isAction(action) {
  return typeof action === 'string' && /** @type {readonly string[]} */ (ACTIONS).includes(action);
}

/**
 * @param {unknown} action the page's action name
 * @param {unknown} args the page's arguments object
 * @param {string} origin the origin the browser attests (origin.js)
 * @returns {Prepared}
 */
export function prepareRequest(action, args, origin) {
  const bad = (/** @type {string} */ message) => /** @type {Prepared} */ ({ ok: false, code: 'INVALID_ARGUMENT', message });
  if (!isAction(action)) return bad('unknown action');
  const a = typeof args === 'object' && args !== null && !Array.isArray(args)
    ? /** @type {Record<string, unknown>} */ (args)
    : {};
  /** @type {string | undefined} */
  let lang;
  if (a.lang !== undefined && a.lang !== null) {
    if (typeof a.lang !== 'string' || !LANG_PATTERN.test(a.lang) || a.lang.length > 35) return bad('lang must be a language tag such as "ka" or "en"');
    lang = a.lang;
  }
  let userTimeoutMs = USER_TIMEOUT_MS;
  if (a.timeout !== undefined && a.timeout !== null) {
    if (action !== 'authenticate') return bad('timeout is an option of authenticate only');
    if (typeof a.timeout !== 'number' || !Number.isFinite(a.timeout)) return bad('timeout must be a number of milliseconds');
    userTimeoutMs = Math.min(MAX_USER_TIMEOUT_MS, Math.max(MIN_USER_TIMEOUT_MS, Math.round(a.timeout)));
  }
  /** @type {Record<string, string> | undefined} */
  let hostArguments;
  switch (action) {
    case 'status':
      hostArguments = undefined;
      break;
    case 'authenticate':
      if (typeof a.challengeNonce !== 'string' || !NONCE_PATTERN.test(a.challengeNonce)) {
        return bad('challengeNonce must be 44–128 characters of base64');
      }
      hostArguments = { challengeNonce: a.challengeNonce, origin };
      break;
    case 'get-signing-certificate':
      hostArguments = { origin };
      break;
    case 'sign': {
      if (typeof a.certificate !== 'string' || a.certificate.length > CERTIFICATE_MAX_LEN || !BASE64_PATTERN.test(a.certificate)) {
        return bad('certificate must be the base64 DER signing certificate');
      }
      if (typeof a.hashFunction !== 'string' || !(a.hashFunction in HASH_LENGTHS)) {
        return bad(`hashFunction must be one of ${Object.keys(HASH_LENGTHS).join(', ')}`);
      }
      if (typeof a.hash !== 'string' || !BASE64_PATTERN.test(a.hash) || base64Length(a.hash) !== HASH_LENGTHS[a.hashFunction]) {
        return bad(`hash must be the base64 ${a.hashFunction} digest (${HASH_LENGTHS[a.hashFunction]} bytes)`);
      }
      hostArguments = { origin, certificate: a.certificate, hash: a.hash, hashFunction: a.hashFunction };
      userTimeoutMs *= 2;
      break;
    }
  }
  if (hostArguments && lang && action !== 'get-signing-certificate') hostArguments.lang = lang;
  return { ok: true, request: { action, hostArguments, lang, userTimeoutMs } };
}

/**
 * Decoded length of a padded or unpadded base64 string.
 * @param {string} b64
 */
export function base64Length(b64) {
  const body = b64.replace(/=+$/, '');
  return Math.floor((body.length * 3) / 4);
}
