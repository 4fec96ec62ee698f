#![allow(clippy::unwrap_used, clippy::expect_used)]
//! End to end through a real pcscd and the vpcd virtual reader, with the virtual card as a
//! vpcd client. Skips (with the reason) only when pcscd or vpcd is not installed.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::virtual_card;
use geid_card::pcsc::PcscContext;
use geid_card::{Card, CardError, Generation, KeySlot, PinEntry, PinKind};
use geid_protocol::{ChallengeNonce, ErrorCode, HashFunction, Origin, Pin, SignatureAlgorithm};
use geid_testkit::pcscd::{self, Pcscd};
use geid_testkit::virtual_card::vpcd::VpcdCard;
use geid_testkit::virtual_card::{PinValues, VirtualCard};
use openssl::hash::MessageDigest;
use openssl::sign::Verifier;
use openssl::x509::X509;

macro_rules! require_pcscd {
    () => {
        if let Some(why) = pcscd::missing() {
            eprintln!("skipping: {why}");
            return;
        }
    };
}

fn addr(slot: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], pcscd::VPCD_PORT + slot))
}

fn start_card(card: VirtualCard, slot: u16) -> VpcdCard {
    VpcdCard::start(
        Arc::new(Mutex::new(card)),
        addr(slot),
        Duration::from_secs(10),
    )
    .unwrap()
}

fn pin(s: &str) -> PinEntry {
    PinEntry::Pin(Pin::new(s).unwrap())
}

fn verifies(cert: &[u8], data: &[u8], sig: &[u8]) -> bool {
    let key = X509::from_der(cert).unwrap().public_key().unwrap();
    let mut v = Verifier::new(MessageDigest::sha256(), &key).unwrap();
    v.update(data).unwrap();
    v.verify(sig).unwrap()
}

fn open(ctx: &PcscContext) -> Card<geid_card::pcsc::PcscTransport> {
    let t = ctx.wait_and_connect(None, Duration::from_secs(10)).unwrap();
    Card::open(t).unwrap()
}

#[test]
fn authentication_and_qualified_signature_through_pcscd() {
    require_pcscd!();
    let _pcscd = Pcscd::start(&pcscd::config("reader.conf")).unwrap();
    let _vc = start_card(virtual_card(Generation::Ge1, PinValues::default()), 0);
    let ctx = PcscContext::establish().unwrap();
    let mut card = open(&ctx);
    assert_eq!(
        geid_card::Transport::reader_name(card.transport()),
        pcscd::VPCD_READERS[0]
    );
    let origin = Origin::parse("https://portal.example.ge").unwrap();
    let nonce = ChallengeNonce::generate().unwrap();
    let token = card.authenticate(&origin, &nonce, pin("1234")).unwrap();
    assert!(verifies(
        &token.certificate,
        &SignatureAlgorithm::Rs256.signed_data(&origin, &nonce),
        &token.signature
    ));
    // The token chains to the testkit authentication CA.
    let cert = X509::from_der(&token.certificate).unwrap();
    let ca = geid_testkit::pki::Pki::shared()
        .auth_ca()
        .cert
        .public_key()
        .unwrap();
    assert!(cert.verify(&ca).unwrap());
    let digest = HashFunction::Sha256.digest(b"contract");
    let sig = card
        .sign(
            KeySlot::Signing,
            HashFunction::Sha256,
            &digest,
            pin("123456"),
        )
        .unwrap();
    assert!(verifies(
        &card.certificate(KeySlot::Signing).unwrap(),
        b"contract",
        &sig
    ));
}

#[test]
fn wrong_pin_counts_down_and_blocks_through_pcscd() {
    require_pcscd!();
    let _pcscd = Pcscd::start(&pcscd::config("reader.conf")).unwrap();
    let _vc = start_card(
        virtual_card(Generation::GeorgiaEidV1, PinValues::default()),
        1,
    );
    let ctx = PcscContext::establish().unwrap();
    let mut card = open(&ctx);
    assert_eq!(
        card.pin_status(PinKind::Authentication)
            .unwrap()
            .retries_left,
        Some(3)
    );
    assert_eq!(
        card.verify_pin(PinKind::Authentication, pin("0000")),
        Err(CardError::PinIncorrect { retries_left: 2 })
    );
    assert_eq!(
        card.pin_status(PinKind::Authentication)
            .unwrap()
            .retries_left,
        Some(2)
    );
    assert_eq!(
        card.verify_pin(PinKind::Authentication, pin("0000")),
        Err(CardError::PinIncorrect { retries_left: 1 })
    );
    assert_eq!(
        card.verify_pin(PinKind::Authentication, pin("0000"))
            .unwrap_err()
            .code(),
        ErrorCode::PinBlocked
    );
    let origin = Origin::parse("https://portal.example.ge").unwrap();
    let e = card
        .authenticate(&origin, &ChallengeNonce::generate().unwrap(), pin("1234"))
        .unwrap_err();
    assert_eq!(e, CardError::PinBlocked);
}

#[test]
fn card_removed_while_signing_fails_fast() {
    require_pcscd!();
    let _pcscd = Pcscd::start(&pcscd::config("reader.conf")).unwrap();
    let mut vc = virtual_card(Generation::Ge1, PinValues::default());
    // SELECT, SELECT, READ BINARY, SELECT, VERIFY, then gone before MSE:SET.
    vc.faults.remove_after = Some(5);
    let _vc = start_card(vc, 0);
    let ctx = PcscContext::establish().unwrap();
    let mut card = open(&ctx);
    let started = Instant::now();
    let digest = HashFunction::Sha256.digest(b"contract");
    let e = card
        .sign(
            KeySlot::Signing,
            HashFunction::Sha256,
            &digest,
            pin("123456"),
        )
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(
        (e.code(), &e),
        (ErrorCode::CardRemoved, &CardError::CardRemoved),
        "{e}"
    );
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

#[test]
fn one_card_in_two_readers_and_several_cards() {
    require_pcscd!();
    let _pcscd = Pcscd::start(&pcscd::config("reader.conf")).unwrap();
    let _vc = start_card(
        virtual_card(Generation::GeorgiaEidV1, PinValues::default()),
        1,
    );
    let ctx = PcscContext::establish().unwrap();
    ctx.wait_for_card(Duration::from_secs(10)).unwrap();
    let readers = ctx.readers().unwrap();
    assert_eq!(readers.len(), 2, "{readers:?}");
    let t = ctx.connect_supported(None).unwrap();
    assert_eq!(
        geid_card::Transport::reader_name(&t),
        pcscd::VPCD_READERS[1]
    );
    drop(t);
    let _second = start_card(virtual_card(Generation::Ge1, PinValues::default()), 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while ctx
        .readers()
        .unwrap()
        .iter()
        .filter(|r| r.supported)
        .count()
        < 2
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let e = ctx.connect_supported(None).err().unwrap();
    assert_eq!(e.code(), ErrorCode::SeveralCards);
    let t = ctx.connect_supported(Some(pcscd::VPCD_READERS[0])).unwrap();
    assert_eq!(Card::open(t).unwrap().profile().generation, Generation::Ge1);
}

#[test]
fn no_reader_and_no_card() {
    require_pcscd!();
    {
        let _pcscd = Pcscd::start(&pcscd::config("no-readers.conf")).unwrap();
        let ctx = PcscContext::establish().unwrap();
        assert_eq!(ctx.readers().unwrap(), vec![]);
        assert_eq!(
            ctx.connect_supported(None).err().unwrap().code(),
            ErrorCode::NoReader
        );
        let started = Instant::now();
        assert_eq!(
            ctx.wait_for_card(Duration::from_millis(500)).err().unwrap(),
            CardError::NoReader
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    let _pcscd = Pcscd::start(&pcscd::config("reader.conf")).unwrap();
    let ctx = PcscContext::establish().unwrap();
    assert_eq!(
        ctx.connect_supported(None).err().unwrap(),
        CardError::NoCard
    );
    assert_eq!(
        ctx.wait_for_card(Duration::from_millis(500)).err().unwrap(),
        CardError::NoCard
    );
}

#[test]
fn pcscd_not_running() {
    require_pcscd!();
    let _lock = pcscd::without_pcscd().unwrap();
    let e = PcscContext::establish()
        .and_then(|c| c.readers().map(|_| ()))
        .unwrap_err();
    assert_eq!(
        (e.code(), &e),
        (ErrorCode::PcscUnavailable, &CardError::PcscUnavailable)
    );
}
