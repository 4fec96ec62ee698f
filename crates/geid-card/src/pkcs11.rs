//! The fallback route: the ID card through a vendor PKCS#11 module (PKCS#11 v2.40).
//!
//! Where the card's applet layout is not known to geid, or only the vendor middleware can talk
//! to a card generation, geid loads that middleware's PKCS#11 module (a path from the
//! configuration) with `cryptoki` and does the same operations as [`Card`](crate::Card):
//!
//! - **Token**: the one labelled as configured, else the first token that holds both an
//!   authentication and a signing certificate.
//! - **Which certificate is which**: by keyUsage (RFC 5280 §4.2.1.3) — nonRepudiation is the
//!   qualified-signature certificate, digitalSignature without nonRepudiation the authentication
//!   certificate. Each certificate's private key is the private-key object with the same
//!   `CKA_ID` (PKCS#11 v2.40 §4.4), looked up after login because modules may hide private
//!   objects until then.
//! - **Signatures**: RSA keys sign the DigestInfo with `CKM_RSA_PKCS` (PKCS#1 v1.5, PKCS#11
//!   current mechanisms §2.1.6); EC keys sign the digest with `CKM_ECDSA`, which gives `r || s`
//!   (§2.3.6).
//! - **PINs**: each operation logs in with `C_Login(CKU_USER)` and logs out at its end, so a PIN
//!   is checked by every operation, as on the card. PKCS#11 tells no retry counter, only the
//!   token flags `CKF_USER_PIN_FINAL_TRY` and `CKF_USER_PIN_LOCKED`, so a wrong PIN reports one
//!   try left, a blocked PIN, or [`CardError::PinIncorrectTriesUnknown`]. When both keys are on
//!   one token they share its user PIN; the transport PIN and the PUK are not reachable.
//!
//! Login state in PKCS#11 belongs to the whole process, not to a session (v2.40 §5.6), so every
//! operation that logs in holds one process-wide lock from `C_Login` to `C_Logout`.
//!
//! The module is initialised once per process and never finalised: another backend in the same
//! process may still use it (a second `C_Initialize` answers
//! `CKR_CRYPTOKI_ALREADY_INITIALIZED`, which is accepted).
//!
//! ```no_run
//! use geid_card::pkcs11::{Pkcs11Backend, Pkcs11Options};
//! use geid_card::{IdCard, PinEntry};
//! use geid_protocol::{ChallengeNonce, Origin, Pin};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let module = std::path::Path::new("/usr/lib/vendor/pkcs11.so");
//! let mut card = Pkcs11Backend::open(module, &Pkcs11Options::default())?;
//! let origin = Origin::parse("https://portal.example.ge")?;
//! let nonce = ChallengeNonce::generate()?;
//! let token = card.authenticate(&origin, &nonce, PinEntry::Pin(Pin::new("1234")?))?;
//! println!("{}", token.to_json());
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as P11Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, CertificateType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::{Slot, TokenInfo};
use cryptoki::types::AuthPin;
use geid_protocol::{AuthToken, ChallengeNonce, HashFunction, Origin, Pin};

use crate::certificate::KeyPurpose;
use crate::id_card::{auth_algorithm, auth_token, IdCard};
use crate::{CardError, CertificateInfo, KeyKind, KeySlot, PinEntry, PinKind, PinStatus};

/// Tries a PIN of the Georgian card has. PKCS#11 does not report it; used for
/// [`PinStatus::max_retries`].
pub const PIN_TRIES: u8 = 3;

/// How to choose the token.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pkcs11Options {
    /// Use only the token with this label (`CK_TOKEN_INFO.label`, trailing blanks ignored).
    pub token_label: Option<String>,
}

impl Pkcs11Options {
    /// Options that pick the token labelled `label`.
    pub fn with_token_label(label: impl Into<String>) -> Pkcs11Options {
        Pkcs11Options {
            token_label: Some(label.into()),
        }
    }
}

/// One certificate of the token and what is known of its key.
#[derive(Clone, Debug)]
struct KeyObject {
    id: Vec<u8>,
    certificate: Vec<u8>,
    key: KeyKind,
}

/// An ID card reached through a PKCS#11 module.
pub struct Pkcs11Backend {
    ctx: Pkcs11,
    module: PathBuf,
    slot: Slot,
    label: String,
    auth: KeyObject,
    sign: KeyObject,
}

impl std::fmt::Debug for Pkcs11Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Backend")
            .field("module", &self.module)
            .field("slot", &self.slot.id())
            .field("token", &self.label)
            .finish()
    }
}

/// Serialises `C_Login` … `C_Logout` across the process (login state is per application).
static LOGIN: Mutex<()> = Mutex::new(());

fn login_lock() -> MutexGuard<'static, ()> {
    // A panic while holding the lock leaves no state behind that the next login depends on.
    LOGIN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Each module is loaded and initialised once per process and stays loaded: a PKCS#11 context
/// "should be unique per application" (PKCS#11 v2.40 §5.4), and unloading a module that was
/// never finalised (the library is unloaded when its last handle drops) can leave the process
/// calling into freed code. Modules are never finalised, since another backend in the same
/// process may still use them.
fn loaded_module(path: &Path) -> Result<Pkcs11, String> {
    static MODULES: Mutex<Vec<(std::path::PathBuf, Pkcs11)>> = Mutex::new(Vec::new());
    let mut modules = MODULES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, ctx)) = modules.iter().find(|(p, _)| p == path) {
        return Ok(ctx.clone());
    }
    let ctx = Pkcs11::new(path).map_err(|e| e.to_string())?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(P11Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(format!("C_Initialize: {}", describe(&e))),
    }
    modules.push((path.to_path_buf(), ctx.clone()));
    Ok(ctx)
}

impl Pkcs11Backend {
    /// Loads the module at `module`, initialises it and finds the ID card's token.
    pub fn open(module: &Path, options: &Pkcs11Options) -> Result<Pkcs11Backend, CardError> {
        let module_err = |reason: String| CardError::Pkcs11Module {
            module: module.display().to_string(),
            reason,
        };
        if !module.is_file() {
            return Err(module_err("no such file".into()));
        }
        let ctx = loaded_module(module).map_err(module_err)?;
        let slots = ctx.get_slots_with_token().map_err(|e| map_err(&e))?;
        let mut labels = Vec::new();
        for slot in slots {
            let info = match ctx.get_token_info(slot) {
                Ok(info) => info,
                Err(e) => {
                    tracing::debug!(slot = slot.id(), "C_GetTokenInfo: {}", describe(&e));
                    continue;
                }
            };
            if !info.token_initialized() {
                continue;
            }
            let label = info.label().trim_end().to_string();
            labels.push(label.clone());
            if options
                .token_label
                .as_ref()
                .is_some_and(|want| *want != label)
            {
                continue;
            }
            match find_certificates(&ctx, slot) {
                Ok(Some((auth, sign))) => {
                    tracing::info!(token = %label, slot = slot.id(), "using PKCS#11 token");
                    return Ok(Pkcs11Backend {
                        ctx,
                        module: module.to_path_buf(),
                        slot,
                        label,
                        auth,
                        sign,
                    });
                }
                Ok(None) => {
                    tracing::debug!(token = %label, "no authentication and signing certificate")
                }
                Err(e) if options.token_label.is_some() => return Err(e),
                Err(e) => tracing::debug!(token = %label, "skipped: {e}"),
            }
        }
        Err(CardError::Pkcs11TokenNotFound {
            module: module.display().to_string(),
            label: options.token_label.clone(),
            tokens: labels,
        })
    }

    /// The module path.
    pub fn module(&self) -> &Path {
        &self.module
    }

    /// The label of the token in use.
    pub fn token_label(&self) -> &str {
        &self.label
    }

    fn object(&self, slot: KeySlot) -> &KeyObject {
        match slot {
            KeySlot::Authentication => &self.auth,
            KeySlot::Signing => &self.sign,
        }
    }

    fn token_info(&self) -> Result<TokenInfo, CardError> {
        self.ctx.get_token_info(self.slot).map_err(|e| map_err(&e))
    }

    /// The DER certificate of `slot` (read when the token was opened).
    pub fn certificate(&self, slot: KeySlot) -> Result<Vec<u8>, CardError> {
        Ok(self.object(slot).certificate.clone())
    }

    /// Holder and certificate details of `slot`.
    pub fn certificate_info(&self, slot: KeySlot) -> Result<CertificateInfo, CardError> {
        CertificateInfo::parse(&self.object(slot).certificate)
    }

    /// The state of the token's user PIN, from the token flags. `retries_left` is `Some(1)` on
    /// the final try, `Some(0)` when locked, else `None` (PKCS#11 has no counter).
    pub fn pin_status(&self, kind: PinKind) -> Result<PinStatus, CardError> {
        user_pin(kind)?;
        let info = self.token_info()?;
        let locked = info.user_pin_locked();
        Ok(PinStatus {
            retries_left: if locked {
                Some(0)
            } else if info.user_pin_final_try() {
                Some(1)
            } else {
                None
            },
            max_retries: PIN_TRIES,
            blocked: locked,
            verified: false,
            not_set: !info.user_pin_initialized(),
        })
    }

    /// Checks a PIN by logging in and out.
    pub fn verify_pin(&self, kind: PinKind, pin: PinEntry) -> Result<(), CardError> {
        user_pin(kind)?;
        let _guard = login_lock();
        let session = self.open_session()?;
        self.login(&session, pin)?;
        logout(&session);
        Ok(())
    }

    /// Signs `digest` (of `hash`) with `slot`'s key after logging in with `pin`.
    pub fn sign(
        &self,
        slot: KeySlot,
        hash: HashFunction,
        digest: &[u8],
        pin: PinEntry,
    ) -> Result<Vec<u8>, CardError> {
        let digest_length = || CardError::DigestLength {
            hash: hash.as_str(),
            expected: hash.output_len(),
            actual: digest.len(),
        };
        if digest.len() != hash.output_len() {
            return Err(digest_length());
        }
        let object = self.object(slot);
        let (mechanism, input) = match object.key {
            KeyKind::Rsa { .. } => (
                Mechanism::RsaPkcs,
                hash.digest_info(digest).ok_or_else(digest_length)?,
            ),
            KeyKind::Ec { .. } => (Mechanism::Ecdsa, digest.to_vec()),
        };
        let signature = {
            let _guard = login_lock();
            let session = self.open_session()?;
            self.login(&session, pin)?;
            let result = find_private_key(&session, &object.id).and_then(|key| {
                session
                    .sign(&mechanism, key, &input)
                    .map_err(|e| map_err(&e))
            });
            logout(&session);
            result?
        };
        match object.key {
            KeyKind::Rsa { modulus_bytes } if signature.len() != modulus_bytes => {
                Err(CardError::MalformedSignature(format!(
                    "the module returned a {}-byte signature for a {modulus_bytes}-byte RSA key",
                    signature.len()
                )))
            }
            // CKM_ECDSA gives r || s; accept a DER signature from a module that deviates.
            KeyKind::Ec { field_len } if signature.len() != 2 * field_len => {
                geid_protocol::ecdsa_der_to_raw(&signature, field_len)
                    .map_err(|e| CardError::MalformedSignature(e.to_string()))
            }
            _ => Ok(signature),
        }
    }

    /// Makes a Web eID login token, in the same format as [`Card::authenticate`](crate::Card::authenticate).
    pub fn authenticate(
        &self,
        origin: &Origin,
        nonce: &ChallengeNonce,
        pin: PinEntry,
    ) -> Result<AuthToken, CardError> {
        let algorithm = auth_algorithm(self.auth.key)?;
        let digest = algorithm.card_digest(origin, nonce);
        let signature = self.sign(KeySlot::Authentication, algorithm.hash(), &digest, pin)?;
        Ok(auth_token(
            self.auth.certificate.clone(),
            algorithm,
            signature,
        ))
    }

    fn open_session(&self) -> Result<Session, CardError> {
        self.ctx.open_ro_session(self.slot).map_err(|e| map_err(&e))
    }

    /// `C_Login(CKU_USER)`; the PIN is moved into a zeroising secret and dropped here.
    fn login(&self, session: &Session, pin: PinEntry) -> Result<(), CardError> {
        let secret = match pin {
            PinEntry::Pin(pin) => Some(self.auth_pin(pin)?),
            PinEntry::PinPad => {
                if !self.token_info()?.protected_authentication_path() {
                    return Err(CardError::NoPinPad);
                }
                None
            }
        };
        let mut result = session.login(UserType::User, secret.as_ref());
        if let Err(P11Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) = result {
            // Someone else in this process logged in; log in again so the PIN is checked.
            logout(session);
            result = session.login(UserType::User, secret.as_ref());
        }
        drop(secret);
        match result {
            Ok(()) => Ok(()),
            Err(P11Error::Pkcs11(RvError::PinIncorrect, _)) => {
                let info = self.token_info()?;
                Err(if info.user_pin_locked() {
                    CardError::PinBlocked
                } else if info.user_pin_final_try() {
                    CardError::PinIncorrect { retries_left: 1 }
                } else {
                    CardError::PinIncorrectTriesUnknown
                })
            }
            Err(P11Error::Pkcs11(RvError::PinLenRange | RvError::PinInvalid, _)) => {
                Err(self.pin_format()?)
            }
            Err(e) => Err(map_err(&e)),
        }
    }

    fn auth_pin(&self, pin: Pin) -> Result<AuthPin, CardError> {
        let info = self.token_info()?;
        if !(info.min_pin_length()..=info.max_pin_length()).contains(&pin.len()) {
            return Err(self.pin_format()?);
        }
        // A Pin is ASCII digits, so this never fails; the digits are copied once, into the
        // secret that zeroises them on drop.
        let digits = std::str::from_utf8(pin.expose_digits())
            .map_err(|_| CardError::PinFormat { min: 0, max: 0 })?;
        Ok(AuthPin::new(Box::from(digits)))
    }

    fn pin_format(&self) -> Result<CardError, CardError> {
        let info = self.token_info()?;
        Ok(CardError::PinFormat {
            min: info.min_pin_length(),
            max: info.max_pin_length(),
        })
    }
}

impl IdCard for Pkcs11Backend {
    fn certificate(&mut self, slot: KeySlot) -> Result<Vec<u8>, CardError> {
        Pkcs11Backend::certificate(self, slot)
    }

    fn pin_status(&mut self, kind: PinKind) -> Result<PinStatus, CardError> {
        Pkcs11Backend::pin_status(self, kind)
    }

    fn verify_pin(&mut self, kind: PinKind, pin: PinEntry) -> Result<(), CardError> {
        Pkcs11Backend::verify_pin(self, kind, pin)
    }

    fn sign(
        &mut self,
        slot: KeySlot,
        hash: HashFunction,
        digest: &[u8],
        pin: PinEntry,
    ) -> Result<Vec<u8>, CardError> {
        Pkcs11Backend::sign(self, slot, hash, digest, pin)
    }

    fn authenticate(
        &mut self,
        origin: &Origin,
        nonce: &ChallengeNonce,
        pin: PinEntry,
    ) -> Result<AuthToken, CardError> {
        Pkcs11Backend::authenticate(self, origin, nonce, pin)
    }
}

/// Only the token's user PIN is reachable through PKCS#11.
fn user_pin(kind: PinKind) -> Result<(), CardError> {
    match kind {
        PinKind::Authentication | PinKind::Signing => Ok(()),
        PinKind::Transport | PinKind::Puk => Err(CardError::NotImplemented(
            "the transport PIN and the PUK through PKCS#11",
        )),
    }
}

fn logout(session: &Session) {
    if let Err(e) = session.logout() {
        tracing::debug!("C_Logout: {}", describe(&e));
    }
}

/// The authentication and the signing certificate of the token in `slot`, if it has both.
fn find_certificates(
    ctx: &Pkcs11,
    slot: Slot,
) -> Result<Option<(KeyObject, KeyObject)>, CardError> {
    let session = ctx.open_ro_session(slot).map_err(|e| map_err(&e))?;
    let handles = session
        .find_objects(&[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::CertificateType(CertificateType::X_509),
        ])
        .map_err(|e| map_err(&e))?;
    let (mut auth, mut sign) = (None, None);
    for handle in handles {
        let attributes = session
            .get_attributes(handle, &[AttributeType::Value, AttributeType::Id])
            .map_err(|e| map_err(&e))?;
        let (mut value, mut id) = (None, None);
        for attribute in attributes {
            match attribute {
                Attribute::Value(v) => value = Some(v),
                Attribute::Id(i) => id = Some(i),
                _ => {}
            }
        }
        let (Some(certificate), Some(id)) = (value, id) else {
            continue;
        };
        let (purpose, key) = match KeyPurpose::of(&certificate)
            .and_then(|p| Ok((p, CertificateInfo::parse(&certificate)?.key)))
        {
            Ok(found) => found,
            Err(e) => {
                tracing::debug!("certificate skipped: {e}");
                continue;
            }
        };
        let object = KeyObject {
            id,
            certificate,
            key,
        };
        match purpose {
            KeyPurpose::Authentication if auth.is_none() => auth = Some(object),
            KeyPurpose::Signing if sign.is_none() => sign = Some(object),
            _ => {}
        }
    }
    Ok(auth.zip(sign))
}

fn find_private_key(session: &Session, id: &[u8]) -> Result<ObjectHandle, CardError> {
    let keys = session
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Id(id.to_vec()),
        ])
        .map_err(|e| map_err(&e))?;
    keys.first().copied().ok_or_else(|| {
        CardError::Pkcs11(format!(
            "no private key with the certificate's CKA_ID {}",
            crate::apdu::hex(id)
        ))
    })
}

/// `C_Sign: PinIncorrect` rather than the module-independent prose of the return value.
fn describe(e: &P11Error) -> String {
    match e {
        P11Error::Pkcs11(rv, function) => format!("{function}: {rv:?}"),
        other => other.to_string(),
    }
}

/// The errors that mean the same as on the card; the rest as [`CardError::Pkcs11`].
fn map_err(e: &P11Error) -> CardError {
    match e {
        P11Error::Pkcs11(rv, _) => match rv {
            RvError::TokenNotPresent | RvError::DeviceRemoved | RvError::SessionClosed => {
                CardError::CardRemoved
            }
            RvError::PinLocked => CardError::PinBlocked,
            RvError::UserPinNotInitialized => CardError::PinNotSet,
            RvError::FunctionCanceled => CardError::PinPadCancelled,
            _ => CardError::Pkcs11(describe(e)),
        },
        other => CardError::Pkcs11(describe(other)),
    }
}
