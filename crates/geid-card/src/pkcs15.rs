//! Object discovery through ISO/IEC 7816-15 (PKCS#15) when the profile's files are not found.
//!
//! EF.DIR (`2F00`, ISO 7816-4 §8.2.1.1) names the application; its EF.ODF (`5031`) points to
//! the certificate directory (CDF, tag `A4`), the private-key directory (PrKDF, `A0`) and the
//! authentication-object directory (AODF, `A8`). Certificates and keys pair up by `iD`; a key's
//! `authId` names the PIN that protects it; the key with the nonRepudiation usage bit is the
//! qualified-signature key.

use crate::tlv::{self, Tlv};
use crate::CardError;

/// EF.DIR file ID.
pub const EF_DIR: [u8; 2] = [0x2F, 0x00];
/// EF.ODF file ID within the PKCS#15 application.
pub const EF_ODF: [u8; 2] = [0x50, 0x31];

/// One application listed in EF.DIR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// The AID (tag `4F`).
    pub aid: Vec<u8>,
    /// The label (tag `50`), if any.
    pub label: Option<String>,
}

/// The files EF.ODF points to (paths as stored: absolute from `3F00` or relative).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Odf {
    /// Certificate directory files.
    pub cdf: Vec<Vec<u8>>,
    /// Private-key directory files.
    pub prkdf: Vec<Vec<u8>>,
    /// Authentication-object directory files.
    pub aodf: Vec<Vec<u8>>,
}

/// A certificate object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertObject {
    /// Label.
    pub label: String,
    /// `iD`, shared with the key.
    pub id: Vec<u8>,
    /// File path.
    pub path: Vec<u8>,
}

/// A private-key object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyObject {
    /// Label.
    pub label: String,
    /// `iD`, shared with the certificate.
    pub id: Vec<u8>,
    /// The PIN that protects it.
    pub auth_id: Vec<u8>,
    /// `keyReference`, the MSE:SET key reference.
    pub key_reference: Option<u8>,
    /// The nonRepudiation usage bit: a qualified-signature key.
    pub non_repudiation: bool,
}

/// A PIN object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinObject {
    /// Label.
    pub label: String,
    /// `authId`, referred to by keys.
    pub auth_id: Vec<u8>,
    /// `pinReference` (VERIFY P2).
    pub reference: u8,
    /// `minLength`.
    pub min_length: u8,
    /// `storedLength`.
    pub stored_length: u8,
    /// `padChar`.
    pub pad_char: Option<u8>,
}

fn err(what: &str) -> CardError {
    CardError::Pkcs15(what.to_string())
}

fn label_of(common: &[Tlv]) -> String {
    tlv::find(common, 0x0C)
        .map(|t| String::from_utf8_lossy(&t.value).into_owned())
        .unwrap_or_default()
}

fn path_of(t: &Tlv) -> Result<Vec<u8>, CardError> {
    // Path ::= SEQUENCE { path OCTET STRING, ... }
    let kids = t.children()?;
    let p = tlv::find(&kids, 0x04).ok_or_else(|| err("Path without an OCTET STRING"))?;
    Ok(p.value.clone())
}

/// Parses EF.DIR (application templates `61`).
pub fn parse_dir(data: &[u8]) -> Result<Vec<DirEntry>, CardError> {
    let mut out = Vec::new();
    for t in tlv::parse_all(data)?.iter().filter(|t| t.tag == 0x61) {
        let kids = t.children()?;
        let aid = tlv::find(&kids, 0x4F).ok_or_else(|| err("EF.DIR entry without an AID"))?;
        let label = tlv::find(&kids, 0x50).map(|l| String::from_utf8_lossy(&l.value).into_owned());
        out.push(DirEntry {
            aid: aid.value.clone(),
            label,
        });
    }
    Ok(out)
}

/// Parses EF.ODF.
pub fn parse_odf(data: &[u8]) -> Result<Odf, CardError> {
    let mut odf = Odf::default();
    for t in tlv::parse_all(data)? {
        let path = tlv::find(&t.children()?, 0x30).map(path_of).transpose()?;
        let Some(path) = path else { continue };
        match t.tag {
            0xA4 => odf.cdf.push(path),
            0xA0 => odf.prkdf.push(path),
            0xA8 => odf.aodf.push(path),
            _ => {}
        }
    }
    Ok(odf)
}

/// Parses a CDF (X.509 certificate objects, `30`).
pub fn parse_cdf(data: &[u8]) -> Result<Vec<CertObject>, CardError> {
    let mut out = Vec::new();
    for t in tlv::parse_all(data)?.iter().filter(|t| t.tag == 0x30) {
        let kids = t.children()?;
        let [common, cert_attrs, typed, ..] = kids.as_slice() else {
            return Err(err("certificate object too short"));
        };
        let id = tlv::find(&cert_attrs.children()?, 0x04)
            .ok_or_else(|| err("certificate without iD"))?
            .value
            .clone();
        let inner = typed.children()?;
        let x509 = tlv::find(&inner, 0x30).ok_or_else(|| err("certificate without attributes"))?;
        let path_t = tlv::find(&x509.children()?, 0x30)
            .ok_or_else(|| err("certificate without a path"))?
            .clone();
        out.push(CertObject {
            label: label_of(&common.children()?),
            id,
            path: path_of(&path_t)?,
        });
    }
    Ok(out)
}

/// Parses a PrKDF (private RSA or EC key objects).
pub fn parse_prkdf(data: &[u8]) -> Result<Vec<KeyObject>, CardError> {
    let mut out = Vec::new();
    for t in tlv::parse_all(data)?
        .iter()
        .filter(|t| t.tag == 0x30 || t.tag == 0xA0)
    {
        let kids = t.children()?;
        let [common, key_attrs, ..] = kids.as_slice() else {
            return Err(err("key object too short"));
        };
        let common = common.children()?;
        let auth_id = tlv::find(&common, 0x04)
            .map(|a| a.value.clone())
            .unwrap_or_default();
        let key = key_attrs.children()?;
        let id = tlv::find(&key, 0x04)
            .ok_or_else(|| err("key without iD"))?
            .value
            .clone();
        let usage = tlv::find(&key, 0x03)
            .map(|u| u.value.clone())
            .unwrap_or_default();
        // BIT STRING: first byte is the unused-bit count; nonRepudiation is bit 9.
        let non_repudiation = usage.get(2).is_some_and(|b| b & 0x40 != 0);
        let key_reference = tlv::find(&key, 0x02)
            .map(|r| r.as_uint())
            .transpose()?
            .map(|r| r as u8);
        out.push(KeyObject {
            label: label_of(&common),
            id,
            auth_id,
            key_reference,
            non_repudiation,
        });
    }
    Ok(out)
}

/// Parses an AODF (PIN objects).
pub fn parse_aodf(data: &[u8]) -> Result<Vec<PinObject>, CardError> {
    let mut out = Vec::new();
    for t in tlv::parse_all(data)?.iter().filter(|t| t.tag == 0x30) {
        let kids = t.children()?;
        let [common, auth_attrs, typed, ..] = kids.as_slice() else {
            return Err(err("PIN object too short"));
        };
        let auth_id = tlv::find(&auth_attrs.children()?, 0x04)
            .ok_or_else(|| err("PIN without authId"))?
            .value
            .clone();
        let inner = typed.children()?;
        let attrs = tlv::find(&inner, 0x30)
            .ok_or_else(|| err("PIN without attributes"))?
            .children()?;
        let ints: Vec<u64> = attrs
            .iter()
            .filter(|a| a.tag == 0x02)
            .map(Tlv::as_uint)
            .collect::<Result<_, _>>()?;
        let reference = tlv::find(&attrs, 0x80)
            .ok_or_else(|| err("PIN without pinReference"))?
            .as_uint()? as u8;
        out.push(PinObject {
            label: label_of(&common.children()?),
            auth_id,
            reference,
            min_length: ints.first().copied().unwrap_or(4) as u8,
            stored_length: ints.get(1).copied().unwrap_or(8) as u8,
            pad_char: tlv::find(&attrs, 0x04).and_then(|p| p.value.first().copied()),
        });
    }
    Ok(out)
}

/// Builders for the structures above (used by the virtual card and tests).
pub mod build {
    use crate::tlv::Tlv;

    fn path(p: &[u8]) -> Tlv {
        Tlv::constructed(0x30, &[Tlv::new(0x04, p.to_vec())])
    }

    /// An EF.DIR application template.
    pub fn dir_entry(aid: &[u8], label: &str) -> Tlv {
        Tlv::constructed(
            0x61,
            &[
                Tlv::new(0x4F, aid.to_vec()),
                Tlv::new(0x50, label.as_bytes().to_vec()),
            ],
        )
    }

    /// EF.ODF with one CDF, PrKDF and AODF.
    pub fn odf(cdf: &[u8], prkdf: &[u8], aodf: &[u8]) -> Vec<u8> {
        crate::tlv::encode_all(&[
            Tlv::constructed(0xA0, &[path(prkdf)]),
            Tlv::constructed(0xA4, &[path(cdf)]),
            Tlv::constructed(0xA8, &[path(aodf)]),
        ])
    }

    /// A CDF entry.
    pub fn cert(label: &str, id: &[u8], file: &[u8]) -> Tlv {
        Tlv::constructed(
            0x30,
            &[
                Tlv::constructed(0x30, &[Tlv::new(0x0C, label.as_bytes().to_vec())]),
                Tlv::constructed(0x30, &[Tlv::new(0x04, id.to_vec())]),
                Tlv::constructed(0xA1, &[Tlv::constructed(0x30, &[path(file)])]),
            ],
        )
    }

    /// A PrKDF entry for an RSA key.
    pub fn rsa_key(
        label: &str,
        id: &[u8],
        auth_id: &[u8],
        key_ref: u8,
        non_repudiation: bool,
    ) -> Tlv {
        let usage = if non_repudiation {
            vec![0x06, 0x20, 0x40]
        } else {
            vec![0x06, 0x20, 0x00]
        };
        Tlv::constructed(
            0x30,
            &[
                Tlv::constructed(
                    0x30,
                    &[
                        Tlv::new(0x0C, label.as_bytes().to_vec()),
                        Tlv::new(0x04, auth_id.to_vec()),
                    ],
                ),
                Tlv::constructed(
                    0x30,
                    &[
                        Tlv::new(0x04, id.to_vec()),
                        Tlv::new(0x03, usage),
                        Tlv::new(0x02, vec![key_ref]),
                    ],
                ),
                Tlv::constructed(
                    0xA1,
                    &[Tlv::constructed(
                        0x30,
                        &[path(&[]), Tlv::new(0x02, vec![0x08, 0x00])],
                    )],
                ),
            ],
        )
    }

    /// An AODF entry for a PIN.
    pub fn pin(label: &str, auth_id: &[u8], reference: u8, min: u8, stored: u8, pad: u8) -> Tlv {
        Tlv::constructed(
            0x30,
            &[
                Tlv::constructed(0x30, &[Tlv::new(0x0C, label.as_bytes().to_vec())]),
                Tlv::constructed(0x30, &[Tlv::new(0x04, auth_id.to_vec())]),
                Tlv::constructed(
                    0xA1,
                    &[Tlv::constructed(
                        0x30,
                        &[
                            Tlv::new(0x03, vec![0x02, 0x0C, 0xC4]),
                            Tlv::new(0x0A, vec![0x01]),
                            Tlv::new(0x02, vec![min]),
                            Tlv::new(0x02, vec![stored]),
                            Tlv::new(0x80, vec![reference]),
                            Tlv::new(0x04, vec![pad]),
                        ],
                    )],
                ),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_builders() {
        let dir = build::dir_entry(&[0xA0, 1, 2], "PKI").to_bytes();
        assert_eq!(parse_dir(&dir).unwrap()[0].aid, vec![0xA0, 1, 2]);
        let odf = parse_odf(&build::odf(&[0x44, 0x01], &[0x44, 0x02], &[0x44, 0x03])).unwrap();
        assert_eq!(odf.cdf, vec![vec![0x44, 0x01]]);
        assert_eq!(odf.aodf, vec![vec![0x44, 0x03]]);
        let cdf = parse_cdf(&build::cert("Auth", &[1], &[0xC0, 0x01]).to_bytes()).unwrap();
        assert_eq!(cdf[0].path, vec![0xC0, 0x01]);
        let keys = parse_prkdf(&tlv::encode_all(&[
            build::rsa_key("Auth", &[1], &[0x11], 0x91, false),
            build::rsa_key("Sign", &[2], &[0x12], 0x92, true),
        ]))
        .unwrap();
        assert!(!keys[0].non_repudiation && keys[1].non_repudiation);
        assert_eq!(keys[1].key_reference, Some(0x92));
        let pins = parse_aodf(&build::pin("PIN1", &[0x11], 0x91, 4, 8, 0xFF).to_bytes()).unwrap();
        assert_eq!(
            (pins[0].reference, pins[0].min_length, pins[0].stored_length),
            (0x91, 4, 8)
        );
        assert!(parse_cdf(&[0x30, 0x02, 0x30, 0x00]).is_err());
    }
}
