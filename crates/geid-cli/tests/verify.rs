//! `geid verify` and `geid testkit ocsp`, run as processes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

const NONCE: &str = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=";
const ORIGIN: &str = "https://portal.example.ge";

fn geid(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_geid"))
        .args(args)
        .output()
        .unwrap()
}

fn pki_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("geid-cli-verify-{}", std::process::id()));
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

fn file(name: &str) -> String {
    pki_dir().join(name).to_str().unwrap().to_owned()
}

/// Writes a token for `stem` (e.g. `citizen.auth`) and returns its path.
fn token(stem: &str) -> String {
    let out = geid(&[
        "token",
        "make",
        "--cert",
        &file(&format!("{stem}.cert.pem")),
        "--key",
        &file(&format!("{stem}.key.pem")),
        "--origin",
        ORIGIN,
        "--nonce",
        NONCE,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = pki_dir().join(format!("{stem}.token.json"));
    std::fs::write(&path, &out.stdout).unwrap();
    path.to_str().unwrap().to_owned()
}

fn verify(token: &str, ocsp: &str, extra: &[&str]) -> Output {
    let root = file("root.cert.pem");
    let auth = file("auth-ca.cert.pem");
    let mut args = vec![
        "verify",
        "--token",
        token,
        "--origin",
        ORIGIN,
        "--nonce",
        NONCE,
        "--trust",
        &root,
        "--intermediate",
        &auth,
        "--ocsp",
        ocsp,
        "--json",
    ];
    args.extend_from_slice(extra);
    geid(&args)
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// `geid testkit ocsp` child on a free port; killed by PID on drop.
struct Responder {
    child: Child,
    url: String,
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Drop for Responder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn responder(extra: &[&str]) -> Responder {
    let mut child = Command::new(env!("CARGO_BIN_EXE_geid"))
        .args([
            "testkit",
            "ocsp",
            "--pki",
            pki_dir().to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .expect("first line names the URL")
        .to_owned();
    Responder {
        child,
        url,
        _stdout: stdout,
    }
}

#[test]
fn accepted_token_prints_the_identity() {
    let out = verify(&token("citizen.auth"), "off", &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let id = json(&out);
    assert_eq!(id["personalNumber"], "01001000001");
    assert_eq!(id["givenName"], "გიორგი");
    assert_eq!(id["algorithm"], "RS256");
}

#[test]
fn refused_token_prints_the_code() {
    let out = verify(&token("expired.auth"), "off", &[]);
    assert_eq!(out.status.code(), Some(1));
    let e = json(&out);
    assert_eq!(e["error"], "CERT_EXPIRED");
    assert!(e["message"].as_str().unwrap().contains("expired"));
}

#[test]
fn token_from_stdin() {
    use std::io::Write;
    let body = std::fs::read(token("citizen.auth")).unwrap();
    let root = file("root.cert.pem");
    let auth = file("auth-ca.cert.pem");
    let mut child = Command::new(env!("CARGO_BIN_EXE_geid"))
        .args([
            "verify", "--token", "-", "--origin", ORIGIN, "--nonce", NONCE, "--trust", &root,
        ])
        .args(["--intermediate", &auth, "--ocsp", "off"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&body).unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
}

#[test]
fn verification_time_in_the_past() {
    let out = verify(
        &token("citizen.auth"),
        "off",
        &["--at", "2001-01-01T00:00:00Z"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["error"], "CERT_NOT_YET_VALID");
}

#[test]
fn usage_errors_exit_2() {
    let out = geid(&["verify", "--origin", ORIGIN]);
    assert_eq!(out.status.code(), Some(2));
    let out = verify(&token("citizen.auth"), "off", &["--at", "yesterday"]);
    assert_eq!(out.status.code(), Some(2));
    let mut args = vec![
        "verify",
        "--token",
        "/nonexistent",
        "--origin",
        ORIGIN,
        "--nonce",
        NONCE,
    ];
    let root = file("root.cert.pem");
    args.extend(["--trust", &root]);
    assert_eq!(geid(&args).status.code(), Some(2));
    // A non-CA trust anchor is a configuration error.
    let leaf = file("citizen.auth.cert.pem");
    let out = geid(&[
        "verify", "--token", "x", "--origin", ORIGIN, "--nonce", NONCE, "--trust", &leaf,
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn designated_responder_from_the_cli_responder() {
    let r = responder(&[]);
    let ocsp = format!("{}/ocsp/auth={}", r.url, file("auth-ocsp.cert.pem"));
    let out = verify(&token("citizen.auth"), &ocsp, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = verify(&token("revoked.auth"), &ocsp, &[]);
    assert_eq!(json(&out)["error"], "CERT_REVOKED");
}

#[test]
fn responder_revoked_serial_option() {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(pki_dir().join("manifest.json")).unwrap()).unwrap();
    let serial = manifest["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "citizen-2" && e["role"] == "citizen-auth")
        .map(|e| e["serial"].as_str().unwrap().to_owned())
        .unwrap();
    let r = responder(&["--revoked", &serial]);
    let ocsp = format!("{}/ocsp/auth", r.url);
    assert_eq!(
        json(&verify(&token("citizen-2.auth"), &ocsp, &[]))["error"],
        "CERT_REVOKED"
    );
}

#[test]
fn responder_garbage_and_no_nonce() {
    let r = responder(&["--garbage"]);
    let out = verify(&token("citizen.auth"), &format!("{}/ocsp/auth", r.url), &[]);
    assert_eq!(json(&out)["error"], "OCSP_INVALID");
    let r = responder(&["--no-nonce"]);
    let out = verify(&token("citizen.auth"), &format!("{}/ocsp/auth", r.url), &[]);
    assert_eq!(json(&out)["error"], "OCSP_INVALID");
}
