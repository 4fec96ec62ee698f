//! The [`CardBackend`] through a vendor PKCS#11 module: the fallback for machines where only the
//! card vendor's middleware can talk to the card. Chosen with `pkcs11Module` in the host
//! configuration (`docs/install.md`).
//!
//! PKCS#11 has no portable "wait for a token" that every module implements, so waiting for a card
//! here re-opens the module every half second until the timeout or a cancel — the only polling in
//! the host, and only on this route.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use geid_card::pkcs11::{Pkcs11Backend, Pkcs11Options};

use geid_protocol::messages::{ReaderStatus, SignatureAlgorithmInfo};
use geid_protocol::{
    AuthToken, ChallengeNonce, ErrorCode, HashFunction, Origin, PIN_MAX_LEN, PIN_MIN_LEN,
};

use crate::backend::{CancelToken, CardBackend, CardInfo, HostError, PinInfo, PinInput, Slot};
use crate::card_ops;

const RETRY: Duration = Duration::from_millis(500);

/// A card reached through a PKCS#11 module.
pub struct Pkcs11HostBackend {
    module: PathBuf,
    options: Pkcs11Options,
    card: Option<Pkcs11Backend>,
}

impl Pkcs11HostBackend {
    /// A backend for `module`, optionally restricted to the token labelled `token_label`.
    pub fn new(module: PathBuf, token_label: Option<String>) -> Pkcs11HostBackend {
        Pkcs11HostBackend {
            module,
            options: match token_label {
                Some(label) => Pkcs11Options::with_token_label(label),
                None => Pkcs11Options::default(),
            },
            card: None,
        }
    }

    fn card(&mut self) -> Result<&mut Pkcs11Backend, HostError> {
        self.card
            .as_mut()
            .ok_or_else(|| HostError::new(ErrorCode::Internal, "no token opened"))
    }

    fn reader_name(&self) -> String {
        format!("PKCS#11 {}", self.module.display())
    }
}

impl CardBackend for Pkcs11HostBackend {
    fn readers(&mut self) -> Result<Vec<ReaderStatus>, HostError> {
        let opened = Pkcs11Backend::open(&self.module, &self.options);
        let (present, holder) = match opened {
            Ok(mut card) => (true, card_ops::holder(&mut card)),
            Err(e) if e.code() == ErrorCode::NoCard => (false, None),
            Err(e) => return Err(e.into()),
        };
        Ok(vec![ReaderStatus {
            name: self.reader_name(),
            card_present: present,
            card: present.then(|| "PKCS#11".to_owned()),
            holder,
            pin_pad: false,
        }])
    }

    fn connect(&mut self) -> Result<CardInfo, HostError> {
        let mut card = Pkcs11Backend::open(&self.module, &self.options)?;
        let holder = card_ops::holder(&mut card);
        self.card = Some(card);
        Ok(CardInfo {
            reader: self.reader_name(),
            holder,
            pin_pad: false,
        })
    }

    fn wait_for_card(&mut self, timeout: Duration, cancel: &CancelToken) -> Result<(), HostError> {
        let deadline = Instant::now() + timeout;
        loop {
            if cancel.is_cancelled() {
                return Err(HostError::new(
                    ErrorCode::UserCancelled,
                    "cancelled while waiting for a card",
                ));
            }
            match Pkcs11Backend::open(&self.module, &self.options) {
                Ok(_) => return Ok(()),
                Err(e) if e.code() == ErrorCode::NoCard => {}
                Err(e) => return Err(e.into()),
            }
            if Instant::now() >= deadline {
                return Err(HostError::new(
                    ErrorCode::Timeout,
                    format!("no card was inserted within {} s", timeout.as_secs()),
                ));
            }
            std::thread::sleep(RETRY.min(deadline.saturating_duration_since(Instant::now())));
        }
    }

    fn certificate(&mut self, s: Slot) -> Result<Vec<u8>, HostError> {
        card_ops::certificate(self.card()?, s)
    }

    fn pin_info(&mut self, s: Slot) -> Result<PinInfo, HostError> {
        // A PKCS#11 token has one user PIN for both keys and reports no per-PIN length, so the
        // window accepts any PIN length a card may use.
        card_ops::pin_info(self.card()?, s, (PIN_MIN_LEN, PIN_MAX_LEN))
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
