//! Card detection by answer to reset (ISO/IEC 7816-3 §8.2) and the table of supported cards.
//!
//! An entry matches exactly or under a mask (`atr & mask == value & mask`), as Web eID's and
//! OpenSC's tables do, so that a card batch with other timing bytes is still recognised.

use crate::profile::{CardProfile, Generation};
use crate::CardError;

/// One row of the ATR table.
#[derive(Clone, Debug)]
pub struct AtrEntry {
    /// The ATR bytes.
    pub atr: &'static [u8],
    /// `None` for an exact match; otherwise a mask of the same length.
    pub mask: Option<&'static [u8]>,
    /// The card generation it identifies.
    pub generation: Generation,
}

impl AtrEntry {
    /// Whether `atr` matches this entry.
    pub fn matches(&self, atr: &[u8]) -> bool {
        if atr.len() != self.atr.len() {
            return false;
        }
        match self.mask {
            None => atr == self.atr,
            Some(mask) => atr
                .iter()
                .zip(self.atr)
                .zip(mask)
                .all(|((a, v), m)| a & m == v & m),
        }
    }
}

/// First generation Georgian ID card (2011, historical bytes carry "GE1"). Public.
pub const ATR_GE1: &[u8] = &[
    0x3B, 0xFD, 0x18, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x45, 0x80, 0x31, 0x81, 0x53, 0x47, 0x45, 0x31,
    0x73, 0x84, 0x21, 0xC0, 0x81, 0x07, 0x2E,
];

/// New Georgian ID card (2025, JavaCard, historical bytes "GeorgiaEIDv1"). Public.
pub const ATR_GEID_V1: &[u8] = &[
    0x3B, 0xDC, 0x96, 0xFF, 0x81, 0x11, 0xFE, 0x47, 0x65, 0x6F, 0x72, 0x67, 0x69, 0x61, 0x45, 0x49,
    0x44, 0x76, 0x31, 0x84,
];

/// The same card with any TA1 (clock rate / baud adjustment) and any TCK, since both depend on
/// the chip batch and not on the applet.
const MASK_GEID_V1: &[u8] = &[
    0xFF, 0xFF, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0x00,
];

/// The supported cards.
pub const ATR_TABLE: &[AtrEntry] = &[
    AtrEntry {
        atr: ATR_GE1,
        mask: None,
        generation: Generation::Ge1,
    },
    AtrEntry {
        atr: ATR_GEID_V1,
        mask: None,
        generation: Generation::GeorgiaEidV1,
    },
    AtrEntry {
        atr: ATR_GEID_V1,
        mask: Some(MASK_GEID_V1),
        generation: Generation::GeorgiaEidV1,
    },
];

/// The generation of a supported card, by ATR.
pub fn identify(atr: &[u8]) -> Option<Generation> {
    ATR_TABLE
        .iter()
        .find(|e| e.matches(atr))
        .map(|e| e.generation)
}

/// The profile for `atr`, or [`CardError::UnsupportedCard`].
pub fn profile_for(atr: &[u8]) -> Result<CardProfile, CardError> {
    identify(atr)
        .map(CardProfile::for_generation)
        .ok_or_else(|| CardError::UnsupportedCard {
            atr: crate::apdu::hex(atr),
        })
}

/// The historical bytes of an ATR (ISO 7816-3 §8.2.2), skipping the interface bytes.
pub fn historical_bytes(atr: &[u8]) -> Result<&[u8], CardError> {
    if atr.len() < 2 {
        return Err(CardError::MalformedAtr("shorter than TS and T0"));
    }
    let k = usize::from(atr[1] & 0x0F);
    let mut y = atr[1] >> 4;
    let mut pos = 2;
    loop {
        let n = (y & 1) + ((y >> 1) & 1) + ((y >> 2) & 1);
        pos += usize::from(n);
        if y & 0x8 == 0 {
            break;
        }
        let td = *atr
            .get(pos)
            .ok_or(CardError::MalformedAtr("interface bytes run past the end"))?;
        pos += 1;
        y = td >> 4;
    }
    atr.get(pos..pos + k)
        .ok_or(CardError::MalformedAtr("historical bytes run past the end"))
}

/// Whether the card announces extended Lc/Le in its card capabilities (ISO 7816-4 §8.1.1.2.7:
/// compact-TLV tag `7`, third software-function byte, bit 7). `false` when absent.
pub fn announces_extended_length(atr: &[u8]) -> bool {
    let Ok(hist) = historical_bytes(atr) else {
        return false;
    };
    if hist.first() != Some(&0x80) {
        return false;
    }
    let mut pos = 1;
    while pos < hist.len() {
        let tag = hist[pos] >> 4;
        let len = usize::from(hist[pos] & 0x0F);
        let Some(value) = hist.get(pos + 1..pos + 1 + len) else {
            return false;
        };
        if tag == 0x7 && len >= 3 {
            return value[2] & 0x40 != 0;
        }
        pos += 1 + len;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_georgian_atrs_are_recognised() {
        assert_eq!(identify(ATR_GE1), Some(Generation::Ge1));
        assert_eq!(identify(ATR_GEID_V1), Some(Generation::GeorgiaEidV1));
        let mut other_batch = ATR_GEID_V1.to_vec();
        other_batch[2] = 0x13;
        other_batch[19] = 0x00;
        assert_eq!(identify(&other_batch), Some(Generation::GeorgiaEidV1));
        let mut ge1_changed = ATR_GE1.to_vec();
        ge1_changed[14] = b'X';
        assert_eq!(identify(&ge1_changed), None);
        assert!(matches!(
            profile_for(&[0x3B, 0x00]),
            Err(CardError::UnsupportedCard { .. })
        ));
    }

    #[test]
    fn historical_bytes_and_capabilities() {
        assert_eq!(historical_bytes(ATR_GEID_V1).unwrap(), b"GeorgiaEIDv1");
        assert_eq!(
            historical_bytes(ATR_GE1).unwrap()[..4],
            [0x80, 0x31, 0x81, 0x53]
        );
        assert!(announces_extended_length(ATR_GE1));
        assert!(!announces_extended_length(ATR_GEID_V1));
        assert!(historical_bytes(&[0x3B]).is_err());
        assert!(historical_bytes(&[0x3B, 0xF5, 1]).is_err());
    }
}
