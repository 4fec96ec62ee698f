//! The one error type of this crate, and its mapping to the stable wire codes.

use geid_protocol::ErrorCode;

use crate::apdu::StatusWord;

/// Everything that can go wrong between the host and the card.
///
/// Each variant names what happened; [`CardError::code`] maps it to the stable
/// [`ErrorCode`] that crosses process boundaries. Messages never contain PIN digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CardError {
    /// The PC/SC service (pcscd) is not running or cannot be reached.
    #[error("the smart-card service (pcscd) is not running or not reachable")]
    PcscUnavailable,
    /// No smart-card reader is connected.
    #[error("no smart-card reader is connected")]
    NoReader,
    /// A reader was named that is not connected.
    #[error("the reader {0:?} is not connected")]
    ReaderNotFound(String),
    /// Readers are connected but none holds a card.
    #[error("no card is inserted in any reader")]
    NoCard,
    /// More than one reader holds a supported card.
    #[error("several readers hold a supported card ({}); choose one", .0.join(", "))]
    SeveralCards(Vec<String>),
    /// The card's ATR is not in the table of supported cards.
    #[error("the card in the reader is not a supported ID card (ATR {atr})")]
    UnsupportedCard {
        /// The ATR in hex.
        atr: String,
    },
    /// The card was removed during the operation.
    #[error("the card was removed during the operation")]
    CardRemoved,
    /// The card was reset by another program (retried once before this is reported).
    #[error("the card was reset by another program during the operation")]
    CardReset,
    /// Another program holds the card exclusively.
    #[error("another program is using the card")]
    CardInUse,
    /// Waiting for a reader, a card or the PIN pad took longer than allowed.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    /// A PC/SC call failed in a way not covered by another variant.
    #[error("PC/SC {operation} failed: {message}")]
    Pcsc {
        /// The call (`SCardTransmit`, …).
        operation: &'static str,
        /// The PC/SC error text.
        message: String,
    },
    /// A response APDU shorter than its two status bytes.
    #[error("the card sent a response of {0} bytes, shorter than a status word")]
    ResponseTooShort(usize),
    /// A response (after GET RESPONSE chaining) longer than the command allows.
    #[error("the card sent {actual} response bytes where at most {limit} were expected")]
    ResponseTooLong {
        /// The number of bytes received.
        actual: usize,
        /// The limit.
        limit: usize,
    },
    /// The card kept answering `61xx` or `6Cxx` beyond any reasonable number of rounds.
    #[error("the card did not finish its response after {0} GET RESPONSE rounds")]
    ResponseChainTooLong(usize),
    /// A command that cannot be encoded (too much data, Le out of range, extended length
    /// needed but not supported).
    #[error("command cannot be encoded: {0}")]
    InvalidCommand(&'static str),
    /// Bytes that are not a valid command APDU (card side).
    #[error("malformed command APDU: {0}")]
    MalformedCommand(&'static str),
    /// A status word the operation did not expect.
    #[error("the card answered {command} with status {sw}")]
    UnexpectedStatus {
        /// The command that failed (`SELECT`, `READ BINARY`, …).
        command: &'static str,
        /// The status word.
        sw: StatusWord,
    },
    /// A file named by the profile or by PKCS#15 is not on the card.
    #[error("file {0} not found on the card")]
    FileNotFound(String),
    /// The card refused an operation because the PIN was not verified.
    #[error("the card requires PIN verification before {0}")]
    SecurityStatusNotSatisfied(&'static str),
    /// A wrong PIN; the card has `retries_left` tries before it blocks the PIN.
    #[error("wrong PIN; {retries_left} tries left")]
    PinIncorrect {
        /// Tries left.
        retries_left: u8,
    },
    /// The PIN is blocked after too many wrong tries.
    #[error("the PIN is blocked")]
    PinBlocked,
    /// The PIN does not have the length this card requires.
    #[error("this PIN must have {min} to {max} digits")]
    PinFormat {
        /// Fewest digits.
        min: usize,
        /// Most digits.
        max: usize,
    },
    /// The signature PIN has not been set from the transport PIN yet.
    #[error("the signature PIN has not been set yet (set it from the transport PIN first)")]
    PinNotSet,
    /// The signature PIN has already been set; the transport PIN no longer works.
    #[error("the signature PIN has already been set; change it with the current signature PIN")]
    PinAlreadySet,
    /// The PUK cannot reset the signature PIN (a rule of the Georgian card).
    #[error("the PUK cannot unblock or reset the signature PIN; visit a House of Justice")]
    PukCannotResetSigningPin,
    /// The user cancelled PIN entry on the PIN pad.
    #[error("PIN entry was cancelled on the PIN pad")]
    PinPadCancelled,
    /// The reader has no PIN pad (FEATURE_VERIFY_PIN_DIRECT).
    #[error("the reader has no PIN pad")]
    NoPinPad,
    /// BER-TLV data is malformed.
    #[error("malformed BER-TLV at offset {offset}: {reason}")]
    MalformedTlv {
        /// Byte offset of the problem.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A PKCS#15 structure is malformed or lacks a required object.
    #[error("PKCS#15 structure: {0}")]
    Pkcs15(String),
    /// The ATR bytes are malformed.
    #[error("malformed ATR: {0}")]
    MalformedAtr(&'static str),
    /// A certificate read from the card is not valid DER X.509.
    #[error("the certificate on the card cannot be read: {0}")]
    MalformedCertificate(String),
    /// The card returned a signature of the wrong size or form.
    #[error("the card returned an unusable signature: {0}")]
    MalformedSignature(String),
    /// The key type of a certificate is not one this version can use.
    #[error("unsupported key in the card certificate: {0}")]
    UnsupportedKey(String),
    /// The digest has the wrong length for the hash function.
    #[error("a {hash} digest has {expected} bytes, not {actual}")]
    DigestLength {
        /// The hash function.
        hash: &'static str,
        /// Its output length.
        expected: usize,
        /// The length given.
        actual: usize,
    },
    /// A PKCS#11 module call failed.
    #[error("PKCS#11: {0}")]
    Pkcs11(String),
    /// Not implemented in this build.
    #[error("{0} is not implemented in this version")]
    NotImplemented(&'static str),
}

impl CardError {
    /// The stable wire code for this error.
    pub fn code(&self) -> ErrorCode {
        use CardError::*;
        match self {
            PcscUnavailable => ErrorCode::PcscUnavailable,
            NoReader | ReaderNotFound(_) => ErrorCode::NoReader,
            NoCard => ErrorCode::NoCard,
            SeveralCards(_) => ErrorCode::SeveralCards,
            UnsupportedCard { .. } | UnsupportedKey(_) => ErrorCode::UnsupportedCard,
            CardRemoved | CardReset => ErrorCode::CardRemoved,
            CardInUse => ErrorCode::Busy,
            Timeout(_) => ErrorCode::Timeout,
            PinIncorrect { .. } => ErrorCode::PinIncorrect,
            PinBlocked => ErrorCode::PinBlocked,
            PinFormat { .. } => ErrorCode::PinFormat,
            PinNotSet => ErrorCode::PinNotSet,
            PinAlreadySet | PukCannotResetSigningPin | DigestLength { .. } => {
                ErrorCode::InvalidArgument
            }
            PinPadCancelled => ErrorCode::UserCancelled,
            NotImplemented(_) | NoPinPad => ErrorCode::NotImplemented,
            Pcsc { .. } | Pkcs11(_) | InvalidCommand(_) => ErrorCode::Internal,
            ResponseTooShort(_)
            | ResponseTooLong { .. }
            | ResponseChainTooLong(_)
            | MalformedCommand(_)
            | UnexpectedStatus { .. }
            | FileNotFound(_)
            | SecurityStatusNotSatisfied(_)
            | MalformedTlv { .. }
            | Pkcs15(_)
            | MalformedAtr(_)
            | MalformedCertificate(_)
            | MalformedSignature(_) => ErrorCode::CardError,
        }
    }

    /// Tries left for [`CardError::PinIncorrect`], `Some(0)` for a blocked PIN.
    pub fn retries_left(&self) -> Option<u8> {
        match self {
            CardError::PinIncorrect { retries_left } => Some(*retries_left),
            CardError::PinBlocked => Some(0),
            _ => None,
        }
    }
}
