//! The signature over `H(origin) || H(nonce)`: acceptance for every algorithm, and each way a
//! signature can be wrong.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use geid_protocol::{
    AuthToken, Origin,
    SignatureAlgorithm::{self, *},
};
use geid_testkit::pki::{CITIZEN, CITIZEN_2, EE_P256, EE_P384};
use geid_testkit::TokenSigner;
use geid_verify::VerifyError;
use openssl::nid::Nid;

fn accept(name: &str, alg: SignatureAlgorithm) -> geid_verify::Identity {
    let n = nonce();
    run(verifier().verify(token(name, alg, &n).as_bytes(), &n)).unwrap()
}

#[test]
fn every_rsa_algorithm_is_accepted_with_the_georgian_citizen() {
    for alg in [Rs256, Rs384, Rs512, Ps256, Ps384, Ps512] {
        let id = accept(CITIZEN, alg);
        assert_eq!(id.algorithm, alg);
        assert_eq!(id.personal_number, "01001000001");
        assert_eq!(id.identifier_type.as_deref(), Some("PNO"));
        assert_eq!(id.identifier_country.as_deref(), Some("GE"));
        assert_eq!(id.given_name.as_deref(), Some("გიორგი"));
        assert_eq!(id.surname.as_deref(), Some("ბერიძე"));
        assert_eq!(id.common_name.as_deref(), Some("გიორგი ბერიძე"));
        assert_eq!(id.country.as_deref(), Some("GE"));
        assert!(id.issuer.contains("GEO Authentication CA (TEST)"));
        assert_eq!(id.certificate_serial.len(), 32);
    }
}

#[test]
fn es256_and_es384_are_accepted_with_the_foreign_citizens() {
    let id = accept(EE_P256, Es256);
    assert_eq!(id.personal_number, "38001085718");
    assert_eq!(id.identifier_country.as_deref(), Some("EE"));
    assert_eq!(id.surname.as_deref(), Some("JOEORG"));
    let id = accept(EE_P384, Es384);
    assert_eq!(id.personal_number, "49002010976");
}

#[test]
fn es512_is_accepted_with_a_p521_key() {
    let n = nonce();
    let leaf = Leaf::new(ec(Nid::SECP521R1));
    let id = run(verifier().verify(leaf_token(leaf, Es512, &n).as_bytes(), &n)).unwrap();
    assert_eq!(id.algorithm, Es512);
}

#[test]
fn identity_json_keeps_georgian_script() {
    let json = serde_json::to_string(&accept(CITIZEN, Rs256)).unwrap();
    assert!(json.contains("\"givenName\":\"გიორგი\""), "{json}");
    assert!(
        json.contains("\"personalNumber\":\"01001000001\""),
        "{json}"
    );
}

fn tampered(name: &str, alg: SignatureAlgorithm, f: impl Fn(&mut AuthToken)) -> VerifyError {
    let n = nonce();
    let mut t = signer(name).token(alg, &origin(), &n).unwrap();
    f(&mut t);
    reject(&verifier(), &t.to_json(), &n)
}

#[test]
fn tampered_rsa_signature() {
    let e = tampered(CITIZEN, Rs256, |t| t.signature[100] ^= 1);
    assert_eq!(
        e,
        VerifyError::SignatureInvalid {
            origin: ORIGIN.into()
        }
    );
    assert_eq!(e.code(), "SIGNATURE_INVALID");
}

#[test]
fn tampered_ecdsa_signature() {
    let e = tampered(EE_P256, Es256, |t| t.signature[40] ^= 0x80);
    assert_eq!(e.code(), "SIGNATURE_INVALID");
}

#[test]
fn signature_by_another_key() {
    let n = nonce();
    let other = signer(CITIZEN_2).token(Rs256, &origin(), &n).unwrap();
    let e = tampered(CITIZEN, Rs256, |t| t.signature = other.signature.clone());
    assert_eq!(e.code(), "SIGNATURE_INVALID");
}

#[test]
fn token_for_another_origin() {
    let n = nonce();
    let evil = Origin::parse("https://portal.example.ge.evil.com").unwrap();
    let t = signer(CITIZEN).token(Rs256, &evil, &n).unwrap();
    let e = reject(&verifier(), &t.to_json(), &n);
    assert_eq!(
        e,
        VerifyError::SignatureInvalid {
            origin: ORIGIN.into()
        }
    );
}

#[test]
fn token_for_another_nonce() {
    let t = token(CITIZEN, Rs256, &nonce());
    let e = reject(&verifier(), &t, &nonce());
    assert_eq!(e.code(), "SIGNATURE_INVALID");
}

#[test]
fn pss_signature_labelled_pkcs1() {
    let n = nonce();
    let pss = signer(CITIZEN).token(Ps256, &origin(), &n).unwrap();
    let e = tampered(CITIZEN, Rs256, |t| t.signature = pss.signature.clone());
    assert_eq!(e.code(), "SIGNATURE_INVALID");
}

#[test]
fn rs256_signature_labelled_rs512() {
    let n = nonce();
    let rs256 = signer(CITIZEN).token(Rs256, &origin(), &n).unwrap();
    let e = tampered(CITIZEN, Rs512, |t| t.signature = rs256.signature.clone());
    assert_eq!(e.code(), "SIGNATURE_INVALID");
}

#[test]
fn der_encoded_ecdsa_signature() {
    let e = tampered(EE_P256, Es256, |t| {
        t.signature = geid_protocol::ecdsa_raw_to_der(&t.signature, 32).unwrap();
    });
    assert!(
        matches!(&e, VerifyError::SignatureMalformed(m) if m.contains("DER")),
        "{e}"
    );
    assert_eq!(e.code(), "SIGNATURE_MALFORMED");
}

#[test]
fn ecdsa_signature_of_wrong_length() {
    let e = tampered(EE_P384, Es384, |t| t.signature.truncate(90));
    assert!(
        matches!(&e, VerifyError::SignatureMalformed(m) if m.contains("90 bytes")),
        "{e}"
    );
}

#[test]
fn ecdsa_signature_with_zero_r() {
    let e = tampered(EE_P256, Es256, |t| t.signature[..32].fill(0));
    assert_eq!(e.code(), "SIGNATURE_MALFORMED");
}

#[test]
fn ecdsa_signature_with_s_above_the_order() {
    let e = tampered(EE_P256, Es256, |t| t.signature[32..].fill(0xff));
    assert_eq!(e.code(), "SIGNATURE_INVALID");
}

#[test]
fn rsa_signature_of_wrong_length() {
    let e = tampered(CITIZEN, Rs256, |t| t.signature.push(0));
    assert!(
        matches!(&e, VerifyError::SignatureMalformed(m) if m.contains("257 bytes")),
        "{e}"
    );
}

#[test]
fn rsa_signature_all_zero() {
    let e = tampered(CITIZEN, Ps384, |t| t.signature.fill(0));
    assert_eq!(e.code(), "SIGNATURE_INVALID");
}

#[test]
fn signature_over_the_card_digest_instead_of_the_signed_data() {
    // A broken client signing H(H(origin)||H(nonce)) as data (hashing once too often).
    let n = nonce();
    let s = signer(CITIZEN);
    let digest = Rs256.card_digest(&origin(), &n);
    let sig = s.sign_data(Rs256, &digest).unwrap();
    let e = tampered(CITIZEN, Rs256, |t| t.signature = sig.clone());
    assert_eq!(e.code(), "SIGNATURE_INVALID");
}

#[test]
fn certificate_swapped_for_another_citizens() {
    let c2 = pki()
        .citizen(CITIZEN_2)
        .unwrap()
        .auth_cert
        .to_der()
        .unwrap();
    let e = tampered(CITIZEN, Rs256, |t| t.certificate = c2.clone());
    assert_eq!(e.code(), "SIGNATURE_INVALID");
}

#[test]
fn token_signer_and_verifier_agree_for_a_fresh_key_pair() {
    let n = nonce();
    let leaf = Leaf::new(ec(Nid::X9_62_PRIME256V1));
    let key = leaf.key.clone();
    let cert = leaf.issue(pki().auth_ca());
    let t = TokenSigner::new(&cert, key)
        .unwrap()
        .token(Es256, &origin(), &n)
        .unwrap();
    run(verifier().verify(t.to_json().as_bytes(), &n)).unwrap();
}
