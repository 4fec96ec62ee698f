//! The login challenge nonce.
//!
//! A portal issues a fresh nonce per login attempt; the card signs it together with the origin,
//! so a token cannot be replayed on another site or for another attempt. Web eID uses 32 random
//! bytes in standard base64 (44 characters) and accepts 44–128 characters; so does geid.

use std::fmt;

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Bytes of randomness in a nonce geid generates.
pub const NONCE_BYTES: usize = 32;
/// Shortest accepted nonce, in characters (32 bytes in base64).
pub const NONCE_MIN_LEN: usize = 44;
/// Longest accepted nonce, in characters.
pub const NONCE_MAX_LEN: usize = 128;

/// A challenge nonce: 44–128 characters of the standard base64 alphabet.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ChallengeNonce(String);

/// Why a string is not a valid challenge nonce.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NonceError {
    /// Fewer than 44 characters.
    #[error("challenge nonce is {len} characters; at least {NONCE_MIN_LEN} are required")]
    TooShort {
        /// The length found.
        len: usize,
    },
    /// More than 128 characters.
    #[error("challenge nonce is {len} characters; at most {NONCE_MAX_LEN} are allowed")]
    TooLong {
        /// The length found.
        len: usize,
    },
    /// A character outside `A–Z a–z 0–9 + / =`.
    #[error("challenge nonce has a character outside the base64 alphabet at position {position}")]
    InvalidCharacter {
        /// Zero-based character position.
        position: usize,
    },
    /// `=` somewhere other than the last one or two characters.
    #[error("challenge nonce has '=' padding before its end")]
    MisplacedPadding,
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed: {0}")]
    Random(String),
}

impl ChallengeNonce {
    /// Generates a nonce from 32 bytes of the operating system's CSPRNG.
    pub fn generate() -> Result<ChallengeNonce, NonceError> {
        let mut bytes = [0u8; NONCE_BYTES];
        getrandom::getrandom(&mut bytes).map_err(|e| NonceError::Random(e.to_string()))?;
        Ok(ChallengeNonce(
            base64::engine::general_purpose::STANDARD.encode(bytes),
        ))
    }

    /// Parses a nonce received from elsewhere (a page, a token request).
    pub fn parse(s: &str) -> Result<ChallengeNonce, NonceError> {
        // Count characters, not bytes, so the error speaks of what a person sees; any
        // non-ASCII character is rejected below anyway.
        let len = s.chars().count();
        if len < NONCE_MIN_LEN {
            return Err(NonceError::TooShort { len });
        }
        if len > NONCE_MAX_LEN {
            return Err(NonceError::TooLong { len });
        }
        let body = s.trim_end_matches('=');
        if s.len() - body.len() > 2 {
            return Err(NonceError::MisplacedPadding);
        }
        for (position, c) in body.chars().enumerate() {
            match c {
                'A'..='Z' | 'a'..='z' | '0'..='9' | '+' | '/' => {}
                '=' => return Err(NonceError::MisplacedPadding),
                _ => return Err(NonceError::InvalidCharacter { position }),
            }
        }
        Ok(ChallengeNonce(s.to_owned()))
    }

    /// The nonce as sent on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChallengeNonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Debug shows only the length: nonces do not belong in logs.
impl fmt::Debug for ChallengeNonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChallengeNonce(<{} chars>)", self.0.len())
    }
}

impl std::str::FromStr for ChallengeNonce {
    type Err = NonceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ChallengeNonce::parse(s)
    }
}

impl Serialize for ChallengeNonce {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ChallengeNonce {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        ChallengeNonce::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_nonce_is_44_chars_32_bytes_and_fresh() {
        let a = ChallengeNonce::generate().unwrap();
        let b = ChallengeNonce::generate().unwrap();
        assert_eq!(a.as_str().len(), 44);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(a.as_str())
            .unwrap();
        assert_eq!(bytes.len(), 32);
        assert_ne!(a, b);
        assert_eq!(ChallengeNonce::parse(a.as_str()).unwrap(), a);
    }

    #[test]
    fn rejects_bad_nonces_with_the_reason() {
        assert_eq!(
            ChallengeNonce::parse(""),
            Err(NonceError::TooShort { len: 0 })
        );
        assert_eq!(
            ChallengeNonce::parse(&"A".repeat(43)),
            Err(NonceError::TooShort { len: 43 })
        );
        assert_eq!(
            ChallengeNonce::parse(&"A".repeat(129)),
            Err(NonceError::TooLong { len: 129 })
        );
        assert!(ChallengeNonce::parse(&"A".repeat(128)).is_ok());
        let mut s = "A".repeat(44);
        s.replace_range(10..11, "-");
        assert_eq!(
            ChallengeNonce::parse(&s),
            Err(NonceError::InvalidCharacter { position: 10 })
        );
        let s = format!("{}_", "A".repeat(43));
        assert_eq!(
            ChallengeNonce::parse(&s),
            Err(NonceError::InvalidCharacter { position: 43 })
        );
        let s = format!("{}={}", "A".repeat(22), "A".repeat(22));
        assert_eq!(ChallengeNonce::parse(&s), Err(NonceError::MisplacedPadding));
        let s = format!("{}===", "A".repeat(42));
        assert_eq!(ChallengeNonce::parse(&s), Err(NonceError::MisplacedPadding));
        // Non-ASCII is counted in characters and rejected by position.
        let s = format!("{}ა", "A".repeat(43));
        assert_eq!(
            ChallengeNonce::parse(&s),
            Err(NonceError::InvalidCharacter { position: 43 })
        );
        // Whitespace is not silently trimmed.
        let s = format!(" {}", "A".repeat(44));
        assert_eq!(
            ChallengeNonce::parse(&s),
            Err(NonceError::InvalidCharacter { position: 0 })
        );
    }

    #[test]
    fn debug_does_not_print_the_nonce() {
        let n = ChallengeNonce::generate().unwrap();
        let dbg = format!("{n:?}");
        assert!(!dbg.contains(n.as_str()));
    }

    #[test]
    fn serde_validates() {
        let ok = format!("\"{}\"", "a".repeat(44));
        assert!(serde_json::from_str::<ChallengeNonce>(&ok).is_ok());
        assert!(serde_json::from_str::<ChallengeNonce>("\"short\"").is_err());
        assert!(serde_json::from_str::<ChallengeNonce>("42").is_err());
    }

    proptest! {
        #[test]
        fn base64_of_32_to_96_bytes_round_trips(bytes in prop::collection::vec(any::<u8>(), 32..=96)) {
            let s = base64::engine::general_purpose::STANDARD.encode(&bytes);
            let n = ChallengeNonce::parse(&s).unwrap();
            prop_assert_eq!(n.as_str(), s.as_str());
            let json = serde_json::to_string(&n).unwrap();
            prop_assert_eq!(serde_json::from_str::<ChallengeNonce>(&json).unwrap(), n);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,200}") {
            let _ = ChallengeNonce::parse(&s);
        }
    }
}
