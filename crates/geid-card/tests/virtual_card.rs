#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Every operation and PIN rule on the in-process virtual card.

mod common;

use common::{card, keys, virtual_card};
use geid_card::{Card, CardError, CardProfile, Generation, KeySlot, PinEntry, PinKind, Trace};
use geid_protocol::{ChallengeNonce, ErrorCode, HashFunction, Origin, Pin, SignatureAlgorithm};
use geid_testkit::virtual_card::{PinValues, VirtualCard, VirtualTransport};
use openssl::hash::MessageDigest;
use openssl::sign::Verifier;
use openssl::x509::X509;

fn pin(s: &str) -> PinEntry {
    PinEntry::Pin(Pin::new(s).unwrap())
}

fn verify_rs256(cert_der: &[u8], data: &[u8], sig: &[u8]) -> bool {
    let cert = X509::from_der(cert_der).unwrap();
    let key = cert.public_key().unwrap();
    let mut v = Verifier::new(MessageDigest::sha256(), &key).unwrap();
    v.update(data).unwrap();
    v.verify(sig).unwrap()
}

#[test]
fn reads_both_certificates_on_both_generations() {
    for g in [Generation::Ge1, Generation::GeorgiaEidV1] {
        let (mut c, _) = card(g);
        let k = keys();
        assert_eq!(
            c.certificate(KeySlot::Authentication).unwrap(),
            k.auth_cert.to_der().unwrap()
        );
        assert_eq!(
            c.certificate(KeySlot::Signing).unwrap(),
            k.sign_cert.to_der().unwrap()
        );
        let info = c.certificate_info(KeySlot::Authentication).unwrap();
        assert_eq!(info.personal_number.as_deref(), Some("01001000001"));
        assert!(info.given_name.is_some() && info.surname.is_some());
    }
}

#[test]
fn extended_length_reads_a_certificate_in_one_apdu() {
    let (mut ge1, _) = card(Generation::Ge1);
    ge1.certificate(KeySlot::Authentication).unwrap();
    let ext = ge1.stats().apdus;
    let (mut v1, _) = card(Generation::GeorgiaEidV1);
    v1.certificate(KeySlot::Authentication).unwrap();
    let short = v1.stats().apdus;
    // SELECT AID + SELECT file + one READ BINARY, against several 0xC0-byte reads.
    assert_eq!(ext, 3);
    assert!(short > ext + 3, "short {short} ext {ext}");
}

#[test]
fn authentication_token_verifies() {
    for g in [Generation::Ge1, Generation::GeorgiaEidV1] {
        let (mut c, _) = card(g);
        let origin = Origin::parse("https://portal.example.ge").unwrap();
        let nonce = ChallengeNonce::generate().unwrap();
        let token = c.authenticate(&origin, &nonce, pin("1234")).unwrap();
        assert_eq!(token.algorithm, SignatureAlgorithm::Rs256);
        assert_eq!(token.format, "web-eid:1.0");
        let data = SignatureAlgorithm::Rs256.signed_data(&origin, &nonce);
        assert!(verify_rs256(&token.certificate, &data, &token.signature));
        geid_protocol::AuthToken::parse(&token.to_json()).unwrap();
    }
}

#[test]
fn pso_cds_authentication_style_works_too() {
    let mut profile = CardProfile::for_generation(Generation::GeorgiaEidV1);
    profile.auth_style.value = geid_card::profile::AuthStyle::PsoCds;
    let vc = VirtualCard::new(
        geid_card::atr::ATR_GEID_V1,
        profile.clone(),
        keys(),
        PinValues::default(),
    )
    .unwrap();
    let mut c = Card::with_profile(VirtualTransport::new(vc), profile);
    let origin = Origin::parse("https://portal.example.ge").unwrap();
    let nonce = ChallengeNonce::generate().unwrap();
    let token = c.authenticate(&origin, &nonce, pin("1234")).unwrap();
    assert!(verify_rs256(
        &token.certificate,
        &SignatureAlgorithm::Rs256.signed_data(&origin, &nonce),
        &token.signature
    ));
}

#[test]
fn qualified_signature_verifies_and_needs_the_pin_each_time() {
    let (mut c, t) = card(Generation::GeorgiaEidV1);
    let data = b"document";
    let digest = HashFunction::Sha256.digest(data);
    let sig = c
        .sign(
            KeySlot::Signing,
            HashFunction::Sha256,
            &digest,
            pin("123456"),
        )
        .unwrap();
    assert!(verify_rs256(
        &c.certificate(KeySlot::Signing).unwrap(),
        data,
        &sig
    ));
    // The authentication PIN does not unlock the signing key.
    let e = c
        .sign(KeySlot::Signing, HashFunction::Sha256, &digest, pin("1234"))
        .unwrap_err();
    assert_eq!(e, CardError::PinFormat { min: 6, max: 6 });
    assert_eq!(
        t.card().lock().unwrap().retries().1,
        Some(3),
        "a wrong-length PIN never reaches the card"
    );
    let e = c
        .sign(
            KeySlot::Signing,
            HashFunction::Sha256,
            &[0u8; 31],
            pin("123456"),
        )
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
}

#[test]
fn wrong_pin_counts_down_then_blocks_and_puk_unblocks() {
    let (mut c, t) = card(Generation::GeorgiaEidV1);
    assert_eq!(
        c.pin_status(PinKind::Authentication).unwrap().retries_left,
        Some(3)
    );
    assert_eq!(
        c.verify_pin(PinKind::Authentication, pin("0000")),
        Err(CardError::PinIncorrect { retries_left: 2 })
    );
    assert_eq!(
        c.verify_pin(PinKind::Authentication, pin("0000")),
        Err(CardError::PinIncorrect { retries_left: 1 })
    );
    assert_eq!(
        c.pin_status(PinKind::Authentication).unwrap().retries_left,
        Some(1)
    );
    let e = c
        .verify_pin(PinKind::Authentication, pin("0000"))
        .unwrap_err();
    assert_eq!(e, CardError::PinBlocked);
    assert_eq!(e.code(), ErrorCode::PinBlocked);
    // Even the right PIN is refused now.
    assert_eq!(
        c.verify_pin(PinKind::Authentication, pin("1234")),
        Err(CardError::PinBlocked)
    );
    let st = c.pin_status(PinKind::Authentication).unwrap();
    assert!(st.blocked);
    // A wrong PUK counts down the PUK.
    assert_eq!(
        c.unblock_pin(
            PinKind::Authentication,
            Pin::new("00000000").unwrap(),
            Pin::new("4321").unwrap()
        ),
        Err(CardError::PinIncorrect { retries_left: 2 })
    );
    c.unblock_pin(
        PinKind::Authentication,
        Pin::new("12345678").unwrap(),
        Pin::new("4321").unwrap(),
    )
    .unwrap();
    assert_eq!(t.card().lock().unwrap().retries().3, 3);
    c.verify_pin(PinKind::Authentication, pin("4321")).unwrap();
    // A correct PIN resets the counter.
    assert_eq!(
        c.verify_pin(PinKind::Authentication, pin("0000")),
        Err(CardError::PinIncorrect { retries_left: 2 })
    );
    c.verify_pin(PinKind::Authentication, pin("4321")).unwrap();
    assert_eq!(t.card().lock().unwrap().retries().0, 3);
}

#[test]
fn puk_cannot_reset_the_signature_pin() {
    let (mut c, _) = card(Generation::Ge1);
    let e = c
        .unblock_pin(
            PinKind::Signing,
            Pin::new("12345678").unwrap(),
            Pin::new("654321").unwrap(),
        )
        .unwrap_err();
    assert_eq!(e, CardError::PukCannotResetSigningPin);
    // The card enforces it too.
    let vc = virtual_card(Generation::Ge1, PinValues::default());
    let t = VirtualTransport::new(vc);
    let p = CardProfile::for_generation(Generation::Ge1);
    let mut data = p.puk.padding.value.apply(b"12345678");
    data.extend(p.sign_pin.padding.value.apply(b"654321"));
    let mut cmd = vec![
        0x00,
        0x2C,
        0x00,
        p.sign_pin.reference.value,
        data.len() as u8,
    ];
    cmd.extend(data);
    let r = t.card().lock().unwrap().process(&cmd).unwrap();
    assert_eq!(r, vec![0x69, 0x85]);
}

#[test]
fn signature_pin_is_set_once_from_the_transport_pin() {
    let vc = virtual_card(
        Generation::GeorgiaEidV1,
        PinValues {
            sign_pin: None,
            ..PinValues::default()
        },
    );
    let t = VirtualTransport::new(vc);
    let mut c = Card::open(t.clone()).unwrap();
    assert!(c.pin_status(PinKind::Signing).unwrap().not_set);
    let digest = HashFunction::Sha256.digest(b"x");
    let e = c
        .sign(
            KeySlot::Signing,
            HashFunction::Sha256,
            &digest,
            pin("123456"),
        )
        .unwrap_err();
    assert_eq!(
        (e.clone(), e.code()),
        (CardError::PinNotSet, ErrorCode::PinNotSet)
    );
    assert_eq!(
        c.change_pin(
            PinKind::Signing,
            Pin::new("12345").unwrap(),
            Pin::new("111111").unwrap()
        ),
        Err(CardError::PinNotSet)
    );
    // Wrong transport PIN counts down the transport PIN.
    assert_eq!(
        c.set_signing_pin(Pin::new("54321").unwrap(), Pin::new("111111").unwrap()),
        Err(CardError::PinIncorrect { retries_left: 2 })
    );
    c.set_signing_pin(Pin::new("12345").unwrap(), Pin::new("111111").unwrap())
        .unwrap();
    assert_eq!(
        c.set_signing_pin(Pin::new("12345").unwrap(), Pin::new("222222").unwrap()),
        Err(CardError::PinAlreadySet)
    );
    c.sign(
        KeySlot::Signing,
        HashFunction::Sha256,
        &digest,
        pin("111111"),
    )
    .unwrap();
    c.change_pin(
        PinKind::Signing,
        Pin::new("111111").unwrap(),
        Pin::new("222222").unwrap(),
    )
    .unwrap();
    c.sign(
        KeySlot::Signing,
        HashFunction::Sha256,
        &digest,
        pin("222222"),
    )
    .unwrap();
}

#[test]
fn change_authentication_pin() {
    let (mut c, _) = card(Generation::Ge1);
    assert_eq!(
        c.change_pin(
            PinKind::Authentication,
            Pin::new("9999").unwrap(),
            Pin::new("5678").unwrap()
        ),
        Err(CardError::PinIncorrect { retries_left: 2 })
    );
    c.change_pin(
        PinKind::Authentication,
        Pin::new("1234").unwrap(),
        Pin::new("5678").unwrap(),
    )
    .unwrap();
    c.verify_pin(PinKind::Authentication, pin("5678")).unwrap();
    assert_eq!(
        c.change_pin(
            PinKind::Authentication,
            Pin::new("5678").unwrap(),
            Pin::new("56789").unwrap()
        ),
        Err(CardError::PinFormat { min: 4, max: 4 })
    );
}

#[test]
fn pin_pad_reader() {
    let t = VirtualTransport::new(virtual_card(Generation::GeorgiaEidV1, PinValues::default()))
        .with_pin_pad("1234");
    let mut c = Card::open(t).unwrap();
    let origin = Origin::parse("https://portal.example.ge").unwrap();
    let nonce = ChallengeNonce::generate().unwrap();
    c.authenticate(&origin, &nonce, PinEntry::PinPad).unwrap();
    let t = VirtualTransport::new(virtual_card(Generation::GeorgiaEidV1, PinValues::default()))
        .with_pin_pad("9999");
    let mut c = Card::open(t).unwrap();
    assert_eq!(
        c.verify_pin(PinKind::Authentication, PinEntry::PinPad),
        Err(CardError::PinIncorrect { retries_left: 2 })
    );
    let t = VirtualTransport::new(virtual_card(Generation::GeorgiaEidV1, PinValues::default()))
        .with_pin_pad("");
    let mut c = Card::open(t).unwrap();
    assert_eq!(
        c.verify_pin(PinKind::Authentication, PinEntry::PinPad)
            .unwrap_err()
            .code(),
        ErrorCode::UserCancelled
    );
    let (mut c, _) = card(Generation::Ge1);
    assert_eq!(
        c.verify_pin(PinKind::Authentication, PinEntry::PinPad),
        Err(CardError::NoPinPad)
    );
}

#[test]
fn get_response_chaining() {
    let mut vc = virtual_card(Generation::GeorgiaEidV1, PinValues::default());
    vc.faults.chain_above = Some(50);
    let mut c = Card::open(VirtualTransport::new(vc)).unwrap();
    assert_eq!(
        c.certificate(KeySlot::Authentication).unwrap(),
        keys().auth_cert.to_der().unwrap()
    );
    let origin = Origin::parse("https://portal.example.ge").unwrap();
    let nonce = ChallengeNonce::generate().unwrap();
    let token = c.authenticate(&origin, &nonce, pin("1234")).unwrap();
    assert!(verify_rs256(
        &token.certificate,
        &SignatureAlgorithm::Rs256.signed_data(&origin, &nonce),
        &token.signature
    ));
}

#[test]
fn pkcs15_discovery_when_the_profile_is_wrong() {
    // The card's real layout differs from the built-in profile in every placeholder value.
    let mut real = CardProfile::for_generation(Generation::GeorgiaEidV1);
    real.pki_aid.value = vec![0xA0, 0x00, 0x00, 0x00, 0x99, 0x01];
    real.auth_key.certificate_path.value = vec![0xC0, 0x01];
    real.sign_key.certificate_path.value = vec![0xC0, 0x02];
    real.auth_key.reference.value = 0x91;
    real.sign_key.reference.value = 0x92;
    real.auth_pin.reference.value = 0x11;
    real.sign_pin.reference.value = 0x12;
    let vc = VirtualCard::new(
        geid_card::atr::ATR_GEID_V1,
        real.clone(),
        keys(),
        PinValues::default(),
    )
    .unwrap();
    let mut c = Card::open(VirtualTransport::new(vc)).unwrap();
    let origin = Origin::parse("https://portal.example.ge").unwrap();
    let nonce = ChallengeNonce::generate().unwrap();
    let token = c.authenticate(&origin, &nonce, pin("1234")).unwrap();
    assert!(verify_rs256(
        &token.certificate,
        &SignatureAlgorithm::Rs256.signed_data(&origin, &nonce),
        &token.signature
    ));
    assert_eq!(c.profile().pki_aid.value, real.pki_aid.value);
    assert_eq!(c.profile().auth_pin.reference.value, 0x11);
    assert!(c.profile().auth_pin.reference.confirmed);
    let digest = HashFunction::Sha256.digest(b"d");
    c.sign(
        KeySlot::Signing,
        HashFunction::Sha256,
        &digest,
        pin("123456"),
    )
    .unwrap();
}

#[test]
fn faults_give_specific_errors() {
    // Removed after N APDUs.
    let mut vc = virtual_card(Generation::GeorgiaEidV1, PinValues::default());
    vc.faults.remove_after = Some(4);
    let mut c = Card::open(VirtualTransport::new(vc)).unwrap();
    let e = c.certificate(KeySlot::Authentication).unwrap_err();
    assert_eq!(
        (e.clone(), e.code()),
        (CardError::CardRemoved, ErrorCode::CardRemoved)
    );
    // Wrong status word for MSE:SET.
    let mut vc = virtual_card(Generation::GeorgiaEidV1, PinValues::default());
    vc.faults.wrong_status = Some((0x22, 0x6F00));
    let mut c = Card::open(VirtualTransport::new(vc)).unwrap();
    let e = c
        .sign(
            KeySlot::Authentication,
            HashFunction::Sha256,
            &[0u8; 32],
            pin("1234"),
        )
        .unwrap_err();
    assert!(
        matches!(
            e,
            CardError::UnexpectedStatus {
                command: "MSE:SET",
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.code(), ErrorCode::CardError);
    // Reset by another program: reconnected and retried once.
    let (mut c, t) = card(Generation::GeorgiaEidV1);
    *t.reset_pending.lock().unwrap() = true;
    c.certificate(KeySlot::Authentication).unwrap();
    // Unsupported ATR.
    let vc = VirtualCard::new(
        &[0x3B, 0x02, 0x14, 0x50],
        CardProfile::for_generation(Generation::Ge1),
        keys(),
        PinValues::default(),
    )
    .unwrap();
    assert_eq!(
        Card::open(VirtualTransport::new(vc)).err().unwrap().code(),
        ErrorCode::UnsupportedCard
    );
}

#[test]
fn trace_redacts_pins() {
    let (mut c, _) = card(Generation::GeorgiaEidV1);
    let trace = Trace::new();
    c.set_trace(trace.clone());
    let origin = Origin::parse("https://portal.example.ge").unwrap();
    c.authenticate(&origin, &ChallengeNonce::generate().unwrap(), pin("1234"))
        .unwrap();
    let entries = trace.entries();
    let verify = entries
        .iter()
        .find(|e| e.command.starts_with("00 20 00"))
        .unwrap();
    assert!(verify.command.contains("**"), "{}", verify.command);
    let all = serde_json::to_string(&entries).unwrap();
    assert!(!all.contains("31 32 33 34"));
}

#[test]
fn cold_authentication_and_signature_cost() {
    for g in [Generation::Ge1, Generation::GeorgiaEidV1] {
        let (mut c, _) = card(g);
        let origin = Origin::parse("https://portal.example.ge").unwrap();
        c.authenticate(&origin, &ChallengeNonce::generate().unwrap(), pin("1234"))
            .unwrap();
        let auth = c.stats();
        c.clear_cache();
        let (mut c2, _) = card(g);
        let digest = HashFunction::Sha256.digest(b"doc");
        c2.sign(
            KeySlot::Signing,
            HashFunction::Sha256,
            &digest,
            pin("123456"),
        )
        .unwrap();
        let sign = c2.stats();
        println!(
            "{g:?}: cold authentication {} APDUs, {} bytes sent, {} received; cold signature {} APDUs, {} bytes sent, {} received",
            auth.apdus, auth.bytes_sent, auth.bytes_received, sign.apdus, sign.bytes_sent, sign.bytes_received
        );
        assert!(auth.apdus < 20);
    }
}
