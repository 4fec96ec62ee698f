// @ts-check
/**
 * Constants shared by the background worker and the PIN window, taken from `docs/protocol.md`
 * (the normative description of the native-messaging protocol spoken with `geid-host`).
 * @module
 */

/** Name of the native-messaging host; its manifest file is `ge.geid.host.json`. */
export const HOST_NAME = 'ge.geid.host';

/** Protocol version the host reports in `status` (`geid_protocol::messages::PROTOCOL_VERSION`). */
export const PROTOCOL_VERSION = 'geid-nm/1';

/** How long the host has to answer the `status` handshake before it counts as unavailable. */
export const HANDSHAKE_TIMEOUT_MS = 5_000;

/** How long the user has for the card and PIN steps of a login (doubled for signing). */
export const USER_TIMEOUT_MS = 120_000;

/** Bounds for the `timeout` a page may pass to `authenticate`. */
export const MIN_USER_TIMEOUT_MS = 1_000;
export const MAX_USER_TIMEOUT_MS = 600_000;

/** After `cancel` is sent, how long the host has to confirm before the request ends anyway. */
export const CANCEL_GRACE_MS = 2_000;

/** The page actions the extension serves; each is also a host command of the same name. */
export const ACTIONS = /** @type {const} */ (['status', 'authenticate', 'get-signing-certificate', 'sign']);

/** @typedef {typeof ACTIONS[number]} Action */

/** Hash functions `sign` accepts, with their output length in bytes (docs/protocol.md §4). */
export const HASH_LENGTHS = /** @type {Readonly<Record<string, number>>} */ ({
  'SHA-224': 28,
  'SHA-256': 32,
  'SHA-384': 48,
  'SHA-512': 64,
  'SHA3-224': 28,
  'SHA3-256': 32,
  'SHA3-384': 48,
  'SHA3-512': 64,
});

/** Request ids: 1–64 characters of `A–Z a–z 0–9 - _ . :` (docs/protocol.md §4). */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
