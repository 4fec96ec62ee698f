//! What the host reads out of a card certificate: holder, personal number, key type.
//!
//! The subject is expected to carry `serialNumber=PNOGE-<11 digits>`, given name and surname
//! (ETSI EN 319 412-1 style) — still to be confirmed on real cards, so every field is optional.

use der::{Decode, Encode};
use x509_cert::Certificate;

use crate::CardError;

/// The public key type of a certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum KeyKind {
    /// RSA with a modulus of this many bytes.
    Rsa {
        /// Modulus length in bytes.
        modulus_bytes: usize,
    },
    /// ECDSA on a NIST curve with this field length in bytes.
    Ec {
        /// 32, 48 or 66.
        field_len: usize,
    },
}

/// Details of a card certificate.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CertificateInfo {
    /// The full subject, RFC 4514 style.
    pub subject: String,
    /// The issuer, RFC 4514 style.
    pub issuer: String,
    /// Common name.
    pub common_name: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Surname.
    pub surname: Option<String>,
    /// The subject serialNumber attribute (e.g. `PNOGE-01234567890`).
    pub serial_number: Option<String>,
    /// The 11-digit personal number, when the serialNumber has the `PNOGE-` form.
    pub personal_number: Option<String>,
    /// notBefore, RFC 3339.
    pub not_before: String,
    /// notAfter, RFC 3339.
    pub not_after: String,
    /// The key type.
    pub key: KeyKind,
}

const OID_CN: &str = "2.5.4.3";
const OID_SURNAME: &str = "2.5.4.4";
const OID_SERIAL: &str = "2.5.4.5";
const OID_GIVEN: &str = "2.5.4.42";
const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";

impl CertificateInfo {
    /// Parses a DER certificate.
    pub fn parse(der_bytes: &[u8]) -> Result<CertificateInfo, CardError> {
        let cert = Certificate::from_der(der_bytes)
            .map_err(|e| CardError::MalformedCertificate(e.to_string()))?;
        let tbs = &cert.tbs_certificate;
        let attr = |oid: &str| -> Option<String> {
            tbs.subject
                .0
                .iter()
                .flat_map(|rdn| rdn.0.iter())
                .find(|a| a.oid.to_string() == oid)
                .map(|a| String::from_utf8_lossy(a.value.value()).into_owned())
        };
        let serial_number = attr(OID_SERIAL);
        let personal_number = serial_number
            .as_deref()
            .and_then(|s| s.strip_prefix("PNOGE-"))
            .filter(|n| n.len() == 11 && n.bytes().all(|b| b.is_ascii_digit()))
            .map(str::to_owned);
        let spki = &tbs.subject_public_key_info;
        let key = match spki.algorithm.oid.to_string().as_str() {
            OID_RSA => {
                let pk = spki.subject_public_key.raw_bytes();
                let rsa = pkcs1_modulus_len(pk)?;
                KeyKind::Rsa { modulus_bytes: rsa }
            }
            OID_EC => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok())
                    .map(|o| o.to_string())
                    .unwrap_or_default();
                let field_len = match curve.as_str() {
                    "1.2.840.10045.3.1.7" => 32,
                    "1.3.132.0.34" => 48,
                    "1.3.132.0.35" => 66,
                    other => return Err(CardError::UnsupportedKey(format!("EC curve {other}"))),
                };
                KeyKind::Ec { field_len }
            }
            other => return Err(CardError::UnsupportedKey(format!("algorithm {other}"))),
        };
        let _ = cert.to_der();
        Ok(CertificateInfo {
            subject: tbs.subject.to_string(),
            issuer: tbs.issuer.to_string(),
            common_name: attr(OID_CN),
            given_name: attr(OID_GIVEN),
            surname: attr(OID_SURNAME),
            serial_number,
            personal_number,
            not_before: tbs.validity.not_before.to_string(),
            not_after: tbs.validity.not_after.to_string(),
            key,
        })
    }
}

/// Length of the modulus in an RSAPublicKey (RFC 8017 A.1.1), without a leading zero byte.
fn pkcs1_modulus_len(pk: &[u8]) -> Result<usize, CardError> {
    let bad = || CardError::MalformedCertificate("RSA public key".into());
    let seq = crate::tlv::parse_all(pk).map_err(|_| bad())?;
    let seq = seq.first().filter(|t| t.tag == 0x30).ok_or_else(bad)?;
    let ints = seq.children().map_err(|_| bad())?;
    let n = ints.first().filter(|t| t.tag == 0x02).ok_or_else(bad)?;
    let skip = n.value.iter().take_while(|b| **b == 0).count();
    Ok(n.value.len() - skip)
}
