//! What the host needs from a card, as a trait.
//!
//! The protocol logic (asking for the PIN again after a wrong one, waiting for a card, checking
//! the signing certificate) lives in [`crate::operation`] and is written once against this
//! trait. The PC/SC implementation sits on `geid-card`; unit tests use an in-process fake.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use geid_protocol::messages::{ReaderStatus, SignatureAlgorithmInfo};
use geid_protocol::{AuthToken, ChallengeNonce, ErrorCode, HashFunction, Origin, Pin};

/// An error with its stable wire code. Messages never contain a PIN.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct HostError {
    /// The wire code.
    pub code: ErrorCode,
    /// What happened.
    pub message: String,
    /// With `PIN_INCORRECT`: tries left.
    pub retries_left: Option<u8>,
}

impl HostError {
    /// An error with a code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> HostError {
        HostError {
            code,
            message: message.into(),
            retries_left: None,
        }
    }

    /// A wrong PIN with the tries left.
    pub fn pin_incorrect(retries_left: Option<u8>) -> HostError {
        HostError {
            code: ErrorCode::PinIncorrect,
            message: "wrong PIN".into(),
            retries_left,
        }
    }
}

/// Which key of the card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// Authentication key, PIN1.
    Authentication,
    /// Qualified-signature key, PIN2.
    Signing,
}

/// The connected card, as far as the host needs to know it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardInfo {
    /// The reader holding it.
    pub reader: String,
    /// The holder's name from the authentication certificate.
    pub holder: Option<String>,
    /// The reader has a PIN pad the host may use.
    pub pin_pad: bool,
}

/// A PIN's state before asking for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PinInfo {
    /// Tries left, when the card says.
    pub retries_left: Option<u8>,
    /// Fewest digits.
    pub min_len: u8,
    /// Most digits.
    pub max_len: u8,
    /// Blocked.
    pub blocked: bool,
    /// The signature PIN was never set from the transport PIN.
    pub not_set: bool,
}

/// How the PIN reaches the card.
pub enum PinInput {
    /// Typed in the extension's PIN window; consumed by the call.
    Typed(Pin),
    /// Typed on the reader's PIN pad.
    PinPad,
}

/// A function run when a request is cancelled.
pub type CancelHook = Box<dyn Fn() + Send + Sync>;

/// Cancellation shared between the protocol loop and a running operation.
///
/// Besides the flag, a backend can register a hook (PC/SC's `SCardCancel`) so that a blocking
/// wait for a card returns at once when the user cancels.
#[derive(Clone, Default)]
pub struct CancelToken {
    flag: Arc<AtomicBool>,
    hooks: Arc<Mutex<Vec<CancelHook>>>,
}

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Cancels and runs the registered hooks.
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
        if let Ok(hooks) = self.hooks.lock() {
            for hook in hooks.iter() {
                hook();
            }
        }
    }

    /// `true` once cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Registers a hook to run on cancel (runs at once if already cancelled).
    pub fn on_cancel(&self, hook: CancelHook) {
        if self.is_cancelled() {
            hook();
        }
        if let Ok(mut hooks) = self.hooks.lock() {
            hooks.push(hook);
        }
    }
}

/// A card, reached through some reader. One instance serves one operation.
pub trait CardBackend: Send {
    /// Readers and what is in them, for `status`. `Err(PCSC_UNAVAILABLE)` without a PC/SC
    /// service.
    fn readers(&mut self) -> Result<Vec<ReaderStatus>, HostError>;

    /// Connects to the supported card now; `NO_READER` / `NO_CARD` when there is none yet.
    fn connect(&mut self) -> Result<CardInfo, HostError>;

    /// Blocks until a reader with a card appears, `timeout` passes (`TIMEOUT`) or `cancel`
    /// fires (`USER_CANCELLED`). Must not poll.
    fn wait_for_card(&mut self, timeout: Duration, cancel: &CancelToken) -> Result<(), HostError>;

    /// DER of the certificate in `slot`.
    fn certificate(&mut self, slot: Slot) -> Result<Vec<u8>, HostError>;

    /// The PIN state for `slot`.
    fn pin_info(&mut self, slot: Slot) -> Result<PinInfo, HostError>;

    /// Verifies the authentication PIN and signs the login challenge.
    fn authenticate(
        &mut self,
        origin: &Origin,
        nonce: &ChallengeNonce,
        pin: PinInput,
    ) -> Result<AuthToken, HostError>;

    /// What the signing key can do.
    fn signing_algorithms(&mut self) -> Result<Vec<SignatureAlgorithmInfo>, HostError>;

    /// Verifies the signature PIN and signs `hash`.
    fn sign(
        &mut self,
        hash_function: HashFunction,
        hash: &[u8],
        pin: PinInput,
    ) -> Result<(Vec<u8>, SignatureAlgorithmInfo), HostError>;
}

/// Makes a fresh backend for each operation.
pub type BackendFactory = Arc<dyn Fn() -> Box<dyn CardBackend> + Send + Sync>;
