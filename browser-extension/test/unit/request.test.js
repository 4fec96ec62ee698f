// @ts-check
/** The request state machine (background/request.js) against a fake port and a fake clock. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { prepareRequest } from '../../src/background/arguments.js';
import { runRequest } from '../../src/background/request.js';
import { HANDSHAKE_TIMEOUT_MS, PROTOCOL_VERSION, USER_TIMEOUT_MS } from '../../src/common/protocol.js';
import { FakeClock, FakePort, FakePrompts } from './fakes.js';

const ORIGIN = 'https://portal.example.ge';
const NONCE = Buffer.alloc(32, 1).toString('base64');
const STATUS = { version: '0.1.0', protocol: PROTOCOL_VERSION, pcscAvailable: true, readers: [] };
const PIN_EVENT = { kind: 'authentication', retriesLeft: 3, minLength: 4, maxLength: 4, holder: 'გიორგი ბერიძე', origin: ORIGIN, pinPad: false, retry: false };

/**
 * @param {string} action
 * @param {Record<string, unknown>} args
 * @param {{connectThrows?: boolean}} [opts]
 */
function start(action, args, opts = {}) {
  const clock = new FakeClock();
  const prompts = new FakePrompts();
  /** @type {FakePort[]} */
  const ports = [];
  let reason = /** @type {string | undefined} */ (undefined);
  const prepared = prepareRequest(action, args, ORIGIN);
  assert.ok(prepared.ok);
  /** @type {import('../../src/background/request.js').Outcome | null} */
  let outcome = null;
  const promise = runRequest({
    connectNative: () => {
      if (opts.connectThrows) throw new Error('no permission');
      const p = new FakePort();
      ports.push(p);
      return p;
    },
    disconnectReason: () => reason,
    openPrompt: (view, handlers) => prompts.open(view, handlers),
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    newId: () => 'req-1',
  }, { ...prepared.request, origin: ORIGIN }).then((o) => {
    outcome = o;
    return o;
  });
  return {
    clock, prompts, ports, promise,
    get port() { return ports[0]; },
    get outcome() { return outcome; },
    /** @param {string} r */
    setReason(r) { reason = r; },
    /** Completes the status handshake. */
    hello(result = STATUS) {
      ports[0].receive({ id: 'req-1:hello', type: 'result', result });
    },
  };
}

/** Lets promise callbacks run. */
const tick = () => new Promise((r) => setImmediate(r));

describe('handshake', () => {
  test('opens one port and sends status first', () => {
    const r = start('authenticate', { challengeNonce: NONCE });
    assert.equal(r.ports.length, 1);
    assert.deepEqual(r.port.sent, [{ id: 'req-1:hello', command: 'status' }]);
  });

  test('status action: the handshake result is the answer; the port is closed', async () => {
    const r = start('status', {});
    r.hello();
    assert.deepEqual(await r.promise, { ok: true, result: STATUS });
    assert.equal(r.port.disconnected, true);
    assert.equal(r.port.sent.length, 1);
  });

  test('host missing: the port closes before any answer → NATIVE_UNAVAILABLE with the reason', async () => {
    const r = start('status', {});
    r.setReason('Specified native messaging host not found.');
    r.port.hostExits();
    const o = await r.promise;
    assert.equal(o.ok, false);
    assert.equal(!o.ok && o.error.code, 'NATIVE_UNAVAILABLE');
    assert.match(!o.ok ? o.error.message : '', /not found/);
  });

  test('connectNative throws → NATIVE_UNAVAILABLE', async () => {
    const o = await start('status', {}, { connectThrows: true }).promise;
    assert.equal(!o.ok && o.error.code, 'NATIVE_UNAVAILABLE');
  });

  test('no answer within 5 s → NATIVE_UNAVAILABLE, port closed', async () => {
    const r = start('authenticate', { challengeNonce: NONCE });
    r.clock.advance(HANDSHAKE_TIMEOUT_MS - 1);
    await tick();
    assert.equal(r.outcome, null);
    r.clock.advance(1);
    const o = await r.promise;
    assert.equal(!o.ok && o.error.code, 'NATIVE_UNAVAILABLE');
    assert.equal(r.port.disconnected, true);
  });

  test('another protocol version → VERSION_MISMATCH', async () => {
    const r = start('authenticate', { challengeNonce: NONCE });
    r.hello({ ...STATUS, protocol: 'geid-nm/2' });
    const o = await r.promise;
    assert.equal(!o.ok && o.error.code, 'VERSION_MISMATCH');
    assert.equal(r.port.sent.length, 1, 'the command is not sent');
  });

  test('host does not know status → VERSION_MISMATCH', async () => {
    const r = start('status', {});
    r.port.receive({ id: 'req-1:hello', type: 'error', error: { code: 'UNKNOWN_COMMAND', message: 'unknown command' } });
    assert.equal(/** @type {any} */ (await r.promise).error.code, 'VERSION_MISMATCH');
  });

  test('host refuses the extension → ORIGIN_NOT_ALLOWED as is', async () => {
    const r = start('status', {});
    r.port.receive({ id: 'req-1:hello', type: 'error', error: { code: 'ORIGIN_NOT_ALLOWED', message: 'extension not allowed' } });
    assert.equal(/** @type {any} */ (await r.promise).error.code, 'ORIGIN_NOT_ALLOWED');
  });
});

describe('authenticate', () => {
  test('sends the command with the attested origin and lang, resolves with the token', async () => {
    const r = start('authenticate', { challengeNonce: NONCE, lang: 'ka' });
    r.hello();
    assert.deepEqual(r.port.last, { id: 'req-1', command: 'authenticate', arguments: { challengeNonce: NONCE, origin: ORIGIN, lang: 'ka' } });
    const token = { unverifiedCertificate: 'MII', algorithm: 'RS256', signature: 'c2ln', format: 'web-eid:1.0', appVersion: 'x' };
    r.port.receive({ id: 'req-1', type: 'event', event: 'progress', data: { stage: 'reading-certificate' } });
    r.port.receive({ id: 'req-1', type: 'result', result: token });
    assert.deepEqual(await r.promise, { ok: true, result: token });
    assert.equal(r.port.disconnected, true);
  });

  test('messages for other ids are ignored', async () => {
    const r = start('authenticate', { challengeNonce: NONCE });
    r.hello();
    r.port.receive({ id: 'other', type: 'result', result: {} });
    await tick();
    assert.equal(r.outcome, null);
  });

  test('every host error code is passed on; retriesLeft kept', async () => {
    const r = start('authenticate', { challengeNonce: NONCE });
    r.hello();
    r.port.receive({ id: 'req-1', type: 'error', error: { code: 'PIN_BLOCKED', message: 'blocked', retriesLeft: 0 } });
    assert.deepEqual(await r.promise, { ok: false, error: { code: 'PIN_BLOCKED', message: 'blocked', retriesLeft: 0 } });
  });

  test('host exits mid-request → INTERNAL', async () => {
    const r = start('authenticate', { challengeNonce: NONCE });
    r.hello();
    r.port.hostExits();
    assert.equal(/** @type {any} */ (await r.promise).error.code, 'INTERNAL');
  });
});

describe('user timeout', () => {
  test('120 s without completion → cancel sent, USER_TIMEOUT, prompt closed', async () => {
    const r = start('authenticate', { challengeNonce: NONCE });
    r.hello();
    r.port.receive({ id: 'req-1', type: 'event', event: 'pin-required', data: PIN_EVENT });
    r.clock.advance(USER_TIMEOUT_MS - 1);
    await tick();
    assert.equal(r.outcome, null);
    r.clock.advance(1);
    const o = await r.promise;
    assert.equal(!o.ok && o.error.code, 'USER_TIMEOUT');
    assert.deepEqual(r.port.sent.at(-1), { id: 'req-1', command: 'cancel' });
    assert.equal(r.prompts.current.closed, true);
  });

  test('signing gets twice as long', async () => {
    const r = start('sign', { certificate: 'MIIB', hash: Buffer.alloc(32).toString('base64'), hashFunction: 'SHA-256' });
    r.hello();
    r.clock.advance(2 * USER_TIMEOUT_MS - 1);
    await tick();
    assert.equal(r.outcome, null);
    r.clock.advance(1);
    assert.equal(/** @type {any} */ (await r.promise).error.code, 'USER_TIMEOUT');
  });

  test('the page may shorten the authenticate timeout', async () => {
    const r = start('authenticate', { challengeNonce: NONCE, timeout: 30_000 });
    r.hello();
    r.clock.advance(30_000);
    assert.equal(/** @type {any} */ (await r.promise).error.code, 'USER_TIMEOUT');
  });
});

describe('PIN flow', () => {
  test('pin-required opens the prompt with the extension origin; the PIN goes to the host with the same id', async () => {
    const r = start('authenticate', { challengeNonce: NONCE, lang: 'en' });
    r.hello();
    r.port.receive({ id: 'req-1', type: 'event', event: 'pin-required', data: { ...PIN_EVENT, origin: 'https://evil.example' } });
    assert.equal(r.prompts.opened.length, 1);
    const view = r.prompts.current.views[0];
    assert.equal(view.mode, 'pin');
    assert.equal(view.origin, ORIGIN, 'shows the origin the extension computed');
    assert.equal(view.holder, 'გიორგი ბერიძე');
    assert.equal(view.retriesLeft, 3);
    assert.equal(view.lang, 'en');
    assert.equal(JSON.stringify(view).includes('1234'), false);
    r.prompts.current.handlers.onPin('1234');
    assert.deepEqual(r.port.last, { id: 'req-1', command: 'pin', arguments: { pin: '1234' } });
    assert.equal(r.prompts.current.views.at(-1).mode, 'busy');
    assert.equal(JSON.stringify(r.prompts.current.views).includes('1234'), false, 'the PIN is in no view');
  });

  test('a PIN outside the card lengths, with letters, or sent twice is not forwarded', () => {
    const r = start('authenticate', { challengeNonce: NONCE });
    r.hello();
    r.port.receive({ id: 'req-1', type: 'event', event: 'pin-required', data: PIN_EVENT });
    const before = r.port.sent.length;
    r.prompts.current.handlers.onPin('123');
    r.prompts.current.handlers.onPin('12345');
    r.prompts.current.handlers.onPin('12a4');
    assert.equal(r.port.sent.length, before);
    r.prompts.current.handlers.onPin('1234');
    r.prompts.current.handlers.onPin('1234');
    assert.equal(r.port.sent.length, before + 1, 'one PIN per pin-required');
  });

  test('wrong PIN: the same window is updated with retry and retries left; the result closes it', async () => {
    const r = start('authenticate', { challengeNonce: NONCE });
    r.hello();
    r.port.receive({ id: 'req-1', type: 'event', event: 'pin-required', data: PIN_EVENT });
    r.prompts.current.handlers.onPin('1111');
    r.port.receive({ id: 'req-1', type: 'event', event: 'pin-required', data: { ...PIN_EVENT, retriesLeft: 2, retry: true } });
    assert.equal(r.prompts.opened.length, 1);
    const view = r.prompts.current.views.at(-1);
    assert.equal(view.mode, 'pin');
    assert.equal(view.retry, true);
    assert.equal(view.retriesLeft, 2);
    r.prompts.current.handlers.onPin('1234');
    assert.equal(r.port.commands.filter((c) => c === 'pin').length, 2);
    r.port.receive({ id: 'req-1', type: 'result', result: { signature: 'x' } });
    await r.promise;
    assert.equal(r.prompts.current.closed, true);
  });

  test('closing the window sends cancel; the host confirms USER_CANCELLED', async () => {
    const r = start('authenticate', { challengeNonce: NONCE });
    r.hello();
    r.port.receive({ id: 'req-1', type: 'event', event: 'pin-required', data: PIN_EVENT });
    r.prompts.current.handlers.onClose();
    assert.deepEqual(r.port.last, { id: 'req-1', command: 'cancel' });
    r.port.receive({ id: 'req-1', type: 'error', error: { code: 'USER_CANCELLED', message: 'cancelled' } });
    assert.equal(/** @type {any} */ (await r.promise).error.code, 'USER_CANCELLED');
  });

  test('closing the window: USER_CANCELLED even when the host does not confirm', async () => {
    const r = start('authenticate', { challengeNonce: NONCE });
    r.hello();
    r.port.receive({ id: 'req-1', type: 'event', event: 'card-required', data: { reason: 'NO_CARD', timeoutMs: 120000 } });
    assert.equal(r.prompts.current.views[0].mode, 'card');
    r.prompts.current.handlers.onClose();
    r.clock.advance(2_000);
    assert.equal(/** @type {any} */ (await r.promise).error.code, 'USER_CANCELLED');
  });

  test('card-required then pin-required: one window, card view then PIN view', () => {
    const r = start('authenticate', { challengeNonce: NONCE });
    r.hello();
    r.port.receive({ id: 'req-1', type: 'event', event: 'card-required', data: { reason: 'NO_READER' } });
    r.port.receive({ id: 'req-1', type: 'event', event: 'pin-required', data: PIN_EVENT });
    assert.equal(r.prompts.opened.length, 1);
    assert.deepEqual(r.prompts.current.views.map((v) => v.mode), ['card', 'pin']);
    assert.equal(r.prompts.current.views[0].reason, 'NO_READER');
  });

  test('PIN pad: the view says so and typed PINs are not forwarded', () => {
    const r = start('sign', { certificate: 'MIIB', hash: Buffer.alloc(48).toString('base64'), hashFunction: 'SHA-384' });
    r.hello();
    r.port.receive({ id: 'req-1', type: 'event', event: 'pin-required', data: { ...PIN_EVENT, kind: 'signing', pinPad: true, minLength: 6, maxLength: 6 } });
    const view = r.prompts.current.views[0];
    assert.equal(view.pinPad, true);
    assert.equal(view.kind, 'signing');
    const before = r.port.sent.length;
    r.prompts.current.handlers.onPin('123456');
    assert.equal(r.port.sent.length, before);
  });
});
