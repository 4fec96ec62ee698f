//! `geid testkit pki` writes a PKI that loads back and verifies in-process.

// clippy's allow-unwrap-in-tests covers #[test] functions only, not the helpers here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

use geid_testkit::pki::{CITIZEN, EXPIRED, UNKNOWN_CA};
use geid_testkit::{IssuingCa, Pki};
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::{X509Ref, X509StoreContext};

fn scratch_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("geid-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn geid() -> Command {
    Command::new(env!("CARGO_BIN_EXE_geid"))
}

/// `openssl verify -CAfile root.cert.pem -untrusted <intermediates> cert`, in-process.
fn verifies(pki: &Pki, cert: &X509Ref) -> bool {
    let mut store = X509StoreBuilder::new().unwrap();
    store.add_cert(pki.root().cert.clone()).unwrap();
    let store = store.build();
    let mut untrusted = Stack::new().unwrap();
    for ca in pki.intermediates() {
        untrusted.push(ca.clone()).unwrap();
    }
    let mut context = X509StoreContext::new().unwrap();
    context
        .init(&store, cert, &untrusted, |c| c.verify_cert())
        .unwrap()
}

#[test]
fn testkit_pki_writes_a_loadable_verifiable_pki() {
    let dir = scratch_dir("pki");
    let output = geid()
        .args(["testkit", "pki", "--out"])
        .arg(&dir)
        .args(["--ocsp-url", "http://127.0.0.1:45678/ocsp"])
        .args(["--crl-url", "http://127.0.0.1:45678/crl"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let manifest = dir.join("manifest.json");
    assert!(manifest.is_file());
    assert!(stdout.contains("manifest: "), "{stdout}");
    assert!(stdout.contains("files"), "{stdout}");

    let pki = Pki::load(&dir).unwrap();
    let citizen = pki.citizen(CITIZEN).unwrap();
    assert!(verifies(&pki, &citizen.auth_cert));
    assert!(verifies(&pki, citizen.sign_cert.as_ref().unwrap()));
    assert!(verifies(
        &pki,
        &pki.ocsp_responder(IssuingCa::Authentication).cert
    ));
    assert!(!verifies(&pki, &pki.citizen(UNKNOWN_CA).unwrap().auth_cert));
    assert!(!verifies(&pki, &pki.citizen(EXPIRED).unwrap().auth_cert));

    assert_eq!(
        pki.options().ocsp_url(IssuingCa::Signing),
        "http://127.0.0.1:45678/ocsp/sign"
    );
    let ocsp = citizen.auth_cert.ocsp_responders().unwrap();
    assert_eq!(ocsp[0].to_string(), "http://127.0.0.1:45678/ocsp/auth");
    let crl = citizen.auth_cert.crl_distribution_points().unwrap();
    let uri = crl[0].distpoint().unwrap().fullname().unwrap()[0]
        .uri()
        .unwrap()
        .to_owned();
    assert_eq!(uri, "http://127.0.0.1:45678/crl/auth.crl");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn usage_errors_exit_2() {
    let output = geid().args(["testkit", "pki"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn failures_exit_1_with_one_line() {
    let dir = scratch_dir("bad-url");
    let output = geid()
        .args(["testkit", "pki", "--out"])
        .arg(&dir)
        .args(["--ocsp-url", "ftp://example/ocsp"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("geid: "), "{stderr}");
    assert!(stderr.contains("ftp://example/ocsp"), "{stderr}");
    assert!(!dir.exists(), "nothing written on failure");
}
