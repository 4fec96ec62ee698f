//! Chain building to a configured anchor (RFC 5280 §6.1) and configuration checks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use geid_protocol::SignatureAlgorithm::*;
use geid_testkit::pki::{CertifiedKey, NON_CA_ISSUER, UNKNOWN_CA};
use geid_verify::{OcspConfig, OcspMode, Verifier, VerifyError};
use openssl::x509::extension::KeyUsage;

#[test]
fn issued_by_an_unknown_ca() {
    let n = nonce();
    let e = reject(&verifier(), &token(UNKNOWN_CA, Rs256, &n), &n);
    assert!(matches!(e, VerifyError::CertificateNotTrusted(_)), "{e}");
    assert_eq!(e.code(), "CERT_NOT_TRUSTED");
}

#[test]
fn issued_by_a_non_ca_intermediate() {
    let n = nonce();
    let e = reject(&verifier(), &token(NON_CA_ISSUER, Rs256, &n), &n);
    assert!(
        matches!(&e, VerifyError::CertificateNotTrusted(m) if m.contains("depth 1")),
        "{e}"
    );
}

#[test]
fn intermediate_not_configured() {
    let n = nonce();
    let v = Verifier::builder()
        .origin(ORIGIN)
        .trust_anchor(pki().root().cert.clone())
        .ocsp(OcspConfig::off())
        .build()
        .unwrap();
    let e = reject(&v, &token("citizen", Rs256, &n), &n);
    assert_eq!(e.code(), "CERT_NOT_TRUSTED");
}

#[test]
fn anchored_at_another_root() {
    let n = nonce();
    let mut b = Verifier::builder()
        .origin(ORIGIN)
        .trust_anchor(pki().unknown_root().cert.clone())
        .ocsp(OcspConfig::off());
    for c in pki().intermediates() {
        b = b.intermediate(c.clone());
    }
    let e = reject(&b.build().unwrap(), &token("citizen", Rs256, &n), &n);
    assert_eq!(e.code(), "CERT_NOT_TRUSTED");
}

#[test]
fn self_signed_leaf() {
    let n = nonce();
    let leaf = Leaf::rsa();
    let key = leaf.key.clone();
    // Issued by itself: a "CA" made of the leaf's own key and a placeholder certificate.
    let placeholder = Leaf::new(key.clone()).issue(pki().auth_ca());
    let own = CertifiedKey {
        cert: placeholder,
        key: key.clone(),
    };
    let cert = leaf.issue(&own);
    let e = reject(&verifier(), &token_with(&cert, &key, Rs256, &n), &n);
    assert_eq!(e.code(), "CERT_NOT_TRUSTED");
}

#[test]
fn signed_by_the_right_name_but_wrong_key() {
    let n = nonce();
    // Issuer name of the Authentication CA, signature by the signing CA's key.
    let forged = CertifiedKey {
        cert: pki().auth_ca().cert.clone(),
        key: pki().sign_ca().key.clone(),
    };
    let leaf = Leaf::rsa();
    let key = leaf.key.clone();
    let cert = leaf.issue(&forged);
    let e = reject(&verifier(), &token_with(&cert, &key, Rs256, &n), &n);
    assert_eq!(e.code(), "CERT_NOT_TRUSTED");
}

#[test]
fn issued_by_a_leaf_that_claims_to_be_a_ca_without_key_cert_sign() {
    let n = nonce();
    // An intermediate with CA:TRUE but keyUsage digitalSignature only (no keyCertSign).
    let mut mid = Leaf::rsa();
    mid.ca = true;
    mid.eku = None;
    mid.key_usage = Some(
        KeyUsage::new()
            .critical()
            .digital_signature()
            .build()
            .unwrap(),
    );
    let mid_key = mid.key.clone();
    let mid = CertifiedKey {
        cert: mid.issue(pki().auth_ca()),
        key: mid_key,
    };
    let leaf = Leaf::rsa();
    let key = leaf.key.clone();
    let cert = leaf.issue(&mid);
    let v = builder().intermediate(mid.cert.clone()).build().unwrap();
    let e = reject(&v, &token_with(&cert, &key, Rs256, &n), &n);
    assert_eq!(e.code(), "CERT_NOT_TRUSTED");
}

#[test]
fn unknown_critical_extension_on_an_intermediate() {
    let n = nonce();
    let mut mid = Leaf::rsa();
    mid.ca = true;
    mid.eku = None;
    mid.key_usage = Some(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()
            .unwrap(),
    );
    mid.extra
        .push(raw_extension("1.3.6.1.4.1.99999.9.8", true, &[0x05, 0x00]));
    let mid_key = mid.key.clone();
    // Root → auth CA has pathlen 0, so issue the intermediate from the root itself.
    let mid = CertifiedKey {
        cert: mid.issue(pki().root()),
        key: mid_key,
    };
    let leaf = Leaf::rsa();
    let key = leaf.key.clone();
    let cert = leaf.issue(&mid);
    let v = builder().intermediate(mid.cert.clone()).build().unwrap();
    let e = reject(&v, &token_with(&cert, &key, Rs256, &n), &n);
    assert_eq!(e.code(), "CERT_CRITICAL_EXTENSION", "{e}");
}

#[test]
fn expired_intermediate() {
    let n = nonce();
    let mut mid = Leaf::rsa();
    mid.ca = true;
    mid.eku = None;
    mid.key_usage = Some(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()
            .unwrap(),
    );
    mid.validity = (now() - 10 * 86_400, now() - 86_400);
    let mid_key = mid.key.clone();
    let mid = CertifiedKey {
        cert: mid.issue(pki().root()),
        key: mid_key,
    };
    let leaf = Leaf::rsa();
    let key = leaf.key.clone();
    let cert = leaf.issue(&mid);
    let v = builder().intermediate(mid.cert.clone()).build().unwrap();
    let e = reject(&v, &token_with(&cert, &key, Rs256, &n), &n);
    assert!(
        matches!(&e, VerifyError::CertificateNotTrusted(m) if m.contains("expired")),
        "{e}"
    );
}

#[test]
fn valid_chain_is_cached_and_reused() {
    let v = verifier();
    for _ in 0..3 {
        let n = nonce();
        run(v.verify(token("citizen", Rs256, &n).as_bytes(), &n)).unwrap();
    }
    assert_eq!(v.cached_chains(), 1);
}

// ---- configuration -----------------------------------------------------------------------

fn config_error(b: geid_verify::VerifierBuilder) -> String {
    match b.build() {
        Err(VerifyError::Config(m)) => m,
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[test]
fn config_requires_an_origin() {
    let b = Verifier::builder().trust_anchor(pki().root().cert.clone());
    assert!(config_error(b).contains("origin is required"));
}

#[test]
fn config_refuses_http_for_a_public_host() {
    let b = builder().origin("http://portal.example.ge");
    assert!(config_error(b).contains("origin"));
}

#[test]
fn config_accepts_http_for_loopback() {
    builder().origin("http://localhost:8080").build().unwrap();
    builder().origin("http://127.0.0.1:3000").build().unwrap();
}

#[test]
fn config_refuses_an_origin_with_a_path() {
    assert!(config_error(builder().origin("https://portal.example.ge/login")).contains("origin"));
}

#[test]
fn config_requires_an_anchor() {
    let b = Verifier::builder().origin(ORIGIN);
    assert!(config_error(b).contains("trust anchor"));
}

#[test]
fn config_refuses_a_non_ca_anchor() {
    let b = Verifier::builder()
        .origin(ORIGIN)
        .trust_anchor(pki().citizen("citizen").unwrap().auth_cert.clone());
    assert!(config_error(b).contains("not a CA"));
}

#[test]
fn config_refuses_garbage_pem() {
    let b = Verifier::builder()
        .origin(ORIGIN)
        .trust_anchors_from(b"-----BEGIN CERTIFICATE-----\nnope\n");
    assert!(config_error(b).contains("trust anchor"));
}

#[test]
fn config_reads_pem_and_der() {
    let root = &pki().root().cert;
    let v = Verifier::builder()
        .origin(ORIGIN)
        .trust_anchors_from(&root.to_pem().unwrap())
        .intermediates_from(&pki().auth_ca().cert.to_der().unwrap())
        .ocsp(OcspConfig::off())
        .build()
        .unwrap();
    let n = nonce();
    run(v.verify(token("citizen", Rs256, &n).as_bytes(), &n)).unwrap();
}

#[test]
fn config_refuses_a_bad_policy_oid() {
    assert!(config_error(builder().require_policy("not.an.oid")).contains("OID"));
}

#[test]
fn config_refuses_a_non_http_responder() {
    let mut ocsp = OcspConfig::aia();
    ocsp.mode = OcspMode::Url("ldap://ocsp.example.ge".into());
    assert!(config_error(builder().ocsp(ocsp)).contains("OCSP"));
}

#[test]
fn config_refuses_no_algorithms() {
    assert!(config_error(builder().allowed_algorithms([])).contains("algorithm"));
}
