//! The Georgian card profile: every AID, path, reference, length and command style, as data.
//!
//! The applet layout of the Georgian ID card is not public (DESIGN.md, "The Georgian ID card").
//! Everything the card layer needs to know is therefore in this one file, as values of
//! [`CardProfile`]; no other module hard-codes a file ID or a reference. Each value is an
//! [`Item`] that says whether it is confirmed and where it comes from. Values not confirmed
//! are marked **PLACEHOLDER** below and carry `confirmed: false`; `geid info` lists them and
//! `geid trace` records what a real card answers so they can be corrected here (or in a JSON
//! override, see [`CardProfile::from_json`]) without changing code. When the profile's files
//! are not found, [`crate::pkcs15`] discovers the objects through ISO/IEC 7816-15.
//!
//! `docs/card-profile.md` explains each value and its source.

use serde::{Deserialize, Serialize};

/// A profile value with its provenance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item<T> {
    /// The value used.
    pub value: T,
    /// `true` when a public source or a real-card trace confirms it.
    pub confirmed: bool,
    /// Where the value comes from (or why it was chosen when it is a placeholder).
    pub source: String,
}

fn confirmed<T>(value: T, source: &str) -> Item<T> {
    Item {
        value,
        confirmed: true,
        source: source.into(),
    }
}

fn placeholder<T>(value: T, why: &str) -> Item<T> {
    Item {
        value,
        confirmed: false,
        source: format!("PLACEHOLDER: {why}"),
    }
}

/// A card generation, as identified by the ATR.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Generation {
    /// First generation (2011), ATR with historical bytes "GE1".
    Ge1,
    /// New card (2025), JavaCard, historical bytes "GeorgiaEIDv1".
    GeorgiaEidV1,
}

/// How the card wants a PIN formatted in VERIFY / CHANGE REFERENCE DATA.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PinPadding {
    /// The ASCII digits only.
    None,
    /// The ASCII digits, then `byte` up to `length` bytes.
    Pad {
        /// The padding byte.
        byte: u8,
        /// The padded length.
        length: u8,
    },
}

impl PinPadding {
    /// The formatted PIN block.
    pub fn apply(self, digits: &[u8]) -> Vec<u8> {
        let mut out = digits.to_vec();
        if let PinPadding::Pad { byte, length } = self {
            while out.len() < usize::from(length) {
                out.push(byte);
            }
        }
        out
    }
}

/// One PIN (or the PUK) of the card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinSpec {
    /// What the PIN is called in messages.
    pub name: String,
    /// The VERIFY / CHANGE / RESET RETRY COUNTER reference (P2).
    pub reference: Item<u8>,
    /// Fewest and most digits.
    pub length: Item<(u8, u8)>,
    /// The PIN block format.
    pub padding: Item<PinPadding>,
    /// Tries before the PIN blocks.
    pub max_retries: Item<u8>,
}

impl PinSpec {
    /// Fewest digits.
    pub fn min_len(&self) -> usize {
        usize::from(self.length.value.0)
    }
    /// Most digits.
    pub fn max_len(&self) -> usize {
        usize::from(self.length.value.1)
    }
}

/// One private key of the card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySpec {
    /// The key reference in MSE:SET (tag `84`).
    pub reference: Item<u8>,
    /// The algorithm reference in MSE:SET (tag `80`).
    pub mse_algorithm: Item<u8>,
    /// The certificate's file path, relative to the PKI application (a sequence of FIDs).
    pub certificate_path: Item<Vec<u8>>,
}

/// How the authentication key is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthStyle {
    /// MSE:SET AT (`00 22 41 A4`) then INTERNAL AUTHENTICATE (`00 88 00 00`).
    InternalAuthenticate,
    /// MSE:SET DST (`00 22 41 B6`) then PSO: COMPUTE DIGITAL SIGNATURE (`00 2A 9E 9A`).
    PsoCds,
}

/// Everything the card layer knows about one card generation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardProfile {
    /// The generation.
    pub generation: Generation,
    /// A human name.
    pub name: String,
    /// The PKI application identifier (SELECT by DF name).
    pub pki_aid: Item<Vec<u8>>,
    /// Authentication key and certificate.
    pub auth_key: KeySpec,
    /// Qualified-signature key and certificate.
    pub sign_key: KeySpec,
    /// The authentication PIN (PIN1).
    pub auth_pin: PinSpec,
    /// The signature PIN (PIN2), set once from the transport PIN.
    pub sign_pin: PinSpec,
    /// The transport PIN that protects the signature key until the signature PIN is set.
    pub transport_pin: PinSpec,
    /// The PUK: unblocks the authentication PIN only.
    pub puk: PinSpec,
    /// INTERNAL AUTHENTICATE or PSO:CDS for authentication.
    pub auth_style: Item<AuthStyle>,
    /// Whether the card accepts extended-length READ BINARY and signing commands.
    pub extended_length: Item<bool>,
    /// Bytes per short READ BINARY.
    pub read_chunk: Item<usize>,
}

/// The PKCS#15 application identifier (ISO/IEC 7816-15 §7.1), the usual fallback AID.
pub const PKCS15_AID: &[u8] = &[
    0xA0, 0x00, 0x00, 0x00, 0x63, 0x50, 0x4B, 0x43, 0x53, 0x2D, 0x31, 0x35,
];

fn pin(name: &str, reference: u8, len: (u8, u8), len_src: Option<&str>, pad_to: u8) -> PinSpec {
    PinSpec {
        name: name.into(),
        reference: placeholder(reference, "PIN references are not public; ISO 7816-4 local reference style (bit 8 set)"),
        length: match len_src {
            Some(src) => confirmed(len, src),
            None => placeholder(len, "PUK length is not public; 8 digits as on most EU eID cards"),
        },
        padding: placeholder(
            PinPadding::Pad { byte: 0xFF, length: pad_to },
            "PIN padding is not public; ASCII digits padded with FF to 8 bytes (IDEMIA/Gemalto style)",
        ),
        max_retries: confirmed(3, "public: the card blocks a PIN after three wrong tries"),
    }
}

impl CardProfile {
    /// The built-in profile for a generation.
    pub fn for_generation(generation: Generation) -> CardProfile {
        let src_public = "public: DESIGN.md, Georgian ID card (4-digit PIN1, 6-digit PIN2, 5-digit transport PIN)";
        let (name, extended) = match generation {
            Generation::Ge1 => (
                "Georgian ID card, first generation (2011)",
                confirmed(
                    true,
                    "ATR card capabilities (73 84 21 C0): extended Lc/Le announced",
                ),
            ),
            Generation::GeorgiaEidV1 => (
                "Georgian ID card (2025, GeorgiaEIDv1)",
                placeholder(
                    false,
                    "the ATR announces no card capabilities; short APDUs are the safe choice",
                ),
            ),
        };
        CardProfile {
            generation,
            name: name.into(),
            pki_aid: placeholder(
                vec![
                    0xA0, 0x00, 0x00, 0x04, 0x47, 0x45, 0x49, 0x44, 0x50, 0x4B, 0x49,
                ],
                "applet AID is not public; a made-up RID A000000447 + \"EIDPKI\"",
            ),
            auth_key: KeySpec {
                reference: placeholder(0x81, "key references are not public"),
                mse_algorithm: placeholder(
                    0x02,
                    "RSA PKCS#1 v1.5 with a DigestInfo supplied by the host, as on IDEMIA cards",
                ),
                certificate_path: placeholder(
                    vec![0x34, 0x01],
                    "certificate file IDs are not public",
                ),
            },
            sign_key: KeySpec {
                reference: placeholder(0x82, "key references are not public"),
                mse_algorithm: placeholder(
                    0x02,
                    "RSA PKCS#1 v1.5 with a DigestInfo supplied by the host",
                ),
                certificate_path: placeholder(
                    vec![0x34, 0x02],
                    "certificate file IDs are not public",
                ),
            },
            auth_pin: pin("authentication PIN", 0x81, (4, 4), Some(src_public), 8),
            sign_pin: pin("signature PIN", 0x82, (6, 6), Some(src_public), 8),
            transport_pin: pin("transport PIN", 0x84, (5, 5), Some(src_public), 8),
            puk: pin("PUK", 0x83, (8, 8), None, 8),
            auth_style: placeholder(
                AuthStyle::InternalAuthenticate,
                "not public whether authentication uses INTERNAL AUTHENTICATE or PSO:CDS",
            ),
            extended_length: extended,
            read_chunk: confirmed(
                0xC0,
                "safe short READ BINARY block size used by Web eID for IDEMIA cards",
            ),
        }
    }

    /// Reads a profile override from JSON (the same shape as [`CardProfile`] serialises to).
    pub fn from_json(json: &str) -> Result<CardProfile, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    /// The unconfirmed values: `(field, source)`.
    pub fn placeholders(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut add = |field: &str, confirmed: bool, source: &str| {
            if !confirmed {
                out.push((field.to_string(), source.to_string()));
            }
        };
        add("pki_aid", self.pki_aid.confirmed, &self.pki_aid.source);
        for (k, key) in [("auth_key", &self.auth_key), ("sign_key", &self.sign_key)] {
            add(
                &format!("{k}.reference"),
                key.reference.confirmed,
                &key.reference.source,
            );
            add(
                &format!("{k}.mse_algorithm"),
                key.mse_algorithm.confirmed,
                &key.mse_algorithm.source,
            );
            add(
                &format!("{k}.certificate_path"),
                key.certificate_path.confirmed,
                &key.certificate_path.source,
            );
        }
        for (k, p) in [
            ("auth_pin", &self.auth_pin),
            ("sign_pin", &self.sign_pin),
            ("transport_pin", &self.transport_pin),
            ("puk", &self.puk),
        ] {
            add(
                &format!("{k}.reference"),
                p.reference.confirmed,
                &p.reference.source,
            );
            add(&format!("{k}.length"), p.length.confirmed, &p.length.source);
            add(
                &format!("{k}.padding"),
                p.padding.confirmed,
                &p.padding.source,
            );
            add(
                &format!("{k}.max_retries"),
                p.max_retries.confirmed,
                &p.max_retries.source,
            );
        }
        add(
            "auth_style",
            self.auth_style.confirmed,
            &self.auth_style.source,
        );
        add(
            "extended_length",
            self.extended_length.confirmed,
            &self.extended_length.source,
        );
        add(
            "read_chunk",
            self.read_chunk.confirmed,
            &self.read_chunk.source,
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_listed_and_json_round_trips() {
        let p = CardProfile::for_generation(Generation::GeorgiaEidV1);
        let ph = p.placeholders();
        assert!(ph.iter().any(|(f, _)| f == "pki_aid"));
        assert!(ph.iter().all(|(_, s)| s.starts_with("PLACEHOLDER")));
        assert!(!ph.iter().any(|(f, _)| f == "auth_pin.length"));
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(CardProfile::from_json(&json).unwrap(), p);
        assert_eq!(
            PinPadding::Pad {
                byte: 0xFF,
                length: 8
            }
            .apply(b"1234"),
            b"1234\xff\xff\xff\xff"
        );
    }
}
