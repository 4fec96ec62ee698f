// @ts-check
/** The PIN window manager (background/prompt.js) with a fake browser. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PIN_PORT_NAME, PromptManager, viewToQuery } from '../../src/background/prompt.js';
import { viewFromQuery } from '../../src/pin/view.js';

const BASE = 'chrome-extension://cpgfckjdblcnolcedngcmfbldcajgmld/';
const view = /** @type {import('../../src/background/request.js').PromptView} */ ({
  mode: 'pin', requestId: 'req-1', lang: 'ka', origin: 'https://portal.example.ge', kind: 'authentication',
  holder: 'გიორგი ბერიძე', retriesLeft: 3, minLength: 4, maxLength: 4, pinPad: false, retry: false,
});

function setup() {
  /** @type {any[]} */
  const created = [];
  /** @type {number[]} */
  const removed = [];
  const manager = new PromptManager({
    getURL: (p) => BASE + p,
    createWindow: async (o) => {
      created.push(o);
      return { id: 40 + created.length };
    },
    removeWindow: async (id) => {
      removed.push(id);
    },
  });
  /** @type {string[]} */
  const pins = [];
  let closes = 0;
  const handle = manager.open(view, { onPin: (p) => pins.push(p), onClose: () => { closes += 1; } });
  return { manager, created, removed, pins, handle, get closes() { return closes; } };
}

/** @param {string} url */
function fakePort(url, name = PIN_PORT_NAME) {
  /** @type {any[]} */
  const posted = [];
  /** @type {Array<(m: any) => void>} */
  const onMsg = [];
  /** @type {Array<() => void>} */
  const onDisc = [];
  return {
    name, sender: { url }, posted, disconnected: false,
    postMessage: (/** @type {any} */ m) => posted.push(m),
    disconnect() { this.disconnected = true; },
    onMessage: { addListener: (/** @type {any} */ cb) => onMsg.push(cb) },
    onDisconnect: { addListener: (/** @type {any} */ cb) => onDisc.push(cb) },
    send: (/** @type {any} */ m) => onMsg.forEach((cb) => cb(m)),
    close: () => onDisc.forEach((cb) => cb()),
  };
}

const tick = () => new Promise((r) => setImmediate(r));

test('opens pin.html in a popup window with the view in the query, and the page reads it back', async () => {
  const s = setup();
  await tick();
  assert.equal(s.created.length, 1);
  assert.equal(s.created[0].type, 'popup');
  const url = new URL(s.created[0].url);
  assert.ok(s.created[0].url.startsWith(`${BASE}pin.html?`));
  assert.deepEqual({ ...viewFromQuery(url.search), reason: undefined, stage: undefined }, { ...view, reason: undefined, stage: undefined });
  assert.equal(viewToQuery(view).includes('pin='), false);
});

test('the PIN page port: PINs reach onPin, views are pushed, closing cancels once', async () => {
  const s = setup();
  await tick();
  const port = fakePort(s.created[0].url);
  assert.equal(s.manager.onConnect(port), true);
  assert.deepEqual(port.posted[0], { type: 'view', view });
  port.send({ type: 'pin', pin: '1234' });
  assert.deepEqual(s.pins, ['1234']);
  s.handle.update({ ...view, retry: true, retriesLeft: 2 });
  assert.equal(port.posted[1].view.retriesLeft, 2);
  port.close();
  s.manager.onWindowRemoved(41);
  assert.equal(s.closes, 1);
});

test('ports from other pages or with another name are refused', async () => {
  const s = setup();
  await tick();
  const fromPage = fakePort('https://evil.example/pin.html?requestId=req-1');
  assert.equal(s.manager.onConnect(fromPage), true);
  assert.equal(fromPage.disconnected, true);
  const otherName = fakePort(s.created[0].url, 'something-else');
  assert.equal(s.manager.onConnect(otherName), false);
  const unknownRequest = fakePort(`${BASE}pin.html?requestId=req-2`);
  s.manager.onConnect(unknownRequest);
  assert.equal(unknownRequest.disconnected, true);
  const first = fakePort(s.created[0].url);
  const second = fakePort(s.created[0].url);
  s.manager.onConnect(first);
  s.manager.onConnect(second);
  assert.equal(second.disconnected, true, 'one page per request');
});

test('closing the window (not by the request) calls onClose; close() by the request does not', async () => {
  const s = setup();
  await tick();
  s.manager.onWindowRemoved(99);
  assert.equal(s.closes, 0);
  s.manager.onWindowRemoved(41);
  assert.equal(s.closes, 1);
  const t = setup();
  await tick();
  t.handle.close();
  t.manager.onWindowRemoved(41);
  assert.equal(t.closes, 0);
  assert.deepEqual(t.removed, [41]);
});

test('close() before the window exists removes it once created', async () => {
  const s = setup();
  s.handle.close();
  await tick();
  assert.deepEqual(s.removed, [41]);
  assert.equal(s.closes, 0);
});
