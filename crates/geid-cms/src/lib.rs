//! Detached CAdES-BES CMS signatures (RFC 5652 SignedData, ETSI EN 319 122-1 §5.2), built in
//! two steps so the signature itself can come from anywhere: the ID card through `geid-card`,
//! the browser extension's `sign` command, or a software key in tests.
//!
//! 1. [`prepare`] (or [`prepare_digest`]) computes the signed attributes —
//!    content-type `id-data` (RFC 5652 §11.1), message-digest (§11.2), signing-time (§11.3) and
//!    ESS signing-certificate-v2 (RFC 5035 §3) naming the signer's certificate by hash and
//!    issuer/serial — and [`Prepared::digest_to_sign`], the hash of their DER `SET OF`
//!    encoding (RFC 5652 §5.4). That digest is what the card signs.
//! 2. [`Prepared::assemble`] wraps the signature into a DER `ContentInfo` holding a version 1
//!    `SignedData`: one digest algorithm, `eContentType` id-data without `eContent` (detached),
//!    the signer's certificate, and one `SignerInfo` identified by issuer and serial number.
//!
//! [`prepare`] is deterministic: the same content digest, certificate and signing time (at
//! second precision) give the same signed attributes, so a service that asks a browser for a
//! signature can keep just the digest and the time between the two requests.
//!
//! [`SignedDocument::parse`] reads such a signature back (ours, openssl's, or another CAdES
//! producer's, as long as it is DER) and exposes the signer certificate, the signed attributes
//! and the exact bytes the signature covers. It checks structure only; trust, validity and the
//! signature itself are `geid-verify`'s job.
//!
//! Hash functions: SHA-224/256/384/512. Signature schemes: RSA PKCS#1 v1.5 and ECDSA (the
//! Georgian card signs with RSA PKCS#1 v1.5). RSASSA-PSS and SHA-3 are not produced.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod ess;
pub mod oids;
mod parse;
mod prepare;

use std::fmt;

pub use ess::{EssCertIdV2, IssuerSerial, SigningCertificateV2};
pub use geid_protocol::{HashFunction, SignatureScheme};
pub use parse::{CertificateReference, SignedDocument, MAX_CMS_LEN};
pub use prepare::{prepare, prepare_digest, Prepared};

/// The README's example compiles as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// Why a signature could not be prepared, assembled or parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CmsError {
    /// The bytes are not a DER CMS SignedData this crate can read; the text says where.
    #[error("CMS malformed: {0}")]
    Malformed(String),
    /// The signer certificate is not a DER X.509 certificate.
    #[error("signer certificate malformed: {0}")]
    Certificate(String),
    /// A hash function geid does not use in CMS (SHA-3 and others).
    #[error("hash function {0} is not supported for CMS signatures (SHA-224/256/384/512 are)")]
    UnsupportedHash(HashFunction),
    /// A signature scheme geid does not produce, or one that does not fit the key.
    #[error("signature scheme not supported here: {0}")]
    UnsupportedScheme(String),
    /// The content digest does not have the hash function's length.
    #[error("digest is {actual} bytes; {hash} digests have {expected}")]
    DigestLength {
        /// The hash function.
        hash: HashFunction,
        /// Its output length.
        expected: usize,
        /// What was given.
        actual: usize,
    },
    /// The signature value cannot be right for the key (empty, wrong length, bad ECDSA form).
    #[error("signature malformed: {0}")]
    Signature(String),
    /// The signing time cannot be encoded (before 1970 or after 9999).
    #[error("signing time out of range: {0}")]
    SigningTime(String),
}

impl From<der::Error> for CmsError {
    fn from(e: der::Error) -> Self {
        CmsError::Malformed(e.to_string())
    }
}

/// The key type of a certificate, as far as CMS algorithm choice needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyType {
    Rsa,
    /// ECDSA with the field length in bytes (32 for P-256, 48 for P-384, 66 for P-521).
    Ec(usize),
    Other,
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyType::Rsa => f.write_str("RSA"),
            KeyType::Ec(n) => write!(f, "EC ({n}-byte field)"),
            KeyType::Other => f.write_str("unsupported"),
        }
    }
}

pub(crate) fn key_type(cert: &x509_cert::Certificate) -> KeyType {
    let spki = &cert.tbs_certificate.subject_public_key_info;
    if spki.algorithm.oid == oids::RSA_ENCRYPTION {
        return KeyType::Rsa;
    }
    if spki.algorithm.oid == oids::ID_EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok());
        return match curve {
            Some(oids::SECP_256_R_1) => KeyType::Ec(32),
            Some(oids::SECP_384_R_1) => KeyType::Ec(48),
            Some(oids::SECP_521_R_1) => KeyType::Ec(66),
            _ => KeyType::Other,
        };
    }
    KeyType::Other
}
