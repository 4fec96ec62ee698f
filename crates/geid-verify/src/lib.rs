//! Server-side verification of geid / Web eID 1.0 login tokens, and of detached CAdES-BES
//! document signatures ([`SignatureVerifier`], see the `cms` module docs for its checks).
//!
//! A portal backend gives [`Verifier::verify`] the token JSON the browser posted and the
//! challenge nonce it issued for that session, and gets back the [`Identity`] of the card
//! holder, or a [`VerifyError`] that says exactly why not (with a stable [`VerifyError::code`]).
//!
//! Checks run in this order, each with its own error:
//! 1. token size and format ([`geid_protocol::AuthToken::parse`]), algorithm allow-list;
//! 2. certificate decoding (strict DER, no duplicate or unknown critical extensions, RSA ≥ 2048
//!    or P-256/384/521, key fits the algorithm);
//! 3. validity at the verification time;
//! 4. keyUsage digitalSignature;
//! 5. extendedKeyUsage contains clientAuth when present;
//! 6. certificate policies (required / disallowed);
//! 7. chain to a configured anchor (RFC 5280 §6.1 via openssl, strict, at the verification
//!    time);
//! 8. revocation: OCSP (RFC 6960) and/or CRL, failing closed;
//! 9. the signature over `H(origin) || H(nonce)` with the portal's own origin.
//!
//! Steps 2–7 depend only on the certificate and the configuration, so their outcome is cached
//! by the certificate's SHA-256 for as long as every certificate in the chain is valid; a
//! repeat login then costs little more than the signature check.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod cert;
mod challenge;
pub mod cms;
mod config;
mod crl;
mod error;
mod http;
mod identity;
pub mod ocsp;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use geid_protocol::{
    ecdsa_der_to_raw, ecdsa_raw_to_der, AuthToken, ChallengeNonce, Origin, SignatureAlgorithm,
    SignatureScheme,
};
use openssl::hash::MessageDigest;
use openssl::rsa::Padding;
use openssl::sign::RsaPssSaltlen;
use openssl::x509::X509;

pub use challenge::{
    ChallengeStore, MemoryChallengeStore, RedisChallengeStore, DEFAULT_CHALLENGE_TTL,
};
pub use cms::{SignatureVerifier, SignerIdentity};
pub use config::{
    certificates_from_bytes, Clock, CrlConfig, CrlMode, OcspConfig, OcspMode, VerifierBuilder,
};
pub use error::{OcspProblem, VerifyError};
pub use identity::Identity;

use cert::{CertPolicy, CheckedCert};

/// The README's example compiles as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// Verifies login tokens for one portal origin. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    origin: Origin,
    anchors: Vec<X509>,
    intermediates: Vec<X509>,
    allowed_algorithms: Vec<SignatureAlgorithm>,
    required_policies: Vec<String>,
    disallowed_policies: Vec<String>,
    clock: Clock,
    ocsp: ocsp::OcspClient,
    crl: crl::CrlClient,
    cache: Mutex<HashMap<[u8; 32], Arc<CheckedCert>>>,
    cache_capacity: usize,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("origin", &self.inner.origin.as_str())
            .field("anchors", &self.inner.anchors.len())
            .field("intermediates", &self.inner.intermediates.len())
            .finish_non_exhaustive()
    }
}

fn md(alg: SignatureAlgorithm) -> MessageDigest {
    match alg.hash().output_len() {
        48 => MessageDigest::sha384(),
        64 => MessageDigest::sha512(),
        _ => MessageDigest::sha256(),
    }
}

impl Verifier {
    /// Starts a configuration.
    pub fn builder() -> VerifierBuilder {
        VerifierBuilder::default()
    }

    pub(crate) fn from_builder(
        b: VerifierBuilder,
        origin: Origin,
    ) -> Result<Verifier, VerifyError> {
        Ok(Verifier {
            inner: Arc::new(Inner {
                origin,
                anchors: b.anchors,
                intermediates: b.intermediates,
                allowed_algorithms: b.allowed_algorithms,
                required_policies: b.required_policies,
                disallowed_policies: b.disallowed_policies,
                clock: b.clock,
                ocsp: ocsp::OcspClient::new(b.ocsp, b.skew),
                crl: crl::CrlClient::new(b.crl, b.skew),
                cache: Mutex::new(HashMap::new()),
                cache_capacity: b.chain_cache_capacity,
            }),
        })
    }

    /// The portal origin tokens are verified for.
    pub fn origin(&self) -> &Origin {
        &self.inner.origin
    }

    /// Checks the `Origin` header (or other caller-supplied origin) of the login request
    /// against the configured origin. The token signature is always checked against the
    /// configured origin; this catches a misrouted request early, with a clearer error.
    pub fn check_request_origin(&self, origin: &str) -> Result<(), VerifyError> {
        let mismatch = || VerifyError::OriginMismatch {
            expected: self.inner.origin.as_str().to_owned(),
            got: origin.chars().take(300).collect(),
        };
        let parsed = Origin::parse(origin).map_err(|_| mismatch())?;
        if parsed != self.inner.origin {
            return Err(mismatch());
        }
        Ok(())
    }

    /// Consumes `nonce` from `store` and then verifies `token_json` against it.
    ///
    /// The nonce is consumed first, so a failed attempt cannot be retried with the same nonce.
    pub async fn verify_with_store(
        &self,
        token_json: &[u8],
        nonce: &ChallengeNonce,
        store: &dyn ChallengeStore,
    ) -> Result<Identity, VerifyError> {
        store.take(nonce).await?;
        self.verify(token_json, nonce).await
    }

    /// Verifies the token JSON against the challenge `nonce` the caller issued and consumed.
    pub async fn verify(
        &self,
        token_json: &[u8],
        nonce: &ChallengeNonce,
    ) -> Result<Identity, VerifyError> {
        let token = AuthToken::parse_bytes(token_json)
            .map_err(|e| VerifyError::TokenMalformed(e.to_string()))?;
        self.verify_token(&token, nonce).await
    }

    /// Verifies an already parsed token.
    pub async fn verify_token(
        &self,
        token: &AuthToken,
        nonce: &ChallengeNonce,
    ) -> Result<Identity, VerifyError> {
        let inner = &self.inner;
        if !inner.allowed_algorithms.contains(&token.algorithm) {
            return Err(VerifyError::AlgorithmNotAllowed(
                token.algorithm.to_string(),
            ));
        }
        let now = (inner.clock)();
        if now < SystemTime::UNIX_EPOCH {
            return Err(VerifyError::Clock("the clock is before 1970".into()));
        }
        let checked = self.checked_certificate(&token.certificate, token.algorithm, now)?;
        inner.ocsp.check(&checked, now).await?;
        inner.crl.check(&checked, now).await?;
        self.check_signature(&checked, token, nonce)?;
        let mut identity = checked.identity.clone();
        identity.algorithm = token.algorithm;
        Ok(identity)
    }

    /// Certificate checks 2–7, served from the chain cache when possible.
    fn checked_certificate(
        &self,
        der: &[u8],
        algorithm: SignatureAlgorithm,
        now: SystemTime,
    ) -> Result<Arc<CheckedCert>, VerifyError> {
        let inner = &self.inner;
        let key = openssl::sha::sha256(der);
        let hit = inner
            .cache
            .lock()
            .ok()
            .and_then(|c| c.get(&key).cloned())
            .filter(|c| now >= c.valid_from && now <= c.valid_until);
        if let Some(hit) = hit {
            cert::check_algorithm_fits(algorithm, hit.key_kind)?;
            return Ok(hit);
        }
        let policy = CertPolicy {
            usage: cert::Usage::Login,
            anchors: &inner.anchors,
            intermediates: &inner.intermediates,
            required_policies: &inner.required_policies,
            disallowed_policies: &inner.disallowed_policies,
        };
        let checked = Arc::new(cert::check_certificate(der, algorithm, now, &policy)?);
        if inner.cache_capacity > 0 {
            if let Ok(mut cache) = inner.cache.lock() {
                if cache.len() >= inner.cache_capacity {
                    cache.retain(|_, c| now <= c.valid_until);
                    if cache.len() >= inner.cache_capacity {
                        cache.clear();
                    }
                }
                cache.insert(key, checked.clone());
            }
        }
        Ok(checked)
    }

    /// How many verified chains the cache holds.
    pub fn cached_chains(&self) -> usize {
        self.inner.cache.lock().map(|c| c.len()).unwrap_or(0)
    }

    fn check_signature(
        &self,
        checked: &CheckedCert,
        token: &AuthToken,
        nonce: &ChallengeNonce,
    ) -> Result<(), VerifyError> {
        let alg = token.algorithm;
        let data = alg.signed_data(&self.inner.origin, nonce);
        let signature = match alg.ecdsa_field_len() {
            Some(field_len) => {
                if token.signature.len() != 2 * field_len {
                    let der_form = ecdsa_der_to_raw(&token.signature, field_len).is_ok();
                    return Err(VerifyError::SignatureMalformed(if der_form {
                        format!(
                            "{alg} signature is DER-encoded; Web eID tokens carry the raw \
                             r || s form of {} bytes",
                            2 * field_len
                        )
                    } else {
                        format!(
                            "{alg} signature is {} bytes; the raw r || s form has {}",
                            token.signature.len(),
                            2 * field_len
                        )
                    }));
                }
                ecdsa_raw_to_der(&token.signature, field_len)
                    .map_err(|e| VerifyError::SignatureMalformed(e.to_string()))?
            }
            None => {
                let expected = checked.key.size();
                if token.signature.len() != expected {
                    return Err(VerifyError::SignatureMalformed(format!(
                        "{alg} signature is {} bytes; the key's modulus has {expected}",
                        token.signature.len()
                    )));
                }
                token.signature.clone()
            }
        };
        let digest = md(alg);
        let verified = (|| {
            let mut v = openssl::sign::Verifier::new(digest, &checked.key)?;
            if alg.scheme() == SignatureScheme::RsaPss {
                v.set_rsa_padding(Padding::PKCS1_PSS)?;
                v.set_rsa_mgf1_md(digest)?;
                v.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)?;
            }
            v.verify_oneshot(&signature, &data)
        })()
        .unwrap_or(false);
        if verified {
            Ok(())
        } else {
            Err(VerifyError::SignatureInvalid {
                origin: self.inner.origin.as_str().to_owned(),
            })
        }
    }
}
