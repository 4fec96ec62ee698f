//! Talking to the Georgian ID card.
//!
//! - [`apdu`]: command and response APDUs (ISO 7816-4 §5.1), short and extended;
//! - [`tlv`]: BER-TLV (FCP, PKCS#15, PIN-pad features);
//! - [`transport`]: the [`Transport`] trait every card connection implements, and the
//!   [`Session`](transport::Session) that chains GET RESPONSE and traces APDUs;
//! - [`pcsc`]: the PC/SC transport (pcscd on Linux): readers, waiting, card selection;
//! - [`atr`] and [`profile`]: card detection and the card profile as data;
//! - [`pkcs15`]: object discovery when the profile's files are not found;
//! - [`card`]: the operations — certificates, PINs, signatures, the Web eID token;
//! - [`pkcs11`]: the fallback through a vendor PKCS#11 module.
//!
//! ```no_run
//! use geid_card::{pcsc::PcscContext, Card, PinEntry};
//! use geid_protocol::{ChallengeNonce, Origin, Pin};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let ctx = PcscContext::establish()?;
//! let transport = ctx.connect_supported(None)?;
//! let mut card = Card::open(transport)?;
//! let origin = Origin::parse("https://portal.example.ge")?;
//! let nonce = ChallengeNonce::generate()?;
//! let token = card.authenticate(&origin, &nonce, PinEntry::Pin(Pin::new("1234")?))?;
//! println!("{}", token.to_json());
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod apdu;
pub mod atr;
pub mod card;
pub mod certificate;
mod error;
pub mod pcsc;
pub mod pinpad;
pub mod pkcs11;
pub mod pkcs15;
pub mod profile;
pub mod tlv;
pub mod transport;

pub use card::{Card, KeySlot, PinEntry, PinKind, PinStatus};
pub use certificate::{CertificateInfo, KeyKind};
pub use error::CardError;
pub use profile::{CardProfile, Generation};
pub use transport::{CardChannel, ReaderFeatures, Stats, Trace, TraceEntry, Transport};
