//! `geid-host` end to end: the built binary over pipes, a real pcscd with the vpcd virtual reader,
//! and the virtual card holding the test PKI's citizen.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use geid_card::atr::ATR_GE1;
use geid_card::{CardProfile, Generation};
use geid_host::config::DEV_EXTENSION_ID;
use geid_protocol::{AuthToken, ChallengeNonce, HashFunction, Origin, SignatureAlgorithm};
use geid_testkit::pcscd::{self, Pcscd};
use geid_testkit::pki::{Pki, CITIZEN};
use geid_testkit::virtual_card::vpcd::VpcdCard;
use geid_testkit::virtual_card::{CardKeys, PinValues, VirtualCard};
use openssl::hash::MessageDigest;
use openssl::sign::Verifier;
use openssl::x509::X509;
use serde_json::{json, Value};

use common::{scratch, Host};

const NONCE: &str = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=";
const ORIGIN: &str = "https://portal.example.ge";

/// pcscd tests must run in CI; elsewhere they skip when pcscd/vpcd are not installed.
macro_rules! require_pcscd {
    () => {
        if let Some(why) = pcscd::missing() {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must run the pcscd tests: {why}"
            );
            eprintln!("skipping: {why}");
            return;
        }
    };
}

fn virtual_card() -> VirtualCard {
    let c = Pki::shared().citizen(CITIZEN).unwrap();
    let keys = CardKeys::for_citizen(c).unwrap();
    VirtualCard::new(
        ATR_GE1,
        CardProfile::for_generation(Generation::Ge1),
        keys,
        PinValues::default(),
    )
    .unwrap()
}

/// Inserts the card and waits until pcscd reports it, as a person would before clicking.
fn insert(card: VirtualCard) -> VpcdCard {
    let card = VpcdCard::start(
        Arc::new(Mutex::new(card)),
        ([127, 0, 0, 1], pcscd::VPCD_PORT).into(),
        Duration::from_secs(10),
    )
    .unwrap();
    let ctx = geid_card::pcsc::PcscContext::establish().unwrap();
    ctx.wait_and_connect(None, Duration::from_secs(10)).unwrap();
    card
}

fn auth(id: &str) -> Value {
    json!({"id": id, "command": "authenticate", "arguments": {"challengeNonce": NONCE, "origin": ORIGIN, "lang": "ka"}})
}

fn pin(id: &str, pin: &str) -> Value {
    json!({"id": id, "command": "pin", "arguments": {"pin": pin}})
}

fn verifies(cert_der: &[u8], md: MessageDigest, data: &[u8], sig: &[u8]) -> bool {
    let key = X509::from_der(cert_der).unwrap().public_key().unwrap();
    let mut v = Verifier::new(md, &key).unwrap();
    v.update(data).unwrap();
    v.verify(sig).unwrap()
}

#[test]
fn status_then_authentication_gives_a_token_that_verifies() {
    require_pcscd!();
    let _pcscd = Pcscd::start(&pcscd::config("reader.conf")).unwrap();
    let _card = insert(virtual_card());
    let dir = scratch("auth");
    let mut host = Host::chromium(&dir);
    host.send(json!({"id": "s", "command": "status"}));
    let m = host.recv();
    assert_eq!(m["result"]["pcscAvailable"], true, "{m}");
    let reader = m["result"]["readers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["cardPresent"] == true)
        .unwrap()
        .clone();
    assert_eq!(reader["card"], "GE1");
    assert_eq!(reader["holder"], "გიორგი ბერიძე");

    host.send(auth("a"));
    let m = host.next();
    assert_eq!(m["event"], "pin-required", "{m}");
    assert_eq!(m["data"]["kind"], "authentication");
    assert_eq!(m["data"]["retriesLeft"], 3);
    assert_eq!(
        (
            m["data"]["minLength"].as_u64(),
            m["data"]["maxLength"].as_u64()
        ),
        (Some(4), Some(4))
    );
    assert_eq!(m["data"]["holder"], "გიორგი ბერიძე");
    host.send(pin("a", "1234"));
    let m = host.next();
    assert_eq!(m["type"], "result", "{m}");
    let token = AuthToken::parse(&m["result"].to_string()).unwrap();
    assert_eq!(token.algorithm, SignatureAlgorithm::Rs256);
    let origin = Origin::parse(ORIGIN).unwrap();
    let nonce = ChallengeNonce::parse(NONCE).unwrap();
    assert!(verifies(
        &token.certificate,
        MessageDigest::sha256(),
        &SignatureAlgorithm::Rs256.signed_data(&origin, &nonce),
        &token.signature
    ));
    // And the certificate chains to the test authentication CA.
    let ca = Pki::shared().auth_ca().cert.public_key().unwrap();
    assert!(X509::from_der(&token.certificate)
        .unwrap()
        .verify(&ca)
        .unwrap());
    // Nothing secret in the log.
    let log = std::fs::read_to_string(dir.join("host.log")).unwrap();
    assert!(log.contains("authenticate"));
    assert!(!log.contains("1234"), "the PIN reached the log");
    assert!(!log.contains(NONCE), "the nonce reached the log");
    assert!(host.close_and_wait() < Duration::from_secs(1));
}

#[test]
fn signing_with_the_qualified_key() {
    require_pcscd!();
    let _pcscd = Pcscd::start(&pcscd::config("reader.conf")).unwrap();
    let _card = insert(virtual_card());
    let mut host = Host::chromium(&scratch("sign"));
    host.send(
        json!({"id": "c", "command": "get-signing-certificate", "arguments": {"origin": ORIGIN}}),
    );
    let m = host.next();
    let cert_b64 = m["result"]["certificate"].as_str().unwrap().to_owned();
    let cert = base64::engine::general_purpose::STANDARD
        .decode(&cert_b64)
        .unwrap();
    assert_eq!(
        cert,
        Pki::shared()
            .citizen(CITIZEN)
            .unwrap()
            .sign_cert
            .as_ref()
            .unwrap()
            .to_der()
            .unwrap()
    );
    let hash = HashFunction::Sha256.digest(b"letter to the ministry");
    let hash_b64 = base64::engine::general_purpose::STANDARD.encode(&hash);
    host.send(json!({"id": "g", "command": "sign", "arguments": {"origin": ORIGIN, "certificate": cert_b64, "hash": hash_b64, "hashFunction": "SHA-256"}}));
    let m = host.next();
    assert_eq!(m["data"]["kind"], "signing", "{m}");
    assert_eq!(
        (
            m["data"]["minLength"].as_u64(),
            m["data"]["maxLength"].as_u64()
        ),
        (Some(6), Some(6))
    );
    host.send(pin("g", "123456"));
    let m = host.next();
    assert_eq!(m["type"], "result", "{m}");
    let sig = base64::engine::general_purpose::STANDARD
        .decode(m["result"]["signature"].as_str().unwrap())
        .unwrap();
    assert!(verifies(
        &cert,
        MessageDigest::sha256(),
        b"letter to the ministry",
        &sig
    ));
    // Another certificate: refused before any PIN is asked.
    let other = base64::engine::general_purpose::STANDARD.encode(
        Pki::shared()
            .citizen(CITIZEN)
            .unwrap()
            .auth_cert
            .to_der()
            .unwrap(),
    );
    host.send(json!({"id": "h", "command": "sign", "arguments": {"origin": ORIGIN, "certificate": other, "hash": hash_b64, "hashFunction": "SHA-256"}}));
    assert_eq!(host.next()["error"]["code"], "CERTIFICATE_MISMATCH");
    host.close_and_wait();
}

#[test]
fn wrong_pin_then_right_pin_then_blocked() {
    require_pcscd!();
    let _pcscd = Pcscd::start(&pcscd::config("reader.conf")).unwrap();
    let _card = insert(virtual_card());
    let mut host = Host::chromium(&scratch("pin"));
    host.send(auth("a"));
    assert_eq!(host.next()["data"]["retriesLeft"], 3);
    host.send(pin("a", "0000"));
    let m = host.next();
    assert_eq!(
        (
            m["data"]["retriesLeft"].as_u64(),
            m["data"]["retry"].as_bool()
        ),
        (Some(2), Some(true)),
        "{m}"
    );
    host.send(pin("a", "1234"));
    assert_eq!(host.next()["type"], "result");
    // The right PIN restored the counter; three wrong ones block it.
    host.send(auth("b"));
    for left in [3, 2, 1] {
        let m = host.next();
        assert_eq!(m["data"]["retriesLeft"], left, "{m}");
        host.send(pin("b", "9999"));
    }
    let m = host.next();
    assert_eq!(m["error"]["code"], "PIN_BLOCKED", "{m}");
    host.send(auth("c"));
    assert_eq!(host.next()["error"]["code"], "PIN_BLOCKED");
    host.close_and_wait();
}

#[test]
fn cancel_while_waiting_for_the_card_then_the_card_arrives() {
    require_pcscd!();
    let _pcscd = Pcscd::start(&pcscd::config("reader.conf")).unwrap();
    let mut host = Host::chromium(&scratch("cancel"));
    host.send(auth("a"));
    let m = host.next();
    assert_eq!(
        (m["event"].as_str(), m["data"]["reason"].as_str()),
        (Some("card-required"), Some("NO_CARD")),
        "{m}"
    );
    let t = Instant::now();
    host.send(json!({"id": "a", "command": "cancel"}));
    let m = host.next();
    assert_eq!(m["error"]["code"], "USER_CANCELLED", "{m}");
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    // Waiting again; the card is inserted; the request goes on to the PIN.
    host.send(auth("b"));
    assert_eq!(host.next()["event"], "card-required");
    let _card = insert(virtual_card());
    let m = host.next();
    assert_eq!(m["event"], "pin-required", "{m}");
    host.send(json!({"id": "b", "command": "cancel"}));
    assert_eq!(host.next()["error"]["code"], "USER_CANCELLED");
    host.close_and_wait();
}

#[test]
fn card_removed_during_signing_is_reported_promptly() {
    require_pcscd!();
    let _pcscd = Pcscd::start(&pcscd::config("reader.conf")).unwrap();
    let mut card = virtual_card();
    card.faults.latency = Duration::from_millis(300);
    let card = insert(card);
    let mut host = Host::chromium(&scratch("removed"));
    let cert = base64::engine::general_purpose::STANDARD.encode(
        Pki::shared()
            .citizen(CITIZEN)
            .unwrap()
            .sign_cert
            .as_ref()
            .unwrap()
            .to_der()
            .unwrap(),
    );
    let hash = base64::engine::general_purpose::STANDARD.encode(HashFunction::Sha256.digest(b"x"));
    host.send(json!({"id": "g", "command": "sign", "arguments": {"origin": ORIGIN, "certificate": cert, "hash": hash, "hashFunction": "SHA-256"}}));
    assert_eq!(host.next()["event"], "pin-required");
    host.send(pin("g", "123456"));
    std::thread::sleep(Duration::from_millis(400));
    let t = Instant::now();
    card.remove().unwrap();
    let m = host.next();
    assert_eq!(m["error"]["code"], "CARD_REMOVED", "{m}");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    host.close_and_wait();
}

#[test]
fn no_reader_and_no_pcscd() {
    require_pcscd!();
    {
        let _pcscd = Pcscd::start(&pcscd::config("no-readers.conf")).unwrap();
        let mut host = Host::chromium(&scratch("noreader"));
        host.send(auth("a"));
        let m = host.next();
        assert_eq!(m["data"]["reason"], "NO_READER", "{m}");
        host.send(json!({"id": "a", "command": "cancel"}));
        assert_eq!(host.next()["error"]["code"], "USER_CANCELLED");
        host.close_and_wait();
    }
    let _lock = pcscd::without_pcscd().unwrap();
    let mut host = Host::chromium(&scratch("nopcscd"));
    host.send(json!({"id": "s", "command": "status"}));
    let m = host.recv();
    assert_eq!(m["result"]["pcscAvailable"], false, "{m}");
    host.send(auth("a"));
    assert_eq!(host.next()["error"]["code"], "PCSC_UNAVAILABLE");
    host.close_and_wait();
}

#[test]
fn unknown_callers_are_refused() {
    let dir = scratch("caller");
    for caller in [
        "chrome-extension://abcdefghijklmnopabcdefghijklmnop/",
        "/tmp/evil.json",
    ] {
        let mut host = Host::start(caller, &dir);
        host.send(json!({"id": "s", "command": "status"}));
        assert_eq!(host.recv()["error"]["code"], "ORIGIN_NOT_ALLOWED");
        host.close_and_wait();
    }
}

#[test]
fn bad_frames_get_errors_and_the_host_keeps_serving() {
    let mut host = Host::chromium(&scratch("bad"));
    let s = host.stdin.as_mut().unwrap();
    let big = vec![b'x'; 65 * 1024];
    s.write_all(&(big.len() as u32).to_ne_bytes()).unwrap();
    s.write_all(&big).unwrap();
    assert_eq!(host.recv()["error"]["code"], "MESSAGE_TOO_LARGE");
    host.send(json!({"id": "1", "command": "nope"}));
    assert_eq!(host.recv()["error"]["code"], "UNKNOWN_COMMAND");
    host.send(json!({"id": "q", "command": "quit"}));
    assert_eq!(host.recv()["result"], json!({}));
    let status = host.child.wait().unwrap();
    assert!(status.success());
}

#[test]
fn install_into_a_home_and_uninstall_leaves_nothing() {
    let home = scratch("install");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_geid-host"))
            .args(args)
            .env("HOME", &home)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .output()
            .unwrap()
    };
    let out = run(&[
        "install",
        "--browser",
        "chromium",
        "--browser",
        "firefox",
        "--extension-id",
        "abcdefghijklmnopabcdefghijklmnop",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(home.join(".config/chromium/NativeMessagingHosts/ge.geid.host.json"))
            .unwrap(),
    )
    .unwrap();
    let origins = manifest["allowed_origins"].as_array().unwrap();
    assert!(origins.contains(&json!(format!("chrome-extension://{DEV_EXTENSION_ID}/"))));
    assert!(origins.contains(&json!(
        "chrome-extension://abcdefghijklmnopabcdefghijklmnop/"
    )));
    assert!(Path::new(manifest["path"].as_str().unwrap()).is_file());
    assert!(home
        .join(".mozilla/native-messaging-hosts/ge.geid.host.json")
        .is_file());
    assert!(home.join(".config/geid/host.json").is_file());
    let out = run(&["uninstall"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let left: Vec<_> = std::fs::read_dir(&home)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    let out = run(&["install", "--browser", "netscape"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown browser"));
}

#[test]
fn doctor_says_what_is_missing_and_what_to_do() {
    require_pcscd!();
    let home = scratch("doctor");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_geid-host"))
            .args(args)
            .env("HOME", &home)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .output()
            .unwrap()
    };
    {
        let _no_pcscd = pcscd::without_pcscd().unwrap();
        let out = run(&["doctor"]);
        assert_eq!(out.status.code(), Some(1));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("[FAIL] smart-card service"), "{text}");
        assert!(text.contains("fix: install and start pcscd"), "{text}");
        assert!(text.contains("[FAIL] browser manifests"), "{text}");
        assert!(text.contains("fix: run `geid-host install`"), "{text}");
    }
    let _pcscd = Pcscd::start(&pcscd::config("reader.conf")).unwrap();
    let _card = insert(virtual_card());
    assert!(run(&["install", "--browser", "chromium"]).status.success());
    let out = run(&["doctor"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("[ok  ] smart-card service"), "{text}");
    assert!(text.contains("GE1 card of გიორგი ბერიძე"), "{text}");
    assert!(text.contains("[ok  ] chromium manifest (User)"), "{text}");
    assert!(out.status.success(), "{text}");
    assert!(run(&["uninstall"]).status.success());
}
