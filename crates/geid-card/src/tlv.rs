//! BER-TLV as smart cards use it (ISO/IEC 7816-4 §5.2; X.690 §8.1 for tags and lengths).
//!
//! Used for FCP templates, MSE control reference templates, PKCS#15 directory files and the
//! PIN-pad feature list. The parser never panics and never recurses without bound: every
//! malformation is a [`CardError::MalformedTlv`] with the offset where it was found.

use crate::CardError;

/// One BER-TLV data object: its tag (the tag bytes read as a big-endian number, e.g. `0x5F20`)
/// and its value bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tlv {
    /// The tag bytes as a number (`0x62`, `0x5F20`, `0x9F7F`).
    pub tag: u32,
    /// The value field.
    pub value: Vec<u8>,
}

impl Tlv {
    /// A data object.
    pub fn new(tag: u32, value: impl Into<Vec<u8>>) -> Tlv {
        Tlv {
            tag,
            value: value.into(),
        }
    }

    /// A constructed object holding `children`.
    pub fn constructed(tag: u32, children: &[Tlv]) -> Tlv {
        Tlv {
            tag,
            value: encode_all(children),
        }
    }

    /// Whether the tag says constructed (bit 6 of the first tag byte).
    pub fn is_constructed(&self) -> bool {
        first_tag_byte(self.tag) & 0x20 != 0
    }

    /// Parses the value as a sequence of data objects.
    pub fn children(&self) -> Result<Vec<Tlv>, CardError> {
        parse_all(&self.value)
    }

    /// The encoding `tag || length || value`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.value.len() + 8);
        self.encode_into(&mut out);
        out
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        let tag = self.tag.to_be_bytes();
        let skip = tag.iter().take_while(|b| **b == 0).count().min(3);
        out.extend_from_slice(&tag[skip..]);
        encode_length(self.value.len(), out);
        out.extend_from_slice(&self.value);
    }

    /// The value read as an unsigned big-endian integer (at most 8 bytes).
    pub fn as_uint(&self) -> Result<u64, CardError> {
        if self.value.is_empty() || self.value.len() > 8 {
            return Err(CardError::MalformedTlv {
                offset: 0,
                reason: "integer of 0 or more than 8 bytes",
            });
        }
        Ok(self
            .value
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }
}

fn first_tag_byte(tag: u32) -> u8 {
    let bytes = tag.to_be_bytes();
    bytes.iter().copied().find(|b| *b != 0).unwrap_or(0)
}

/// Appends a definite length (short form up to 127, then `81`, `82`, `83`).
pub fn encode_length(len: usize, out: &mut Vec<u8>) {
    match len {
        0..=0x7F => out.push(len as u8),
        0x80..=0xFF => out.extend_from_slice(&[0x81, len as u8]),
        0x100..=0xFFFF => out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]),
        _ => out.extend_from_slice(&[0x83, (len >> 16) as u8, (len >> 8) as u8, len as u8]),
    }
}

/// Encodes a sequence of data objects.
pub fn encode_all(objects: &[Tlv]) -> Vec<u8> {
    let mut out = Vec::new();
    for o in objects {
        o.encode_into(&mut out);
    }
    out
}

/// Reads a tag and a length at `pos`; returns `(tag, value_start, value_len)`.
pub fn read_header(data: &[u8], mut pos: usize) -> Result<(u32, usize, usize), CardError> {
    let err = |offset, reason| CardError::MalformedTlv { offset, reason };
    let first = *data.get(pos).ok_or(err(pos, "missing tag"))?;
    let mut tag = u32::from(first);
    pos += 1;
    if first & 0x1F == 0x1F {
        let mut n = 0;
        loop {
            let b = *data.get(pos).ok_or(err(pos, "tag runs past the end"))?;
            n += 1;
            if n > 3 {
                return Err(err(pos, "tag longer than 4 bytes"));
            }
            tag = (tag << 8) | u32::from(b);
            pos += 1;
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    let l0 = *data.get(pos).ok_or(err(pos, "missing length"))?;
    pos += 1;
    let len = match l0 {
        0..=0x7F => usize::from(l0),
        0x80 => return Err(err(pos - 1, "indefinite length is not allowed")),
        0x81..=0x83 => {
            let n = usize::from(l0 & 0x7F);
            let bytes = data
                .get(pos..pos + n)
                .ok_or(err(pos, "length runs past the end"))?;
            pos += n;
            bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
        }
        _ => return Err(err(pos - 1, "length field longer than 3 bytes")),
    };
    if data.len() - pos < len {
        return Err(err(pos, "value runs past the end"));
    }
    Ok((tag, pos, len))
}

/// Parses a sequence of data objects, skipping `00` and `FF` padding between them
/// (ISO 7816-4 §5.2).
pub fn parse_all(data: &[u8]) -> Result<Vec<Tlv>, CardError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        if data[pos] == 0x00 || data[pos] == 0xFF {
            pos += 1;
            continue;
        }
        let (tag, start, len) = read_header(data, pos)?;
        out.push(Tlv {
            tag,
            value: data[start..start + len].to_vec(),
        });
        pos = start + len;
    }
    Ok(out)
}

/// The first object with `tag` in a sequence.
pub fn find(objects: &[Tlv], tag: u32) -> Option<&Tlv> {
    objects.iter().find(|o| o.tag == tag)
}

/// Finds `tag` anywhere in the tree under `data` (depth-first; at most 8 levels).
pub fn find_deep(data: &[u8], tag: u32) -> Result<Option<Tlv>, CardError> {
    fn walk(data: &[u8], tag: u32, depth: u8) -> Result<Option<Tlv>, CardError> {
        for o in parse_all(data)? {
            if o.tag == tag {
                return Ok(Some(o));
            }
            if o.is_constructed() && depth < 8 {
                if let Some(found) = walk(&o.value, tag, depth + 1)? {
                    return Ok(Some(found));
                }
            }
        }
        Ok(None)
    }
    walk(data, tag, 0)
}

/// The total length (header + value) of the DER object at the start of `data`, from as few
/// bytes as its header needs; used to size a certificate from its first bytes.
pub fn object_length(data: &[u8]) -> Result<usize, CardError> {
    // Only the header is needed: accept data shorter than the object.
    let err = |offset, reason| CardError::MalformedTlv { offset, reason };
    let l0 = *data.get(1).ok_or(err(1, "missing length"))?;
    let (hdr, len) = match l0 {
        0..=0x7F => (2, usize::from(l0)),
        0x81..=0x83 => {
            let n = usize::from(l0 & 0x7F);
            let bytes = data
                .get(2..2 + n)
                .ok_or(err(2, "length runs past the end"))?;
            (
                2 + n,
                bytes
                    .iter()
                    .fold(0usize, |acc, b| (acc << 8) | usize::from(*b)),
            )
        }
        _ => return Err(err(1, "unsupported length form")),
    };
    Ok(hdr + len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_an_fcp() {
        let fcp = [
            0x62, 0x0A, 0x80, 0x02, 0x06, 0x1E, 0x82, 0x01, 0x01, 0x83, 0x01, 0x34,
        ];
        let top = parse_all(&fcp).unwrap();
        assert_eq!(top.len(), 1);
        let kids = top[0].children().unwrap();
        assert_eq!(find(&kids, 0x80).unwrap().as_uint().unwrap(), 0x061E);
        assert!(find_deep(&fcp, 0x83).unwrap().is_some());
    }

    #[test]
    fn multi_byte_tags_and_long_lengths() {
        let t = Tlv::new(0x5F20, vec![0xAA; 300]);
        let b = t.to_bytes();
        assert_eq!(b[..5], [0x5F, 0x20, 0x82, 0x01, 0x2C]);
        assert_eq!(parse_all(&b).unwrap(), vec![t]);
        assert_eq!(object_length(&[0x30, 0x82, 0x05, 0x00]).unwrap(), 0x504);
    }

    #[test]
    fn malformations_are_errors() {
        for bad in [
            &[0x62][..],
            &[0x62, 0x05, 1],
            &[0x5F],
            &[0x62, 0x80],
            &[0x62, 0x84, 1, 1, 1, 1],
            &[0x62, 0x82, 1],
        ] {
            assert!(
                matches!(parse_all(bad), Err(CardError::MalformedTlv { .. })),
                "{bad:?}"
            );
        }
        assert!(parse_all(&[0x1F, 0x81, 0x81, 0x81, 0x81, 0x01, 0x00]).is_err());
        assert_eq!(parse_all(&[0, 0, 0xFF]).unwrap(), vec![]);
    }

    fn tag_strategy() -> impl Strategy<Value = u32> {
        prop_oneof![
            (1u32..=0xFE).prop_filter("no padding or multi-byte marker", |t| t & 0x1F != 0x1F),
            (0u32..7, 0x1Fu32..0x80).prop_map(|(c, b)| ((c << 5 | 0x1F) << 8) | b),
            (0u32..7, 0x81u32..0x100, 0u32..0x80)
                .prop_map(|(c, b, d)| ((c << 5 | 0x1F) << 16) | (b << 8) | d),
        ]
    }

    proptest! {
        #[test]
        fn round_trip(objects in prop::collection::vec(
            (tag_strategy(), prop::collection::vec(any::<u8>(), 0..400)).prop_map(|(t, v)| Tlv::new(t, v)),
            0..6,
        )) {
            let bytes = encode_all(&objects);
            prop_assert_eq!(parse_all(&bytes).unwrap(), objects);
        }

        #[test]
        fn parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_all(&bytes);
            let _ = find_deep(&bytes, 0x80);
            let _ = object_length(&bytes);
        }
    }
}
