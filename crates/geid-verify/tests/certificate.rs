//! Certificate decoding, key, validity, keyUsage and EKU checks: one defect per case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use geid_protocol::SignatureAlgorithm::{self, *};
use geid_testkit::pki::{EKU_WITHOUT_CLIENT_AUTH, EXPIRED, NOT_YET_VALID, NO_DIGITAL_SIGNATURE};
use geid_verify::VerifyError;
use openssl::nid::Nid;
use openssl::x509::extension::{ExtendedKeyUsage, KeyUsage};

fn code(name: &str, alg: SignatureAlgorithm) -> VerifyError {
    let n = nonce();
    reject(&verifier(), &token(name, alg, &n), &n)
}

#[test]
fn expired_certificate() {
    let e = code(EXPIRED, Rs256);
    assert!(matches!(e, VerifyError::CertificateExpired { .. }), "{e}");
    assert_eq!(e.code(), "CERT_EXPIRED");
}

#[test]
fn not_yet_valid_certificate() {
    let e = code(NOT_YET_VALID, Rs256);
    assert!(
        matches!(e, VerifyError::CertificateNotYetValid { .. }),
        "{e}"
    );
    assert_eq!(e.code(), "CERT_NOT_YET_VALID");
}

#[test]
fn key_usage_without_digital_signature() {
    let e = code(NO_DIGITAL_SIGNATURE, Rs256);
    assert_eq!(e, VerifyError::KeyUsage("lacks digitalSignature".into()));
    assert_eq!(e.code(), "CERT_KEY_USAGE");
}

#[test]
fn key_usage_missing() {
    let n = nonce();
    let mut leaf = Leaf::rsa();
    leaf.key_usage = None;
    let e = reject(&verifier(), &leaf_token(leaf, Rs256, &n), &n);
    assert_eq!(e, VerifyError::KeyUsage("is missing".into()));
}

#[test]
fn key_usage_non_repudiation_only() {
    let n = nonce();
    let mut leaf = Leaf::rsa();
    leaf.key_usage = Some(
        KeyUsage::new()
            .critical()
            .non_repudiation()
            .build()
            .unwrap(),
    );
    let e = reject(&verifier(), &leaf_token(leaf, Rs256, &n), &n);
    assert_eq!(e.code(), "CERT_KEY_USAGE");
}

#[test]
fn eku_without_client_auth() {
    let e = code(EKU_WITHOUT_CLIENT_AUTH, Rs256);
    assert_eq!(e, VerifyError::ExtendedKeyUsage);
    assert_eq!(e.code(), "CERT_EKU");
}

#[test]
fn eku_server_auth_only() {
    let n = nonce();
    let mut leaf = Leaf::rsa();
    leaf.eku = Some(ExtendedKeyUsage::new().server_auth().build().unwrap());
    let e = reject(&verifier(), &leaf_token(leaf, Rs256, &n), &n);
    assert_eq!(e, VerifyError::ExtendedKeyUsage);
}

#[test]
fn absent_eku_is_accepted() {
    let n = nonce();
    let mut leaf = Leaf::rsa();
    leaf.eku = None;
    let id = run(verifier().verify(leaf_token(leaf, Rs256, &n).as_bytes(), &n)).unwrap();
    assert_eq!(id.personal_number, "01001000099");
}

#[test]
fn certificate_not_der() {
    let n = nonce();
    let t = token_with_cert_bytes(b"this is not a certificate at all".to_vec(), Rs256, 256);
    let e = reject(&verifier(), &t, &n);
    assert!(matches!(e, VerifyError::CertificateMalformed(_)), "{e}");
    assert_eq!(e.code(), "CERT_MALFORMED");
}

#[test]
fn certificate_truncated() {
    let n = nonce();
    let mut der = pki()
        .citizen("citizen")
        .unwrap()
        .auth_cert
        .to_der()
        .unwrap();
    der.truncate(der.len() - 10);
    let e = reject(&verifier(), &token_with_cert_bytes(der, Rs256, 256), &n);
    assert_eq!(e.code(), "CERT_MALFORMED");
}

#[test]
fn certificate_with_trailing_bytes() {
    let n = nonce();
    let mut der = pki()
        .citizen("citizen")
        .unwrap()
        .auth_cert
        .to_der()
        .unwrap();
    der.extend_from_slice(&[0, 0, 0]);
    let e = reject(&verifier(), &token_with_cert_bytes(der, Rs256, 256), &n);
    assert_eq!(e.code(), "CERT_MALFORMED");
}

#[test]
fn subject_without_serial_number() {
    let n = nonce();
    let mut leaf = Leaf::rsa();
    leaf.serial_number = None;
    let e = reject(&verifier(), &leaf_token(leaf, Rs256, &n), &n);
    assert!(
        matches!(&e, VerifyError::CertificateMalformed(m) if m.contains("serialNumber")),
        "{e}"
    );
}

#[test]
fn rsa_1024_is_a_weak_key() {
    let n = nonce();
    let e = reject(
        &verifier(),
        &leaf_token(Leaf::new(rsa(1024)), Rs256, &n),
        &n,
    );
    assert_eq!(
        e,
        VerifyError::WeakKey("RSA-1024; at least 2048 bits are required".into())
    );
    assert_eq!(e.code(), "WEAK_KEY");
}

#[test]
fn secp256k1_is_not_accepted() {
    let n = nonce();
    let cert = Leaf::new(ec(Nid::SECP256K1)).issue(pki().auth_ca());
    let t = token_with_cert_bytes(cert.to_der().unwrap(), Es256, 64);
    let e = reject(&verifier(), &t, &n);
    assert!(
        matches!(&e, VerifyError::WeakKey(m) if m.contains("secp256k1")),
        "{e}"
    );
}

#[test]
fn brainpool_is_not_accepted() {
    let n = nonce();
    let cert = Leaf::new(ec(Nid::BRAINPOOL_P256R1)).issue(pki().auth_ca());
    let e = reject(
        &verifier(),
        &token_with_cert_bytes(cert.to_der().unwrap(), Es256, 64),
        &n,
    );
    assert_eq!(e.code(), "WEAK_KEY");
}

#[test]
fn es384_claimed_for_a_p256_key() {
    let n = nonce();
    let c = pki().citizen("ee-p256").unwrap();
    let t = token_with_cert_bytes(c.auth_cert.to_der().unwrap(), Es384, 96);
    let e = reject(&verifier(), &t, &n);
    assert_eq!(
        e,
        VerifyError::AlgorithmKeyMismatch {
            algorithm: "ES384".into(),
            key: "EC P-256".into()
        }
    );
    assert_eq!(e.code(), "ALGORITHM_KEY_MISMATCH");
}

#[test]
fn es256_claimed_for_an_rsa_key() {
    let n = nonce();
    let c = pki().citizen("citizen").unwrap();
    let e = reject(
        &verifier(),
        &token_with_cert_bytes(c.auth_cert.to_der().unwrap(), Es256, 64),
        &n,
    );
    assert_eq!(e.code(), "ALGORITHM_KEY_MISMATCH");
}

#[test]
fn rs256_claimed_for_an_ec_key() {
    let n = nonce();
    let c = pki().citizen("ee-p384").unwrap();
    let e = reject(
        &verifier(),
        &token_with_cert_bytes(c.auth_cert.to_der().unwrap(), Rs256, 256),
        &n,
    );
    assert_eq!(
        e,
        VerifyError::AlgorithmKeyMismatch {
            algorithm: "RS256".into(),
            key: "EC P-384".into()
        }
    );
}

#[test]
fn unknown_critical_extension_on_the_leaf() {
    let n = nonce();
    let mut leaf = Leaf::rsa();
    leaf.extra
        .push(raw_extension("1.3.6.1.4.1.99999.9.9", true, &[0x05, 0x00]));
    let e = reject(&verifier(), &leaf_token(leaf, Rs256, &n), &n);
    assert_eq!(
        e,
        VerifyError::UnknownCriticalExtension("1.3.6.1.4.1.99999.9.9".into())
    );
    assert_eq!(e.code(), "CERT_CRITICAL_EXTENSION");
}

#[test]
fn unknown_non_critical_extension_is_accepted() {
    let n = nonce();
    let mut leaf = Leaf::rsa();
    leaf.extra
        .push(raw_extension("1.3.6.1.4.1.99999.9.9", false, &[0x05, 0x00]));
    run(verifier().verify(leaf_token(leaf, Rs256, &n).as_bytes(), &n)).unwrap();
}

#[test]
fn duplicate_extension() {
    let n = nonce();
    let mut leaf = Leaf::rsa();
    leaf.extra
        .push(raw_extension("1.3.6.1.4.1.99999.9.9", false, &[0x05, 0x00]));
    leaf.extra
        .push(raw_extension("1.3.6.1.4.1.99999.9.9", false, &[0x05, 0x00]));
    let e = reject(&verifier(), &leaf_token(leaf, Rs256, &n), &n);
    assert!(
        matches!(&e, VerifyError::CertificateMalformed(m) if m.contains("twice")),
        "{e}"
    );
}

#[test]
fn verification_time_after_expiry_via_clock() {
    let n = nonce();
    let v = builder()
        .at(std::time::SystemTime::now() + std::time::Duration::from_secs(10 * 365 * 86_400))
        .build()
        .unwrap();
    let e = reject(&v, &token("citizen", Rs256, &n), &n);
    assert_eq!(e.code(), "CERT_EXPIRED");
}
