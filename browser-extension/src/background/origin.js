// @ts-check
/**
 * Where a request comes from, decided only from what the browser attests about the sender.
 *
 * The rules (README "Origins and frames"):
 * 1. The origin is `sender.origin` (Chromium) or the origin of `sender.url` (Firefox and older
 *    Chromium), serialised by the browser's own URL parser: lower-case, punycode host, default
 *    port dropped — the form docs/protocol.md §2 asks for. Nothing in the page's message counts.
 * 2. `https:` is accepted; `http:` only for `localhost`, `127.0.0.1` and `[::1]`. Anything else
 *    (plain http elsewhere, `file:`, opaque `null` origins) is `CONTEXT_INSECURE`.
 * 3. A request from a sub-frame (`sender.frameId !== 0`) is accepted only when the browser also
 *    tells the top-level page's URL (`sender.tab.url`) and its origin equals the frame's;
 *    otherwise `ORIGIN_NOT_ALLOWED`. When the browser does not tell the top-level URL, the
 *    sub-frame is refused (fail closed). Top-level frames need no such check.
 * @module
 */

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const ORIGIN_MAX_LEN = 255;

/**
 * The parts of `runtime.MessageSender` this module reads.
 * @typedef {{id?: string, url?: string, origin?: string, frameId?: number,
 *            tab?: {id?: number, url?: string}}} Sender
 */

/**
 * The serialised origin of a URL, or `null` when it has none (opaque, unparsable).
 * @param {string | undefined} url
 * @returns {string | null}
 */
export function originOf(url) {
  if (typeof url !== 'string' || url === '') return null;
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  const origin = parsed.origin;
  return origin === 'null' ? null : origin;
}

/**
 * Is this origin one a login may be bound to (rule 2)?
 * @param {string} origin a serialised origin
 */
export function isSecureOrigin(origin) {
  let url;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.origin !== origin) return false; // not in serialised form
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname);
}

/**
 * @typedef {{ok: true, origin: string} | {ok: false, code: string, message: string}} OriginDecision
 */

/**
 * Decides the origin of a request from the sender the browser attests (rules 1–3).
 * @param {Sender} sender
 * @returns {OriginDecision}
 */
export function requestOrigin(sender) {
  const origin = typeof sender.origin === 'string' && sender.origin !== 'null'
    ? originOf(sender.origin)
    : originOf(sender.url);
  if (origin === null) {
    return { ok: false, code: 'CONTEXT_INSECURE', message: 'the page has no origin a login can be bound to' };
  }
  if (!isSecureOrigin(origin)) {
    return {
      ok: false,
      code: 'CONTEXT_INSECURE',
      message: `${origin} is not a secure context: use https (http only on localhost)`,
    };
  }
  if (origin.length > ORIGIN_MAX_LEN) {
    return { ok: false, code: 'ORIGIN_NOT_ALLOWED', message: 'the page origin is longer than 255 characters' };
  }
  if (sender.frameId !== 0) {
    const top = originOf(sender.tab?.url);
    if (top === null) {
      return {
        ok: false,
        code: 'ORIGIN_NOT_ALLOWED',
        message: 'geid cannot be used from a frame whose top-level page the browser does not disclose',
      };
    }
    if (top !== origin) {
      return {
        ok: false,
        code: 'ORIGIN_NOT_ALLOWED',
        message: `geid cannot be used from a frame of ${origin} inside a page of ${top}`,
      };
    }
  }
  return { ok: true, origin };
}
