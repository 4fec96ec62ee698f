//! Wire formats shared by every geid component.
//!
//! - [`AuthToken`]: the Web eID 1.0 login token a card produces and a portal verifies;
//! - [`SignatureAlgorithm`] and [`HashFunction`]: what signs and how the signed data is built;
//! - [`ChallengeNonce`] and [`Origin`]: the two values a login is bound to;
//! - [`framing`] and [`messages`]: the native-messaging protocol between the browser extension
//!   and `geid-host` (documented with examples in `docs/protocol.md`);
//! - [`ErrorCode`]: the stable codes every component reports;
//! - [`Pin`]: a zeroising PIN buffer;
//! - [`kiosk`]: the signed requests of House-of-Justice kiosks to the portal.
//!
//! ```
//! use geid_protocol::{ChallengeNonce, Origin, SignatureAlgorithm};
//!
//! let origin = Origin::parse("https://Portal.Example.GE:443")?;
//! assert_eq!(origin.as_str(), "https://portal.example.ge");
//! let nonce = ChallengeNonce::generate()?;
//! // What the card signs for an RS256 login:
//! let digest = SignatureAlgorithm::Rs256.card_digest(&origin, &nonce);
//! assert_eq!(digest.len(), 32);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod algorithm;
mod error_code;
pub mod framing;
pub mod kiosk;
pub mod messages;
mod nonce;
mod origin;
mod pin;
mod token;

pub use algorithm::{
    ecdsa_der_to_raw, ecdsa_raw_to_der, EcdsaSignatureError, HashFunction, SignatureAlgorithm,
    SignatureScheme, UnknownAlgorithm,
};
pub use error_code::ErrorCode;
pub use nonce::{ChallengeNonce, NonceError, NONCE_BYTES, NONCE_MAX_LEN, NONCE_MIN_LEN};
pub use origin::{Origin, OriginError, ORIGIN_MAX_LEN};
pub use pin::{Pin, PinFormatError, PIN_MAX_LEN, PIN_MIN_LEN};
pub use token::{
    AuthToken, TokenError, TOKEN_FORMAT, TOKEN_FORMAT_PREFIX, TOKEN_MAX_LEN, TOKEN_MIN_LEN,
};

/// The `appVersion` URL geid writes into tokens it produces.
pub fn app_version() -> String {
    format!(
        "https://geid.invalid/releases/{}",
        env!("CARGO_PKG_VERSION")
    )
}

/// The README's example runs as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
