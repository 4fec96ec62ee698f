// @ts-check
/**
 * One page request, from opening the native port to the page's answer.
 *
 * ```
 *  connectNative ─▶ handshake: → status            (5 s, else NATIVE_UNAVAILABLE)
 *                   ← result {protocol}            (other protocol: VERSION_MISMATCH)
 *  action status ─▶ done: the handshake's result is the answer
 *  other actions ─▶ running: → command {origin, …} (user timeout, else cancel + USER_TIMEOUT)
 *                   ← card-required / pin-required → prompt window opened or updated
 *                   prompt: PIN typed  → pin {pin} (same id)
 *                           closed     → cancel    (host confirms USER_CANCELLED)
 *                   ← result / error   ─▶ done
 * ```
 *
 * Everything the browser provides is injected (`RequestDeps`), so the unit tests drive this
 * with a fake port and fake timers. One native port is opened per request and disconnected when
 * the request ends, which ends the host (docs/protocol.md §3).
 *
 * The PIN passes through `onPin` straight into `port.postMessage`; it is never stored, logged
 * or put into an outcome.
 * @module
 */
import { mapHostError, pageError } from '../common/errors.js';
import {
  CANCEL_GRACE_MS, HANDSHAKE_TIMEOUT_MS, PROTOCOL_VERSION,
} from '../common/protocol.js';

/**
 * The subset of `runtime.Port` used here.
 * @typedef {{postMessage(message: object): void, disconnect(): void,
 *            onMessage: {addListener(cb: (message: any) => void): void},
 *            onDisconnect: {addListener(cb: (port: any) => void): void}}} NativePort
 */

/**
 * What the prompt window shows. `mode` is `pin` (type the PIN, or on a PIN pad), `card`
 * (insert a card) or `busy` (the PIN was sent; the card is working).
 * @typedef {{mode: 'pin' | 'card' | 'busy', requestId: string, lang: string | undefined,
 *            origin: string, kind: 'authentication' | 'signing', holder?: string,
 *            retriesLeft?: number, minLength?: number, maxLength?: number, pinPad?: boolean,
 *            retry?: boolean, reason?: string, stage?: string}} PromptView
 */

/**
 * An open prompt window.
 * @typedef {{update(view: PromptView): void, close(): void}} PromptHandle
 */

/**
 * @typedef {{onPin(pin: string): void, onClose(): void}} PromptHandlers
 */

/**
 * @typedef {object} RequestDeps
 * @property {() => NativePort} connectNative opens a port to `ge.geid.host`
 * @property {(port: any) => string | undefined} disconnectReason why the port closed
 *   (`runtime.lastError.message` in Chromium, `port.error.message` in Firefox)
 * @property {(view: PromptView, handlers: PromptHandlers) => PromptHandle} openPrompt
 * @property {(cb: () => void, ms: number) => unknown} setTimeout
 * @property {(handle: any) => void} clearTimeout
 * @property {() => string} newId a fresh request id (docs/protocol.md §4 alphabet)
 */

/**
 * @typedef {{ok: true, result: unknown} | {ok: false, error: import('../common/errors.js').PageError}} Outcome
 */

const PIN_PATTERN = /^[0-9]{4,12}$/;

/**
 * Runs one request. Never rejects: every failure is an `Outcome` with a page-facing code.
 * @param {RequestDeps} deps
 * @param {import('./arguments.js').PreparedRequest & {origin: string}} request
 * @returns {Promise<Outcome>}
 */
export function runRequest(deps, request) {
  return new Promise((resolve) => {
    const id = deps.newId();
    const helloId = `${id}:hello`;
    const kind = request.action === 'sign' ? 'signing' : 'authentication';
    /** @type {'handshake' | 'running' | 'cancelling' | 'done'} */
    let phase = 'handshake';
    /** @type {PromptHandle | null} */
    let prompt = null;
    /** @type {PromptView | null} */
    let pinView = null; // the pin-required view the prompt shows while a PIN is awaited
    /** @type {unknown[]} */
    const timers = [];
    /** @type {NativePort | null} */
    let port = null;

    /** @param {Outcome} outcome */
    const finish = (outcome) => {
      if (phase === 'done') return;
      phase = 'done';
      for (const t of timers) deps.clearTimeout(t);
      if (prompt) {
        const p = prompt;
        prompt = null;
        p.close();
      }
      if (port) {
        try {
          port.disconnect();
        } catch {
          // already closed
        }
      }
      resolve(outcome);
    };
    /** @param {string} code @param {string} message */
    const fail = (code, message) => finish({ ok: false, error: pageError(code, message) });
    /** @param {object} message */
    const send = (message) => {
      if (!port || phase === 'done') return;
      try {
        port.postMessage(message);
      } catch (e) {
        fail(phase === 'handshake' ? 'NATIVE_UNAVAILABLE' : 'INTERNAL', `cannot write to geid-host: ${describe(e)}`);
      }
    };
    /** @param {() => void} cb @param {number} ms */
    const after = (cb, ms) => {
      timers.push(deps.setTimeout(cb, ms));
    };

    const cancel = () => {
      if (phase !== 'running') return;
      phase = 'cancelling';
      send({ id, command: 'cancel' });
      after(() => fail('USER_CANCELLED', 'the PIN window was closed'), CANCEL_GRACE_MS);
    };

    /** @type {PromptHandlers} */
    const handlers = {
      onPin(pin) {
        if (phase !== 'running' || !pinView || pinView.pinPad) return;
        const min = pinView.minLength ?? 4;
        const max = pinView.maxLength ?? 12;
        if (typeof pin !== 'string' || !PIN_PATTERN.test(pin) || pin.length < min || pin.length > max) return;
        send({ id, command: 'pin', arguments: { pin } });
        const busy = { ...pinView, mode: /** @type {const} */ ('busy'), stage: 'verifying-pin' };
        pinView = null;
        prompt?.update(busy);
      },
      onClose() {
        prompt = null;
        pinView = null;
        cancel();
      },
    };

    /** @param {PromptView} view */
    const show = (view) => {
      if (prompt) prompt.update(view);
      else prompt = deps.openPrompt(view, handlers);
    };

    /** @param {Record<string, any>} data */
    const onPinRequired = (data) => {
      const view = /** @type {PromptView} */ ({
        mode: 'pin',
        requestId: id,
        lang: request.lang,
        origin: request.origin, // the origin this extension computed, not the host's echo
        kind: data.kind === 'signing' ? 'signing' : data.kind === 'authentication' ? 'authentication' : kind,
        holder: typeof data.holder === 'string' ? data.holder.slice(0, 200) : undefined,
        retriesLeft: Number.isInteger(data.retriesLeft) ? data.retriesLeft : undefined,
        minLength: clampLength(data.minLength, 4),
        maxLength: clampLength(data.maxLength, 12),
        pinPad: data.pinPad === true,
        retry: data.retry === true,
      });
      if ((view.minLength ?? 4) > (view.maxLength ?? 12)) view.maxLength = view.minLength;
      pinView = view;
      show(view);
    };

    /** @param {any} message */
    const onHostMessage = (message) => {
      if (phase === 'done' || typeof message !== 'object' || message === null) return;
      if (phase === 'handshake') {
        if (message.id !== helloId && message.id !== null) return;
        if (message.type === 'result') return onHello(message.result);
        if (message.type === 'error') {
          const code = message.error?.code;
          if (message.id === null || code === 'UNKNOWN_COMMAND' || code === 'INVALID_MESSAGE') {
            return fail('VERSION_MISMATCH', `geid-host did not understand the handshake: ${mapHostError(message.error).message}`);
          }
          return finish({ ok: false, error: mapHostError(message.error) });
        }
        return;
      }
      if (message.id !== id) return;
      if (message.type === 'result') return finish({ ok: true, result: message.result });
      if (message.type === 'error') return finish({ ok: false, error: mapHostError(message.error) });
      if (message.type !== 'event' || phase !== 'running') return;
      const data = typeof message.data === 'object' && message.data !== null ? message.data : {};
      if (message.event === 'pin-required') onPinRequired(data);
      else if (message.event === 'card-required') {
        pinView = null;
        show({ mode: 'card', requestId: id, lang: request.lang, origin: request.origin, kind, reason: String(data.reason ?? 'NO_CARD') });
      } else if (message.event === 'progress' && prompt && !pinView) {
        prompt.update({ mode: 'busy', requestId: id, lang: request.lang, origin: request.origin, kind, stage: String(data.stage ?? '') });
      }
    };

    /** @param {any} result */
    const onHello = (result) => {
      const protocol = result?.protocol;
      if (protocol !== PROTOCOL_VERSION) {
        return fail('VERSION_MISMATCH', `geid-host speaks ${typeof protocol === 'string' ? protocol : 'an unknown protocol'}, this extension ${PROTOCOL_VERSION}`);
      }
      if (request.action === 'status') return finish({ ok: true, result });
      phase = 'running';
      const command = { id, command: request.action };
      send(request.hostArguments ? { ...command, arguments: request.hostArguments } : command);
      after(() => {
        if (phase !== 'running' && phase !== 'cancelling') return;
        send({ id, command: 'cancel' });
        fail('USER_TIMEOUT', `not completed within ${Math.round(request.userTimeoutMs / 1000)} s`);
      }, request.userTimeoutMs);
    };

    try {
      port = deps.connectNative();
    } catch (e) {
      fail('NATIVE_UNAVAILABLE', `cannot start geid-host: ${describe(e)}`);
      return;
    }
    port.onMessage.addListener(onHostMessage);
    port.onDisconnect.addListener((p) => {
      if (phase === 'done') return;
      const reason = deps.disconnectReason(p);
      if (phase === 'handshake') fail('NATIVE_UNAVAILABLE', `geid-host is not available${reason ? `: ${reason}` : ''}`);
      else if (phase === 'cancelling') fail('USER_CANCELLED', 'the PIN window was closed');
      else fail('INTERNAL', `geid-host ended during the request${reason ? `: ${reason}` : ''}`);
    });
    after(() => {
      if (phase === 'handshake') fail('NATIVE_UNAVAILABLE', `geid-host did not answer within ${HANDSHAKE_TIMEOUT_MS / 1000} s`);
    }, HANDSHAKE_TIMEOUT_MS);
    send({ id: helloId, command: 'status' });
  });
}

/** @param {unknown} value @param {number} fallback */
function clampLength(value, fallback) {
  return Number.isInteger(value) && /** @type {number} */ (value) >= 4 && /** @type {number} */ (value) <= 12
    ? /** @type {number} */ (value)
    : fallback;
}

/** @param {unknown} e */
function describe(e) {
  return e instanceof Error ? e.message : String(e);
}
