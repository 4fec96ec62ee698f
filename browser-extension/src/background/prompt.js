// @ts-check
/**
 * The PIN window: an extension page (`pin.html`) in a popup window.
 *
 * The view is passed in the page's URL, so the window renders at once; later views (wrong PIN,
 * card inserted, checking) travel over a `runtime.connect` port the page opens with the name
 * `geid-pin`. The page sends `{type: "pin", pin}` over that port; nothing else carries the PIN.
 * Closing the window (or the page's Cancel button, which closes it) calls `onClose`.
 * @module
 */

export const PIN_PORT_NAME = 'geid-pin';
const WIDTH = 440;
const HEIGHT = 520;

/**
 * The query string for `pin.html` that shows `view`. The PIN page parses it with
 * `viewFromQuery` (pin/view.js).
 * @param {import('./request.js').PromptView} view
 */
export function viewToQuery(view) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(view)) {
    if (value === undefined || value === null) continue;
    q.set(key, typeof value === 'boolean' ? (value ? '1' : '0') : String(value));
  }
  return q.toString();
}

/**
 * The browser parts the prompt manager needs.
 * @typedef {object} PromptBrowser
 * @property {(path: string) => string} getURL
 * @property {(options: {url: string, type: 'popup', width: number, height: number, focused: boolean}) => Promise<{id?: number}>} createWindow
 * @property {(windowId: number) => Promise<void>} removeWindow
 */

/**
 * @typedef {{view: import('./request.js').PromptView, handlers: import('./request.js').PromptHandlers,
 *            windowId: number | undefined, port: any, closed: boolean}} PromptEntry
 */

/**
 * Keeps track of open PIN windows and the ports of their pages.
 */
export class PromptManager {
  /** @param {PromptBrowser} browser */
  constructor(browser) {
    this.browser = browser;
    /** @type {Map<string, PromptEntry>} */
    this.byRequest = new Map();
  }

  /**
   * @param {import('./request.js').PromptView} view
   * @param {import('./request.js').PromptHandlers} handlers
   * @returns {import('./request.js').PromptHandle}
   */
  open(view, handlers) {
    const rid = view.requestId;
    /** @type {PromptEntry} */
    const entry = { view, handlers, closed: false, windowId: undefined, port: undefined };
    this.byRequest.set(rid, entry);
    const url = `${this.browser.getURL('pin.html')}?${viewToQuery(view)}`;
    this.browser.createWindow({ url, type: 'popup', width: WIDTH, height: HEIGHT, focused: true }).then(
      (win) => {
        entry.windowId = win.id;
        if (entry.closed && win.id !== undefined) this.browser.removeWindow(win.id).catch(() => {});
      },
      () => this.userClosed(rid), // no window could be opened: the request cannot go on
    );
    return {
      update: (next) => {
        entry.view = next;
        try {
          entry.port?.postMessage({ type: 'view', view: next });
        } catch {
          // the page is gone; windows.onRemoved reports it
        }
      },
      close: () => {
        if (entry.closed) return;
        entry.closed = true;
        this.byRequest.delete(rid);
        try {
          entry.port?.disconnect();
        } catch {
          // already closed
        }
        if (entry.windowId !== undefined) this.browser.removeWindow(entry.windowId).catch(() => {});
      },
    };
  }

  /**
   * A port from a PIN page. `expectedUrl` is this extension's `pin.html`; ports from anywhere
   * else (content scripts, other pages) are refused.
   * @param {any} port
   */
  onConnect(port) {
    if (port.name !== PIN_PORT_NAME) return false;
    const senderUrl = String(port.sender?.url ?? '');
    if (!senderUrl.startsWith(`${this.browser.getURL('pin.html')}?`)) {
      port.disconnect();
      return true;
    }
    const rid = new URL(senderUrl).searchParams.get('requestId') ?? '';
    const entry = this.byRequest.get(rid);
    if (!entry || entry.port) {
      port.disconnect();
      return true;
    }
    entry.port = port;
    port.onMessage.addListener((/** @type {any} */ message) => {
      if (entry.closed || typeof message !== 'object' || message === null) return;
      if (message.type === 'pin' && typeof message.pin === 'string') entry.handlers.onPin(message.pin);
    });
    port.onDisconnect.addListener(() => this.userClosed(rid));
    // The URL carried the first view; send the latest in case it changed while loading.
    port.postMessage({ type: 'view', view: entry.view });
    return true;
  }

  /** @param {number} windowId */
  onWindowRemoved(windowId) {
    for (const [rid, entry] of this.byRequest) {
      if (entry.windowId === windowId) this.userClosed(rid);
    }
  }

  /** @param {string} rid */
  userClosed(rid) {
    const entry = this.byRequest.get(rid);
    if (!entry || entry.closed) return;
    entry.closed = true;
    this.byRequest.delete(rid);
    if (entry.windowId !== undefined) this.browser.removeWindow(entry.windowId).catch(() => {});
    entry.handlers.onClose();
  }
}
