//! The request origin against the configured one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use geid_verify::VerifyError;

#[test]
fn same_origin_in_another_spelling_is_accepted() {
    verifier()
        .check_request_origin("https://Portal.Example.GE:443")
        .unwrap();
}

#[test]
fn another_host() {
    let e = verifier()
        .check_request_origin("https://evil.example.ge")
        .unwrap_err();
    assert_eq!(
        e,
        VerifyError::OriginMismatch {
            expected: ORIGIN.into(),
            got: "https://evil.example.ge".into()
        }
    );
    assert_eq!(e.code(), "ORIGIN_MISMATCH");
}

#[test]
fn another_port() {
    let e = verifier()
        .check_request_origin("https://portal.example.ge:8443")
        .unwrap_err();
    assert_eq!(e.code(), "ORIGIN_MISMATCH");
}

#[test]
fn http_instead_of_https() {
    let e = verifier()
        .check_request_origin("http://portal.example.ge")
        .unwrap_err();
    assert_eq!(e.code(), "ORIGIN_MISMATCH");
}

#[test]
fn origin_with_a_path() {
    let e = verifier()
        .check_request_origin("https://portal.example.ge/login")
        .unwrap_err();
    assert_eq!(e.code(), "ORIGIN_MISMATCH");
}

#[test]
fn null_origin() {
    let e = verifier().check_request_origin("null").unwrap_err();
    assert_eq!(e.code(), "ORIGIN_MISMATCH");
}

#[test]
fn subdomain_lookalike() {
    let e = verifier()
        .check_request_origin("https://portal.example.ge.evil.com")
        .unwrap_err();
    assert_eq!(e.code(), "ORIGIN_MISMATCH");
}
