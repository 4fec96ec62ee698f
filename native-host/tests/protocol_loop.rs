//! The protocol loop against an in-process fake card: PIN retries, cancel, busy, bad input.
//! (The same flows run end to end through pcscd and the virtual card in `pcsc_host.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use geid_host::backend::*;
use geid_host::operation::Timeouts;
use geid_host::server::{Exit, Server, ServerConfig};
use geid_protocol::framing::{read_frame, write_frame};
use geid_protocol::messages::{ReaderStatus, SignatureAlgorithmInfo};
use geid_protocol::*;
use serde_json::{json, Value};

const NONCE: &str = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=";

#[derive(Clone)]
struct FakeCard {
    state: Arc<Mutex<State>>,
}

struct State {
    present: bool,
    pin: &'static str,
    retries: u8,
    arrive: Option<Duration>,
    pin_pad: bool,
}

impl CardBackend for FakeCard {
    fn readers(&mut self) -> Result<Vec<ReaderStatus>, HostError> {
        let s = self.state.lock().unwrap();
        Ok(vec![ReaderStatus {
            name: "Fake reader".into(),
            card_present: s.present,
            card: s.present.then(|| "GeorgiaEIDv1".into()),
            holder: None,
            pin_pad: s.pin_pad,
        }])
    }
    fn connect(&mut self) -> Result<CardInfo, HostError> {
        let s = self.state.lock().unwrap();
        if !s.present {
            return Err(HostError::new(ErrorCode::NoCard, "no card"));
        }
        Ok(CardInfo {
            reader: "Fake reader".into(),
            holder: Some("გიორგი ბერიძე".into()),
            pin_pad: s.pin_pad,
        })
    }
    fn wait_for_card(&mut self, timeout: Duration, cancel: &CancelToken) -> Result<(), HostError> {
        let arrive = self.state.lock().unwrap().arrive;
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        cancel.on_cancel(Box::new(move || {
            let _ = tx.send(());
        }));
        let wait = arrive.unwrap_or(timeout).min(timeout);
        match rx.recv_timeout(wait) {
            Ok(()) => Err(HostError::new(
                ErrorCode::UserCancelled,
                "cancelled while waiting for a card",
            )),
            Err(_) if arrive.is_some_and(|a| a <= timeout) => {
                self.state.lock().unwrap().present = true;
                Ok(())
            }
            Err(_) => Err(HostError::new(ErrorCode::Timeout, "no card")),
        }
    }
    fn certificate(&mut self, slot: Slot) -> Result<Vec<u8>, HostError> {
        Ok(match slot {
            Slot::Authentication => vec![0x30, 1],
            Slot::Signing => vec![0x30, 2],
        })
    }
    fn pin_info(&mut self, _slot: Slot) -> Result<PinInfo, HostError> {
        let s = self.state.lock().unwrap();
        Ok(PinInfo {
            retries_left: Some(s.retries),
            min_len: 4,
            max_len: 4,
            blocked: s.retries == 0,
            not_set: false,
        })
    }
    fn authenticate(
        &mut self,
        origin: &Origin,
        nonce: &ChallengeNonce,
        pin: PinInput,
    ) -> Result<AuthToken, HostError> {
        let mut s = self.state.lock().unwrap();
        let ok = match pin {
            PinInput::Typed(p) => p.expose_digits() == s.pin.as_bytes(),
            PinInput::PinPad => true,
        };
        if !ok {
            s.retries -= 1;
            return Err(HostError::pin_incorrect(Some(s.retries)));
        }
        s.retries = 3;
        Ok(AuthToken {
            certificate: vec![0x30, 1],
            algorithm: SignatureAlgorithm::Rs256,
            signature: SignatureAlgorithm::Rs256.card_digest(origin, nonce),
            format: TOKEN_FORMAT.into(),
            app_version: app_version(),
        })
    }
    fn signing_algorithms(&mut self) -> Result<Vec<SignatureAlgorithmInfo>, HostError> {
        Ok(vec![SignatureAlgorithmInfo::from_algorithm(
            SignatureAlgorithm::Rs256,
        )])
    }
    fn sign(
        &mut self,
        hf: HashFunction,
        hash: &[u8],
        _pin: PinInput,
    ) -> Result<(Vec<u8>, SignatureAlgorithmInfo), HostError> {
        Ok((
            hash.to_vec(),
            SignatureAlgorithmInfo::new(SignatureScheme::RsaPkcs1, hf),
        ))
    }
}

struct Harness {
    to_host: std::io::PipeWriter,
    from_host: std::io::PipeReader,
    done: std::thread::JoinHandle<Exit>,
    card: FakeCard,
}

fn start(present: bool, allowed: bool, pin_timeout: Duration) -> Harness {
    let card = FakeCard {
        state: Arc::new(Mutex::new(State {
            present,
            pin: "1234",
            retries: 3,
            arrive: None,
            pin_pad: false,
        })),
    };
    let c = card.clone();
    let factory: BackendFactory = Arc::new(move || Box::new(c.clone()) as Box<dyn CardBackend>);
    let (host_in, to_host) = std::io::pipe().unwrap();
    let (from_host, host_out) = std::io::pipe().unwrap();
    let config = ServerConfig {
        caller_allowed: allowed,
        timeouts: Timeouts {
            card: Duration::from_secs(5),
            pin: pin_timeout,
        },
    };
    let done = std::thread::spawn(move || Server::new(factory, config).run(host_in, host_out));
    Harness {
        to_host,
        from_host,
        done,
        card,
    }
}

impl Harness {
    fn send(&mut self, v: Value) {
        write_frame(&mut self.to_host, v.to_string().as_bytes(), 1 << 16).unwrap();
    }
    fn send_raw(&mut self, bytes: &[u8]) {
        self.to_host.write_all(bytes).unwrap();
    }
    fn recv(&mut self) -> Value {
        let frame = read_frame(&mut self.from_host, 1 << 20)
            .unwrap()
            .expect("host closed");
        serde_json::from_slice(&frame).unwrap()
    }
    fn finish(self) -> Exit {
        drop(self.to_host);
        let mut rest = Vec::new();
        let mut r = self.from_host;
        let _ = r.read_to_end(&mut rest);
        self.done.join().unwrap()
    }
}

fn auth(id: &str) -> Value {
    json!({"id": id, "command": "authenticate", "arguments": {"challengeNonce": NONCE, "origin": "https://portal.example.ge", "lang": "ka"}})
}

fn expect_event(h: &mut Harness, event: &str) -> Value {
    loop {
        let m = h.recv();
        assert_eq!(m["type"], "event", "{m}");
        if m["event"] == event {
            return m;
        }
        assert_eq!(m["event"], "progress", "{m}");
    }
}

#[test]
fn status_answers_without_a_card_operation() {
    let mut h = start(true, true, Duration::from_secs(5));
    h.send(json!({"id": "s", "command": "status"}));
    let m = h.recv();
    assert_eq!(m["id"], "s");
    assert_eq!(m["result"]["protocol"], "geid-nm/1");
    assert_eq!(m["result"]["readers"][0]["card"], "GeorgiaEIDv1");
    assert_eq!(h.finish(), Exit::PortClosed);
}

#[test]
fn wrong_pin_then_right_pin_gives_a_token() {
    let mut h = start(true, true, Duration::from_secs(5));
    h.send(auth("a1"));
    let m = expect_event(&mut h, "pin-required");
    assert_eq!(m["id"], "a1");
    assert_eq!(m["data"]["retriesLeft"], 3);
    assert_eq!(m["data"]["retry"], false);
    assert_eq!(m["data"]["holder"], "გიორგი ბერიძე");
    assert_eq!(m["data"]["origin"], "https://portal.example.ge");
    h.send(json!({"id": "a1", "command": "pin", "arguments": {"pin": "1111"}}));
    let m = expect_event(&mut h, "pin-required");
    assert_eq!(m["data"]["retriesLeft"], 2);
    assert_eq!(m["data"]["retry"], true);
    // Wrong length: asked again without spending a try.
    h.send(json!({"id": "a1", "command": "pin", "arguments": {"pin": "123456"}}));
    let m = expect_event(&mut h, "pin-required");
    assert_eq!(m["data"]["retriesLeft"], 2);
    h.send(json!({"id": "a1", "command": "pin", "arguments": {"pin": "1234"}}));
    let m = loop {
        let m = h.recv();
        if m["type"] != "event" {
            break m;
        }
    };
    assert_eq!(m["type"], "result", "{m}");
    let token = AuthToken::parse(&m["result"].to_string()).unwrap();
    assert_eq!(token.algorithm, SignatureAlgorithm::Rs256);
    h.finish();
}

#[test]
fn pin_blocks_after_the_last_wrong_try() {
    let mut h = start(true, true, Duration::from_secs(5));
    h.send(auth("b"));
    for left in [3, 2, 1] {
        let m = expect_event(&mut h, "pin-required");
        assert_eq!(m["data"]["retriesLeft"], left);
        h.send(json!({"id": "b", "command": "pin", "arguments": {"pin": "0000"}}));
    }
    let m = loop {
        let m = h.recv();
        if m["type"] != "event" {
            break m;
        }
    };
    assert_eq!(m["error"]["code"], "PIN_BLOCKED", "{m}");
    // A new attempt is refused before asking for a PIN.
    h.send(auth("b2"));
    let m = loop {
        let m = h.recv();
        if m["type"] != "event" {
            break m;
        }
    };
    assert_eq!(m["error"]["code"], "PIN_BLOCKED");
    h.finish();
}

#[test]
fn cancel_while_waiting_for_the_pin_and_for_the_card() {
    let mut h = start(true, true, Duration::from_secs(30));
    h.send(auth("c"));
    expect_event(&mut h, "pin-required");
    h.send(json!({"id": "c", "command": "cancel"}));
    let m = h.recv();
    assert_eq!(m["error"]["code"], "USER_CANCELLED", "{m}");
    assert_eq!(m["id"], "c");

    h.card.state.lock().unwrap().present = false;
    h.send(auth("d"));
    let m = expect_event(&mut h, "card-required");
    assert_eq!(m["data"]["reason"], "NO_CARD");
    let t = std::time::Instant::now();
    h.send(json!({"id": "d", "command": "cancel"}));
    let m = h.recv();
    assert_eq!(m["error"]["code"], "USER_CANCELLED", "{m}");
    assert!(t.elapsed() < Duration::from_secs(1));
    h.finish();
}

#[test]
fn card_inserted_while_waiting_continues_the_request() {
    let mut h = start(false, true, Duration::from_secs(5));
    h.card.state.lock().unwrap().arrive = Some(Duration::from_millis(200));
    h.send(auth("e"));
    expect_event(&mut h, "card-required");
    expect_event(&mut h, "pin-required");
    h.send(json!({"id": "e", "command": "pin", "arguments": {"pin": "1234"}}));
    let m = loop {
        let m = h.recv();
        if m["type"] != "event" {
            break m;
        }
    };
    assert_eq!(m["type"], "result", "{m}");
    h.finish();
}

#[test]
fn pin_timeout_ends_the_request() {
    let mut h = start(true, true, Duration::from_millis(300));
    h.send(auth("t"));
    expect_event(&mut h, "pin-required");
    let m = h.recv();
    assert_eq!(m["error"]["code"], "TIMEOUT", "{m}");
    h.finish();
}

#[test]
fn a_second_card_request_is_busy_and_the_first_goes_on() {
    let mut h = start(true, true, Duration::from_secs(5));
    h.send(auth("first"));
    expect_event(&mut h, "pin-required");
    h.send(auth("second"));
    let m = h.recv();
    assert_eq!(
        (m["id"].as_str(), m["error"]["code"].as_str()),
        (Some("second"), Some("BUSY")),
        "{m}"
    );
    // The same id again is refused without an id, so the running request is not ended.
    h.send(auth("first"));
    let m = h.recv();
    assert_eq!(m["id"], Value::Null);
    assert_eq!(m["error"]["code"], "INVALID_ARGUMENT");
    h.send(json!({"id": "s", "command": "status"}));
    assert_eq!(h.recv()["id"], "s");
    h.send(json!({"id": "first", "command": "pin", "arguments": {"pin": "1234"}}));
    let m = loop {
        let m = h.recv();
        if m["type"] != "event" {
            break m;
        }
    };
    assert_eq!(
        (m["id"].as_str(), m["type"].as_str()),
        (Some("first"), Some("result"))
    );
    h.finish();
}

#[test]
fn sign_checks_the_certificate_then_signs() {
    let mut h = start(true, true, Duration::from_secs(5));
    let hash = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    h.send(json!({"id": "x", "command": "sign", "arguments": {"origin": "https://a.ge", "certificate": "MAE=", "hash": hash, "hashFunction": "SHA-256"}}));
    let m = loop {
        let m = h.recv();
        if m["type"] != "event" {
            break m;
        }
    };
    assert_eq!(m["error"]["code"], "CERTIFICATE_MISMATCH", "{m}");
    h.send(json!({"id": "y", "command": "sign", "arguments": {"origin": "https://a.ge", "certificate": "MAI=", "hash": hash, "hashFunction": "SHA-256"}}));
    let m = expect_event(&mut h, "pin-required");
    assert_eq!(m["data"]["kind"], "signing");
    h.send(json!({"id": "y", "command": "pin", "arguments": {"pin": "1234"}}));
    let m = loop {
        let m = h.recv();
        if m["type"] != "event" {
            break m;
        }
    };
    assert_eq!(
        m["result"]["signatureAlgorithm"]["hashFunction"], "SHA-256",
        "{m}"
    );
    h.send(json!({"id": "z", "command": "get-signing-certificate", "arguments": {"origin": "https://a.ge"}}));
    let m = loop {
        let m = h.recv();
        if m["type"] != "event" {
            break m;
        }
    };
    assert_eq!(m["result"]["certificate"], "MAI=");
    h.finish();
}

#[test]
fn bad_input_gets_an_error_and_the_host_keeps_serving() {
    let mut h = start(true, true, Duration::from_secs(5));
    // Oversized frame: skipped, answered, stream still in step.
    let big = vec![b' '; 70 * 1024];
    let mut frame = (big.len() as u32).to_ne_bytes().to_vec();
    frame.extend_from_slice(&big);
    h.send_raw(&frame);
    let m = h.recv();
    assert_eq!(
        (m["id"].clone(), m["error"]["code"].as_str()),
        (Value::Null, Some("MESSAGE_TOO_LARGE"))
    );
    for (body, code) in [
        (&b"\xff\xfe"[..], "INVALID_MESSAGE"),
        (b"[]", "INVALID_MESSAGE"),
        (b"{\"id\":\"1\",\"command\":\"format\"}", "UNKNOWN_COMMAND"),
        (b"{\"id\":\"1\",\"command\":\"status\",\"x\":1}", "INVALID_ARGUMENT"),
        (b"{\"id\":\"1\",\"command\":\"authenticate\",\"arguments\":{\"challengeNonce\":\"x\",\"origin\":\"https://a.ge\"}}", "INVALID_ARGUMENT"),
        (b"{\"id\":\"1\",\"command\":\"authenticate\",\"arguments\":{\"challengeNonce\":\"MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=\",\"origin\":\"http://a.ge\"}}", "ORIGIN_NOT_ALLOWED"),
        (b"{\"id\":\"1\",\"command\":\"cancel\"}", "INVALID_ARGUMENT"),
        (b"{\"id\":\"1\",\"command\":\"pin\",\"arguments\":{\"pin\":\"1234\"}}", "INVALID_ARGUMENT"),
    ] {
        write_frame(&mut h.to_host, body, 1 << 16).unwrap();
        let m = h.recv();
        assert_eq!(m["error"]["code"], code, "{}", String::from_utf8_lossy(body));
    }
    h.send(json!({"id": "q", "command": "quit"}));
    let m = h.recv();
    assert_eq!(m["result"], json!({}));
    assert_eq!(h.finish(), Exit::Quit);
}

#[test]
fn truncated_stream_ends_the_loop() {
    let mut h = start(true, true, Duration::from_secs(5));
    h.send_raw(&[10, 0]);
    drop(h.to_host);
    assert!(matches!(h.done.join().unwrap(), Exit::BrokenStream(_)));
}

#[test]
fn closing_stdin_while_waiting_for_a_pin_ends_promptly() {
    let mut h = start(true, true, Duration::from_secs(60));
    h.send(auth("w"));
    expect_event(&mut h, "pin-required");
    let t = std::time::Instant::now();
    assert_eq!(h.finish(), Exit::PortClosed);
    assert!(t.elapsed() < Duration::from_secs(1));
}

#[test]
fn a_caller_not_allowed_gets_origin_not_allowed_for_everything() {
    let mut h = start(true, false, Duration::from_secs(5));
    h.send(json!({"id": "s", "command": "status"}));
    let m = h.recv();
    assert_eq!(m["error"]["code"], "ORIGIN_NOT_ALLOWED");
    h.send(auth("a"));
    assert_eq!(h.recv()["error"]["code"], "ORIGIN_NOT_ALLOWED");
    h.finish();
}
