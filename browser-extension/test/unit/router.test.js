// @ts-check
/** From content-script message to request: attested origin, refusals, one request per action. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { handleContentMessage } from '../../src/background/router.js';

const sender = { id: 'ext', frameId: 0, origin: 'https://portal.example.ge', url: 'https://portal.example.ge/login', tab: { id: 7, url: 'https://portal.example.ge/login' } };
const NONCE = Buffer.alloc(32, 5).toString('base64');

function context() {
  /** @type {any[]} */
  const runs = [];
  /** @type {Array<(o: any) => void>} */
  const finishers = [];
  return {
    runs,
    finishers,
    ctx: {
      pending: new Set(),
      run: (/** @type {any} */ request) => {
        runs.push(request);
        return new Promise((resolve) => finishers.push(resolve));
      },
    },
  };
}

test('the origin comes from the sender, not the message', async () => {
  const c = context();
  const p = handleContentMessage(c.ctx, { type: 'geid:request', action: 'authenticate', arguments: { challengeNonce: NONCE, origin: 'https://evil.example' } }, sender);
  await new Promise((r) => setImmediate(r));
  assert.equal(c.runs[0].origin, 'https://portal.example.ge');
  assert.equal(c.runs[0].hostArguments.origin, 'https://portal.example.ge');
  c.finishers[0]({ ok: true, result: 1 });
  assert.deepEqual(await p, { ok: true, result: 1 });
});

test('insecure page → CONTEXT_INSECURE without starting anything', async () => {
  const c = context();
  const o = await handleContentMessage(c.ctx, { type: 'geid:request', action: 'status' }, { ...sender, origin: 'http://portal.test:8080', url: 'http://portal.test:8080/', tab: { id: 7, url: 'http://portal.test:8080/' } });
  assert.equal(/** @type {any} */ (o).error.code, 'CONTEXT_INSECURE');
  assert.equal(c.runs.length, 0);
});

test('cross-origin frame → ORIGIN_NOT_ALLOWED', async () => {
  const c = context();
  const o = await handleContentMessage(c.ctx, { type: 'geid:request', action: 'status' }, { ...sender, frameId: 3, origin: 'https://other.example', url: 'https://other.example/' });
  assert.equal(/** @type {any} */ (o).error.code, 'ORIGIN_NOT_ALLOWED');
});

test('the same action twice in one frame → ACTION_PENDING; freed when the first ends', async () => {
  const c = context();
  const msg = { type: 'geid:request', action: 'authenticate', arguments: { challengeNonce: NONCE } };
  const first = handleContentMessage(c.ctx, msg, sender);
  await new Promise((r) => setImmediate(r));
  assert.equal(/** @type {any} */ (await handleContentMessage(c.ctx, msg, sender)).error.code, 'ACTION_PENDING');
  const otherTab = handleContentMessage(c.ctx, msg, { ...sender, tab: { ...sender.tab, id: 8 } });
  await new Promise((r) => setImmediate(r));
  assert.equal(c.runs.length, 2, 'another tab may run its own');
  c.finishers[0]({ ok: true, result: null });
  c.finishers[1]({ ok: true, result: null });
  await first;
  await otherTab;
  const again = handleContentMessage(c.ctx, msg, sender);
  await new Promise((r) => setImmediate(r));
  assert.equal(c.runs.length, 3);
  c.finishers[2]({ ok: true, result: null });
  await again;
});

test('malformed messages → INVALID_ARGUMENT', async () => {
  const c = context();
  for (const m of [null, 'x', { type: 'other' }, { type: 'geid:request', action: 'pin', arguments: { pin: '1234' } }]) {
    assert.equal(/** @type {any} */ (await handleContentMessage(c.ctx, m, sender)).error.code, 'INVALID_ARGUMENT');
  }
  assert.equal(c.runs.length, 0);
});
