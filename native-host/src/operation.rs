//! The card operations of the protocol, written once against [`CardBackend`].
//!
//! Each operation: make sure a card is there (announcing `card-required` and waiting, without
//! polling, when it is not), read what the PIN window shows (holder, retries left), ask for the
//! PIN, and run the card command; after a wrong PIN ask again with the new count until the PIN is
//! right, the user cancels, or the PIN blocks.

use std::time::Duration;

use base64::Engine as _;
use geid_protocol::messages::{
    AuthenticateArgs, CardRequired, Event, PinKind, PinRequired, Progress, SignArgs,
    SignatureResult, SigningCertificateResult,
};
use geid_protocol::{AuthToken, ErrorCode, Origin, Pin};

use crate::backend::{CancelToken, CardBackend, CardInfo, HostError, PinInput, Slot};

/// How long the host waits for the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// For a reader or card to appear.
    pub card: Duration,
    /// For a PIN to be typed (the extension's window or the PIN pad).
    pub pin: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            card: Duration::from_secs(120),
            pin: Duration::from_secs(120),
        }
    }
}

/// The operation's side of the conversation with the extension.
pub trait Conversation {
    /// Sends an event for the running request.
    fn event(&mut self, event: Event);
    /// Sends `pin-required` and waits for `pin`, `cancel` or the timeout.
    fn ask_pin(&mut self, request: PinRequired, timeout: Duration) -> Result<Pin, HostError>;
    /// The running request's cancellation.
    fn cancel_token(&self) -> CancelToken;
}

fn progress(conv: &mut dyn Conversation, stage: &str) {
    conv.event(Event::Progress(Progress {
        stage: stage.into(),
    }));
}

fn cancelled(conv: &dyn Conversation) -> Result<(), HostError> {
    if conv.cancel_token().is_cancelled() {
        Err(HostError::new(ErrorCode::UserCancelled, "cancelled"))
    } else {
        Ok(())
    }
}

/// Connects, waiting for a reader and card when needed.
fn ensure_card(
    backend: &mut dyn CardBackend,
    conv: &mut dyn Conversation,
    timeouts: Timeouts,
) -> Result<CardInfo, HostError> {
    match backend.connect() {
        Ok(info) => Ok(info),
        Err(e) if e.code == ErrorCode::NoReader || e.code == ErrorCode::NoCard => {
            conv.event(Event::CardRequired(CardRequired {
                reason: e.code.clone(),
                timeout_ms: timeouts.card.as_millis() as u64,
            }));
            backend.wait_for_card(timeouts.card, &conv.cancel_token())?;
            cancelled(conv)?;
            backend.connect()
        }
        Err(e) => Err(e),
    }
}

/// Runs `attempt` with a PIN until it succeeds, the user gives up, or the PIN blocks.
fn with_pin<T>(
    backend: &mut dyn CardBackend,
    conv: &mut dyn Conversation,
    card: &CardInfo,
    slot: Slot,
    origin: &Origin,
    timeouts: Timeouts,
    mut attempt: impl FnMut(&mut dyn CardBackend, PinInput) -> Result<T, HostError>,
) -> Result<T, HostError> {
    let kind = match slot {
        Slot::Authentication => PinKind::Authentication,
        Slot::Signing => PinKind::Signing,
    };
    let mut retry = false;
    loop {
        cancelled(conv)?;
        let info = backend.pin_info(slot)?;
        if info.blocked || info.retries_left == Some(0) {
            return Err(HostError::new(
                ErrorCode::PinBlocked,
                "the PIN is blocked after too many wrong tries",
            ));
        }
        if info.not_set {
            return Err(HostError::new(
                ErrorCode::PinNotSet,
                "the signature PIN has not been set from the transport PIN yet",
            ));
        }
        let request = PinRequired {
            kind,
            retries_left: info.retries_left,
            min_length: info.min_len,
            max_length: info.max_len,
            holder: card.holder.clone(),
            origin: origin.clone(),
            pin_pad: card.pin_pad,
            retry,
        };
        let input = if card.pin_pad {
            conv.event(Event::PinRequired(request));
            PinInput::PinPad
        } else {
            let pin = conv.ask_pin(request, timeouts.pin)?;
            let len = pin.len();
            if len < usize::from(info.min_len) || len > usize::from(info.max_len) {
                // Not sent to the card: a wrong length must not cost a try.
                retry = true;
                continue;
            }
            PinInput::Typed(pin)
        };
        cancelled(conv)?;
        progress(conv, "signing");
        match attempt(backend, input) {
            Err(e) if e.code == ErrorCode::PinIncorrect => {
                if e.retries_left == Some(0) {
                    return Err(HostError::new(
                        ErrorCode::PinBlocked,
                        "the PIN is now blocked after too many wrong tries",
                    ));
                }
                retry = true;
            }
            Err(e) if e.code == ErrorCode::PinFormat => retry = true,
            other => return other,
        }
    }
}

/// `authenticate`: the Web eID token for `args.origin` and `args.challenge_nonce`.
pub fn authenticate(
    backend: &mut dyn CardBackend,
    conv: &mut dyn Conversation,
    args: &AuthenticateArgs,
    timeouts: Timeouts,
) -> Result<AuthToken, HostError> {
    let card = ensure_card(backend, conv, timeouts)?;
    progress(conv, "reading-certificate");
    backend.certificate(Slot::Authentication)?;
    with_pin(
        backend,
        conv,
        &card,
        Slot::Authentication,
        &args.origin,
        timeouts,
        |b, pin| b.authenticate(&args.origin, &args.challenge_nonce, pin),
    )
}

/// `get-signing-certificate`.
pub fn signing_certificate(
    backend: &mut dyn CardBackend,
    conv: &mut dyn Conversation,
    timeouts: Timeouts,
) -> Result<SigningCertificateResult, HostError> {
    ensure_card(backend, conv, timeouts)?;
    progress(conv, "reading-certificate");
    let certificate = backend.certificate(Slot::Signing)?;
    Ok(SigningCertificateResult {
        certificate: base64::engine::general_purpose::STANDARD.encode(certificate),
        supported_signature_algorithms: backend.signing_algorithms()?,
    })
}

/// `sign`: checks the certificate is the card's, then signs the hash with the signature PIN.
pub fn sign(
    backend: &mut dyn CardBackend,
    conv: &mut dyn Conversation,
    args: &SignArgs,
    timeouts: Timeouts,
) -> Result<SignatureResult, HostError> {
    let card = ensure_card(backend, conv, timeouts)?;
    progress(conv, "reading-certificate");
    let certificate = backend.certificate(Slot::Signing)?;
    if certificate != args.certificate {
        return Err(HostError::new(
            ErrorCode::CertificateMismatch,
            "the certificate to sign with is not the signing certificate of the card in the reader",
        ));
    }
    let (signature, algorithm) = with_pin(
        backend,
        conv,
        &card,
        Slot::Signing,
        &args.origin,
        timeouts,
        |b, pin| b.sign(args.hash_function, &args.hash, pin),
    )?;
    Ok(SignatureResult {
        signature: base64::engine::general_purpose::STANDARD.encode(signature),
        signature_algorithm: algorithm,
    })
}
