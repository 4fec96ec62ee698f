//! `geid-host` with the PKCS#11 fallback: the built binary over pipes, configured with
//! `pkcs11Module`, reaching the citizen's keys in a SoftHSM2 token.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine as _;
use geid_protocol::{AuthToken, ChallengeNonce, HashFunction, Origin, SignatureAlgorithm};
use geid_testkit::pki::{Pki, CITIZEN};
use geid_testkit::softhsm::{self, SoftHsm, Token};
use openssl::hash::MessageDigest;
use openssl::sign::Verifier;
use openssl::x509::X509;
use serde_json::json;

use common::{scratch, Host};

const NONCE: &str = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=";
const ORIGIN: &str = "https://portal.example.ge";

#[test]
fn authentication_and_signing_through_a_pkcs11_module() {
    if let Some(why) = softhsm::missing() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the SoftHSM2 tests: {why}"
        );
        eprintln!("skipping: {why}");
        return;
    }
    let dir = scratch("pkcs11");
    let c = Pki::shared().citizen(CITIZEN).unwrap();
    let sign_key = c.sign_key.as_ref().unwrap();
    let sign_cert = c.sign_cert.as_ref().unwrap();
    let hsm = SoftHsm::create(
        &dir.join("softhsm"),
        &[Token {
            label: "geid-host-test",
            pin: "2468",
            objects: &[
                (&c.auth_key, &c.auth_cert, b"\x01"),
                (sign_key, sign_cert, b"\x02"),
            ],
        }],
    )
    .unwrap();
    let config = json!({
        "pkcs11Module": softhsm::MODULE,
        "pkcs11TokenLabel": "geid-host-test",
        "cardTimeoutSecs": 2,
        "pinTimeoutSecs": 30,
    });
    let mut host = Host::start_with(
        &format!(
            "chrome-extension://{}/",
            geid_host::config::DEV_EXTENSION_ID
        ),
        &dir,
        &config.to_string(),
        &[("SOFTHSM2_CONF", hsm.conf())],
    );
    host.send(json!({"id": "s", "command": "status"}));
    let m = host.recv();
    assert_eq!(m["result"]["readers"][0]["card"], "PKCS#11", "{m}");
    assert_eq!(m["result"]["readers"][0]["holder"], "გიორგი ბერიძე");

    host.send(json!({"id": "a", "command": "authenticate", "arguments": {"challengeNonce": NONCE, "origin": ORIGIN}}));
    let m = host.next();
    assert_eq!(m["event"], "pin-required", "{m}");
    host.send(json!({"id": "a", "command": "pin", "arguments": {"pin": "1111"}}));
    let m = host.next();
    assert_eq!(
        (m["event"].as_str(), m["data"]["retry"].as_bool()),
        (Some("pin-required"), Some(true)),
        "{m}"
    );
    host.send(json!({"id": "a", "command": "pin", "arguments": {"pin": "2468"}}));
    let m = host.next();
    let token = AuthToken::parse(&m["result"].to_string()).unwrap();
    let data = SignatureAlgorithm::Rs256.signed_data(
        &Origin::parse(ORIGIN).unwrap(),
        &ChallengeNonce::parse(NONCE).unwrap(),
    );
    let key = X509::from_der(&token.certificate)
        .unwrap()
        .public_key()
        .unwrap();
    let mut v = Verifier::new(MessageDigest::sha256(), &key).unwrap();
    v.update(&data).unwrap();
    assert!(v.verify(&token.signature).unwrap());

    let cert = base64::engine::general_purpose::STANDARD.encode(sign_cert.to_der().unwrap());
    let hash = HashFunction::Sha256.digest(b"a letter");
    host.send(json!({"id": "g", "command": "sign", "arguments": {"origin": ORIGIN, "certificate": cert,
        "hash": base64::engine::general_purpose::STANDARD.encode(&hash), "hashFunction": "SHA-256"}}));
    let m = host.next();
    assert_eq!(m["data"]["kind"], "signing", "{m}");
    host.send(json!({"id": "g", "command": "pin", "arguments": {"pin": "2468"}}));
    let m = host.next();
    let sig = base64::engine::general_purpose::STANDARD
        .decode(m["result"]["signature"].as_str().unwrap())
        .unwrap();
    let sign_public = sign_cert.public_key().unwrap();
    let mut v = Verifier::new(MessageDigest::sha256(), &sign_public).unwrap();
    v.update(b"a letter").unwrap();
    assert!(v.verify(&sig).unwrap(), "{m}");
    host.close_and_wait();
}
