#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Measures authentication on the virtual card: APDUs and bytes per cold authentication and
//! per qualified signature in-process, and the time per authentication through a real pcscd
//! and vpcd (median of N runs).
//!
//! `cargo run --release -p geid-card --example bench_auth -- [RUNS]`

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use geid_card::atr::{ATR_GE1, ATR_GEID_V1};
use geid_card::pcsc::PcscContext;
use geid_card::{Card, CardProfile, Generation, KeySlot, PinEntry};
use geid_protocol::{ChallengeNonce, HashFunction, Origin, Pin};
use geid_testkit::pcscd::{self, Pcscd};
use geid_testkit::pki::{Pki, CITIZEN};
use geid_testkit::virtual_card::vpcd::VpcdCard;
use geid_testkit::virtual_card::{CardKeys, PinValues, VirtualCard, VirtualTransport};

fn card(g: Generation) -> VirtualCard {
    let c = Pki::shared().citizen(CITIZEN).unwrap();
    let keys = CardKeys::for_citizen(c).unwrap();
    let atr = if g == Generation::Ge1 {
        ATR_GE1
    } else {
        ATR_GEID_V1
    };
    VirtualCard::new(
        atr,
        CardProfile::for_generation(g),
        keys,
        PinValues::default(),
    )
    .unwrap()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let origin = Origin::parse("https://portal.example.ge").unwrap();
    for g in [Generation::Ge1, Generation::GeorgiaEidV1] {
        let mut c = Card::open(VirtualTransport::new(card(g))).unwrap();
        c.authenticate(
            &origin,
            &ChallengeNonce::generate().unwrap(),
            PinEntry::Pin(Pin::new("1234").unwrap()),
        )
        .unwrap();
        let a = c.stats();
        let mut c = Card::open(VirtualTransport::new(card(g))).unwrap();
        let d = HashFunction::Sha256.digest(b"doc");
        c.sign(
            KeySlot::Signing,
            HashFunction::Sha256,
            &d,
            PinEntry::Pin(Pin::new("123456").unwrap()),
        )
        .unwrap();
        let s = c.stats();
        println!(
            "{g:?} in-process: cold authentication {} APDUs / {} B sent / {} B received; cold signature {} APDUs / {} B sent / {} B received",
            a.apdus, a.bytes_sent, a.bytes_received, s.apdus, s.bytes_sent, s.bytes_received
        );
    }
    if let Some(why) = pcscd::missing() {
        println!("pcscd timing skipped: {why}");
        return;
    }
    let _pcscd = Pcscd::start(&pcscd::config("reader.conf")).unwrap();
    for (slot, g) in [(0u16, Generation::Ge1), (1, Generation::GeorgiaEidV1)] {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], pcscd::VPCD_PORT + slot));
        let _vc =
            VpcdCard::start(Arc::new(Mutex::new(card(g))), addr, Duration::from_secs(10)).unwrap();
        let ctx = PcscContext::establish().unwrap();
        let reader = pcscd::VPCD_READERS[usize::from(slot)];
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ctx
            .readers()
            .unwrap()
            .iter()
            .any(|r| r.name == reader && r.supported)
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        let (mut cold, mut warm) = (Vec::new(), Vec::new());
        let mut c = Card::open(ctx.connect(reader).unwrap()).unwrap();
        for i in 0..runs {
            if i % 2 == 0 {
                c.clear_cache(); // cold: certificate read again
            }
            let nonce = ChallengeNonce::generate().unwrap();
            let t = Instant::now();
            c.authenticate(&origin, &nonce, PinEntry::Pin(Pin::new("1234").unwrap()))
                .unwrap();
            if i % 2 == 0 { &mut cold } else { &mut warm }.push(t.elapsed());
        }
        println!(
            "{g:?} through pcscd+vpcd: median authentication {:?} cold (certificate read), {:?} warm (certificate cached); {} runs each",
            median(cold),
            median(warm),
            runs / 2
        );
    }
}
