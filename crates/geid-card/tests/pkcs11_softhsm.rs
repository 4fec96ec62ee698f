#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The PKCS#11 fallback against SoftHSM2 holding the test PKI's citizen keys and certificates.
//!
//! One SoftHSM2 configuration per test process (the module reads `SOFTHSM2_CONF` once, at
//! `C_Initialize`), with two tokens in `target/tmp/pkcs11_softhsm`, made anew by each run:
//! - `geid-test`: the testkit citizen's RSA authentication and signing keys and certificates;
//! - `geid-ec`: P-256 keys with certificates made here (keyUsage as on the card).
//!
//! Without SoftHSM2 the tests print why and pass, except under CI, where they fail.

use std::path::Path;
use std::sync::OnceLock;

use geid_card::pkcs11::{Pkcs11Backend, Pkcs11Options};
use geid_card::{CardError, IdCard, KeySlot, PinEntry, PinKind};
use geid_protocol::{ChallengeNonce, ErrorCode, HashFunction, Origin, Pin, SignatureAlgorithm};
use geid_testkit::pki::{Pki, CITIZEN};
use geid_testkit::softhsm::{SoftHsm, Token};
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::sign::Verifier;
use openssl::x509::extension::KeyUsage;
use openssl::x509::{X509Builder, X509NameBuilder, X509};

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const RSA_TOKEN: &str = "geid-test";
const EC_TOKEN: &str = "geid-ec";
const USER_PIN: &str = "1234";

struct Fixture {
    ec_auth: X509,
    ec_sign: X509,
}

/// The SoftHSM2 module, or `None` (with the reason printed) when it is not installed outside CI.
fn module() -> Option<&'static Path> {
    let path = Path::new(MODULE);
    if path.is_file() {
        return Some(path);
    }
    if std::env::var_os("CI").is_some() {
        panic!("{MODULE} is missing under CI; scripts/setup installs softhsm2");
    }
    eprintln!("skipped: {MODULE} is missing (apt-get install softhsm2)");
    None
}

/// The SoftHSM2 tokens, made once per process.
fn fixture() -> Option<&'static Fixture> {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    let module = module()?;
    Some(FIXTURE.get_or_init(|| make_fixture(module)))
}

fn make_fixture(_module: &Path) -> Fixture {
    // One fixed directory under target/, emptied at the start of each run, so runs (and runs
    // stopped early) leave no token stores behind.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pkcs11_softhsm");
    let citizen = Pki::shared().citizen(CITIZEN).unwrap();
    let (ec_auth_key, ec_auth) = ec_certificate("EC Citizen (auth)", false);
    let (ec_sign_key, ec_sign) = ec_certificate("EC Citizen (sign)", true);
    SoftHsm::create(
        &dir,
        &[
            Token {
                label: RSA_TOKEN,
                pin: USER_PIN,
                objects: &[
                    (&citizen.auth_key, &citizen.auth_cert, b"\x01"),
                    (
                        citizen.sign_key.as_ref().unwrap(),
                        citizen.sign_cert.as_ref().unwrap(),
                        b"\x02",
                    ),
                ],
            },
            Token {
                label: EC_TOKEN,
                pin: USER_PIN,
                objects: &[
                    (&ec_auth_key, &ec_auth, b"\x11"),
                    (&ec_sign_key, &ec_sign, b"\x12"),
                ],
            },
        ],
    )
    .unwrap();
    Fixture { ec_auth, ec_sign }
}

/// A self-signed P-256 certificate with keyUsage as on the card.
fn ec_certificate(common_name: &str, non_repudiation: bool) -> (PKey<Private>, X509) {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", common_name).unwrap();
    name.append_entry_by_text("serialNumber", "PNOGE-01001000099")
        .unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(7).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&openssl::asn1::Asn1Time::days_from_now(365).unwrap())
        .unwrap();
    let mut usage = KeyUsage::new();
    usage.critical();
    if non_repudiation {
        usage.non_repudiation();
    } else {
        usage.digital_signature();
    }
    b.append_extension(usage.build().unwrap()).unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    (key, b.build())
}

fn open(label: &str) -> Pkcs11Backend {
    Pkcs11Backend::open(Path::new(MODULE), &Pkcs11Options::with_token_label(label)).unwrap()
}

fn pin(s: &str) -> PinEntry {
    PinEntry::Pin(Pin::new(s).unwrap())
}

fn verify(cert_der: &[u8], data: &[u8], signature: &[u8]) -> bool {
    let key = X509::from_der(cert_der).unwrap().public_key().unwrap();
    let mut v = Verifier::new(MessageDigest::sha256(), &key).unwrap();
    v.update(data).unwrap();
    v.verify(signature).unwrap()
}

/// Uses the backend only through the trait, as the host does.
fn login_token(card: &mut dyn IdCard) -> geid_protocol::AuthToken {
    let origin = Origin::parse("https://portal.example.ge").unwrap();
    let nonce = ChallengeNonce::generate().unwrap();
    let token = card.authenticate(&origin, &nonce, pin(USER_PIN)).unwrap();
    let data = token.algorithm.signed_data(&origin, &nonce);
    let signature = match token.algorithm.ecdsa_field_len() {
        Some(n) => geid_protocol::ecdsa_raw_to_der(&token.signature, n).unwrap(),
        None => token.signature.clone(),
    };
    assert!(verify(&token.certificate, &data, &signature));
    token
}

#[test]
fn reads_both_certificates_by_key_usage() {
    let Some(_) = fixture() else { return };
    let citizen = Pki::shared().citizen(CITIZEN).unwrap();
    let card = open(RSA_TOKEN);
    assert_eq!(card.token_label(), RSA_TOKEN);
    assert_eq!(
        card.certificate(KeySlot::Authentication).unwrap(),
        citizen.auth_cert.to_der().unwrap()
    );
    assert_eq!(
        card.certificate(KeySlot::Signing).unwrap(),
        citizen.sign_cert.as_ref().unwrap().to_der().unwrap()
    );
    let info = card.certificate_info(KeySlot::Authentication).unwrap();
    assert_eq!(info.personal_number.as_deref(), Some("01001000001"));
}

#[test]
fn without_a_label_the_first_token_with_both_certificates_is_used() {
    let Some(_) = fixture() else { return };
    let card = Pkcs11Backend::open(Path::new(MODULE), &Pkcs11Options::default()).unwrap();
    assert!([RSA_TOKEN, EC_TOKEN].contains(&card.token_label()));
}

#[test]
fn rsa_authentication_token_verifies_and_round_trips() {
    let Some(_) = fixture() else { return };
    let mut card = open(RSA_TOKEN);
    let token = login_token(&mut card);
    assert_eq!(token.algorithm, SignatureAlgorithm::Rs256);
    assert_eq!(token.format, "web-eid:1.0");
    let parsed = geid_protocol::AuthToken::parse(&token.to_json()).unwrap();
    assert_eq!(parsed.signature, token.signature);
    assert_eq!(parsed.certificate, token.certificate);
}

#[test]
fn ec_authentication_token_is_raw_r_s_and_verifies() {
    let Some(fx) = fixture() else { return };
    let mut card = open(EC_TOKEN);
    let token = login_token(&mut card);
    assert_eq!(token.algorithm, SignatureAlgorithm::Es256);
    assert_eq!(token.signature.len(), 64);
    assert_eq!(token.certificate, fx.ec_auth.to_der().unwrap());
    geid_protocol::AuthToken::parse(&token.to_json()).unwrap();
}

#[test]
fn qualified_signature_verifies_with_the_signing_certificate() {
    let Some(fx) = fixture() else { return };
    let data = b"a document to sign";
    let digest = openssl::sha::sha256(data);
    for label in [RSA_TOKEN, EC_TOKEN] {
        let card = open(label);
        let sig = card
            .sign(
                KeySlot::Signing,
                HashFunction::Sha256,
                &digest,
                pin(USER_PIN),
            )
            .unwrap();
        let cert = card.certificate(KeySlot::Signing).unwrap();
        let sig = if label == EC_TOKEN {
            assert_eq!(cert, fx.ec_sign.to_der().unwrap());
            geid_protocol::ecdsa_raw_to_der(&sig, 32).unwrap()
        } else {
            sig
        };
        assert!(verify(&cert, data, &sig), "{label}");
        // Not with the authentication certificate: the signing key was used.
        let auth = card.certificate(KeySlot::Authentication).unwrap();
        assert!(!verify(&auth, data, &sig), "{label}");
    }
}

#[test]
fn wrong_pin_is_pin_incorrect_and_the_right_pin_still_works() {
    let Some(_) = fixture() else { return };
    let card = open(RSA_TOKEN);
    let digest = [0u8; 32];
    let err = card
        .sign(KeySlot::Signing, HashFunction::Sha256, &digest, pin("9999"))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::PinIncorrect, "{err}");
    assert!(matches!(
        err,
        CardError::PinIncorrectTriesUnknown | CardError::PinIncorrect { .. }
    ));
    let err = card
        .verify_pin(PinKind::Authentication, pin("0000"))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::PinIncorrect, "{err}");
    card.verify_pin(PinKind::Authentication, pin(USER_PIN))
        .unwrap();
    let status = card.pin_status(PinKind::Authentication).unwrap();
    assert!(!status.blocked && !status.not_set);
}

#[test]
fn wrong_digest_length_and_unreachable_pins_are_refused() {
    let Some(_) = fixture() else { return };
    let card = open(RSA_TOKEN);
    let err = card
        .sign(
            KeySlot::Signing,
            HashFunction::Sha256,
            &[0u8; 20],
            pin(USER_PIN),
        )
        .unwrap_err();
    assert!(matches!(err, CardError::DigestLength { .. }), "{err}");
    let err = card.pin_status(PinKind::Puk).unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotImplemented);
    let err = card
        .verify_pin(PinKind::Authentication, PinEntry::PinPad)
        .unwrap_err();
    assert_eq!(err, CardError::NoPinPad);
}

#[test]
fn a_module_that_does_not_exist_is_named_in_the_error() {
    let path = Path::new("/nonexistent/vendor-pkcs11.so");
    let err = Pkcs11Backend::open(path, &Pkcs11Options::default()).unwrap_err();
    assert!(matches!(err, CardError::Pkcs11Module { .. }), "{err:?}");
    assert!(
        err.to_string().contains("/nonexistent/vendor-pkcs11.so"),
        "{err}"
    );
    assert_eq!(err.code(), ErrorCode::Internal);
}

#[test]
fn a_file_that_is_not_a_module_is_named_in_the_error() {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), b"not a shared library").unwrap();
    let err = Pkcs11Backend::open(file.path(), &Pkcs11Options::default()).unwrap_err();
    assert!(matches!(err, CardError::Pkcs11Module { .. }), "{err:?}");
    assert!(err.to_string().contains(&file.path().display().to_string()));
}

#[test]
fn an_unknown_token_label_lists_the_tokens_there_are() {
    let Some(_) = fixture() else { return };
    let err = Pkcs11Backend::open(
        Path::new(MODULE),
        &Pkcs11Options::with_token_label("no-such-token"),
    )
    .unwrap_err();
    assert!(
        matches!(err, CardError::Pkcs11TokenNotFound { .. }),
        "{err:?}"
    );
    assert_eq!(err.code(), ErrorCode::NoCard);
    let message = err.to_string();
    assert!(message.contains("no-such-token"), "{message}");
    assert!(message.contains(RSA_TOKEN), "{message}");
    assert!(message.contains(MODULE), "{message}");
    // SoftHSM2's free slot holds an uninitialised token, which is not listed.
    assert!(!message.contains("\"\""), "{message}");
}
