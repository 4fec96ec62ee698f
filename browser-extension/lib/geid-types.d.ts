/** Result types of geid.js (see geid.d.ts). */

/** The Web eID 1.0 login token (docs/protocol.md §1). */
export interface AuthToken {
  unverifiedCertificate: string;
  algorithm: string;
  signature: string;
  format: string;
  appVersion: string;
}

export interface Reader {
  name: string;
  cardPresent: boolean;
  card?: string;
  holder?: string;
  pinPad?: boolean;
}

export interface Status {
  version: string;
  protocol: string;
  pcscAvailable: boolean;
  readers: Reader[];
}

export interface SignatureAlgorithm {
  cryptoAlgorithm: string;
  hashFunction: string;
  paddingScheme: string;
}

export interface SigningCertificate {
  certificate: string;
  supportedSignatureAlgorithms: SignatureAlgorithm[];
}

export interface Signature {
  signature: string;
  signatureAlgorithm: SignatureAlgorithm;
}

export type HashFunction =
  | 'SHA-224' | 'SHA-256' | 'SHA-384' | 'SHA-512'
  | 'SHA3-224' | 'SHA3-256' | 'SHA3-384' | 'SHA3-512';
