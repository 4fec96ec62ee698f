//! The native-messaging request parser and host messages: every command, every rejection.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use geid_protocol::messages::*;
use geid_protocol::*;
use proptest::prelude::*;
use serde_json::json;

const NONCE: &str = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=";

fn parse(v: serde_json::Value) -> Result<Request, MessageError> {
    Request::parse(v.to_string().as_bytes())
}

fn rejects(v: serde_json::Value, code: ErrorCode, with_id: bool) -> MessageError {
    let e = parse(v.clone()).expect_err(&v.to_string());
    assert_eq!(e.code, code, "{v}: {}", e.message);
    assert_eq!(e.id.is_some(), with_id, "{v}");
    e
}

#[test]
fn every_command_parses() {
    let r = parse(json!({"id": "1", "command": "status"})).unwrap();
    assert_eq!(r.id.as_str(), "1");
    assert!(matches!(r.command, Command::Status));
    assert!(matches!(
        parse(json!({"id": "a", "command": "status", "arguments": {}}))
            .unwrap()
            .command,
        Command::Status
    ));
    let r = parse(json!({"id": "2", "command": "authenticate", "arguments": {
        "challengeNonce": NONCE, "origin": "https://Portal.example.GE", "lang": "ka"}}))
    .unwrap();
    match r.command {
        Command::Authenticate(a) => {
            assert_eq!(a.challenge_nonce.as_str(), NONCE);
            assert_eq!(a.origin.as_str(), "https://portal.example.ge");
            assert_eq!(a.lang.unwrap().as_str(), "ka");
        }
        other => panic!("{other:?}"),
    }
    let r = parse(json!({"id": "3", "command": "get-signing-certificate",
        "arguments": {"origin": "https://portal.example.ge"}}))
    .unwrap();
    assert!(matches!(r.command, Command::GetSigningCertificate(ref a) if a.lang.is_none()));
    let r = parse(json!({"id": "4", "command": "sign", "arguments": {
        "origin": "https://portal.example.ge", "certificate": "MIIB", "hash": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "hashFunction": "SHA-256", "lang": "en-GB"}}))
    .unwrap();
    match r.command {
        Command::Sign(a) => {
            assert_eq!(a.hash.len(), 32);
            assert_eq!(a.hash_function, HashFunction::Sha256);
            assert_eq!(a.certificate, vec![0x30, 0x82, 0x01]);
            assert_eq!(a.lang.unwrap().primary(), "en");
        }
        other => panic!("{other:?}"),
    }
    let r = parse(json!({"id": "2", "command": "pin", "arguments": {"pin": "1234"}})).unwrap();
    match r.command {
        Command::Pin(p) => assert_eq!(p.expose_digits(), b"1234"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        parse(json!({"id": "2", "command": "cancel"}))
            .unwrap()
            .command,
        Command::Cancel
    ));
    assert!(matches!(
        parse(json!({"id": "9", "command": "quit"}))
            .unwrap()
            .command,
        Command::Quit
    ));
}

#[test]
fn unreadable_messages_have_no_id() {
    for body in [
        &b"\xff\xfe"[..],
        b"",
        b"not json",
        b"[1,2]",
        b"\"str\"",
        b"null",
        b"{\"id\":\"1\"",
    ] {
        let e = Request::parse(body).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidMessage, "{body:?}");
        assert!(e.id.is_none());
    }
    rejects(
        json!({"command": "status"}),
        ErrorCode::InvalidMessage,
        false,
    );
    rejects(
        json!({"id": 1, "command": "status"}),
        ErrorCode::InvalidMessage,
        false,
    );
    rejects(
        json!({"id": "", "command": "status"}),
        ErrorCode::InvalidMessage,
        false,
    );
    rejects(
        json!({"id": "x".repeat(65), "command": "status"}),
        ErrorCode::InvalidMessage,
        false,
    );
    rejects(
        json!({"id": "a b", "command": "status"}),
        ErrorCode::InvalidMessage,
        false,
    );
    let e = Request::parse(br#"{"id":"1","id":"2","command":"status"}"#).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidMessage);
    assert!(e.message.contains("duplicate"), "{}", e.message);
}

#[test]
fn wrong_fields_and_commands_answer_with_the_id() {
    rejects(
        json!({"id": "1", "command": "status", "extra": 1}),
        ErrorCode::InvalidArgument,
        true,
    );
    rejects(json!({"id": "1"}), ErrorCode::InvalidArgument, true);
    rejects(
        json!({"id": "1", "command": 5}),
        ErrorCode::InvalidArgument,
        true,
    );
    let e = rejects(
        json!({"id": "1", "command": "format-disk"}),
        ErrorCode::UnknownCommand,
        true,
    );
    assert!(e.message.contains("format-disk"));
    rejects(
        json!({"id": "1", "command": "Status"}),
        ErrorCode::UnknownCommand,
        true,
    );
    rejects(
        json!({"id": "1", "command": "status", "arguments": {"x": 1}}),
        ErrorCode::InvalidArgument,
        true,
    );
    rejects(
        json!({"id": "1", "command": "status", "arguments": [1]}),
        ErrorCode::InvalidArgument,
        true,
    );
    rejects(
        json!({"id": "1", "command": "authenticate"}),
        ErrorCode::InvalidArgument,
        true,
    );
    rejects(
        json!({"id": "1", "command": "authenticate", "arguments": {"origin": "https://a.ge"}}),
        ErrorCode::InvalidArgument,
        true,
    );
    rejects(
        json!({"id": "1", "command": "authenticate", "arguments": {"challengeNonce": NONCE, "origin": "https://a.ge", "evil": true}}),
        ErrorCode::InvalidArgument,
        true,
    );
    let e = rejects(
        json!({"id": "1", "command": "authenticate", "arguments": {"challengeNonce": "short", "origin": "https://a.ge"}}),
        ErrorCode::InvalidArgument,
        true,
    );
    assert!(e.message.contains("at least 44"), "{}", e.message);
    rejects(
        json!({"id": "1", "command": "authenticate", "arguments": {"challengeNonce": 42, "origin": "https://a.ge"}}),
        ErrorCode::InvalidArgument,
        true,
    );
    for bad in [
        "http://evil.ge",
        "https://a.ge/path",
        "javascript:alert(1)",
        "https://u@a.ge",
        "",
    ] {
        rejects(
            json!({"id": "1", "command": "authenticate", "arguments": {"challengeNonce": NONCE, "origin": bad}}),
            ErrorCode::OriginNotAllowed,
            true,
        );
    }
    rejects(
        json!({"id": "1", "command": "authenticate", "arguments": {"challengeNonce": NONCE, "origin": "https://a.ge", "lang": "<script>"}}),
        ErrorCode::InvalidArgument,
        true,
    );
}

#[test]
fn sign_checks_hash_length_and_function() {
    let base = |hash: &str, hf: &str| {
        json!({"id": "s", "command": "sign", "arguments": {
            "origin": "https://a.ge", "certificate": "MIIB", "hash": hash, "hashFunction": hf}})
    };
    let h32 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let e = rejects(base(h32, "SHA-384"), ErrorCode::InvalidArgument, true);
    assert!(e.message.contains("32 bytes"), "{}", e.message);
    rejects(base(h32, "MD5"), ErrorCode::InvalidArgument, true);
    rejects(
        base("not base64!", "SHA-256"),
        ErrorCode::InvalidArgument,
        true,
    );
    rejects(
        json!({"id": "s", "command": "sign", "arguments": {
            "origin": "https://a.ge", "certificate": "", "hash": h32, "hashFunction": "SHA-256"}}),
        ErrorCode::InvalidArgument,
        true,
    );
    assert!(parse(base(h32, "SHA3-256")).is_ok());
}

#[test]
fn pin_errors_never_echo_the_pin() {
    for pin in [
        json!("12a4"),
        json!("123"),
        json!("1234567890123"),
        json!(1234),
        json!("\u{0031}\u{0032}\u{0033}x"),
    ] {
        let v = json!({"id": "p", "command": "pin", "arguments": {"pin": pin}});
        let e = parse(v).unwrap_err();
        assert_eq!(e.code, ErrorCode::PinFormat, "{pin}");
        assert!(!e.message.contains("123"), "{}", e.message);
        assert!(!format!("{e:?}").contains("123"));
    }
    // An escaped digit string is refused rather than copied through an un-zeroised buffer.
    let e = Request::parse(br#"{"id":"p","command":"pin","arguments":{"pin":"\u0031234"}}"#)
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::PinFormat);
    // Broken JSON in the arguments does not quote the value.
    let e = Request::parse(br#"{"id":"p","command":"pin","arguments":{"pin":"1234" "x"}}"#)
        .unwrap_err();
    assert!(!e.message.contains("1234"), "{}", e.message);
}

#[test]
fn requests_round_trip_through_to_json() {
    let reqs = vec![
        Request {
            id: RequestId::new("a").unwrap(),
            command: Command::Status,
        },
        Request {
            id: RequestId::new("b").unwrap(),
            command: Command::Authenticate(AuthenticateArgs {
                challenge_nonce: ChallengeNonce::parse(NONCE).unwrap(),
                origin: Origin::parse("https://a.ge").unwrap(),
                lang: None,
            }),
        },
        Request {
            id: RequestId::new("c").unwrap(),
            command: Command::Pin(Pin::new("123456").unwrap()),
        },
        Request {
            id: RequestId::new("d").unwrap(),
            command: Command::Quit,
        },
    ];
    for r in reqs {
        let back = Request::parse(r.to_json().as_bytes()).unwrap();
        assert_eq!(back.id, r.id);
        assert_eq!(back.command.name(), r.command.name());
        assert_eq!(back.to_json(), r.to_json());
    }
}

#[test]
fn host_messages_have_the_documented_shape() {
    let id = RequestId::new("7").unwrap();
    let m = HostMessage::event(
        id.clone(),
        Event::PinRequired(PinRequired {
            kind: PinKind::Authentication,
            retries_left: Some(3),
            min_length: 4,
            max_length: 4,
            holder: Some("გიორგი ბერიძე".into()),
            origin: Origin::parse("https://a.ge").unwrap(),
            pin_pad: false,
            retry: false,
        }),
    );
    let v: serde_json::Value = serde_json::from_slice(&m.to_json()).unwrap();
    assert_eq!(
        v,
        json!({"id": "7", "type": "event", "event": "pin-required", "data": {
            "kind": "authentication", "retriesLeft": 3, "minLength": 4, "maxLength": 4,
            "holder": "გიორგი ბერიძე", "origin": "https://a.ge", "pinPad": false, "retry": false}})
    );
    assert_eq!(HostMessage::parse(&m.to_json()).unwrap(), m);

    let mut body = ErrorBody::new(ErrorCode::PinIncorrect, "wrong PIN");
    body.retries_left = Some(2);
    let m = HostMessage::error(Some(id.clone()), body);
    let v: serde_json::Value = serde_json::from_slice(&m.to_json()).unwrap();
    assert_eq!(
        v,
        json!({"id": "7", "type": "error", "error": {"code": "PIN_INCORRECT", "message": "wrong PIN", "retriesLeft": 2}})
    );
    assert_eq!(HostMessage::parse(&m.to_json()).unwrap(), m);

    let m = HostMessage::error(None, ErrorBody::new(ErrorCode::InvalidMessage, "x"));
    let v: serde_json::Value = serde_json::from_slice(&m.to_json()).unwrap();
    assert_eq!(v["id"], serde_json::Value::Null);

    let token = AuthToken {
        certificate: vec![0x30; 300],
        algorithm: SignatureAlgorithm::Rs256,
        signature: vec![9; 256],
        format: TOKEN_FORMAT.into(),
        app_version: app_version(),
    };
    let m = HostMessage::result(id.clone(), CommandResult::Token(token.clone()));
    let v: serde_json::Value = serde_json::from_slice(&m.to_json()).unwrap();
    assert_eq!(v["type"], "result");
    assert_eq!(v["result"]["format"], "web-eid:1.0");
    assert_eq!(v["result"]["algorithm"], "RS256");
    assert_eq!(HostMessage::parse(&m.to_json()).unwrap(), m);

    let m = HostMessage::result(
        id.clone(),
        CommandResult::Status(StatusResult {
            version: "0.1.0".into(),
            protocol: PROTOCOL_VERSION.into(),
            pcsc_available: true,
            readers: vec![ReaderStatus {
                name: "Virtual PCD 00 00".into(),
                card_present: true,
                card: Some("GeorgiaEIDv1".into()),
                holder: None,
                pin_pad: false,
            }],
        }),
    );
    assert_eq!(HostMessage::parse(&m.to_json()).unwrap(), m);

    let m = HostMessage::result(
        id.clone(),
        CommandResult::Signature(SignatureResult {
            signature: "AAAA".into(),
            signature_algorithm: SignatureAlgorithmInfo::from_algorithm(SignatureAlgorithm::Rs256),
        }),
    );
    let v: serde_json::Value = serde_json::from_slice(&m.to_json()).unwrap();
    assert_eq!(
        v["result"]["signatureAlgorithm"],
        json!({"cryptoAlgorithm": "RSA", "hashFunction": "SHA-256", "paddingScheme": "PKCS1.5"})
    );
    assert_eq!(HostMessage::parse(&m.to_json()).unwrap(), m);

    let m = HostMessage::result(id, CommandResult::Done(Done {}));
    assert_eq!(
        String::from_utf8(m.to_json()).unwrap(),
        r#"{"id":"7","type":"result","result":{}}"#
    );
}

proptest! {
    #[test]
    fn parser_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = Request::parse(&bytes);
    }

    #[test]
    fn parser_never_panics_on_json_objects(
        id in prop::option::of("\\PC{0,70}"),
        command in prop::option::of(prop::sample::select(vec!["status", "authenticate", "sign", "pin", "get-signing-certificate", "cancel", "quit", "x"])),
        args in prop::option::of(prop::collection::btree_map("[a-zA-Z]{1,16}", "\\PC{0,80}", 0..6)),
    ) {
        let mut v = json!({});
        if let Some(id) = id { v["id"] = json!(id); }
        if let Some(c) = command { v["command"] = json!(c); }
        if let Some(a) = args { v["arguments"] = json!(a); }
        let _ = parse(v);
    }

    #[test]
    fn authenticate_round_trips(
        id in "[A-Za-z0-9_.:-]{1,64}",
        nonce_bytes in prop::collection::vec(any::<u8>(), 32..90),
        host in "[a-z]{1,20}\\.ge",
        lang in prop::option::of(prop::sample::select(vec!["ka", "en", "en-gb"])),
    ) {
        use base64::Engine as _;
        let nonce = base64::engine::general_purpose::STANDARD.encode(nonce_bytes);
        let r = Request {
            id: RequestId::new(&id).unwrap(),
            command: Command::Authenticate(AuthenticateArgs {
                challenge_nonce: ChallengeNonce::parse(&nonce).unwrap(),
                origin: Origin::parse(&format!("https://{host}")).unwrap(),
                lang: lang.and_then(Lang::new),
            }),
        };
        let back = Request::parse(r.to_json().as_bytes()).unwrap();
        prop_assert_eq!(back.to_json(), r.to_json());
    }
}
