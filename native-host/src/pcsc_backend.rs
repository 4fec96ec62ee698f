//! The [`CardBackend`] on PC/SC, through `geid-card`.

use std::time::{Duration, Instant};

/// Longest single PC/SC wait between checks of the cancel flag.
const CANCEL_SLICE: Duration = Duration::from_millis(500);

use geid_card::pcsc::{PcscContext, PcscTransport};
use geid_card::{atr, Card, CardError, Generation, Transport};
use geid_protocol::messages::{ReaderStatus, SignatureAlgorithmInfo};
use geid_protocol::{AuthToken, ChallengeNonce, ErrorCode, HashFunction, Origin};

use crate::backend::{CancelToken, CardBackend, CardInfo, HostError, PinInfo, PinInput, Slot};
use crate::card_ops;

fn generation_name(g: Generation) -> &'static str {
    match g {
        Generation::Ge1 => "GE1",
        Generation::GeorgiaEidV1 => "GeorgiaEIDv1",
    }
}

/// A card reached through pcscd (or WinSCard / CryptoTokenKit).
#[derive(Default)]
pub struct PcscBackend {
    ctx: Option<PcscContext>,
    card: Option<Card<PcscTransport>>,
}

impl PcscBackend {
    /// A backend that connects on first use.
    pub fn new() -> PcscBackend {
        PcscBackend::default()
    }

    fn ctx(&mut self) -> Result<&PcscContext, HostError> {
        if self.ctx.is_none() {
            self.ctx = Some(PcscContext::establish()?);
        }
        self.ctx
            .as_ref()
            .ok_or_else(|| HostError::new(ErrorCode::Internal, "no PC/SC context"))
    }

    fn card(&mut self) -> Result<&mut Card<PcscTransport>, HostError> {
        self.card
            .as_mut()
            .ok_or_else(|| HostError::new(ErrorCode::Internal, "no card connected"))
    }
}

impl CardBackend for PcscBackend {
    fn readers(&mut self) -> Result<Vec<ReaderStatus>, HostError> {
        let readers = self.ctx()?.readers()?;
        let mut out = Vec::with_capacity(readers.len());
        for r in readers {
            let generation = r.atr.as_deref().and_then(atr::identify);
            let holder = match generation {
                Some(_) => self
                    .ctx()?
                    .connect(&r.name)
                    .ok()
                    .and_then(|t| Card::open(t).ok())
                    .and_then(|mut c| card_ops::holder(&mut c)),
                None => None,
            };
            out.push(ReaderStatus {
                name: r.name,
                card_present: r.atr.is_some(),
                card: generation.map(|g| generation_name(g).to_owned()),
                holder,
                pin_pad: false,
            });
        }
        Ok(out)
    }

    fn connect(&mut self) -> Result<CardInfo, HostError> {
        let transport = self.ctx()?.connect_supported(None)?;
        let mut card = Card::open(transport)?;
        let reader = card.transport().reader_name().to_owned();
        let pin_pad = card.reader_has_pin_pad().unwrap_or(false);
        let holder = card_ops::holder(&mut card);
        self.card = Some(card);
        Ok(CardInfo {
            reader,
            holder,
            pin_pad,
        })
    }

    fn wait_for_card(&mut self, timeout: Duration, cancel: &CancelToken) -> Result<(), HostError> {
        let ctx = self.ctx()?;
        // SCardCancel interrupts a wait in progress, at once. A cancel that lands between two
        // waits would be lost, so the wait runs in slices and re-checks the flag between them.
        cancel.on_cancel(Box::new(ctx.canceller()));
        let deadline = Instant::now() + timeout;
        loop {
            if cancel.is_cancelled() {
                return Err(HostError::new(
                    ErrorCode::UserCancelled,
                    "cancelled while waiting for a card",
                ));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(HostError::new(
                    ErrorCode::Timeout,
                    format!("no card was inserted within {} s", timeout.as_secs()),
                ));
            }
            match ctx.wait_for_card(left.min(CANCEL_SLICE)) {
                Ok(readers) if readers.iter().any(|r| r.supported) => return Ok(()),
                Ok(_) => {
                    // A card, but not an ID card: wait for the readers to change.
                    return Err(HostError::new(
                        ErrorCode::UnsupportedCard,
                        "the card in the reader is not a supported ID card",
                    ));
                }
                Err(CardError::NoReader) | Err(CardError::NoCard) => {}
                Err(_) if cancel.is_cancelled() => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn certificate(&mut self, s: Slot) -> Result<Vec<u8>, HostError> {
        card_ops::certificate(self.card()?, s)
    }

    fn pin_info(&mut self, s: Slot) -> Result<PinInfo, HostError> {
        let card = self.card()?;
        let spec = match s {
            Slot::Authentication => &card.profile().auth_pin,
            Slot::Signing => &card.profile().sign_pin,
        };
        let lengths = (spec.min_len(), spec.max_len());
        card_ops::pin_info(card, s, lengths)
    }

    fn authenticate(
        &mut self,
        origin: &Origin,
        nonce: &ChallengeNonce,
        pin: PinInput,
    ) -> Result<AuthToken, HostError> {
        card_ops::authenticate(self.card()?, origin, nonce, pin)
    }

    fn signing_algorithms(&mut self) -> Result<Vec<SignatureAlgorithmInfo>, HostError> {
        card_ops::signing_algorithms(self.card()?)
    }

    fn sign(
        &mut self,
        hash_function: HashFunction,
        hash: &[u8],
        pin: PinInput,
    ) -> Result<(Vec<u8>, SignatureAlgorithmInfo), HostError> {
        card_ops::sign(self.card()?, hash_function, hash, pin)
    }
}
