// @ts-check
/** Origin from the attested sender, the secure-context rule and the frame rule. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isSecureOrigin, originOf, requestOrigin } from '../../src/background/origin.js';

describe('originOf', () => {
  test('serialises like docs/protocol.md §2: lower case, punycode, default port dropped, no path', () => {
    assert.equal(originOf('https://Portal.Example.GE:443/login?x=1#y'), 'https://portal.example.ge');
    assert.equal(originOf('https://მაგალითი.გე/'), 'https://xn--lodafveble.xn--node');
    assert.equal(originOf('https://user:pw@a.ge:8443/'), 'https://a.ge:8443');
    assert.equal(originOf('http://[::1]:8080/'), 'http://[::1]:8080');
  });
  test('opaque or unparsable URLs have no origin', () => {
    assert.equal(originOf('data:text/html,hi'), null);
    assert.equal(originOf('about:blank'), null);
    assert.equal(originOf('not a url'), null);
    assert.equal(originOf(undefined), null);
  });
});

describe('isSecureOrigin', () => {
  for (const o of ['https://portal.example.ge', 'https://a.ge:8443', 'http://localhost:3000', 'http://127.0.0.1:8080', 'http://[::1]:8080', 'http://localhost']) {
    test(`accepts ${o}`, () => assert.equal(isSecureOrigin(o), true));
  }
  for (const o of ['http://portal.example.ge', 'http://portal.test:8080', 'http://127.0.0.2', 'http://localhost.example.ge', 'file://', 'ftp://a.ge', 'https://a.ge/', 'HTTPS://A.GE', 'null']) {
    test(`refuses ${o}`, () => assert.equal(isSecureOrigin(o), false));
  }
});

describe('requestOrigin', () => {
  const top = { id: 'x', frameId: 0, tab: { id: 1, url: 'https://portal.example.ge/login' } };

  test('uses sender.origin when the browser gives it (Chromium)', () => {
    assert.deepEqual(requestOrigin({ ...top, origin: 'https://portal.example.ge', url: 'https://portal.example.ge/login' }), { ok: true, origin: 'https://portal.example.ge' });
  });
  test('falls back to the origin of sender.url (Firefox)', () => {
    assert.deepEqual(requestOrigin({ ...top, url: 'https://Portal.Example.GE:443/login' }), { ok: true, origin: 'https://portal.example.ge' });
  });
  test('plain http of a non-loopback host → CONTEXT_INSECURE', () => {
    const d = requestOrigin({ frameId: 0, url: 'http://portal.example.ge/', tab: { url: 'http://portal.example.ge/' } });
    assert.equal(d.ok === false && d.code, 'CONTEXT_INSECURE');
  });
  test('no origin at all → CONTEXT_INSECURE', () => {
    const d = requestOrigin({ frameId: 0, origin: 'null', url: 'data:text/html,x' });
    assert.equal(d.ok === false && d.code, 'CONTEXT_INSECURE');
  });
  test('same-origin sub-frame → accepted', () => {
    assert.equal(requestOrigin({ frameId: 5, url: 'https://portal.example.ge/frame', tab: top.tab }).ok, true);
  });
  test('cross-origin sub-frame → ORIGIN_NOT_ALLOWED', () => {
    const d = requestOrigin({ frameId: 5, url: 'https://widget.example.com/', tab: top.tab });
    assert.equal(d.ok === false && d.code, 'ORIGIN_NOT_ALLOWED');
  });
  test('sub-frame whose top-level URL the browser does not tell → ORIGIN_NOT_ALLOWED (fail closed)', () => {
    const d = requestOrigin({ frameId: 5, url: 'https://portal.example.ge/frame', tab: { id: 1 } });
    assert.equal(d.ok === false && d.code, 'ORIGIN_NOT_ALLOWED');
  });
  test('a frame id the browser does not give counts as a sub-frame', () => {
    assert.equal(requestOrigin({ url: 'https://a.ge/' }).ok, false);
  });
  test('origins over 255 characters → ORIGIN_NOT_ALLOWED', () => {
    const host = `${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.${'e'.repeat(60)}.ge`;
    const d = requestOrigin({ frameId: 0, url: `https://${host}/` });
    assert.equal(d.ok === false && d.code, 'ORIGIN_NOT_ALLOWED');
  });
});
