// @ts-check
/**
 * Background of the geid extension: the Chromium service worker and the Firefox background
 * script (both load this one ES module). It wires the browser APIs to the logic in
 * `background/`, which the unit tests exercise without a browser.
 */
import { PromptManager } from './background/prompt.js';
import { runRequest } from './background/request.js';
import { HOST_NAME } from './common/protocol.js';
import { handleContentMessage } from './background/router.js';

const api = /** @type {typeof chrome} */ (/** @type {any} */ (globalThis).browser ?? globalThis.chrome);

const prompts = new PromptManager({
  getURL: (path) => api.runtime.getURL(path),
  createWindow: (options) => /** @type {Promise<{id?: number}>} */ (api.windows.create(options)),
  removeWindow: (windowId) => api.windows.remove(windowId),
});

/** @type {import('./background/request.js').RequestDeps} */
const deps = {
  connectNative: () => api.runtime.connectNative(HOST_NAME),
  disconnectReason: (port) => api.runtime.lastError?.message ?? port?.error?.message,
  openPrompt: (view, handlers) => prompts.open(view, handlers),
  setTimeout: (cb, ms) => setTimeout(cb, ms),
  clearTimeout: (handle) => clearTimeout(handle),
  newId: () => crypto.randomUUID(),
};

/** @type {Set<string>} */
const pending = new Set();

api.runtime.onMessage.addListener((message, sender, sendResponse) => {
  if (sender.id !== api.runtime.id || !sender.tab) return false;
  handleContentMessage(
    { pending, run: (request) => runRequest(deps, request) },
    message,
    sender,
  ).then(sendResponse);
  return true; // answer asynchronously
});

api.runtime.onConnect.addListener((port) => {
  prompts.onConnect(port);
});

api.windows.onRemoved.addListener((windowId) => prompts.onWindowRemoved(windowId));
