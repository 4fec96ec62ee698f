// @ts-check
/**
 * The extension manifests for Chromium-family browsers and Firefox, made from one description.
 * @module
 */
import { createHash } from 'node:crypto';

/**
 * Public half of the development signing key (base64 SubjectPublicKeyInfo DER). Chromium derives
 * the extension id from it, so an unpacked development build always has the id
 * `DEV_EXTENSION_ID`, which a host manifest can name in `allowed_origins`. The private half is
 * not needed to load the extension and is not kept in the repository; a store build gets the
 * store's id instead.
 */
export const DEV_PUBLIC_KEY = 'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAln3ity7LOJsgeZN5PT0RORLWlGZ30UOrcK9/vDQVCIHC1EaKojdKbVM0VVJPFVlQyhSUVtAADAiTB21+nYXHuH9AQYKrv8A3OGsx01swPGPRMCkBXICAkzWFyZMwelDygHnA1YL03lkLq0bfcAYsi1bclL6m5xYSU4QQ+zDVL6oL7eqDg2tv5GrbnTHn3ucudRZyx7O05otyXO+LFPlfbT76Cj+9LFdJisVRFV9hL/45cMJ6NfA3KcALdyeq9xdr9o2C8yo5Ir556npC02o1VO41iMRAZGe5Od1Hx1sWPntLpB7fz5r2TCG/FQwCdI+y3+3HbAMU2kVW8qyk3IIj1QIDAQAB';

/** The Chromium extension id that `DEV_PUBLIC_KEY` yields (see `extensionIdFromKey`). */
export const DEV_EXTENSION_ID = 'cpgfckjdblcnolcedngcmfbldcajgmld';

/** The Firefox add-on id (`browser_specific_settings.gecko.id`). */
export const FIREFOX_ADDON_ID = 'geid@geid.ge';

/**
 * Chromium's id for a manifest `key`: the first 128 bits of SHA-256 over the DER public key,
 * written as 32 letters where a..p stand for the hex digits 0..f.
 * @param {string} base64Key
 */
export function extensionIdFromKey(base64Key) {
  const hex = createHash('sha256').update(Buffer.from(base64Key, 'base64')).digest('hex').slice(0, 32);
  return [...hex].map((c) => String.fromCharCode(97 + parseInt(c, 16))).join('');
}

/**
 * @param {'chromium' | 'firefox'} target
 * @param {string} version
 * @returns {Record<string, unknown>}
 */
export function manifestFor(target, version) {
  const common = {
    manifest_version: 3,
    name: '__MSG_extName__',
    description: '__MSG_extDescription__',
    version,
    default_locale: 'en',
    permissions: ['nativeMessaging'],
    content_scripts: [
      {
        // Plain-http pages get the content script too, so that they hear CONTEXT_INSECURE
        // instead of a silent EXTENSION_UNAVAILABLE; the background refuses them.
        matches: ['https://*/*', 'http://*/*'],
        js: ['content.js'],
        run_at: 'document_start',
        all_frames: true,
      },
    ],
  };
  if (target === 'chromium') {
    return {
      ...common,
      key: DEV_PUBLIC_KEY,
      minimum_chrome_version: '116',
      background: { service_worker: 'background.js', type: 'module' },
    };
  }
  return {
    ...common,
    background: { scripts: ['background.js'], type: 'module' },
    browser_specific_settings: {
      gecko: { id: FIREFOX_ADDON_ID, strict_min_version: '128.0', data_collection_permissions: { required: ['none'] } },
    },
  };
}
