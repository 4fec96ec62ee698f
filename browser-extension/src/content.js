// @ts-check
/**
 * Content script: the bridge between a page's `geid.js` and the background.
 *
 * It runs in the extension's isolated world in every frame and listens to `window.postMessage`.
 * A message is accepted only when the browser says it came from this same window
 * (`event.source === window`) and its `type` is one of the `geid:` actions. It is acknowledged at
 * once (`geid:ack`), relayed to the background — which learns the page's origin from the
 * browser, not from the message — and the outcome is posted back as `geid:result` or
 * `geid:error` with the same `requestId`.
 *
 * This is a classic script (content scripts cannot be ES modules in MV3), so it carries its own
 * copies of the few constants it needs. The unit tests run this very file in a `vm` context.
 */
(() => {
  const PREFIX = 'geid:';
  const ACTIONS = ['status', 'authenticate', 'get-signing-certificate', 'sign'];
  const REQUEST_ID = /^[A-Za-z0-9_.:-]{1,64}$/;
  const MAX_ARGUMENT_CHARS = 32_768;

  const api = /** @type {typeof chrome} */ (/** @type {any} */ (globalThis).browser ?? globalThis.chrome);

  /**
   * The request in a page message, or `null` when the message is not one for geid.
   * @param {MessageEvent} event
   * @returns {{action: string, requestId: string, args: Record<string, unknown>} | null}
   */
  function accept(event) {
    if (event.source !== window) return null;
    const data = event.data;
    if (typeof data !== 'object' || data === null || typeof data.type !== 'string') return null;
    if (!data.type.startsWith(PREFIX)) return null;
    const action = data.type.slice(PREFIX.length);
    if (!ACTIONS.includes(action)) return null; // also skips our own ack/result/error messages
    if (typeof data.requestId !== 'string' || !REQUEST_ID.test(data.requestId)) return null;
    const args = data.arguments ?? {};
    if (typeof args !== 'object' || args === null || Array.isArray(args)) return null;
    try {
      if (JSON.stringify(args).length > MAX_ARGUMENT_CHARS) return null;
    } catch {
      return null;
    }
    return { action, requestId: data.requestId, args };
  }

  /** @param {Record<string, unknown>} message */
  function answer(message) {
    const origin = window.location.origin;
    window.postMessage(message, origin && origin !== 'null' ? origin : '*');
  }

  window.addEventListener('message', (event) => {
    const request = accept(event);
    if (!request) return;
    const { action, requestId, args } = request;
    answer({ type: `${PREFIX}ack`, requestId, action });
    let sent;
    try {
      sent = api.runtime.sendMessage({ type: 'geid:request', action, arguments: args });
    } catch (e) {
      sent = Promise.reject(e);
    }
    Promise.resolve(sent).then(
      (outcome) => {
        if (outcome && outcome.ok === true) {
          answer({ type: `${PREFIX}result`, requestId, action, result: outcome.result });
        } else if (outcome && outcome.ok === false && outcome.error) {
          answer({ type: `${PREFIX}error`, requestId, action, error: outcome.error });
        } else {
          answer({ type: `${PREFIX}error`, requestId, action, error: { code: 'INTERNAL', message: 'the extension gave no answer' } });
        }
      },
      (e) => {
        // The background is gone (extension reloaded, disabled or updated under the page).
        answer({
          type: `${PREFIX}error`, requestId, action,
          error: { code: 'EXTENSION_UNAVAILABLE', message: `the geid extension is not reachable: ${e instanceof Error ? e.message : String(e)}` },
        });
      },
    );
  });
})();
