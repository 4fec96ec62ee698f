//! PINs in memory: zeroised on drop, never printed.

use std::fmt;

use zeroize::Zeroizing;

/// Shortest PIN any card uses (ISO 9564-1).
pub const PIN_MIN_LEN: usize = 4;
/// Longest PIN any card uses (ISO 9564-1).
pub const PIN_MAX_LEN: usize = 12;

/// A PIN of 4–12 ASCII digits.
///
/// The digits live in a buffer that is zeroised when the value is dropped. There is no
/// `Display`, and `Debug` prints neither the digits nor their number. Code that sends the PIN to
/// a card takes it by value, so it is dropped (and wiped) as soon as it has been used.
pub struct Pin(Zeroizing<Vec<u8>>);

/// Why a string is not a PIN. The messages never contain the PIN.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PinFormatError {
    /// A character other than `0`–`9`.
    #[error("a PIN consists of digits only")]
    NotDigits,
    /// Fewer than 4 or more than 12 digits.
    #[error("a PIN has {PIN_MIN_LEN} to {PIN_MAX_LEN} digits")]
    Length,
}

impl Pin {
    /// Makes a PIN from a string of digits. The caller should zeroise its own copy.
    pub fn new(digits: &str) -> Result<Pin, PinFormatError> {
        Pin::from_bytes(digits.as_bytes())
    }

    /// Makes a PIN from ASCII digit bytes.
    pub fn from_bytes(digits: &[u8]) -> Result<Pin, PinFormatError> {
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(PinFormatError::NotDigits);
        }
        if !(PIN_MIN_LEN..=PIN_MAX_LEN).contains(&digits.len()) {
            return Err(PinFormatError::Length);
        }
        Ok(Pin(Zeroizing::new(digits.to_vec())))
    }

    /// Number of digits.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always `false`: a PIN has at least four digits.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The ASCII digits, for the code that formats the VERIFY command.
    pub fn expose_digits(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_digits_within_limits() {
        assert_eq!(Pin::new("1234").unwrap().len(), 4);
        assert_eq!(Pin::new("123456789012").unwrap().len(), 12);
        assert_eq!(Pin::new("0000").unwrap().expose_digits(), b"0000");
    }

    #[test]
    fn rejects_without_echoing() {
        assert_eq!(Pin::new("123").unwrap_err(), PinFormatError::Length);
        assert_eq!(
            Pin::new("1234567890123").unwrap_err(),
            PinFormatError::Length
        );
        assert_eq!(Pin::new("12a4").unwrap_err(), PinFormatError::NotDigits);
        assert_eq!(Pin::new("١٢٣٤").unwrap_err(), PinFormatError::NotDigits);
        assert_eq!(Pin::new("").unwrap_err(), PinFormatError::Length);
        let msg = Pin::new("98x76").unwrap_err().to_string();
        assert!(!msg.contains("98"));
    }

    #[test]
    fn debug_hides_digits_and_length() {
        let p = Pin::new("4711").unwrap();
        let s = format!("{p:?}");
        assert!(!s.contains("4711"));
        assert!(!s.contains('4'));
    }
}
