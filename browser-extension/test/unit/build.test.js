// @ts-check
/** Manifests for both browsers, the fixed id, and the ZIP writer. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inflateRawSync } from 'node:zlib';
import { DEV_EXTENSION_ID, DEV_PUBLIC_KEY, FIREFOX_ADDON_ID, extensionIdFromKey, manifestFor } from '../../scripts/manifest.js';
import { crc32, makeZip } from '../../scripts/zip.js';
import { HOST_NAME } from '../../src/common/protocol.js';

test('the documented development id is the one the manifest key yields', () => {
  assert.equal(extensionIdFromKey(DEV_PUBLIC_KEY), DEV_EXTENSION_ID);
  assert.match(DEV_EXTENSION_ID, /^[a-p]{32}$/);
});

test('Chromium manifest: MV3 service worker module, key, native messaging', () => {
  const m = /** @type {any} */ (manifestFor('chromium', '1.2.3'));
  assert.equal(m.manifest_version, 3);
  assert.equal(m.version, '1.2.3');
  assert.deepEqual(m.background, { service_worker: 'background.js', type: 'module' });
  assert.equal(m.key, DEV_PUBLIC_KEY);
  assert.deepEqual(m.permissions, ['nativeMessaging']);
  assert.equal(m.browser_specific_settings, undefined);
  assert.equal(m.content_scripts[0].all_frames, true);
});

test('Firefox manifest: background scripts, gecko id, no key', () => {
  const m = /** @type {any} */ (manifestFor('firefox', '1.2.3'));
  assert.deepEqual(m.background, { scripts: ['background.js'], type: 'module' });
  assert.equal(m.browser_specific_settings.gecko.id, FIREFOX_ADDON_ID);
  assert.equal(m.key, undefined);
});

test('host name is ge.geid.host', () => {
  assert.equal(HOST_NAME, 'ge.geid.host');
});

test('crc32 of a known string', () => {
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
});

test('makeZip: entries read back (local headers, deflate, CRC) and the output is deterministic', () => {
  const files = [
    { name: 'manifest.json', data: Buffer.from('{"a":1}') },
    { name: '_locales/ka/messages.json', data: Buffer.from('{"x":{"message":"გამარჯობა"}}'.repeat(20)) },
  ];
  const zip = makeZip(files);
  assert.deepEqual(zip, makeZip([...files].reverse()));
  /** @type {Record<string, string>} */
  const out = {};
  let at = 0;
  while (zip.readUInt32LE(at) === 0x04034b50) {
    const method = zip.readUInt16LE(at + 8);
    const crc = zip.readUInt32LE(at + 14);
    const size = zip.readUInt32LE(at + 18);
    const nameLen = zip.readUInt16LE(at + 26);
    const name = zip.subarray(at + 30, at + 30 + nameLen).toString('utf8');
    const body = zip.subarray(at + 30 + nameLen, at + 30 + nameLen + size);
    const data = method === 8 ? inflateRawSync(body) : body;
    assert.equal(crc32(data), crc, name);
    out[name] = data.toString('utf8');
    at += 30 + nameLen + size;
  }
  assert.equal(zip.readUInt32LE(zip.length - 22), 0x06054b50);
  assert.equal(zip.readUInt16LE(zip.length - 12), 2);
  assert.deepEqual(out, Object.fromEntries(files.map((f) => [f.name, f.data.toString('utf8')])));
});
