// @ts-check
/** The host arguments built from a page's request. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { base64Length, prepareRequest } from '../../src/background/arguments.js';

const O = 'https://portal.example.ge';
const NONCE = Buffer.alloc(32, 9).toString('base64');

test('authenticate: nonce, the attested origin, lang; a page-supplied origin is dropped', () => {
  const p = prepareRequest('authenticate', { challengeNonce: NONCE, lang: 'ka', origin: 'https://evil.example', extra: 1 }, O);
  assert.deepEqual(p, { ok: true, request: { action: 'authenticate', hostArguments: { challengeNonce: NONCE, origin: O, lang: 'ka' }, lang: 'ka', userTimeoutMs: 120_000 } });
});

test('authenticate: bad nonces → INVALID_ARGUMENT', () => {
  for (const challengeNonce of [undefined, 42, 'short', `${NONCE}!`, 'A'.repeat(129)]) {
    const p = prepareRequest('authenticate', { challengeNonce }, O);
    assert.equal(p.ok === false && p.code, 'INVALID_ARGUMENT', String(challengeNonce));
  }
});

test('authenticate: the page timeout is clamped to 1 s … 10 min', () => {
  const t = (/** @type {number} */ timeout) => {
    const p = prepareRequest('authenticate', { challengeNonce: NONCE, timeout }, O);
    return p.ok ? p.request.userTimeoutMs : -1;
  };
  assert.equal(t(30_000), 30_000);
  assert.equal(t(1), 1_000);
  assert.equal(t(1e9), 600_000);
  assert.equal(prepareRequest('status', { timeout: 5 }, O).ok, false);
});

test('status: no arguments', () => {
  const p = prepareRequest('status', {}, O);
  assert.ok(p.ok);
  assert.equal(p.request.hostArguments, undefined);
});

test('get-signing-certificate: origin only', () => {
  const p = prepareRequest('get-signing-certificate', { lang: 'en' }, O);
  assert.ok(p.ok);
  assert.deepEqual(p.request.hostArguments, { origin: O });
  assert.equal(p.request.lang, 'en');
});

test('sign: hash length must match the hash function; the user timeout doubles', () => {
  const ok = prepareRequest('sign', { certificate: 'MIIB', hash: Buffer.alloc(64).toString('base64'), hashFunction: 'SHA-512' }, O);
  assert.ok(ok.ok);
  assert.equal(ok.request.userTimeoutMs, 240_000);
  assert.deepEqual(ok.request.hostArguments, { origin: O, certificate: 'MIIB', hash: Buffer.alloc(64).toString('base64'), hashFunction: 'SHA-512' });
  const short = prepareRequest('sign', { certificate: 'MIIB', hash: Buffer.alloc(32).toString('base64'), hashFunction: 'SHA-512' }, O);
  assert.equal(short.ok === false && short.code, 'INVALID_ARGUMENT');
  const unknown = prepareRequest('sign', { certificate: 'MIIB', hash: Buffer.alloc(16).toString('base64'), hashFunction: 'MD5' }, O);
  assert.equal(unknown.ok === false && unknown.code, 'INVALID_ARGUMENT');
});

test('unknown actions and malformed lang → INVALID_ARGUMENT', () => {
  assert.equal(prepareRequest('pin', {}, O).ok, false);
  assert.equal(prepareRequest('quit', {}, O).ok, false);
  assert.equal(prepareRequest('status', { lang: 'ka"; x' }, O).ok, false);
});

test('base64Length', () => {
  for (const n of [0, 1, 2, 3, 28, 32, 48, 64]) {
    const b = Buffer.alloc(n).toString('base64');
    assert.equal(base64Length(b), n);
    assert.equal(base64Length(b.replace(/=+$/, '')), n);
  }
});
