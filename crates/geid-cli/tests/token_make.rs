//! `geid token make` prints a Web eID token that verifies with the certificate's key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use geid_protocol::{AuthToken, ChallengeNonce, Origin, SignatureAlgorithm};
use openssl::sign::Verifier;
use openssl::x509::X509;

const NONCE: &str = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=";

fn pki_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("geid-cli-token-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = geid(&["testkit", "pki", "--out", dir.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

fn geid(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_geid"))
        .args(args)
        .output()
        .unwrap()
}

fn make(stem: &str, extra: &[&str]) -> Output {
    let dir = pki_dir();
    let cert = dir.join(format!("{stem}.cert.pem"));
    let key = dir.join(format!("{stem}.key.pem"));
    let mut args = vec![
        "token",
        "make",
        "--cert",
        cert.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    geid(&args)
}

fn verifies(token: &AuthToken, origin: &str) -> bool {
    let cert = X509::from_der(&token.certificate).unwrap();
    let key = cert.public_key().unwrap();
    let alg = token.algorithm;
    let md = geid_testkit::message_digest(alg.hash()).unwrap();
    let sig = match alg.ecdsa_field_len() {
        Some(n) => geid_protocol::ecdsa_raw_to_der(&token.signature, n).unwrap(),
        None => token.signature.clone(),
    };
    let data = alg.signed_data(
        &Origin::parse(origin).unwrap(),
        &ChallengeNonce::parse(NONCE).unwrap(),
    );
    let mut v = Verifier::new(md, &key).unwrap();
    v.update(&data).unwrap();
    v.verify(&sig).unwrap()
}

#[test]
fn makes_a_verifiable_rs256_token_by_default_for_an_rsa_citizen() {
    let out = make(
        "citizen.auth",
        &["--origin", "https://Portal.Example.GE", "--nonce", NONCE],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = String::from_utf8(out.stdout).unwrap();
    let token = AuthToken::parse(json.trim()).unwrap();
    assert_eq!(token.algorithm, SignatureAlgorithm::Rs256);
    assert_eq!(token.format, "web-eid:1.0");
    let cert_pem = std::fs::read(pki_dir().join("citizen.auth.cert.pem")).unwrap();
    assert_eq!(
        token.certificate,
        X509::from_pem(&cert_pem).unwrap().to_der().unwrap()
    );
    // Signed for the normalised origin, and for nothing else.
    assert!(verifies(&token, "https://portal.example.ge"));
    assert!(!verifies(&token, "https://portal.example.com"));
}

#[test]
fn honours_alg_and_picks_ecdsa_for_ec_keys() {
    let out = make(
        "citizen.auth",
        &[
            "--origin",
            "https://a.ge",
            "--nonce",
            NONCE,
            "--alg",
            "PS384",
        ],
    );
    assert!(out.status.success());
    let token = AuthToken::parse(String::from_utf8(out.stdout).unwrap().trim()).unwrap();
    assert_eq!(token.algorithm, SignatureAlgorithm::Ps384);
    let out = make(
        "ee-p384.auth",
        &["--origin", "https://a.ge", "--nonce", NONCE],
    );
    assert!(out.status.success());
    let token = AuthToken::parse(String::from_utf8(out.stdout).unwrap().trim()).unwrap();
    assert_eq!(token.algorithm, SignatureAlgorithm::Es384);
    assert_eq!(token.signature.len(), 96);
    assert!(verifies(&token, "https://a.ge"));
}

#[test]
fn bad_arguments_are_usage_errors_with_the_reason() {
    let out = make(
        "citizen.auth",
        &["--origin", "http://a.ge", "--nonce", NONCE],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("use https"));
    let out = make(
        "citizen.auth",
        &["--origin", "https://a.ge", "--nonce", "abc"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 44"));
    let out = make(
        "citizen.auth",
        &[
            "--origin",
            "https://a.ge",
            "--nonce",
            NONCE,
            "--alg",
            "HS256",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn failures_exit_1_with_one_line() {
    // ES256 with an RSA key.
    let out = make(
        "citizen.auth",
        &[
            "--origin",
            "https://a.ge",
            "--nonce",
            NONCE,
            "--alg",
            "ES256",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ES256 cannot be used"), "{err}");
    // A key that is not the certificate's.
    let dir = pki_dir();
    let out = geid(&[
        "token",
        "make",
        "--cert",
        dir.join("citizen.auth.cert.pem").to_str().unwrap(),
        "--key",
        dir.join("citizen-2.auth.key.pem").to_str().unwrap(),
        "--origin",
        "https://a.ge",
        "--nonce",
        NONCE,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not match"));
    // A missing file.
    let out = geid(&[
        "token",
        "make",
        "--cert",
        "/nonexistent.pem",
        "--key",
        "/nonexistent.key",
        "--origin",
        "https://a.ge",
        "--nonce",
        NONCE,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}
