// @ts-check
/** The content script (src/content.js, the shipped file) in a vm context with a fake window. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { FakeWindow, settle } from './fake-window.js';

const source = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'content.js'), 'utf8');

/** @param {(message: any) => Promise<any>} sendMessage */
function load(sendMessage) {
  const window = new FakeWindow();
  /** @type {any[]} */
  const relayed = [];
  const chrome = {
    runtime: {
      sendMessage: (/** @type {any} */ m) => {
        relayed.push(JSON.parse(JSON.stringify(m))); // out of the vm realm, for deepEqual
        return sendMessage(m);
      },
    },
  };
  vm.runInNewContext(source, { window, chrome });
  /** @param {string} type */
  const ofType = (type) => window.posted.filter((m) => m.type === type);
  return { window, relayed, ofType };
}

const request = { type: 'geid:authenticate', requestId: 'r-1', arguments: { challengeNonce: 'abc', lang: 'ka' } };

test('acknowledges, relays action and arguments only, and answers with the result', async () => {
  const c = load(async () => ({ ok: true, result: { format: 'web-eid:1.0' } }));
  c.window.postMessage(request, '*');
  await settle();
  assert.deepEqual(c.ofType('geid:ack'), [{ type: 'geid:ack', requestId: 'r-1', action: 'authenticate' }]);
  assert.deepEqual(c.relayed, [{ type: 'geid:request', action: 'authenticate', arguments: { challengeNonce: 'abc', lang: 'ka' } }]);
  assert.deepEqual(c.ofType('geid:result'), [{ type: 'geid:result', requestId: 'r-1', action: 'authenticate', result: { format: 'web-eid:1.0' } }]);
});

test('the acknowledgement comes before the background answers', async () => {
  /** @type {(v: any) => void} */
  let answer = () => {};
  const c = load(() => new Promise((r) => { answer = r; }));
  c.window.postMessage(request, '*');
  await settle();
  assert.equal(c.ofType('geid:ack').length, 1);
  assert.equal(c.ofType('geid:result').length + c.ofType('geid:error').length, 0);
  answer({ ok: false, error: { code: 'USER_CANCELLED', message: 'closed' } });
  await settle();
  assert.deepEqual(c.ofType('geid:error')[0].error, { code: 'USER_CANCELLED', message: 'closed' });
});

test('messages from another window are ignored', async () => {
  const c = load(async () => ({ ok: true, result: {} }));
  c.window.deliver(request, { other: 'window' });
  c.window.deliver(request, null);
  await settle();
  assert.equal(c.relayed.length, 0);
  assert.equal(c.ofType('geid:ack').length, 0);
});

test('only the geid: actions are accepted; its own ack/result/error and malformed messages are not relayed', async () => {
  const c = load(async () => ({ ok: true, result: {} }));
  for (const data of [
    { type: 'geid:ack', requestId: 'r' },
    { type: 'geid:result', requestId: 'r', result: {} },
    { type: 'geid:error', requestId: 'r', error: {} },
    { type: 'geid:pin', requestId: 'r', arguments: { pin: '1234' } },
    { type: 'geid:cancel', requestId: 'r' },
    { type: 'webeid:authenticate', requestId: 'r' },
    { type: 'authenticate', requestId: 'r' },
    { type: 'geid:status' }, // no requestId
    { type: 'geid:status', requestId: 'bad id with spaces' },
    { type: 'geid:status', requestId: 'x'.repeat(65) },
    { type: 'geid:status', requestId: 'r', arguments: [] },
    { type: 'geid:status', requestId: 'r', arguments: 'x' },
    { type: 'geid:status', requestId: 'r', arguments: { big: 'x'.repeat(40_000) } },
    'geid:status',
    null,
  ]) c.window.postMessage(data, '*');
  await settle();
  assert.equal(c.relayed.length, 0);
});

test('background unreachable → EXTENSION_UNAVAILABLE to the page', async () => {
  const c = load(() => Promise.reject(new Error('Extension context invalidated.')));
  c.window.postMessage({ type: 'geid:status', requestId: 'r-2' }, '*');
  await settle();
  const [err] = c.ofType('geid:error');
  assert.equal(err.requestId, 'r-2');
  assert.equal(err.error.code, 'EXTENSION_UNAVAILABLE');
});

test('sendMessage throwing synchronously → EXTENSION_UNAVAILABLE', async () => {
  const c = load(() => { throw new Error('no runtime'); });
  c.window.postMessage({ type: 'geid:status', requestId: 'r-3' }, '*');
  await settle();
  assert.equal(c.ofType('geid:error')[0].error.code, 'EXTENSION_UNAVAILABLE');
});

test('an empty answer from the background → INTERNAL', async () => {
  const c = load(async () => undefined);
  c.window.postMessage({ type: 'geid:status', requestId: 'r-4' }, '*');
  await settle();
  assert.equal(c.ofType('geid:error')[0].error.code, 'INTERNAL');
});
