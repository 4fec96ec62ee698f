//! A virtual Georgian ID card: the card profile, PIN rules and retry counters in software,
//! with real keys.
//!
//! [`VirtualCard`] answers command APDUs the way the profile ([`geid_card::CardProfile`])
//! says the real card does: SELECT by AID and path with FCP, READ BINARY (short and, when the
//! ATR announces it, extended), VERIFY / CHANGE REFERENCE DATA / RESET RETRY COUNTER with
//! three tries, the transport-PIN rule for the signature PIN, MSE:SET, INTERNAL AUTHENTICATE,
//! PSO:CDS, GET RESPONSE chaining, and the PKCS#15 structures (EF.DIR, ODF, CDF, PrKDF, AODF).
//! [`Faults`] injects latency, removal after N APDUs and wrong status words.
//!
//! It runs in-process behind [`VirtualTransport`] and as a card behind pcscd through the vpcd
//! virtual reader ([`vpcd`]).

mod card;
mod transport;
pub mod vpcd;

pub use card::{CardKeys, Faults, PinValues, VirtualCard, VirtualCardError};
pub use transport::VirtualTransport;
