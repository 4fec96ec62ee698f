//! The PKCS#11 fallback backend (a vendor middleware module) — not implemented yet.
//!
//! The plan: open the module from configuration with `cryptoki`, find the token whose
//! certificates match the card's, and sign with `CKM_RSA_PKCS` over the DigestInfo, so that
//! machines where only the vendor middleware can talk to the card still work. Until then every
//! call returns [`CardError::NotImplemented`] (wire code `NOT_IMPLEMENTED`).

use std::path::Path;

use crate::CardError;

/// A PKCS#11 module (not implemented yet).
#[derive(Debug)]
pub struct Pkcs11Backend {
    _private: (),
}

impl Pkcs11Backend {
    /// Would load the module at `path`; returns [`CardError::NotImplemented`].
    pub fn open(_path: &Path) -> Result<Pkcs11Backend, CardError> {
        Err(CardError::NotImplemented("the PKCS#11 backend"))
    }
}
