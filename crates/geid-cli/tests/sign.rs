//! `geid sign` through a real pcscd and the vpcd virtual reader, and `geid verify-signature`,
//! run as processes; both checked against the `openssl cms` command line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use geid_card::atr::ATR_GEID_V1;
use geid_card::{CardProfile, Generation};
use geid_testkit::pcscd::{self, Pcscd};
use geid_testkit::pki::{IssuingCa, Pki, CITIZEN};
use geid_testkit::virtual_card::vpcd::VpcdCard;
use geid_testkit::virtual_card::{CardKeys, PinValues, VirtualCard};
use geid_testkit::{OcspServer, ResponderOptions};

const LETTER: &[u8] = "განცხადება: public information request №7\n".as_bytes();

fn geid(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_geid"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A test PKI written by `geid testkit pki` (so the files are what a user would have).
fn pki_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("geid-cli-sign-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = geid(&["testkit", "pki", "--out", dir.to_str().unwrap()], None);
        assert!(out.status.success(), "{}", text(&out.stderr));
        dir
    })
}

fn file(name: &str) -> String {
    pki_dir().join(name).to_str().unwrap().to_owned()
}

fn write(name: &str, content: &[u8]) -> String {
    let path = pki_dir().join(name);
    std::fs::write(&path, content).unwrap();
    path.to_str().unwrap().to_owned()
}

fn verify_signature(doc: &str, p7s: &str, extra: &[&str]) -> Output {
    let root = file("root.cert.pem");
    let ca = file("sign-ca.cert.pem");
    let mut args = vec![
        "verify-signature",
        doc,
        p7s,
        "--trust",
        &root,
        "--intermediate",
        &ca,
        "--json",
    ];
    if !extra.contains(&"--ocsp") {
        args.extend(["--ocsp", "off"]);
    }
    args.extend(extra);
    geid(&args, None)
}

fn error_code(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()));
    v["error"].as_str().unwrap().to_owned()
}

/// `openssl cms -verify` of a detached signature. OpenSSL 3.0's `cms -verify` uses
/// `-certfile` only to find the signer, not to build the chain, so the signing CA goes into
/// the `-CAfile` bundle with the root; the chain is still built up to the root.
fn openssl_verifies(doc: &str, p7s: &str) -> (bool, String) {
    let bundle = pki_dir().join("root-and-sign-ca.pem");
    let mut pem = std::fs::read(file("root.cert.pem")).unwrap();
    pem.extend(std::fs::read(file("sign-ca.cert.pem")).unwrap());
    std::fs::write(&bundle, pem).unwrap();
    let out = Command::new("openssl")
        .args([
            "cms", "-verify", "-binary", "-inform", "DER", "-purpose", "any",
        ])
        .args(["-in", p7s, "-content", doc, "-out", "/dev/null", "-CAfile"])
        .arg(&bundle)
        .args(["-certfile", &file("sign-ca.cert.pem")])
        .output()
        .expect("the openssl command line is installed");
    (out.status.success(), text(&out.stderr))
}

fn openssl_sign(doc: &str, p7s: &str, cades: bool) {
    let mut cmd = Command::new("openssl");
    cmd.args([
        "cms", "-sign", "-binary", "-md", "sha256", "-outform", "DER",
    ])
    .args(["-signer", &file("citizen.sign.cert.pem")])
    .args(["-inkey", &file("citizen.sign.key.pem")])
    .args(["-in", doc, "-out", p7s]);
    if cades {
        cmd.arg("-cades");
    }
    let out = cmd.output().expect("the openssl command line is installed");
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn sign_with_the_card_through_pcscd_and_verify_with_geid_and_openssl() {
    if let Some(why) = pcscd::missing() {
        eprintln!("skipping: {why}");
        return;
    }
    let pki = Pki::load(pki_dir()).unwrap();
    let c = pki.citizen(CITIZEN).unwrap();
    let keys = CardKeys {
        auth_cert: c.auth_cert.clone(),
        auth_key: c.auth_key.clone(),
        sign_cert: c.sign_cert.clone().unwrap(),
        sign_key: c.sign_key.clone().unwrap(),
    };
    let card = VirtualCard::new(
        ATR_GEID_V1,
        CardProfile::for_generation(Generation::GeorgiaEidV1),
        keys,
        PinValues::default(),
    )
    .unwrap();
    let card = Arc::new(Mutex::new(card));
    let _pcscd = Pcscd::start(&pcscd::config("reader.conf")).unwrap();
    let _vc = VpcdCard::start(
        card.clone(),
        SocketAddr::from(([127, 0, 0, 1], pcscd::VPCD_PORT)),
        Duration::from_secs(10),
    )
    .unwrap();

    let doc = write("letter.txt", LETTER);
    let out = geid(&["sign", &doc, "--pin-stdin"], Some("123456\n"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("letter.txt.p7s"));
    let p7s = format!("{doc}.p7s");

    let out = verify_signature(&doc, &p7s, &[]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    let signer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(signer["personalNumber"], "01001000001");
    assert_eq!(signer["givenName"], "გიორგი");
    assert_eq!(signer["hashFunction"], "SHA-256");
    assert!(signer["signingTime"].as_str().unwrap().ends_with('Z'));

    let (ok, stderr) = openssl_verifies(&doc, &p7s);
    assert!(ok, "openssl refused the card's signature: {stderr}");

    // --out, and the reader named explicitly.
    let other = pki_dir().join("named.p7s");
    let out = geid(
        &[
            "sign",
            &doc,
            "--out",
            other.to_str().unwrap(),
            "--reader",
            pcscd::VPCD_READERS[0],
            "--pin-stdin",
        ],
        Some("123456\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(verify_signature(&doc, other.to_str().unwrap(), &[])
        .status
        .success());

    // A wrong PIN: exit 1, the reason on stderr, no signature written.
    let missing = pki_dir().join("wrong-pin.p7s");
    let out = geid(
        &[
            "sign",
            &doc,
            "--out",
            missing.to_str().unwrap(),
            "--pin-stdin",
        ],
        Some("000000\n"),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("PIN"), "{}", text(&out.stderr));
    assert!(!missing.exists());
}

#[test]
fn verify_signature_accepts_openssl_cades_and_refuses_with_codes() {
    let doc = write("request.txt", LETTER);
    let p7s = pki_dir()
        .join("request.txt.p7s")
        .to_str()
        .unwrap()
        .to_owned();
    openssl_sign(&doc, &p7s, true);
    let out = verify_signature(&doc, &p7s, &[]);
    assert!(out.status.success(), "{}", text(&out.stdout));

    let changed = write("request-changed.txt", b"changed after signing");
    assert_eq!(
        error_code(&verify_signature(&changed, &p7s, &[])),
        "DOCUMENT_CHANGED"
    );

    let garbage = write("garbage.p7s", b"\x30\x82\xff\xffnot a signature");
    assert_eq!(
        error_code(&verify_signature(&doc, &garbage, &[])),
        "CMS_MALFORMED"
    );

    let plain = pki_dir().join("plain.p7s").to_str().unwrap().to_owned();
    openssl_sign(&doc, &plain, false);
    assert_eq!(
        error_code(&verify_signature(&doc, &plain, &[])),
        "SIGNING_CERTIFICATE_MISMATCH"
    );

    // Verified as of a time before the certificate existed: the signing time lies after it.
    assert_eq!(
        error_code(&verify_signature(
            &doc,
            &p7s,
            &["--at", "2020-01-01T00:00:00Z"]
        )),
        "SIGNING_TIME_INVALID"
    );
}

#[test]
fn verify_signature_checks_ocsp() {
    let doc = write("ocsp.txt", LETTER);
    let p7s = pki_dir().join("ocsp.txt.p7s").to_str().unwrap().to_owned();
    openssl_sign(&doc, &p7s, true);
    let pki = Pki::load(pki_dir()).unwrap();
    let good = OcspServer::start(pki.clone(), "127.0.0.1:0", ResponderOptions::default()).unwrap();
    let url = good.ocsp_url(IssuingCa::Signing);
    assert!(verify_signature(&doc, &p7s, &["--ocsp", &url])
        .status
        .success());
    let serial = pki
        .citizen(CITIZEN)
        .unwrap()
        .sign_cert
        .as_ref()
        .unwrap()
        .serial_number()
        .to_bn()
        .unwrap()
        .to_hex_str()
        .unwrap()
        .to_string();
    let revoked = OcspServer::start(
        pki,
        "127.0.0.1:0",
        ResponderOptions {
            revoked: vec![serial],
            ..Default::default()
        },
    )
    .unwrap();
    let url = revoked.ocsp_url(IssuingCa::Signing);
    assert_eq!(
        error_code(&verify_signature(&doc, &p7s, &["--ocsp", &url])),
        "CERT_REVOKED"
    );
}

#[test]
fn usage_errors_exit_2() {
    let doc = write("usage.txt", LETTER);
    // No --trust.
    let out = geid(&["verify-signature", &doc, &doc], None);
    assert_eq!(out.status.code(), Some(2));
    // An unreadable signature file.
    let out = verify_signature(&doc, "/nonexistent/x.p7s", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read"));
    // A trust file that is not a certificate.
    let out = geid(
        &[
            "verify-signature",
            &doc,
            &doc,
            "--trust",
            &doc,
            "--ocsp",
            "off",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    // `geid sign` without a PIN option.
    let out = geid(&["sign", &doc], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--pin-stdin"));
}
