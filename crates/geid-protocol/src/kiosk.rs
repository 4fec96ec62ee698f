//! Signed requests from a House-of-Justice kiosk to the portal kiosk API.
//!
//! Each kiosk holds its own private key (Ed25519 or ECDSA P-256) and the portal holds only the
//! public key, so no shared secret sits in a configuration file. Every request carries four
//! headers ([`HEADER_KIOSK`], [`HEADER_TIMESTAMP`], [`HEADER_REQUEST_ID`],
//! [`HEADER_SIGNATURE`]); the signature covers [`string_to_sign`]: the method, the path, the
//! timestamp, the request id, the kiosk id and the SHA-256 of the body. The portal accepts a
//! timestamp within [`MAX_SKEW_SECS`] of its clock and each request id once per kiosk, so a
//! captured request cannot be replayed or moved to another endpoint.

use sha2::{Digest, Sha256};

/// The kiosk id header.
pub const HEADER_KIOSK: &str = "x-geid-kiosk";
/// Unix seconds when the kiosk signed the request.
pub const HEADER_TIMESTAMP: &str = "x-geid-timestamp";
/// A fresh random id per request (16–64 characters of `[A-Za-z0-9_-]`).
pub const HEADER_REQUEST_ID: &str = "x-geid-request-id";
/// Standard base64 of the signature (Ed25519: 64 bytes; ECDSA: DER).
pub const HEADER_SIGNATURE: &str = "x-geid-signature";
/// How far the kiosk's clock may be from the portal's.
pub const MAX_SKEW_SECS: i64 = 60;
/// The first line of every string to sign (the scheme and its version).
pub const SCHEME: &str = "geid-kiosk-request-v1";

/// Whether `id` is a well-formed kiosk id: 1–64 characters of `[a-z0-9._-]`.
pub fn valid_kiosk_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

/// Whether `id` is a well-formed request id.
pub fn valid_request_id(id: &str) -> bool {
    (16..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The bytes a kiosk signs: one field per line, the body as lower-case hex SHA-256.
pub fn string_to_sign(
    method: &str,
    path: &str,
    timestamp: i64,
    request_id: &str,
    kiosk_id: &str,
    body: &[u8],
) -> Vec<u8> {
    let body_hash: String = Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "{SCHEME}\n{}\n{path}\n{timestamp}\n{request_id}\n{kiosk_id}\n{body_hash}",
        method.to_ascii_uppercase()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_changes_the_string() {
        let base = string_to_sign(
            "post",
            "/kiosk/v1/challenge",
            1,
            "r".repeat(16).as_str(),
            "k1",
            b"",
        );
        assert!(base.starts_with(b"geid-kiosk-request-v1\nPOST\n/kiosk/v1/challenge\n1\n"));
        assert!(base.ends_with(b"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
        let r = "r".repeat(16);
        for other in [
            string_to_sign("GET", "/kiosk/v1/challenge", 1, &r, "k1", b""),
            string_to_sign("POST", "/kiosk/v1/credentials", 1, &r, "k1", b""),
            string_to_sign("POST", "/kiosk/v1/challenge", 2, &r, "k1", b""),
            string_to_sign("POST", "/kiosk/v1/challenge", 1, &"s".repeat(16), "k1", b""),
            string_to_sign("POST", "/kiosk/v1/challenge", 1, &r, "k2", b""),
            string_to_sign("POST", "/kiosk/v1/challenge", 1, &r, "k1", b"{}"),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn ids() {
        assert!(valid_kiosk_id("tbilisi-hoj-01"));
        assert!(!valid_kiosk_id("Tbilisi"));
        assert!(!valid_kiosk_id("a\nb"));
        assert!(!valid_kiosk_id(""));
        assert!(valid_request_id("abcdefghijklmnop"));
        assert!(!valid_request_id("short"));
        assert!(!valid_request_id("abcdefghijklmno\n"));
    }
}
