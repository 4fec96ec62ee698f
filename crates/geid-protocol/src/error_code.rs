//! The stable error codes every geid component speaks.
//!
//! A code crosses process and language boundaries (host → extension → page → portal), so the
//! wire string of a variant never changes once released. New codes may be added; readers that
//! meet a code they do not know keep it as [`ErrorCode::Other`] rather than failing.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = $wire:literal, $action:literal; )*) => {
        /// A stable, machine-readable error code.
        ///
        /// The wire form is the upper-case string shown on each variant (see `docs/protocol.md`).
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
            /// A code this version does not know, kept verbatim.
            Other(String),
        }

        impl ErrorCode {
            /// Every code this version knows, in documentation order.
            pub const ALL: &'static [ErrorCode] = &[ $( ErrorCode::$variant, )* ];

            /// The wire string, e.g. `"PIN_INCORRECT"`.
            pub fn as_str(&self) -> &str {
                match self {
                    $( ErrorCode::$variant => $wire, )*
                    ErrorCode::Other(s) => s,
                }
            }

            /// What the person in front of the screen should do about it, in English.
            pub fn user_action(&self) -> &'static str {
                match self {
                    $( ErrorCode::$variant => $action, )*
                    ErrorCode::Other(_) => "Update geid; this version does not know this error.",
                }
            }

            /// Parses a wire string; unknown strings become [`ErrorCode::Other`].
            pub fn from_wire(s: &str) -> ErrorCode {
                match s {
                    $( $wire => ErrorCode::$variant, )*
                    other => ErrorCode::Other(other.to_owned()),
                }
            }
        }
    };
}

error_codes! {
    /// The user closed the PIN window, pressed cancel, or the page sent `cancel`.
    UserCancelled = "USER_CANCELLED", "Nothing to do; start again when ready.";
    /// The user did not act in time (PIN entry, card insertion, PIN-pad entry).
    Timeout = "TIMEOUT", "Start again and complete the step within the time shown.";
    /// No smart-card reader is connected.
    NoReader = "NO_READER", "Connect a smart-card reader and try again.";
    /// Readers are connected but none holds a card.
    NoCard = "NO_CARD", "Insert the ID card into the reader and try again.";
    /// More than one reader holds a supported card and none was chosen.
    SeveralCards = "SEVERAL_CARDS", "Remove all ID cards but one, or choose the reader.";
    /// The card in the reader is not a supported ID card.
    UnsupportedCard = "UNSUPPORTED_CARD", "Insert a Georgian ID card (or another supported card).";
    /// The card was removed (or reset by another program) during the operation.
    CardRemoved = "CARD_REMOVED", "Leave the card in the reader until the operation ends, then try again.";
    /// The card answered in an unexpected way.
    CardError = "CARD_ERROR", "Remove and re-insert the card; if it repeats, the card may be damaged.";
    /// The PIN was wrong; `retriesLeft` says how many tries remain.
    PinIncorrect = "PIN_INCORRECT", "Enter the PIN again carefully; the card blocks the PIN after the last try.";
    /// The PIN is blocked after too many wrong tries.
    PinBlocked = "PIN_BLOCKED", "Unblock the PIN with the PUK, or visit a House of Justice.";
    /// The PIN has the wrong length or characters for this card.
    PinFormat = "PIN_FORMAT", "Enter a PIN with the number of digits the window shows.";
    /// The PIN still has to be set from the transport PIN before the key can be used.
    PinNotSet = "PIN_NOT_SET", "Set your signature PIN with `geid pin change` (transport PIN first).";
    /// The PC/SC service (pcscd on Linux) is not running or not reachable.
    PcscUnavailable = "PCSC_UNAVAILABLE", "Start the smart-card service (pcscd) and try again.";
    /// The calling extension or the requesting origin is not allowed.
    OriginNotAllowed = "ORIGIN_NOT_ALLOWED", "Use the official geid extension on an https page.";
    /// A request argument is missing, of the wrong type or out of range.
    InvalidArgument = "INVALID_ARGUMENT", "A software error in the page or extension; report it to the site.";
    /// A message could not be read: not JSON, not an object, bad framing.
    InvalidMessage = "INVALID_MESSAGE", "A software error in the extension; reinstall or update it.";
    /// A message exceeded the size limit of its direction.
    MessageTooLarge = "MESSAGE_TOO_LARGE", "A software error in the extension; report it.";
    /// The command name is not one this host knows.
    UnknownCommand = "UNKNOWN_COMMAND", "Update geid so the host and extension versions match.";
    /// Another card operation is running in this host.
    Busy = "BUSY", "Finish or cancel the operation that is running, then try again.";
    /// The certificate given for signing is not the card's signing certificate.
    CertificateMismatch = "CERTIFICATE_MISMATCH", "Insert the card whose certificate the site asked for.";
    /// The operation is known but not implemented in this build.
    NotImplemented = "NOT_IMPLEMENTED", "Update geid; this version cannot do that yet.";
    /// A bug or an unexpected failure inside geid.
    Internal = "INTERNAL", "Try again; if it repeats, report it with the host log.";
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Ok(ErrorCode::from_wire(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn wire_strings_are_unique_upper_snake_and_round_trip() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "duplicate wire string {s}");
            assert!(s.chars().all(|c| c.is_ascii_uppercase() || c == '_'), "{s}");
            assert_eq!(&ErrorCode::from_wire(s), code);
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(json, format!("\"{s}\""));
            assert_eq!(&serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
            assert!(!code.user_action().is_empty());
        }
    }

    #[test]
    fn unknown_code_is_kept_verbatim() {
        let code: ErrorCode = serde_json::from_str("\"SOMETHING_NEW\"").unwrap();
        assert_eq!(code, ErrorCode::Other("SOMETHING_NEW".into()));
        assert_eq!(serde_json::to_string(&code).unwrap(), "\"SOMETHING_NEW\"");
    }
}
