//! Signature algorithms of the Web eID token, hash functions, and the signed-data construction.
//!
//! The card signs `H(H(origin) || H(nonce))`; the verifier checks an ordinary signature
//! (which hashes its input) over `H(origin) || H(nonce)`. Both sides build these bytes here so
//! they cannot drift apart.

use std::fmt;
use std::str::FromStr;

use der::asn1::UintRef;
use der::{Decode, Encode, Sequence};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Digest;

use crate::{ChallengeNonce, Origin};

/// A hash function by its Web eID / native-protocol name (`"SHA-256"`, `"SHA3-384"`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HashFunction {
    /// SHA-224 (FIPS 180-4).
    Sha224,
    /// SHA-256 (FIPS 180-4).
    Sha256,
    /// SHA-384 (FIPS 180-4).
    Sha384,
    /// SHA-512 (FIPS 180-4).
    Sha512,
    /// SHA3-224 (FIPS 202).
    Sha3_224,
    /// SHA3-256 (FIPS 202).
    Sha3_256,
    /// SHA3-384 (FIPS 202).
    Sha3_384,
    /// SHA3-512 (FIPS 202).
    Sha3_512,
}

impl HashFunction {
    /// Every hash function, in wire-name order.
    pub const ALL: [HashFunction; 8] = [
        HashFunction::Sha224,
        HashFunction::Sha256,
        HashFunction::Sha384,
        HashFunction::Sha512,
        HashFunction::Sha3_224,
        HashFunction::Sha3_256,
        HashFunction::Sha3_384,
        HashFunction::Sha3_512,
    ];

    /// The wire name, e.g. `"SHA-256"`.
    pub fn as_str(self) -> &'static str {
        match self {
            HashFunction::Sha224 => "SHA-224",
            HashFunction::Sha256 => "SHA-256",
            HashFunction::Sha384 => "SHA-384",
            HashFunction::Sha512 => "SHA-512",
            HashFunction::Sha3_224 => "SHA3-224",
            HashFunction::Sha3_256 => "SHA3-256",
            HashFunction::Sha3_384 => "SHA3-384",
            HashFunction::Sha3_512 => "SHA3-512",
        }
    }

    /// Length of the digest in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashFunction::Sha224 | HashFunction::Sha3_224 => 28,
            HashFunction::Sha256 | HashFunction::Sha3_256 => 32,
            HashFunction::Sha384 | HashFunction::Sha3_384 => 48,
            HashFunction::Sha512 | HashFunction::Sha3_512 => 64,
        }
    }

    /// Hashes `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            HashFunction::Sha224 => sha2::Sha224::digest(data).to_vec(),
            HashFunction::Sha256 => sha2::Sha256::digest(data).to_vec(),
            HashFunction::Sha384 => sha2::Sha384::digest(data).to_vec(),
            HashFunction::Sha512 => sha2::Sha512::digest(data).to_vec(),
            HashFunction::Sha3_224 => sha3::Sha3_224::digest(data).to_vec(),
            HashFunction::Sha3_256 => sha3::Sha3_256::digest(data).to_vec(),
            HashFunction::Sha3_384 => sha3::Sha3_384::digest(data).to_vec(),
            HashFunction::Sha3_512 => sha3::Sha3_512::digest(data).to_vec(),
        }
    }

    /// The last arc of the algorithm's OID under `2.16.840.1.101.3.4.2` (NIST hash algorithms).
    fn nist_arc(self) -> u8 {
        match self {
            HashFunction::Sha256 => 1,
            HashFunction::Sha384 => 2,
            HashFunction::Sha512 => 3,
            HashFunction::Sha224 => 4,
            HashFunction::Sha3_224 => 7,
            HashFunction::Sha3_256 => 8,
            HashFunction::Sha3_384 => 9,
            HashFunction::Sha3_512 => 10,
        }
    }

    /// The DER `DigestInfo` (RFC 8017 §9.2) wrapping `digest`, as an RSA PKCS#1 v1.5 card signs it.
    ///
    /// Returns `None` when `digest` does not have this function's length.
    pub fn digest_info(self, digest: &[u8]) -> Option<Vec<u8>> {
        let n = self.output_len();
        if digest.len() != n {
            return None;
        }
        // SEQUENCE { SEQUENCE { OID 2.16.840.1.101.3.4.2.x, NULL }, OCTET STRING digest }
        let n = n as u8; // at most 64: fits the short form
        let mut out = vec![
            0x30,
            0x11 + n,
            0x30,
            0x0d,
            0x06,
            0x09,
            0x60,
            0x86,
            0x48,
            0x01,
            0x65,
            0x03,
            0x04,
            0x02,
            self.nist_arc(),
            0x05,
            0x00,
            0x04,
            n,
        ];
        out.extend_from_slice(digest);
        Some(out)
    }
}

impl fmt::Display for HashFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a known hash function or signature algorithm.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown algorithm {0:?}")]
pub struct UnknownAlgorithm(pub String);

impl FromStr for HashFunction {
    type Err = UnknownAlgorithm;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HashFunction::ALL
            .into_iter()
            .find(|h| h.as_str() == s)
            .ok_or_else(|| UnknownAlgorithm(s.chars().take(32).collect()))
    }
}

/// The key type and padding family of a [`SignatureAlgorithm`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureScheme {
    /// RSASSA-PKCS1-v1_5 (RFC 8017 §8.2).
    RsaPkcs1,
    /// RSASSA-PSS with MGF1 of the same hash and a salt as long as the hash (RFC 8017 §8.1).
    RsaPss,
    /// ECDSA; the token carries the raw `r || s` form.
    Ecdsa,
}

/// A JWA-style signature algorithm name as used in the Web eID token's `algorithm` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// RSASSA-PSS with SHA-384.
    Ps384,
    /// RSASSA-PSS with SHA-512.
    Ps512,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// ECDSA on P-384 with SHA-384.
    Es384,
    /// ECDSA on P-521 with SHA-512.
    Es512,
}

impl SignatureAlgorithm {
    /// Every algorithm.
    pub const ALL: [SignatureAlgorithm; 9] = [
        SignatureAlgorithm::Rs256,
        SignatureAlgorithm::Rs384,
        SignatureAlgorithm::Rs512,
        SignatureAlgorithm::Ps256,
        SignatureAlgorithm::Ps384,
        SignatureAlgorithm::Ps512,
        SignatureAlgorithm::Es256,
        SignatureAlgorithm::Es384,
        SignatureAlgorithm::Es512,
    ];

    /// The wire name, e.g. `"RS256"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureAlgorithm::Rs256 => "RS256",
            SignatureAlgorithm::Rs384 => "RS384",
            SignatureAlgorithm::Rs512 => "RS512",
            SignatureAlgorithm::Ps256 => "PS256",
            SignatureAlgorithm::Ps384 => "PS384",
            SignatureAlgorithm::Ps512 => "PS512",
            SignatureAlgorithm::Es256 => "ES256",
            SignatureAlgorithm::Es384 => "ES384",
            SignatureAlgorithm::Es512 => "ES512",
        }
    }

    /// The hash function this algorithm uses.
    pub fn hash(self) -> HashFunction {
        match self {
            SignatureAlgorithm::Rs256 | SignatureAlgorithm::Ps256 | SignatureAlgorithm::Es256 => {
                HashFunction::Sha256
            }
            SignatureAlgorithm::Rs384 | SignatureAlgorithm::Ps384 | SignatureAlgorithm::Es384 => {
                HashFunction::Sha384
            }
            SignatureAlgorithm::Rs512 | SignatureAlgorithm::Ps512 | SignatureAlgorithm::Es512 => {
                HashFunction::Sha512
            }
        }
    }

    /// The signature scheme (key type and padding).
    pub fn scheme(self) -> SignatureScheme {
        match self {
            SignatureAlgorithm::Rs256 | SignatureAlgorithm::Rs384 | SignatureAlgorithm::Rs512 => {
                SignatureScheme::RsaPkcs1
            }
            SignatureAlgorithm::Ps256 | SignatureAlgorithm::Ps384 | SignatureAlgorithm::Ps512 => {
                SignatureScheme::RsaPss
            }
            SignatureAlgorithm::Es256 | SignatureAlgorithm::Es384 | SignatureAlgorithm::Es512 => {
                SignatureScheme::Ecdsa
            }
        }
    }

    /// For ECDSA, the byte length of each of `r` and `s` in the raw signature (the curve's
    /// field size: 32, 48, 66); `None` for RSA.
    pub fn ecdsa_field_len(self) -> Option<usize> {
        match self {
            SignatureAlgorithm::Es256 => Some(32),
            SignatureAlgorithm::Es384 => Some(48),
            SignatureAlgorithm::Es512 => Some(66),
            _ => None,
        }
    }

    /// The bytes the verifier checks the signature over: `H(origin) || H(nonce)`, where `H` is
    /// this algorithm's hash over the UTF-8 strings.
    pub fn signed_data(self, origin: &Origin, nonce: &ChallengeNonce) -> Vec<u8> {
        let h = self.hash();
        let mut data = h.digest(origin.as_str().as_bytes());
        data.extend_from_slice(&h.digest(nonce.as_str().as_bytes()));
        data
    }

    /// The digest the card signs: `H(H(origin) || H(nonce))`.
    pub fn card_digest(self, origin: &Origin, nonce: &ChallengeNonce) -> Vec<u8> {
        self.hash().digest(&self.signed_data(origin, nonce))
    }
}

impl fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SignatureAlgorithm {
    type Err = UnknownAlgorithm;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SignatureAlgorithm::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownAlgorithm(s.chars().take(32).collect()))
    }
}

impl Serialize for SignatureAlgorithm {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SignatureAlgorithm {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for HashFunction {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for HashFunction {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Why an ECDSA signature could not be converted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EcdsaSignatureError {
    /// The raw signature is not `2 × field length` bytes.
    #[error("raw ECDSA signature must be {expected} bytes, got {actual}")]
    RawLength {
        /// Expected length.
        expected: usize,
        /// Actual length.
        actual: usize,
    },
    /// The DER signature is not a valid `ECDSA-Sig-Value`.
    #[error("DER ECDSA signature is malformed: {0}")]
    Der(String),
    /// `r` or `s` is zero or does not fit the field length.
    #[error("ECDSA signature value out of range for a {field_len}-byte field")]
    OutOfRange {
        /// The field length.
        field_len: usize,
    },
}

/// `ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` (RFC 3279 §2.2.3).
#[derive(Sequence)]
struct EcdsaSigValue<'a> {
    r: UintRef<'a>,
    s: UintRef<'a>,
}

fn is_zero(bytes: &[u8]) -> bool {
    bytes.iter().all(|b| *b == 0)
}

/// Converts a raw `r || s` ECDSA signature into DER (`ECDSA-Sig-Value`).
pub fn ecdsa_raw_to_der(raw: &[u8], field_len: usize) -> Result<Vec<u8>, EcdsaSignatureError> {
    if raw.len() != 2 * field_len {
        return Err(EcdsaSignatureError::RawLength {
            expected: 2 * field_len,
            actual: raw.len(),
        });
    }
    let (r, s) = raw.split_at(field_len);
    if is_zero(r) || is_zero(s) {
        return Err(EcdsaSignatureError::OutOfRange { field_len });
    }
    let value = EcdsaSigValue {
        r: UintRef::new(r).map_err(|e| EcdsaSignatureError::Der(e.to_string()))?,
        s: UintRef::new(s).map_err(|e| EcdsaSignatureError::Der(e.to_string()))?,
    };
    value
        .to_der()
        .map_err(|e| EcdsaSignatureError::Der(e.to_string()))
}

/// Converts a DER `ECDSA-Sig-Value` into the fixed-width raw `r || s` form.
pub fn ecdsa_der_to_raw(der: &[u8], field_len: usize) -> Result<Vec<u8>, EcdsaSignatureError> {
    let value =
        EcdsaSigValue::from_der(der).map_err(|e| EcdsaSignatureError::Der(e.to_string()))?;
    let mut raw = vec![0u8; 2 * field_len];
    for (int, out) in [value.r, value.s].iter().zip(raw.chunks_mut(field_len)) {
        let bytes = int.as_bytes(); // minimal, without sign byte
        if bytes.is_empty() || is_zero(bytes) || bytes.len() > field_len {
            return Err(EcdsaSignatureError::OutOfRange { field_len });
        }
        out[field_len - bytes.len()..].copy_from_slice(bytes);
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_round_trip() {
        for alg in SignatureAlgorithm::ALL {
            assert_eq!(alg.as_str().parse::<SignatureAlgorithm>().unwrap(), alg);
            let json = serde_json::to_string(&alg).unwrap();
            assert_eq!(
                serde_json::from_str::<SignatureAlgorithm>(&json).unwrap(),
                alg
            );
        }
        for h in HashFunction::ALL {
            assert_eq!(h.as_str().parse::<HashFunction>().unwrap(), h);
            assert_eq!(h.digest(b"abc").len(), h.output_len());
        }
        assert!("rs256".parse::<SignatureAlgorithm>().is_err());
        assert!("HS256".parse::<SignatureAlgorithm>().is_err());
        assert!("none".parse::<SignatureAlgorithm>().is_err());
        assert!("SHA256".parse::<HashFunction>().is_err());
    }

    #[test]
    fn known_sha256_vector() {
        let d = HashFunction::Sha256.digest(b"abc");
        assert_eq!(
            d[..4],
            [0xba, 0x78, 0x16, 0xbf],
            "FIPS 180-2 test vector for \"abc\""
        );
    }

    #[test]
    fn signed_data_is_hash_of_origin_then_hash_of_nonce() {
        let origin = Origin::parse("https://portal.example.ge").unwrap();
        let nonce = ChallengeNonce::parse("A".repeat(44).as_str()).unwrap();
        for alg in SignatureAlgorithm::ALL {
            let h = alg.hash();
            let data = alg.signed_data(&origin, &nonce);
            assert_eq!(data.len(), 2 * h.output_len());
            assert_eq!(
                &data[..h.output_len()],
                h.digest(b"https://portal.example.ge")
            );
            assert_eq!(&data[h.output_len()..], h.digest("A".repeat(44).as_bytes()));
            assert_eq!(alg.card_digest(&origin, &nonce), h.digest(&data));
        }
    }

    #[test]
    fn digest_info_matches_rfc8017_prefixes() {
        let d = [0u8; 32];
        let di = HashFunction::Sha256.digest_info(&d).unwrap();
        assert_eq!(
            di[..19],
            [
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20
            ]
        );
        assert_eq!(di.len(), 51);
        let di = HashFunction::Sha512.digest_info(&[0u8; 64]).unwrap();
        assert_eq!(di[..2], [0x30, 0x51]);
        assert_eq!(di[14], 0x03);
        assert!(HashFunction::Sha256.digest_info(&[0u8; 31]).is_none());
    }

    #[test]
    fn ecdsa_conversion_rejects_bad_input() {
        assert_eq!(
            ecdsa_raw_to_der(&[1u8; 63], 32),
            Err(EcdsaSignatureError::RawLength {
                expected: 64,
                actual: 63
            })
        );
        assert!(matches!(
            ecdsa_raw_to_der(&[0u8; 64], 32),
            Err(EcdsaSignatureError::OutOfRange { .. })
        ));
        assert!(matches!(
            ecdsa_der_to_raw(&[0x30, 0x03, 0x02, 0x01], 32),
            Err(EcdsaSignatureError::Der(_))
        ));
        assert!(matches!(
            ecdsa_der_to_raw(&[], 32),
            Err(EcdsaSignatureError::Der(_))
        ));
        // r longer than the field: 33 significant bytes for a 32-byte field.
        let mut raw = vec![0x7f; 33];
        raw.extend_from_slice(&[1u8; 33]);
        let der = ecdsa_raw_to_der(&raw, 33).unwrap();
        assert!(matches!(
            ecdsa_der_to_raw(&der, 32),
            Err(EcdsaSignatureError::OutOfRange { field_len: 32 })
        ));
    }

    proptest! {
        #[test]
        fn ecdsa_raw_der_round_trip(
            field_len in prop::sample::select(vec![32usize, 48, 66]),
            seed in prop::collection::vec(any::<u8>(), 132),
            zero_prefix in 0usize..8,
        ) {
            let mut raw = seed[..2 * field_len].to_vec();
            for b in raw.iter_mut().take(zero_prefix) { *b = 0; }
            raw[field_len - 1] |= 1; // r non-zero
            raw[2 * field_len - 1] |= 1; // s non-zero
            let der = ecdsa_raw_to_der(&raw, field_len).unwrap();
            prop_assert_eq!(ecdsa_der_to_raw(&der, field_len).unwrap(), raw);
        }

        #[test]
        fn ecdsa_der_parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..160)) {
            let _ = ecdsa_der_to_raw(&bytes, 32);
        }
    }
}
