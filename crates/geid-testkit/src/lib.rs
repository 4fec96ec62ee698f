//! The geid test world: a generated PKI shaped like the Georgian one (see [`pki`]) and the
//! small DER toolbox used to build and inspect its certificates (see [`der`]).
//!
//! Nothing here may be trusted by a production configuration.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod der;
mod error;
pub mod ocsp;
pub mod pcscd;
pub mod pki;
pub mod services;
pub mod softhsm;
pub mod virtual_card;

pub use error::Error;
pub use ocsp::{Fault, OcspServer, ResponderOptions};
pub use pki::{
    CertifiedKey, Citizen, IssuingCa, Pki, PkiOptions, Revocation, RevocationReason, Written,
};

/// The README's example runs as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod token_signer;
pub use token_signer::{message_digest, TokenSigner, TokenSignerError};
