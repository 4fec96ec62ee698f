//! The card operations the host needs, written once over `geid_card::IdCard`, so the PC/SC card
//! and the PKCS#11 fallback behave alike.

use geid_card::{CardError, IdCard, KeyKind, KeySlot, PinEntry, PinKind};
use geid_protocol::messages::SignatureAlgorithmInfo;
use geid_protocol::{AuthToken, ChallengeNonce, ErrorCode, HashFunction, Origin, SignatureScheme};

use crate::backend::{HostError, PinInfo, PinInput, Slot};

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

fn key_slot(s: Slot) -> KeySlot {
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

/// The holder's name from the authentication certificate ("given surname", else the CN).
pub fn holder(card: &mut dyn IdCard) -> Option<String> {
    let info = card.certificate_info(KeySlot::Authentication).ok()?;
    match (info.given_name, info.surname) {
        (Some(g), Some(s)) => Some(format!("{g} {s}")),
        _ => info.common_name,
    }
}

/// DER of the certificate in `s`.
pub fn certificate(card: &mut dyn IdCard, s: Slot) -> Result<Vec<u8>, HostError> {
    Ok(card.certificate(key_slot(s))?)
}

/// The PIN state, with the length limits `lengths` (fewest, most digits).
pub fn pin_info(
    card: &mut dyn IdCard,
    s: Slot,
    lengths: (usize, usize),
) -> Result<PinInfo, HostError> {
    let status = card.pin_status(pin_kind(s))?;
    Ok(PinInfo {
        // A PIN verified in this card session has its full count.
        retries_left: status
            .retries_left
            .or(status.verified.then_some(status.max_retries)),
        min_len: u8::try_from(lengths.0).unwrap_or(u8::MAX),
        max_len: u8::try_from(lengths.1).unwrap_or(u8::MAX),
        blocked: status.blocked,
        not_set: status.not_set,
    })
}

/// Verifies the authentication PIN and signs the login challenge.
pub fn authenticate(
    card: &mut dyn IdCard,
    origin: &Origin,
    nonce: &ChallengeNonce,
    pin: PinInput,
) -> Result<AuthToken, HostError> {
    Ok(card.authenticate(origin, nonce, entry(pin))?)
}

fn signing_scheme(card: &mut dyn IdCard) -> Result<SignatureScheme, HostError> {
    Ok(match card.certificate_info(KeySlot::Signing)?.key {
        KeyKind::Rsa { .. } => SignatureScheme::RsaPkcs1,
        KeyKind::Ec { .. } => SignatureScheme::Ecdsa,
    })
}

/// What the signing key can do: its scheme with every hash function.
pub fn signing_algorithms(card: &mut dyn IdCard) -> Result<Vec<SignatureAlgorithmInfo>, HostError> {
    let scheme = signing_scheme(card)?;
    Ok(HashFunction::ALL
        .into_iter()
        .map(|h| SignatureAlgorithmInfo::new(scheme, h))
        .collect())
}

/// Verifies the signature PIN and signs `hash`.
pub fn sign(
    card: &mut dyn IdCard,
    hash_function: HashFunction,
    hash: &[u8],
    pin: PinInput,
) -> Result<(Vec<u8>, SignatureAlgorithmInfo), HostError> {
    let scheme = signing_scheme(card)?;
    let signature = card.sign(KeySlot::Signing, hash_function, hash, entry(pin))?;
    Ok((
        signature,
        SignatureAlgorithmInfo::new(scheme, hash_function),
    ))
}
