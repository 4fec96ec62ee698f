// @ts-check
/** The page library lib/geid.js against a fake window and a scripted content script. */
import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';
import { FakeWindow, settle } from './fake-window.js';

const fakeWindow = new FakeWindow();
/** @type {any} */ (globalThis).window = fakeWindow;
const geid = await import('../../lib/geid.js');
geid.configure({ ackTimeout: 100 });

/**
 * A scripted content script: how to answer each action.
 * @type {Record<string, (request: any) => {ack?: boolean, reply?: any, delay?: number} | undefined>}
 */
let script = {};
/** @type {any[]} */
let seen = [];

fakeWindow.addEventListener('message', (event) => {
  const data = event.data;
  if (event.source !== fakeWindow || typeof data?.type !== 'string') return;
  const action = data.type.slice('geid:'.length);
  if (!['status', 'authenticate', 'get-signing-certificate', 'sign'].includes(action)) return;
  seen.push(data);
  const plan = script[action]?.(data);
  if (!plan) return; // no extension
  if (plan.ack !== false) fakeWindow.postMessage({ type: 'geid:ack', requestId: data.requestId }, '*');
  if (plan.reply) setTimeout(() => fakeWindow.postMessage({ requestId: data.requestId, ...plan.reply }, '*'), plan.delay ?? 0);
});

beforeEach(() => {
  script = {};
  seen = [];
});

const NONCE = Buffer.alloc(32, 3).toString('base64');

test('authenticate posts geid:authenticate with nonce and lang and resolves with the token', async () => {
  const token = { unverifiedCertificate: 'MII', algorithm: 'RS256', signature: 's', format: 'web-eid:1.0', appVersion: 'v' };
  script.authenticate = () => ({ reply: { type: 'geid:result', result: token } });
  assert.deepEqual(await geid.authenticate(NONCE, { lang: 'ka' }), token);
  assert.deepEqual(seen[0].arguments, { challengeNonce: NONCE, lang: 'ka' });
  assert.match(seen[0].requestId, /^[A-Za-z0-9_.:-]{1,64}$/);
});

test('no acknowledgement within the ack timeout → EXTENSION_UNAVAILABLE', async () => {
  const started = Date.now();
  await assert.rejects(geid.status(), (e) => e instanceof geid.GeidError && e.code === 'EXTENSION_UNAVAILABLE' && e instanceof Error);
  assert.ok(Date.now() - started >= 95);
});

test('errors become GeidError with code, message and retriesLeft', async () => {
  script.authenticate = () => ({ reply: { type: 'geid:error', error: { code: 'PIN_INCORRECT', message: 'wrong PIN', retriesLeft: 2 } } });
  await assert.rejects(geid.authenticate(NONCE), (/** @type {any} */ e) => {
    assert.equal(e.name, 'GeidError');
    assert.equal(e.code, 'PIN_INCORRECT');
    assert.equal(e.message, 'wrong PIN');
    assert.equal(e.retriesLeft, 2);
    return true;
  });
});

test('a malformed error answer → INTERNAL', async () => {
  script.status = () => ({ reply: { type: 'geid:error', error: 'boom' } });
  await assert.rejects(geid.status(), (/** @type {any} */ e) => e.code === 'INTERNAL');
});

test('a second call of the same action while one is pending → ACTION_PENDING; other actions run', async () => {
  script.authenticate = () => ({ reply: { type: 'geid:result', result: { ok: 1 } }, delay: 50 });
  script.status = () => ({ reply: { type: 'geid:result', result: { protocol: 'geid-nm/1' } } });
  const first = geid.authenticate(NONCE);
  await assert.rejects(geid.authenticate(NONCE), (/** @type {any} */ e) => e.code === 'ACTION_PENDING');
  assert.deepEqual(await geid.status(), { protocol: 'geid-nm/1' });
  assert.deepEqual(await first, { ok: 1 });
  script.authenticate = () => ({ reply: { type: 'geid:result', result: { ok: 2 } } });
  assert.deepEqual(await geid.authenticate(NONCE), { ok: 2 }, 'the action is free again once answered');
});

test('after a failure the action is free again', async () => {
  await assert.rejects(geid.status(), (/** @type {any} */ e) => e.code === 'EXTENSION_UNAVAILABLE');
  script.status = () => ({ reply: { type: 'geid:result', result: { protocol: 'geid-nm/1' } } });
  assert.deepEqual(await geid.status(), { protocol: 'geid-nm/1' });
});

test('answers for other request ids or from other windows are ignored', async () => {
  script.status = (req) => {
    fakeWindow.deliver({ type: 'geid:result', requestId: req.requestId, result: { forged: true } }, { not: 'the window' });
    fakeWindow.postMessage({ type: 'geid:result', requestId: 'someone-else', result: { wrong: true } }, '*');
    return { reply: { type: 'geid:result', result: { right: true } }, delay: 20 };
  };
  assert.deepEqual(await geid.status(), { right: true });
});

test('sign and getSigningCertificate send their arguments', async () => {
  script['get-signing-certificate'] = () => ({ reply: { type: 'geid:result', result: { certificate: 'MIIC', supportedSignatureAlgorithms: [] } } });
  script.sign = () => ({ reply: { type: 'geid:result', result: { signature: 'sig' } } });
  const { certificate } = await geid.getSigningCertificate({ lang: 'en' });
  const hash = Buffer.alloc(32).toString('base64');
  assert.deepEqual(await geid.sign(certificate, hash, 'SHA-256', { lang: 'en' }), { signature: 'sig' });
  assert.deepEqual(seen.map((s) => s.arguments), [{ lang: 'en' }, { certificate: 'MIIC', hash, hashFunction: 'SHA-256', lang: 'en' }]);
});

test('wrong argument types are refused locally with INVALID_ARGUMENT', async () => {
  await assert.rejects(geid.authenticate(/** @type {any} */ (42)), (/** @type {any} */ e) => e.code === 'INVALID_ARGUMENT');
  await assert.rejects(geid.authenticate(NONCE, { timeout: -1 }), (/** @type {any} */ e) => e.code === 'INVALID_ARGUMENT');
  await assert.rejects(geid.sign('c', /** @type {any} */ (null), 'SHA-256'), (/** @type {any} */ e) => e.code === 'INVALID_ARGUMENT');
  await assert.rejects(geid.getSigningCertificate({ lang: /** @type {any} */ (1) }), (/** @type {any} */ e) => e.code === 'INVALID_ARGUMENT');
  await settle();
  assert.equal(seen.length, 0, 'nothing was posted');
});

test('acknowledged but never answered → EXTENSION_UNAVAILABLE after the answer timeout', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  script.authenticate = () => ({ ack: true });
  const p = geid.authenticate(NONCE, { timeout: 1000 });
  const rejected = assert.rejects(p, (/** @type {any} */ e) => e.code === 'EXTENSION_UNAVAILABLE');
  // let the ack arrive (setImmediate is not mocked)
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  t.mock.timers.tick(1000 + 15_000);
  await rejected;
});
