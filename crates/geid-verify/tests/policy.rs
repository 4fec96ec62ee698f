//! Certificate policies: required and disallowed OIDs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use geid_protocol::SignatureAlgorithm::*;
use geid_testkit::pki::{TEST_POLICY_AUTH, TEST_POLICY_SIGN};
use geid_verify::VerifyError;

/// Estonian Mobile-ID policy, disallowed by Web eID's validator by default.
const MOBILE_ID: &str = "1.3.6.1.4.1.10015.1.3";

#[test]
fn required_policy_present_is_accepted() {
    let n = nonce();
    let v = builder().require_policy(TEST_POLICY_AUTH).build().unwrap();
    run(v.verify(token("citizen", Rs256, &n).as_bytes(), &n)).unwrap();
}

#[test]
fn required_policy_absent() {
    let n = nonce();
    let v = builder().require_policy(TEST_POLICY_SIGN).build().unwrap();
    let e = reject(&v, &token("citizen", Rs256, &n), &n);
    assert!(
        matches!(&e, VerifyError::CertificatePolicy(m) if m.contains("include none")),
        "{e}"
    );
    assert_eq!(e.code(), "CERT_POLICY");
}

#[test]
fn required_policy_but_no_policies_extension_does_not_crash() {
    let n = nonce();
    let mut leaf = Leaf::rsa();
    leaf.policies = None;
    let v = builder().require_policy(TEST_POLICY_AUTH).build().unwrap();
    let e = reject(&v, &leaf_token(leaf, Rs256, &n), &n);
    assert!(
        matches!(&e, VerifyError::CertificatePolicy(m) if m.contains("no certificatePolicies")),
        "{e}"
    );
}

#[test]
fn no_policies_extension_without_requirements_is_accepted() {
    let n = nonce();
    let mut leaf = Leaf::rsa();
    leaf.policies = None;
    run(verifier().verify(leaf_token(leaf, Rs256, &n).as_bytes(), &n)).unwrap();
}

#[test]
fn disallowed_policy_present() {
    let n = nonce();
    let mut leaf = Leaf::rsa();
    leaf.policies = Some(policies_ext(&[TEST_POLICY_AUTH, MOBILE_ID]));
    let v = builder().disallow_policy(MOBILE_ID).build().unwrap();
    let e = reject(&v, &leaf_token(leaf, Rs256, &n), &n);
    assert!(
        matches!(&e, VerifyError::CertificatePolicy(m) if m.contains(MOBILE_ID)),
        "{e}"
    );
}

#[test]
fn disallowed_wins_over_required() {
    let n = nonce();
    let v = builder()
        .require_policy(TEST_POLICY_AUTH)
        .disallow_policy(TEST_POLICY_AUTH)
        .build()
        .unwrap();
    let e = reject(&v, &token("citizen", Rs256, &n), &n);
    assert_eq!(e.code(), "CERT_POLICY");
}

#[test]
fn malformed_policies_extension() {
    let n = nonce();
    let mut leaf = Leaf::rsa();
    leaf.policies = Some(raw_extension(
        "2.5.29.32",
        false,
        &[0x30, 0x03, 0x02, 0x01, 0x01],
    ));
    let e = reject(&verifier(), &leaf_token(leaf, Rs256, &n), &n);
    assert_eq!(e.code(), "CERT_MALFORMED", "{e}");
}
