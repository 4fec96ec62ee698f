//! `geid-host`: the native-messaging host between the geid browser extension and the ID card.
//!
//! The browser starts the host when a page asks to log in; the host speaks the protocol of
//! `docs/protocol.md` on stdin/stdout ([`server`]), finds the card, asks for the PIN through the
//! extension or the reader's PIN pad ([`operation`]), and answers with a Web eID token or a
//! signature. [`install`] registers it with browsers, [`doctor`] explains what is missing.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod backend;
pub mod caller;
mod card_ops;
pub mod config;
pub mod doctor;
pub mod install;
pub mod logging;
pub mod operation;
pub mod pcsc_backend;
pub mod pkcs11_backend;
pub mod server;
