//! PIN entry on a PIN-pad reader: FEATURE_VERIFY_PIN_DIRECT (PC/SC part 10 §2.5.2,
//! `PIN_VERIFY_STRUCTURE`). The PIN never passes through the host: the reader fills the digits
//! into the APDU template and sends it to the card itself.

use crate::profile::{PinPadding, PinSpec};

/// Seconds the reader waits for the first key (Web eID uses 90 s).
pub const PIN_PAD_TIMEOUT_SECS: u8 = 90;

/// Builds the `PIN_VERIFY_STRUCTURE` for a VERIFY of `spec` with class `cla`.
pub fn verify_pin_direct(cla: u8, spec: &PinSpec, timeout_secs: u8) -> Vec<u8> {
    let (block_len, template) = match spec.padding.value {
        PinPadding::Pad { byte, length } => (length, vec![byte; usize::from(length)]),
        PinPadding::None => (0, Vec::new()),
    };
    let mut apdu = vec![cla, 0x20, 0x00, spec.reference.value];
    if !template.is_empty() {
        apdu.push(template.len() as u8);
        apdu.extend_from_slice(&template);
    }
    let mut s = vec![
        timeout_secs,
        timeout_secs,
        0x82,             // bmFormatString: byte units, position 0, left justified, ASCII
        block_len & 0x0F, // bmPINBlockString: no length field, block size in bytes
        0x00,             // bmPINLengthFormat: no PIN length in the block
        spec.length.value.1,
        spec.length.value.0, // wPINMaxExtraDigit (little endian: max, then min)
        0x02,                // bEntryValidationCondition: validation key pressed
        0x01,                // bNumberMessage
        0x09,
        0x04, // wLangId 0x0409 (little endian)
        0x00, // bMsgIndex
        0x00,
        0x00,
        0x00, // bTeoPrologue
    ];
    s.extend_from_slice(&(apdu.len() as u32).to_le_bytes());
    s.extend_from_slice(&apdu);
    s
}

/// The parts of a `PIN_VERIFY_STRUCTURE` a (virtual) reader needs: `(min, max, apdu)`.
pub fn parse_verify_pin_direct(s: &[u8]) -> Option<(u8, u8, Vec<u8>)> {
    let len = u32::from_le_bytes(s.get(15..19)?.try_into().ok()?) as usize;
    let apdu = s.get(19..19 + len)?.to_vec();
    Some((*s.get(6)?, *s.get(5)?, apdu))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{CardProfile, Generation};

    #[test]
    fn structure_layout() {
        let p = CardProfile::for_generation(Generation::Ge1);
        let s = verify_pin_direct(0x00, &p.auth_pin, 30);
        assert_eq!(s[2], 0x82);
        assert_eq!(s[3], 8);
        assert_eq!((s[5], s[6]), (4, 4));
        let (min, max, apdu) = parse_verify_pin_direct(&s).unwrap();
        assert_eq!((min, max), (4, 4));
        assert_eq!(apdu[..5], [0x00, 0x20, 0x00, p.auth_pin.reference.value, 8]);
        assert_eq!(apdu.len(), 13);
    }
}
