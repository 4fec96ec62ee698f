#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
//! Shared helpers: a virtual card for the test PKI's citizen.

use geid_card::atr::{ATR_GE1, ATR_GEID_V1};
use geid_card::{Card, CardProfile, Generation};
use geid_testkit::pki::{Pki, CITIZEN};
use geid_testkit::virtual_card::{CardKeys, PinValues, VirtualCard, VirtualTransport};

pub fn keys() -> CardKeys {
    let c = Pki::shared().citizen(CITIZEN).expect("citizen");
    CardKeys::for_citizen(c).expect("citizen with a signing certificate")
}

pub fn virtual_card(generation: Generation, pins: PinValues) -> VirtualCard {
    let atr = match generation {
        Generation::Ge1 => ATR_GE1,
        Generation::GeorgiaEidV1 => ATR_GEID_V1,
    };
    VirtualCard::new(atr, CardProfile::for_generation(generation), keys(), pins).unwrap()
}

pub fn card(generation: Generation) -> (Card<VirtualTransport>, VirtualTransport) {
    let t = VirtualTransport::new(virtual_card(generation, PinValues::default()));
    (Card::open(t.clone()).unwrap(), t)
}
