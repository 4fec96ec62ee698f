/** Type declarations for geid.js, the page library of the geid browser extension. */

/** Version of this library. */
export const VERSION: string;

/** Every code a `GeidError` can carry (see the README for what each means). */
export type GeidErrorCode =
  | 'EXTENSION_UNAVAILABLE' | 'NATIVE_UNAVAILABLE' | 'VERSION_MISMATCH' | 'CONTEXT_INSECURE'
  | 'ACTION_PENDING' | 'USER_TIMEOUT' | 'USER_CANCELLED'
  | 'TIMEOUT' | 'NO_READER' | 'NO_CARD' | 'SEVERAL_CARDS' | 'UNSUPPORTED_CARD' | 'CARD_REMOVED'
  | 'CARD_ERROR' | 'PIN_INCORRECT' | 'PIN_BLOCKED' | 'PIN_FORMAT' | 'PIN_NOT_SET'
  | 'PCSC_UNAVAILABLE' | 'ORIGIN_NOT_ALLOWED' | 'INVALID_ARGUMENT' | 'INVALID_MESSAGE'
  | 'MESSAGE_TOO_LARGE' | 'UNKNOWN_COMMAND' | 'BUSY' | 'CERTIFICATE_MISMATCH'
  | 'NOT_IMPLEMENTED' | 'INTERNAL';

/** An error from geid. */
export class GeidError extends Error {
  constructor(code: string, message: string, details?: { retriesLeft?: number });
  readonly name: 'GeidError';
  /** The stable error code. */
  readonly code: GeidErrorCode | string;
  /** Tries left on the PIN, for `PIN_INCORRECT`. */
  readonly retriesLeft?: number;
}

export type {
  AuthToken, HashFunction, Reader, Signature, SignatureAlgorithm, SigningCertificate, Status,
} from './geid-types.js';
import type { AuthToken, HashFunction, Signature, SigningCertificate, Status } from './geid-types.js';

/** Library settings, mainly for tests. `ackTimeout` in milliseconds (default 2000). */
export function configure(options: { ackTimeout?: number }): void;

/** Versions of the host and the readers and cards it sees. */
export function status(): Promise<Status>;

/** Signs a login challenge; resolves to the token the portal verifies. */
export function authenticate(
  challengeNonce: string,
  options?: { lang?: string; timeout?: number },
): Promise<AuthToken>;

/** Reads the card's qualified-signature certificate. */
export function getSigningCertificate(options?: { lang?: string }): Promise<SigningCertificate>;

/** Signs a hash with the card's qualified-signature key. */
export function sign(
  certificate: string,
  hash: string,
  hashFunction: HashFunction | string,
  options?: { lang?: string },
): Promise<Signature>;
