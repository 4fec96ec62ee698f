//! The Web eID 1.0 authentication token.
//!
//! ```json
//! {"unverifiedCertificate":"MIIF…","algorithm":"RS256","signature":"…",
//!  "format":"web-eid:1.0","appVersion":"https://…/releases/0.1.0"}
//! ```
//!
//! Field names and meaning follow Web eID so that portals running a Web eID validator accept
//! tokens from geid, and geid accepts tokens from Web eID. Parsing here checks the shape only
//! (size, JSON, fields, format, algorithm name, base64); whether the certificate is trusted and
//! the signature valid is `geid-verify`'s business.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use std::borrow::Cow;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::SignatureAlgorithm;

/// Longest token JSON accepted, in bytes; longer input is refused before parsing.
pub const TOKEN_MAX_LEN: usize = 10_000;
/// Shortest token JSON that can hold a certificate; shorter input is refused before parsing.
pub const TOKEN_MIN_LEN: usize = 100;
/// The format geid produces.
pub const TOKEN_FORMAT: &str = "web-eid:1.0";
/// The format prefix geid accepts (`web-eid:1`, `web-eid:1.0`, `web-eid:1.1`, …).
pub const TOKEN_FORMAT_PREFIX: &str = "web-eid:1";

/// Standard base64 alphabet; padding optional on input, always written on output.
pub(crate) const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A structurally valid authentication token (not yet verified).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthToken {
    /// DER of the signer's certificate, as sent (`unverifiedCertificate`).
    pub certificate: Vec<u8>,
    /// The signature algorithm.
    pub algorithm: SignatureAlgorithm,
    /// The signature over `H(origin) || H(nonce)`; raw `r || s` for ECDSA.
    pub signature: Vec<u8>,
    /// The format string, starting with `web-eid:1`.
    pub format: String,
    /// The producing application's version URL.
    pub app_version: String,
}

/// Why a token could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Over [`TOKEN_MAX_LEN`] bytes.
    #[error("token is {len} bytes; at most {TOKEN_MAX_LEN} are accepted")]
    TooLarge {
        /// The length found.
        len: usize,
    },
    /// Under [`TOKEN_MIN_LEN`] bytes.
    #[error("token is {len} bytes; a token holding a certificate has at least {TOKEN_MIN_LEN}")]
    TooSmall {
        /// The length found.
        len: usize,
    },
    /// Not JSON, or not a JSON object.
    #[error("token is not a JSON object: {0}")]
    Json(String),
    /// A required field is absent.
    #[error("token has no {0:?} field")]
    MissingField(&'static str),
    /// A field is not a string, or an empty string.
    #[error("token field {0:?} must be a non-empty string")]
    WrongType(&'static str),
    /// `format` does not start with `web-eid:1`.
    #[error("token format {0:?} is not supported; expected web-eid:1.x")]
    UnsupportedFormat(String),
    /// `algorithm` is not one of RS/PS/ES 256/384/512.
    #[error("token algorithm {0:?} is not supported")]
    UnsupportedAlgorithm(String),
    /// A base64 field does not decode.
    #[error("token field {field:?} is not valid base64: {reason}")]
    Base64 {
        /// Which field.
        field: &'static str,
        /// The decoder's explanation.
        reason: String,
    },
}

/// The wire form: every field optional so that a missing one gets its own error, and borrowed
/// from the input so that parsing copies nothing (the certificate is most of the token).
#[derive(Deserialize)]
struct WireToken<'a> {
    #[serde(rename = "unverifiedCertificate", borrow)]
    certificate: Option<&'a RawValue>,
    #[serde(borrow)]
    algorithm: Option<&'a RawValue>,
    #[serde(borrow)]
    signature: Option<&'a RawValue>,
    #[serde(borrow)]
    format: Option<&'a RawValue>,
    #[serde(rename = "appVersion", borrow)]
    app_version: Option<&'a RawValue>,
}

fn string_field<'a>(
    value: Option<&'a RawValue>,
    name: &'static str,
) -> Result<Cow<'a, str>, TokenError> {
    let raw = value.ok_or(TokenError::MissingField(name))?;
    // A JSON string starts with a quote; anything else (number, object, null, ...) is the wrong
    // type. Strings without escapes are borrowed straight from the input.
    if !raw.get().starts_with('"') {
        return Err(TokenError::WrongType(name));
    }
    match serde_json::from_str::<Cow<'a, str>>(raw.get()) {
        Ok(s) if !s.is_empty() => Ok(s),
        _ => Err(TokenError::WrongType(name)),
    }
}

fn base64_field(value: Option<&RawValue>, name: &'static str) -> Result<Vec<u8>, TokenError> {
    let s = string_field(value, name)?;
    BASE64.decode(s.as_bytes()).map_err(|e| TokenError::Base64 {
        field: name,
        reason: e.to_string(),
    })
}

fn truncated(s: &str) -> String {
    s.chars().take(40).collect()
}

impl AuthToken {
    /// Parses token JSON, refusing oversized input before any parsing.
    ///
    /// Unknown fields are ignored (Web eID may add some). Checks run in a fixed order so the
    /// same input always gives the same error: size, JSON, format, algorithm, certificate,
    /// signature, appVersion.
    pub fn parse(json: &str) -> Result<AuthToken, TokenError> {
        Self::parse_bytes(json.as_bytes())
    }

    /// Like [`AuthToken::parse`] for bytes (e.g. a request body).
    pub fn parse_bytes(json: &[u8]) -> Result<AuthToken, TokenError> {
        if json.len() > TOKEN_MAX_LEN {
            return Err(TokenError::TooLarge { len: json.len() });
        }
        if json.len() < TOKEN_MIN_LEN {
            return Err(TokenError::TooSmall { len: json.len() });
        }
        let wire: WireToken<'_> =
            serde_json::from_slice(json).map_err(|e| TokenError::Json(e.to_string()))?;
        let format = string_field(wire.format, "format")?.into_owned();
        if !format.starts_with(TOKEN_FORMAT_PREFIX) {
            return Err(TokenError::UnsupportedFormat(truncated(&format)));
        }
        let algorithm = string_field(wire.algorithm, "algorithm")?;
        let algorithm = algorithm
            .parse::<SignatureAlgorithm>()
            .map_err(|_| TokenError::UnsupportedAlgorithm(truncated(&algorithm)))?;
        let certificate = base64_field(wire.certificate, "unverifiedCertificate")?;
        let signature = base64_field(wire.signature, "signature")?;
        let app_version = string_field(wire.app_version, "appVersion")?.into_owned();
        Ok(AuthToken {
            certificate,
            algorithm,
            signature,
            format,
            app_version,
        })
    }

    /// The token as compact JSON, in Web eID field order.
    pub fn to_json(&self) -> String {
        // Serialising a struct of strings cannot fail.
        serde_json::to_string(&self.wire()).unwrap_or_default()
    }

    fn wire(&self) -> WireTokenOut<'_> {
        WireTokenOut {
            certificate: BASE64.encode(&self.certificate),
            algorithm: self.algorithm.as_str(),
            signature: BASE64.encode(&self.signature),
            format: &self.format,
            app_version: &self.app_version,
        }
    }
}

#[derive(Serialize)]
struct WireTokenOut<'a> {
    #[serde(rename = "unverifiedCertificate")]
    certificate: String,
    algorithm: &'a str,
    signature: String,
    format: &'a str,
    #[serde(rename = "appVersion")]
    app_version: &'a str,
}

impl Serialize for AuthToken {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.wire().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for AuthToken {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Re-serialise the sub-tree so that the size limit and the ordered checks apply the
        // same way as for a token read on its own.
        let value = serde_json::Value::deserialize(deserializer)?;
        let json = serde_json::to_string(&value).map_err(serde::de::Error::custom)?;
        AuthToken::parse(&json).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> AuthToken {
        AuthToken {
            certificate: vec![0x30, 0x82, 0x01, 0x00, 7, 7, 7],
            algorithm: SignatureAlgorithm::Es384,
            signature: vec![1; 96],
            format: TOKEN_FORMAT.into(),
            app_version: "https://geid.invalid/releases/0.1.0".into(),
        }
    }

    fn json_with(field: &str, value: serde_json::Value) -> String {
        let mut v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        match value {
            serde_json::Value::Null => {
                v.as_object_mut().unwrap().remove(field);
            }
            other => {
                v[field] = other;
            }
        }
        v.to_string()
    }

    #[test]
    fn round_trips_with_web_eid_field_names() {
        let t = sample();
        let json = t.to_json();
        assert!(
            json.starts_with("{\"unverifiedCertificate\":\"MIIBAAcHBw==\",\"algorithm\":\"ES384\"")
        );
        assert_eq!(AuthToken::parse(&json).unwrap(), t);
        let via_serde: AuthToken = serde_json::from_str(&json).unwrap();
        assert_eq!(via_serde, t);
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let json = json_with("extra", serde_json::json!({"nested": [1, 2, 3]}));
        assert_eq!(AuthToken::parse(&json).unwrap(), sample());
    }

    #[test]
    fn oversized_and_undersized_are_refused_before_parsing() {
        let big = format!("{{\"x\":\"{}\"}}", "a".repeat(TOKEN_MAX_LEN));
        assert_eq!(
            AuthToken::parse(&big),
            Err(TokenError::TooLarge { len: big.len() })
        );
        // Not even valid JSON, but the size rule speaks first.
        let garbage = "\u{0}".repeat(TOKEN_MAX_LEN + 1);
        assert!(matches!(
            AuthToken::parse(&garbage),
            Err(TokenError::TooLarge { .. })
        ));
        assert_eq!(AuthToken::parse("{}"), Err(TokenError::TooSmall { len: 2 }));
    }

    #[test]
    fn each_malformation_has_its_own_error() {
        let pad = "x".repeat(120);
        assert!(matches!(
            AuthToken::parse(&format!("[\"{pad}\"]")),
            Err(TokenError::Json(_))
        ));
        assert!(matches!(
            AuthToken::parse(&format!("{{\"a\":\"{pad}\"")),
            Err(TokenError::Json(_))
        ));
        assert_eq!(
            AuthToken::parse(&json_with("format", serde_json::Value::Null)),
            Err(TokenError::MissingField("format"))
        );
        assert_eq!(
            AuthToken::parse(&json_with("format", serde_json::json!("web-eid:2.0"))),
            Err(TokenError::UnsupportedFormat("web-eid:2.0".into()))
        );
        assert_eq!(
            AuthToken::parse(&json_with("format", serde_json::json!(1))),
            Err(TokenError::WrongType("format"))
        );
        assert_eq!(
            AuthToken::parse(&json_with("algorithm", serde_json::json!("none"))),
            Err(TokenError::UnsupportedAlgorithm("none".into()))
        );
        assert_eq!(
            AuthToken::parse(&json_with("algorithm", serde_json::json!("HS256"))),
            Err(TokenError::UnsupportedAlgorithm("HS256".into()))
        );
        assert_eq!(
            AuthToken::parse(&json_with("unverifiedCertificate", serde_json::Value::Null)),
            Err(TokenError::MissingField("unverifiedCertificate"))
        );
        assert_eq!(
            AuthToken::parse(&json_with("unverifiedCertificate", serde_json::json!(""))),
            Err(TokenError::WrongType("unverifiedCertificate"))
        );
        assert!(matches!(
            AuthToken::parse(&json_with("signature", serde_json::json!("not*base64!"))),
            Err(TokenError::Base64 {
                field: "signature",
                ..
            })
        ));
        assert!(matches!(
            AuthToken::parse(&json_with(
                "unverifiedCertificate",
                serde_json::json!("MIIB-_==")
            )),
            Err(TokenError::Base64 {
                field: "unverifiedCertificate",
                ..
            })
        ));
        assert_eq!(
            AuthToken::parse(&json_with("appVersion", serde_json::json!(null))),
            Err(TokenError::MissingField("appVersion"))
        );
        assert_eq!(
            AuthToken::parse(&json_with("signature", serde_json::json!(["AAAA"]))),
            Err(TokenError::WrongType("signature"))
        );
    }

    proptest! {
        #[test]
        fn token_round_trips(
            cert in prop::collection::vec(any::<u8>(), 1..3000),
            sig in prop::collection::vec(any::<u8>(), 1..600),
            alg in prop::sample::select(SignatureAlgorithm::ALL.to_vec()),
        ) {
            let t = AuthToken {
                certificate: cert,
                algorithm: alg,
                signature: sig,
                format: TOKEN_FORMAT.into(),
                app_version: "https://geid.invalid/releases/0.1.0".into(),
            };
            let json = t.to_json();
            if json.len() <= TOKEN_MAX_LEN {
                prop_assert_eq!(AuthToken::parse(&json).unwrap(), t);
            } else {
                let too_large = matches!(AuthToken::parse(&json), Err(TokenError::TooLarge { .. }));
                prop_assert!(too_large);
            }
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,400}") {
            let _ = AuthToken::parse(&s);
        }

        #[test]
        fn parse_never_panics_on_json_shaped_input(
            fields in prop::collection::vec(("[a-zA-Z]{1,25}", "\\PC{0,60}"), 0..8)
        ) {
            let obj: serde_json::Map<String, serde_json::Value> = fields
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect();
            let _ = AuthToken::parse(&serde_json::Value::Object(obj).to_string());
        }
    }
}
