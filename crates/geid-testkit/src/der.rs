//! A minimal DER writer and reader (ITU-T X.690 §8, §10) for test certificates.
//!
//! The `openssl` crate has typed builders for the common X.509 extensions but not for
//! certificatePolicies without a config string, qcStatements (ETSI EN 319 412-5 §4) or
//! id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1), and it cannot list a certificate's extensions
//! or tell which ASN.1 string type a name attribute uses. This module covers exactly that:
//! definite-length, single-byte-tag TLVs, enough to build those extension values and to
//! inspect certificates in tests. It is not a general ASN.1 library.

use crate::Error;

/// Universal tag: BOOLEAN.
pub const TAG_BOOLEAN: u8 = 0x01;
/// Universal tag: INTEGER.
pub const TAG_INTEGER: u8 = 0x02;
/// Universal tag: OCTET STRING.
pub const TAG_OCTET_STRING: u8 = 0x04;
/// Universal tag: NULL.
pub const TAG_NULL: u8 = 0x05;
/// Universal tag: OBJECT IDENTIFIER.
pub const TAG_OID: u8 = 0x06;
/// Universal tag: UTF8String.
pub const TAG_UTF8_STRING: u8 = 0x0c;
/// Universal tag: PrintableString.
pub const TAG_PRINTABLE_STRING: u8 = 0x13;
/// Universal tag: IA5String.
pub const TAG_IA5_STRING: u8 = 0x16;
/// Universal tag, constructed: SEQUENCE / SEQUENCE OF.
pub const TAG_SEQUENCE: u8 = 0x30;
/// Universal tag, constructed: SET / SET OF.
pub const TAG_SET: u8 = 0x31;

/// Encodes one TLV with a single-byte `tag` and definite length.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        // Short form; the cast cannot truncate because len < 0x80.
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let long = &bytes[skip..];
        out.push(0x80 | long.len() as u8);
        out.extend_from_slice(long);
    }
    out.extend_from_slice(content);
    out
}

/// Encodes a SEQUENCE whose content is the concatenation of `items` (already encoded).
pub fn sequence(items: &[Vec<u8>]) -> Vec<u8> {
    tlv(TAG_SEQUENCE, &items.concat())
}

/// Encodes NULL.
pub fn null() -> Vec<u8> {
    tlv(TAG_NULL, &[])
}

/// Encodes an OBJECT IDENTIFIER given in dotted form, e.g. `"1.3.6.1.5.5.7.1.3"` (X.690 §8.19).
pub fn oid(dotted: &str) -> Result<Vec<u8>, Error> {
    let bad = || Error::InvalidOid(dotted.to_owned());
    let arcs = dotted
        .split('.')
        .map(|arc| arc.parse::<u64>().map_err(|_| bad()))
        .collect::<Result<Vec<u64>, Error>>()?;
    let (first, second, rest) = match arcs.as_slice() {
        [first, second, rest @ ..] if *first <= 2 && (*first == 2 || *second < 40) => {
            (*first, *second, rest)
        }
        _ => return Err(bad()),
    };
    let mut content = Vec::new();
    let head = first
        .checked_mul(40)
        .and_then(|v| v.checked_add(second))
        .ok_or_else(bad)?;
    push_base128(&mut content, head);
    for arc in rest {
        push_base128(&mut content, *arc);
    }
    Ok(tlv(TAG_OID, &content))
}

fn push_base128(out: &mut Vec<u8>, mut value: u64) {
    let mut groups = [0u8; 10];
    let mut n = 0;
    loop {
        groups[n] = (value & 0x7f) as u8;
        n += 1;
        value >>= 7;
        if value == 0 {
            break;
        }
    }
    for i in (0..n).rev() {
        let more = if i > 0 { 0x80 } else { 0 };
        out.push(groups[i] | more);
    }
}

/// Decodes the content octets of an OBJECT IDENTIFIER into dotted form.
pub fn oid_to_string(content: &[u8]) -> Result<String, Error> {
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    for (i, byte) in content.iter().enumerate() {
        if value > (u64::MAX >> 7) {
            return Err(Error::MalformedDer("OID arc too large"));
        }
        value = (value << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        } else if i + 1 == content.len() {
            return Err(Error::MalformedDer("OID ends inside an arc"));
        }
    }
    if arcs.is_empty() {
        return Err(Error::MalformedDer("empty OID"));
    }
    Ok(arcs
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join("."))
}

/// One decoded TLV borrowed from its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The single tag byte (class, constructed bit and number).
    pub tag: u8,
    /// The content octets.
    pub content: &'a [u8],
    /// The whole encoding: tag, length and content.
    pub raw: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// Decodes one TLV from the start of `input`, returning it and the remaining bytes.
    pub fn parse(input: &'a [u8]) -> Result<(Tlv<'a>, &'a [u8]), Error> {
        let (&tag, rest) = input
            .split_first()
            .ok_or(Error::MalformedDer("missing tag"))?;
        if tag & 0x1f == 0x1f {
            return Err(Error::MalformedDer("multi-byte tags are not supported"));
        }
        let (&first, rest) = rest
            .split_first()
            .ok_or(Error::MalformedDer("missing length"))?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > std::mem::size_of::<usize>() || rest.len() < n {
                return Err(Error::MalformedDer("bad length"));
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, &rest[n..])
        };
        if rest.len() < len {
            return Err(Error::MalformedDer("content shorter than its length"));
        }
        let header = input.len() - rest.len();
        let tlv = Tlv {
            tag,
            content: &rest[..len],
            raw: &input[..header + len],
        };
        Ok((tlv, &rest[len..]))
    }

    /// Decodes `input` as exactly one TLV with nothing after it.
    pub fn parse_one(input: &'a [u8]) -> Result<Tlv<'a>, Error> {
        let (tlv, rest) = Tlv::parse(input)?;
        if !rest.is_empty() {
            return Err(Error::MalformedDer("trailing bytes"));
        }
        Ok(tlv)
    }

    /// Decodes the content of a constructed TLV as a list of TLVs.
    pub fn children(&self) -> Result<Vec<Tlv<'a>>, Error> {
        let mut items = Vec::new();
        let mut rest = self.content;
        while !rest.is_empty() {
            let (item, next) = Tlv::parse(rest)?;
            items.push(item);
            rest = next;
        }
        Ok(items)
    }

    /// The dotted form of this TLV if it is an OBJECT IDENTIFIER.
    pub fn as_oid(&self) -> Result<String, Error> {
        if self.tag != TAG_OID {
            return Err(Error::MalformedDer("expected an OBJECT IDENTIFIER"));
        }
        oid_to_string(self.content)
    }
}

/// One extension of a certificate as found in its DER (RFC 5280 §4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawExtension {
    /// The extension's OID in dotted form.
    pub oid: String,
    /// Whether the extension is marked critical.
    pub critical: bool,
    /// The DER inside the extnValue OCTET STRING.
    pub value: Vec<u8>,
}

/// Lists the extensions of a DER certificate in the order they appear.
pub fn certificate_extensions(cert_der: &[u8]) -> Result<Vec<RawExtension>, Error> {
    let cert = Tlv::parse_one(cert_der)?;
    let parts = cert.children()?;
    let tbs = parts
        .first()
        .ok_or(Error::MalformedDer("certificate without tbsCertificate"))?;
    // extensions [3] EXPLICIT Extensions, the last optional field of TBSCertificate.
    let Some(wrapper) = tbs.children()?.into_iter().find(|t| t.tag == 0xa3) else {
        return Ok(Vec::new());
    };
    let list = Tlv::parse_one(wrapper.content)?;
    let mut out = Vec::new();
    for ext in list.children()? {
        let fields = ext.children()?;
        let (oid, critical, value) = match fields.as_slice() {
            [oid, value] => (oid, false, value),
            [oid, critical, value] if critical.tag == TAG_BOOLEAN => {
                (oid, critical.content != [0], value)
            }
            _ => return Err(Error::MalformedDer("bad Extension")),
        };
        if value.tag != TAG_OCTET_STRING {
            return Err(Error::MalformedDer("extnValue is not an OCTET STRING"));
        }
        out.push(RawExtension {
            oid: oid.as_oid()?,
            critical,
            value: value.content.to_vec(),
        });
    }
    Ok(out)
}

/// One attribute of a distinguished name with the ASN.1 string type it was encoded with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAttribute {
    /// The attribute type OID in dotted form (e.g. `2.5.4.42` for givenName).
    pub oid: String,
    /// The universal tag of the value (e.g. [`TAG_UTF8_STRING`]).
    pub tag: u8,
    /// The value's content octets.
    pub value: Vec<u8>,
}

/// Lists the attributes of a DER-encoded `Name` (RFC 5280 §4.1.2.4) in order.
pub fn name_attributes(name_der: &[u8]) -> Result<Vec<NameAttribute>, Error> {
    let name = Tlv::parse_one(name_der)?;
    let mut out = Vec::new();
    for rdn in name.children()? {
        for atv in rdn.children()? {
            match atv.children()?.as_slice() {
                [oid, value] => out.push(NameAttribute {
                    oid: oid.as_oid()?,
                    tag: value.tag,
                    value: value.content.to_vec(),
                }),
                _ => return Err(Error::MalformedDer("bad AttributeTypeAndValue")),
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oid_matches_openssl() {
        for dotted in [
            "1.3.6.1.5.5.7.1.3",
            "0.4.0.1862.1.6.1",
            "1.3.6.1.4.1.99999.1.1",
            "2.5.29.32",
            "2.999.3",
        ] {
            let ours = oid(dotted).unwrap();
            let theirs = openssl::asn1::Asn1Object::from_str(dotted).unwrap();
            assert_eq!(&ours[2..], theirs.as_slice(), "{dotted}");
            assert_eq!(Tlv::parse_one(&ours).unwrap().as_oid().unwrap(), dotted);
        }
    }

    #[test]
    fn bad_oids_are_refused() {
        for dotted in ["", "1", "3.1", "1.40", "1.2.x"] {
            assert!(oid(dotted).is_err(), "{dotted}");
        }
    }

    #[test]
    fn long_lengths_round_trip() {
        for len in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let content = vec![0xab; len];
            let encoded = tlv(TAG_OCTET_STRING, &content);
            let parsed = Tlv::parse_one(&encoded).unwrap();
            assert_eq!(parsed.content, &content[..]);
            assert_eq!(parsed.raw, &encoded[..]);
        }
    }

    #[test]
    fn truncated_input_is_an_error() {
        let encoded = sequence(&[null(), null()]);
        for cut in 0..encoded.len() {
            assert!(Tlv::parse_one(&encoded[..cut]).is_err());
        }
    }

    proptest::proptest! {
        #[test]
        fn tlv_round_trips(tag in 0u8..0x1f, content in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let encoded = tlv(tag, &content);
            let parsed = Tlv::parse_one(&encoded).unwrap();
            proptest::prop_assert_eq!(parsed.tag, tag);
            proptest::prop_assert_eq!(parsed.content, &content[..]);
        }

        #[test]
        fn oid_round_trips(first in 0u64..3, second in 0u64..40, rest in proptest::collection::vec(proptest::num::u64::ANY, 0..8)) {
            let mut arcs = vec![first, second];
            arcs.extend(rest);
            let dotted = arcs.iter().map(u64::to_string).collect::<Vec<_>>().join(".");
            let encoded = oid(&dotted).unwrap();
            proptest::prop_assert_eq!(Tlv::parse_one(&encoded).unwrap().as_oid().unwrap(), dotted);
        }

        #[test]
        fn parser_never_panics(input in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            if let Ok(tlv) = Tlv::parse_one(&input) {
                let _ = tlv.children();
                let _ = tlv.as_oid();
            }
        }
    }
}
