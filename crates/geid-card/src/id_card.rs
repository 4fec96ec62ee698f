//! The operations the host needs from an ID card, whichever way the card is reached.
//!
//! [`Card`] talks APDUs to the card through a [`Transport`]; [`Pkcs11Backend`] goes through a
//! vendor PKCS#11 module. Both implement [`IdCard`], so the host chooses the route once and the
//! rest of its code does not care.
//!
//! [`Pkcs11Backend`]: crate::pkcs11::Pkcs11Backend

use geid_protocol::{
    app_version, AuthToken, ChallengeNonce, HashFunction, Origin, SignatureAlgorithm, TOKEN_FORMAT,
};

use crate::Transport;
use crate::{Card, CardError, CertificateInfo, KeyKind, KeySlot, PinEntry, PinKind, PinStatus};

/// Certificates, PINs and signatures of an ID card.
pub trait IdCard {
    /// The DER certificate of `slot`.
    fn certificate(&mut self, slot: KeySlot) -> Result<Vec<u8>, CardError>;

    /// Holder and certificate details of `slot`.
    fn certificate_info(&mut self, slot: KeySlot) -> Result<CertificateInfo, CardError> {
        CertificateInfo::parse(&self.certificate(slot)?)
    }

    /// The state of a PIN, as far as the route can tell.
    fn pin_status(&mut self, kind: PinKind) -> Result<PinStatus, CardError>;

    /// Checks a PIN.
    fn verify_pin(&mut self, kind: PinKind, pin: PinEntry) -> Result<(), CardError>;

    /// Signs `digest` (of `hash`) with `slot`'s key, after the PIN. RSA keys give a PKCS#1 v1.5
    /// signature over the DigestInfo, EC keys a raw `r || s` signature.
    fn sign(
        &mut self,
        slot: KeySlot,
        hash: HashFunction,
        digest: &[u8],
        pin: PinEntry,
    ) -> Result<Vec<u8>, CardError>;

    /// Makes a Web eID login token: signs `H(H(origin) || H(nonce))` with the authentication key.
    fn authenticate(
        &mut self,
        origin: &Origin,
        nonce: &ChallengeNonce,
        pin: PinEntry,
    ) -> Result<AuthToken, CardError>;
}

impl<T: Transport> IdCard for Card<T> {
    fn certificate(&mut self, slot: KeySlot) -> Result<Vec<u8>, CardError> {
        Card::certificate(self, slot)
    }

    fn certificate_info(&mut self, slot: KeySlot) -> Result<CertificateInfo, CardError> {
        Card::certificate_info(self, slot)
    }

    fn pin_status(&mut self, kind: PinKind) -> Result<PinStatus, CardError> {
        Card::pin_status(self, kind)
    }

    fn verify_pin(&mut self, kind: PinKind, pin: PinEntry) -> Result<(), CardError> {
        Card::verify_pin(self, kind, pin)
    }

    fn sign(
        &mut self,
        slot: KeySlot,
        hash: HashFunction,
        digest: &[u8],
        pin: PinEntry,
    ) -> Result<Vec<u8>, CardError> {
        Card::sign(self, slot, hash, digest, pin)
    }

    fn authenticate(
        &mut self,
        origin: &Origin,
        nonce: &ChallengeNonce,
        pin: PinEntry,
    ) -> Result<AuthToken, CardError> {
        Card::authenticate(self, origin, nonce, pin)
    }
}

/// The Web eID algorithm for an authentication key: RS256 for RSA, ES256/384/512 by curve.
pub(crate) fn auth_algorithm(key: KeyKind) -> Result<SignatureAlgorithm, CardError> {
    match key {
        KeyKind::Rsa { .. } => Ok(SignatureAlgorithm::Rs256),
        KeyKind::Ec { field_len: 32 } => Ok(SignatureAlgorithm::Es256),
        KeyKind::Ec { field_len: 48 } => Ok(SignatureAlgorithm::Es384),
        KeyKind::Ec { field_len: 66 } => Ok(SignatureAlgorithm::Es512),
        KeyKind::Ec { field_len } => Err(CardError::UnsupportedKey(format!(
            "EC key with {field_len}-byte field"
        ))),
    }
}

/// The token around a signature, in the one format both routes produce.
pub(crate) fn auth_token(
    certificate: Vec<u8>,
    algorithm: SignatureAlgorithm,
    signature: Vec<u8>,
) -> AuthToken {
    AuthToken {
        certificate,
        algorithm,
        signature,
        format: TOKEN_FORMAT.into(),
        app_version: app_version(),
    }
}
