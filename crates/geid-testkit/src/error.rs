//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong while generating, writing or loading the test world.
///
/// Variants that wrap another error expose it through [`std::error::Error::source`] and do
/// not repeat it in their own message, so `anyhow`'s `{:#}` prints each cause once.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// OpenSSL refused an operation (key generation, signing, encoding, parsing).
    #[error("OpenSSL failed")]
    OpenSsl(#[from] openssl::error::ErrorStack),

    /// A file or directory could not be read or written.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done, e.g. "write" or "read".
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// `manifest.json` could not be parsed or serialised.
    #[error("manifest {} is not valid", path.display())]
    Manifest {
        /// Path of the manifest.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },

    /// The manifest was written by an incompatible version of the testkit.
    #[error("manifest format {found:?} is not supported (expected {expected:?})")]
    UnsupportedManifestFormat {
        /// The format string found in the manifest.
        found: String,
        /// The format string this version writes and reads.
        expected: &'static str,
    },

    /// The manifest lacks an entry the PKI needs, or lists one twice.
    #[error("manifest entry {name:?} (role {role}) is {problem}")]
    ManifestEntry {
        /// The entry's name.
        name: String,
        /// The entry's role.
        role: String,
        /// "missing", "duplicated" or what else is wrong with it.
        problem: &'static str,
    },

    /// A certificate's PEM and DER files do not hold the same certificate.
    #[error("{} and {} hold different certificates", pem.display(), der.display())]
    PemDerMismatch {
        /// The PEM file.
        pem: PathBuf,
        /// The DER file.
        der: PathBuf,
    },

    /// A private key file does not belong to the certificate next to it.
    #[error("private key {} does not match its certificate", path.display())]
    KeyMismatch {
        /// The key file.
        path: PathBuf,
    },

    /// A URL given in [`crate::PkiOptions`] cannot be baked into a certificate.
    #[error("URL {url:?} cannot be used: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it was refused.
        reason: String,
    },

    /// [`crate::PkiOptions::ca_key_bits`] is outside 1024..=8192.
    #[error("RSA key size {0} is not supported (use 1024..=8192 bits)")]
    InvalidKeySize(u32),

    /// A dotted OID string is not a valid object identifier.
    #[error("{0:?} is not a valid object identifier")]
    InvalidOid(String),

    /// DER input could not be decoded.
    #[error("malformed DER: {0}")]
    MalformedDer(&'static str),

    /// A time could not be converted or formatted.
    #[error("time {0} is out of range")]
    TimeOutOfRange(String),

    /// A key generation worker thread panicked.
    #[error("a key generation thread panicked")]
    KeyGenerationPanicked,
    /// Encoding or decoding an OCSP message or CRL failed.
    #[error("OCSP/CRL encoding: {0}")]
    Ocsp(String),
}
