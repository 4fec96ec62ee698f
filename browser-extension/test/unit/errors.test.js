// @ts-check
/** Error codes: the host list matches docs/protocol.md §7, and host errors map as documented. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EXTENSION_ERROR_CODES, HOST_ERROR_CODES, PAGE_ERROR_CODES, mapHostError } from '../../src/common/errors.js';

const here = dirname(fileURLToPath(import.meta.url));
const protocolMd = join(here, '..', '..', '..', 'docs', 'protocol.md');

test('HOST_ERROR_CODES is exactly the table of docs/protocol.md §7, in order', () => {
  const md = readFileSync(protocolMd, 'utf8');
  const section = md.slice(md.indexOf('## 7. Error codes'));
  const codes = [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
  assert.ok(codes.length > 10);
  assert.deepEqual([...HOST_ERROR_CODES], codes);
});

test('the page-facing set is the host codes plus the extension codes, no duplicates', () => {
  assert.equal(new Set(PAGE_ERROR_CODES).size, PAGE_ERROR_CODES.length);
  for (const c of ['EXTENSION_UNAVAILABLE', 'NATIVE_UNAVAILABLE', 'VERSION_MISMATCH', 'CONTEXT_INSECURE', 'ACTION_PENDING', 'USER_TIMEOUT', 'USER_CANCELLED']) {
    assert.ok(PAGE_ERROR_CODES.includes(c), c);
  }
  for (const c of EXTENSION_ERROR_CODES) assert.ok(!HOST_ERROR_CODES.includes(c), `${c} is the extension's own`);
});

test('the geid.d.ts GeidErrorCode union lists every page-facing code', () => {
  const dts = readFileSync(join(here, '..', '..', 'lib', 'geid.d.ts'), 'utf8');
  const union = dts.slice(dts.indexOf('export type GeidErrorCode'), dts.indexOf(';', dts.indexOf('export type GeidErrorCode')));
  const listed = [...union.matchAll(/'([A-Z_]+)'/g)].map((m) => m[1]).sort();
  assert.deepEqual(listed, [...PAGE_ERROR_CODES].sort());
});

test('every host code keeps its spelling and message', () => {
  for (const code of HOST_ERROR_CODES) {
    assert.deepEqual(mapHostError({ code, message: `m ${code}` }), { code, message: `m ${code}` });
  }
});

test('PIN_INCORRECT keeps retriesLeft', () => {
  assert.deepEqual(mapHostError({ code: 'PIN_INCORRECT', message: 'wrong PIN', retriesLeft: 2 }), { code: 'PIN_INCORRECT', message: 'wrong PIN', retriesLeft: 2 });
});

test('an unknown host code becomes INTERNAL and keeps the host code and message in the text', () => {
  const e = mapHostError({ code: 'SOMETHING_NEW', message: 'details' });
  assert.equal(e.code, 'INTERNAL');
  assert.match(e.message, /SOMETHING_NEW: details/);
});

test('extension-only codes coming from the host are not trusted as such', () => {
  assert.equal(mapHostError({ code: 'CONTEXT_INSECURE', message: 'x' }).code, 'INTERNAL');
});

test('malformed errors → INTERNAL', () => {
  assert.equal(mapHostError(null).code, 'INTERNAL');
  assert.equal(mapHostError('PIN_BLOCKED').code, 'INTERNAL');
  assert.equal(mapHostError({ code: 42 }).code, 'INTERNAL');
});
