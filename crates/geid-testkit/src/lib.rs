//! The geid test world.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod token_signer;
pub use token_signer::{message_digest, TokenSigner, TokenSignerError};
