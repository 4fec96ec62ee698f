//! Measures `geid-host` as the browser meets it: process start to the answer of `status`
//! (median of many runs, next to an empty Rust program), and peak RSS during an authentication
//! through pcscd and the virtual card.
//!
//! `cargo build --release -p geid-host --examples && cargo run --release -p geid-host --example bench_host -- 200`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use geid_card::atr::ATR_GE1;
use geid_card::{CardProfile, Generation};
use geid_protocol::framing::{read_frame, write_frame};
use geid_testkit::pcscd::{self, Pcscd};
use geid_testkit::pki::{Pki, CITIZEN};
use geid_testkit::virtual_card::vpcd::VpcdCard;
use geid_testkit::virtual_card::{CardKeys, PinValues, VirtualCard};
use serde_json::{json, Value};

fn exe(name: &str) -> PathBuf {
    let me = std::env::current_exe().unwrap();
    let dir = me.parent().unwrap(); // target/release/examples
    let candidates = [dir.join(name), dir.parent().unwrap().join(name)];
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("build {name} first (cargo build --release -p geid-host --examples)")
        })
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn caller() -> String {
    format!(
        "chrome-extension://{}/",
        geid_host::config::DEV_EXTENSION_ID
    )
}

fn time_status(host: &PathBuf, home: &PathBuf) -> Duration {
    let t = Instant::now();
    let mut child = Command::new(host)
        .arg(caller())
        .env("HOME", home)
        .env("GEID_HOST_LOG_FILE", home.join("host.log"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    write_frame(&mut stdin, br#"{"id":"s","command":"status"}"#, 1 << 16).unwrap();
    stdin.flush().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let answer = read_frame(&mut stdout, 1 << 20).unwrap().unwrap();
    let elapsed = t.elapsed();
    assert!(String::from_utf8_lossy(&answer).contains("\"result\""));
    drop(stdin);
    child.wait().unwrap();
    elapsed
}

fn time_empty(empty: &PathBuf) -> Duration {
    let t = Instant::now();
    Command::new(empty).status().unwrap();
    t.elapsed()
}

fn peak_rss_during_authentication(host: &PathBuf, home: &PathBuf) -> (u64, Duration) {
    let mut child = Command::new(host)
        .arg(caller())
        .env("HOME", home)
        .env("GEID_HOST_LOG_FILE", home.join("host.log"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let t = Instant::now();
    let send = |stdin: &mut std::process::ChildStdin, v: Value| {
        write_frame(stdin, v.to_string().as_bytes(), 1 << 16).unwrap();
        stdin.flush().unwrap();
    };
    send(
        &mut stdin,
        json!({"id": "a", "command": "authenticate", "arguments": {
        "challengeNonce": "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=", "origin": "https://portal.example.ge"}}),
    );
    loop {
        let m: Value =
            serde_json::from_slice(&read_frame(&mut stdout, 1 << 20).unwrap().unwrap()).unwrap();
        if m["event"] == "pin-required" {
            send(
                &mut stdin,
                json!({"id": "a", "command": "pin", "arguments": {"pin": "1234"}}),
            );
        } else if m["type"] == "result" {
            break;
        } else if m["type"] == "error" {
            panic!("{m}");
        }
    }
    let elapsed = t.elapsed();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse().ok())
        .unwrap();
    drop(stdin);
    child.wait().unwrap();
    (hwm, elapsed)
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let host = exe("geid-host");
    let empty = exe("empty");
    let home = std::env::temp_dir().join(format!("geid-bench-host-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    println!(
        "geid-host: {} ({} bytes)",
        host.display(),
        std::fs::metadata(&host).unwrap().len()
    );

    let baseline = median((0..runs).map(|_| time_empty(&empty)).collect());
    println!("empty Rust program, start to exit: median {baseline:?} over {runs} runs");

    {
        let _no_pcscd = pcscd::without_pcscd().unwrap();
        let t = median((0..runs).map(|_| time_status(&host, &home)).collect());
        println!("start to status answer, no pcscd: median {t:?} over {runs} runs");
    }
    if let Some(why) = pcscd::missing() {
        println!("skipping the pcscd measurements: {why}");
        return;
    }
    let _pcscd = Pcscd::start(&pcscd::config("reader.conf")).unwrap();
    {
        let t = median((0..runs).map(|_| time_status(&host, &home)).collect());
        println!(
            "start to status answer, pcscd with two empty readers: median {t:?} over {runs} runs"
        );
    }
    let c = Pki::shared().citizen(CITIZEN).unwrap();
    let keys = CardKeys::for_citizen(c).unwrap();
    let card = VirtualCard::new(
        ATR_GE1,
        CardProfile::for_generation(Generation::Ge1),
        keys,
        PinValues::default(),
    )
    .unwrap();
    let _card = VpcdCard::start(
        Arc::new(Mutex::new(card)),
        ([127, 0, 0, 1], pcscd::VPCD_PORT).into(),
        Duration::from_secs(10),
    )
    .unwrap();
    geid_card::pcsc::PcscContext::establish()
        .unwrap()
        .wait_and_connect(None, Duration::from_secs(10))
        .unwrap();
    {
        let t = median((0..runs).map(|_| time_status(&host, &home)).collect());
        println!("start to status answer, virtual card inserted (holder read from the card): median {t:?} over {runs} runs");
    }
    let mut rss = Vec::new();
    let mut times = Vec::new();
    for _ in 0..20 {
        let (kb, t) = peak_rss_during_authentication(&host, &home);
        rss.push(kb);
        times.push(t);
    }
    rss.sort();
    println!(
        "authentication (start to token, PIN answered at once): median {:?}; peak RSS max {} KiB, median {} KiB over 20 runs",
        median(times),
        rss[rss.len() - 1],
        rss[rss.len() / 2]
    );
    let _ = std::fs::remove_dir_all(&home);
}
