//! The [`CardBackend`] on PC/SC, through `geid-card`.

use std::time::{Duration, Instant};

/// Longest single PC/SC wait between checks of the cancel flag.
const CANCEL_SLICE: Duration = Duration::from_millis(500);

use geid_card::pcsc::{PcscContext, PcscTransport};
use geid_card::{atr, Card, CardError, Generation, KeyKind, KeySlot, PinEntry, PinKind, Transport};
use geid_protocol::messages::{ReaderStatus, SignatureAlgorithmInfo};
use geid_protocol::{AuthToken, ChallengeNonce, ErrorCode, HashFunction, Origin, SignatureScheme};

use crate::backend::{CancelToken, CardBackend, CardInfo, HostError, PinInfo, PinInput, Slot};

impl From<CardError> for HostError {
    fn from(e: CardError) -> HostError {
        HostError {
            code: e.code(),
            message: e.to_string(),
            retries_left: match e.code() {
                ErrorCode::PinIncorrect => e.retries_left(),
                _ => None,
            },
        }
    }
}

fn generation_name(g: Generation) -> &'static str {
    match g {
        Generation::Ge1 => "GE1",
        Generation::GeorgiaEidV1 => "GeorgiaEIDv1",
    }
}

fn slot(s: Slot) -> KeySlot {
    match s {
        Slot::Authentication => KeySlot::Authentication,
        Slot::Signing => KeySlot::Signing,
    }
}

fn pin_kind(s: Slot) -> PinKind {
    match s {
        Slot::Authentication => PinKind::Authentication,
        Slot::Signing => PinKind::Signing,
    }
}

fn entry(pin: PinInput) -> PinEntry {
    match pin {
        PinInput::Typed(p) => PinEntry::Pin(p),
        PinInput::PinPad => PinEntry::PinPad,
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

    fn holder(card: &mut Card<PcscTransport>) -> Option<String> {
        let info = card.certificate_info(KeySlot::Authentication).ok()?;
        match (info.given_name, info.surname) {
            (Some(g), Some(s)) => Some(format!("{g} {s}")),
            _ => info.common_name,
        }
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
                    .and_then(|mut c| PcscBackend::holder(&mut c)),
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
        let holder = PcscBackend::holder(&mut card);
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
        Ok(self.card()?.certificate(slot(s))?)
    }

    fn pin_info(&mut self, s: Slot) -> Result<PinInfo, HostError> {
        let card = self.card()?;
        let status = card.pin_status(pin_kind(s))?;
        let spec = match s {
            Slot::Authentication => &card.profile().auth_pin,
            Slot::Signing => &card.profile().sign_pin,
        };
        Ok(PinInfo {
            // A PIN verified in this card session has its full count.
            retries_left: status
                .retries_left
                .or(status.verified.then_some(status.max_retries)),
            min_len: u8::try_from(spec.min_len()).unwrap_or(u8::MAX),
            max_len: u8::try_from(spec.max_len()).unwrap_or(u8::MAX),
            blocked: status.blocked,
            not_set: status.not_set,
        })
    }

    fn authenticate(
        &mut self,
        origin: &Origin,
        nonce: &ChallengeNonce,
        pin: PinInput,
    ) -> Result<AuthToken, HostError> {
        Ok(self.card()?.authenticate(origin, nonce, entry(pin))?)
    }

    fn signing_algorithms(&mut self) -> Result<Vec<SignatureAlgorithmInfo>, HostError> {
        let info = self.card()?.certificate_info(KeySlot::Signing)?;
        let scheme = match info.key {
            KeyKind::Rsa { .. } => SignatureScheme::RsaPkcs1,
            KeyKind::Ec { .. } => SignatureScheme::Ecdsa,
        };
        Ok(HashFunction::ALL
            .into_iter()
            .map(|h| SignatureAlgorithmInfo::new(scheme, h))
            .collect())
    }

    fn sign(
        &mut self,
        hash_function: HashFunction,
        hash: &[u8],
        pin: PinInput,
    ) -> Result<(Vec<u8>, SignatureAlgorithmInfo), HostError> {
        let card = self.card()?;
        let scheme = match card.certificate_info(KeySlot::Signing)?.key {
            KeyKind::Rsa { .. } => SignatureScheme::RsaPkcs1,
            KeyKind::Ec { .. } => SignatureScheme::Ecdsa,
        };
        let signature = card.sign(KeySlot::Signing, hash_function, hash, entry(pin))?;
        Ok((
            signature,
            SignatureAlgorithmInfo::new(scheme, hash_function),
        ))
    }
}
