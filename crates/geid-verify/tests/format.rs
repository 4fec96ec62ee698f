//! Token format and size, and the algorithm allow-list.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use geid_protocol::SignatureAlgorithm::*;
use geid_testkit::pki::CITIZEN;
use geid_verify::VerifyError;

fn malformed(json: &str) -> String {
    let n = nonce();
    match reject(&verifier(), json, &n) {
        VerifyError::TokenMalformed(m) => m,
        other => panic!("expected TOKEN_MALFORMED, got {other:?}"),
    }
}

fn edit(f: impl Fn(&mut serde_json::Value)) -> String {
    let mut v: serde_json::Value = serde_json::from_str(&token(CITIZEN, Rs256, &nonce())).unwrap();
    f(&mut v);
    v.to_string()
}

#[test]
fn too_large() {
    let big = edit(|v| v["padding"] = "x".repeat(10_000).into());
    assert!(malformed(&big).contains("at most 10000"));
}

#[test]
fn too_small() {
    assert!(malformed("{}").contains("at least"));
}

#[test]
fn not_json() {
    assert!(malformed(&"<html>".repeat(30)).contains("not a JSON object"));
}

#[test]
fn json_array() {
    assert!(malformed(&format!("[{}]", "1,".repeat(60) + "1")).contains("not a JSON object"));
}

#[test]
fn missing_certificate() {
    let t = edit(|v| {
        v.as_object_mut().unwrap().remove("unverifiedCertificate");
        v["padding"] = "x".repeat(200).into();
    });
    assert!(malformed(&t).contains("unverifiedCertificate"));
}

#[test]
fn missing_signature() {
    let t = edit(|v| {
        v.as_object_mut().unwrap().remove("signature");
    });
    assert!(malformed(&t).contains("signature"));
}

#[test]
fn wrong_format() {
    let t = edit(|v| v["format"] = "web-eid:2.0".into());
    assert!(malformed(&t).contains("web-eid:2.0"));
}

#[test]
fn unknown_algorithm() {
    let t = edit(|v| v["algorithm"] = "HS256".into());
    assert!(malformed(&t).contains("HS256"));
}

#[test]
fn algorithm_none() {
    let t = edit(|v| v["algorithm"] = "none".into());
    assert!(malformed(&t).contains("none"));
}

#[test]
fn certificate_not_base64() {
    let t = edit(|v| v["unverifiedCertificate"] = "%%%not base64%%%".into());
    assert!(malformed(&t).contains("base64"));
}

#[test]
fn signature_not_a_string() {
    let t = edit(|v| v["signature"] = serde_json::json!(12345));
    assert!(malformed(&t).contains("signature"));
}

#[test]
fn algorithm_not_in_the_allow_list() {
    let n = nonce();
    let v = builder()
        .allowed_algorithms([Ps256, Es256])
        .build()
        .unwrap();
    let e = reject(&v, &token(CITIZEN, Rs256, &n), &n);
    assert_eq!(e, VerifyError::AlgorithmNotAllowed("RS256".into()));
    assert_eq!(e.code(), "ALGORITHM_NOT_ALLOWED");
}

#[test]
fn allow_listed_algorithm_is_accepted() {
    let n = nonce();
    let v = builder().allowed_algorithms([Ps256]).build().unwrap();
    run(v.verify(token(CITIZEN, Ps256, &n).as_bytes(), &n)).unwrap();
}

#[test]
fn web_eid_1_1_format_is_accepted() {
    let n = nonce();
    let mut v: serde_json::Value = serde_json::from_str(&token(CITIZEN, Rs256, &n)).unwrap();
    v["format"] = "web-eid:1.1".into();
    run(verifier().verify(v.to_string().as_bytes(), &n)).unwrap();
}
