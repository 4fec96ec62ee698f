//! The one error type of the crate and its stable codes.

use std::fmt;

/// Why a problem with an OCSP response made it unacceptable (RFC 6960 §3.2, §4.2.2.2).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OcspProblem {
    /// Not DER, not an `OCSPResponse`, or not a `BasicOCSPResponse`.
    Malformed,
    /// The signature over `tbsResponseData` does not verify, or uses an unknown algorithm.
    BadSignature,
    /// The signer is neither the issuing CA, nor a delegate issued directly by it with
    /// id-kp-OCSPSigning, nor the configured designated responder.
    UnauthorisedSigner,
    /// The delegated responder's certificate is not valid now, or lacks id-pkix-ocsp-nocheck
    /// so its own status could not be established.
    ResponderCertificate,
    /// No `SingleResponse` is for the certificate that was asked about.
    CertIdMismatch,
    /// The response nonce is absent or differs from the request's.
    NonceMismatch,
    /// `thisUpdate` is older than the allowed maximum age.
    Stale,
    /// `thisUpdate` lies in the future beyond the allowed skew.
    NotYetValid,
    /// `nextUpdate` lies in the past beyond the allowed skew.
    Expired,
}

impl fmt::Display for OcspProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OcspProblem::Malformed => "the response is not a well-formed BasicOCSPResponse",
            OcspProblem::BadSignature => "the response signature does not verify",
            OcspProblem::UnauthorisedSigner => {
                "the response is signed by a key that may not answer for this CA \
                 (neither the CA, nor its id-kp-OCSPSigning delegate, nor the pinned responder)"
            }
            OcspProblem::ResponderCertificate => {
                "the delegated responder certificate is not valid now or lacks id-pkix-ocsp-nocheck"
            }
            OcspProblem::CertIdMismatch => {
                "the response does not answer for the certificate that was asked about (CertID)"
            }
            OcspProblem::NonceMismatch => "the response nonce does not match the request nonce",
            OcspProblem::Stale => "thisUpdate is older than the allowed maximum age",
            OcspProblem::NotYetValid => "thisUpdate lies in the future beyond the allowed skew",
            OcspProblem::Expired => "nextUpdate lies in the past",
        })
    }
}

/// Why a login token, a document signature, a configuration or a challenge was refused.
///
/// Every variant maps to one stable wire code ([`VerifyError::code`]); the `Display` text says
/// what happened and, where it helps, what the portal operator can do about it. Nothing here
/// carries secrets; certificate subjects may appear (they are in the token anyway).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    // ---- configuration ---------------------------------------------------------------------
    /// The verifier configuration is unusable (missing origin, no anchors, a non-CA anchor, …).
    #[error("verifier configuration: {0}")]
    Config(String),

    // ---- token -----------------------------------------------------------------------------
    /// The token JSON is malformed, too large, or has a bad field.
    #[error("token malformed: {0}")]
    TokenMalformed(String),
    /// The token's algorithm is not in the configured allow-list.
    #[error("algorithm {0} is not allowed by this portal's configuration")]
    AlgorithmNotAllowed(String),

    // ---- certificate -----------------------------------------------------------------------
    /// The certificate is not valid DER X.509, or lacks something every login certificate has.
    #[error("certificate malformed: {0}")]
    CertificateMalformed(String),
    /// The key is too weak (RSA under 2048 bits) or on a curve geid does not accept.
    #[error("certificate key is too weak or of an unsupported kind: {0}")]
    WeakKey(String),
    /// The token's algorithm does not fit the certificate's key (RS/PS need RSA; ES256 P-256, …).
    #[error("algorithm {algorithm} cannot be used with the certificate's {key} key")]
    AlgorithmKeyMismatch {
        /// The token's algorithm.
        algorithm: String,
        /// The certificate key, e.g. `EC P-384`.
        key: String,
    },
    /// notAfter is before the verification time.
    #[error("certificate expired at {not_after} (checked at {at}: the verification time, or a document's signing time)")]
    CertificateExpired {
        /// notAfter, RFC 3339.
        not_after: String,
        /// The verification time, RFC 3339.
        at: String,
    },
    /// notBefore is after the verification time.
    #[error("certificate is not valid before {not_before} (checked at {at}: the verification time, or a document's signing time); check the server clock")]
    CertificateNotYetValid {
        /// notBefore, RFC 3339.
        not_before: String,
        /// The verification time, RFC 3339.
        at: String,
    },
    /// keyUsage is missing or lacks digitalSignature.
    #[error("certificate keyUsage {0}; an authentication certificate needs digitalSignature")]
    KeyUsage(String),
    /// extendedKeyUsage is present without clientAuth.
    #[error("certificate extendedKeyUsage lacks clientAuth (1.3.6.1.5.5.7.3.2); it is not an authentication certificate")]
    ExtendedKeyUsage,
    /// A required policy is missing, or a disallowed one is present.
    #[error("certificate policy check failed: {0}")]
    CertificatePolicy(String),
    /// A critical extension this verifier does not understand (RFC 5280 §4.2).
    #[error("certificate has an unknown critical extension {0}; refusing it (RFC 5280 §4.2)")]
    UnknownCriticalExtension(String),
    /// The certificate does not chain to a configured trust anchor.
    #[error("certificate is not trusted: {0}")]
    CertificateNotTrusted(String),

    // ---- revocation ------------------------------------------------------------------------
    /// OCSP or the CRL says revoked.
    #[error("certificate was revoked{0}")]
    CertificateRevoked(String),
    /// The OCSP responder answered `unknown` (treated as revoked).
    #[error("the OCSP responder does not know this certificate (status unknown); refused")]
    CertificateStatusUnknown,
    /// The OCSP responder could not be reached, timed out, answered an HTTP error or a
    /// non-successful OCSP status. The login fails closed.
    #[error("OCSP responder unavailable: {0}")]
    OcspUnavailable(String),
    /// The OCSP response arrived but cannot be accepted.
    #[error("OCSP response from {url} refused: {problem}")]
    OcspInvalid {
        /// The responder URL.
        url: String,
        /// What was wrong.
        problem: OcspProblem,
    },
    /// The CRL could not be fetched or is not acceptable.
    #[error("CRL unavailable or invalid: {0}")]
    CrlUnavailable(String),

    // ---- signature -------------------------------------------------------------------------
    /// The signature is not in the token's format (e.g. DER instead of raw `r || s`).
    #[error("signature malformed: {0}")]
    SignatureMalformed(String),
    /// The signature does not verify over `H(origin) || H(nonce)` with this portal's origin.
    #[error("signature does not verify for origin {origin} and the given challenge; the token was made for another origin or challenge, or by another key")]
    SignatureInvalid {
        /// The configured origin used.
        origin: String,
    },

    // ---- document signatures (CMS) ---------------------------------------------------------
    /// The CMS is not a DER SignedData with one signer and signed attributes, is attached
    /// where a detached signature is expected, or does not include the signer's certificate.
    #[error("CMS signature malformed: {0}")]
    CmsMalformed(String),
    /// The content-type signed attribute is missing, or it or eContentType is not id-data.
    #[error("CMS content type refused: {0}")]
    CmsContentType(String),
    /// The message-digest attribute does not match the document: it was changed after signing
    /// (or is another document).
    #[error("the document does not match the signature: it was changed after signing, or the signature is for another document")]
    DocumentChanged,
    /// signing-certificate-v2 is missing or names another certificate than the included one.
    #[error("signing-certificate-v2 check failed: {0}")]
    SigningCertificateMismatch(String),
    /// The signing-time attribute is missing, or lies after the verification time (or further
    /// back than the configured maximum age).
    #[error("signing time refused: {0}")]
    SigningTime(String),
    /// The certificate is not a qualified-signature certificate: keyUsage lacks nonRepudiation
    /// (a signature made with an authentication key).
    #[error("not a signing certificate: {0}")]
    NotASigningCertificate(String),
    /// The signature over the signed attributes does not verify with the signer's key.
    #[error("the signature does not verify with the signer certificate's key: {0}")]
    DocumentSignatureInvalid(String),

    // ---- challenge and origin --------------------------------------------------------------
    /// The challenge was never issued by this store, or was already used.
    #[error("challenge nonce unknown or already used")]
    NonceUnknown,
    /// The challenge was issued but its time to live passed.
    #[error("challenge nonce expired; ask the user to log in again")]
    NonceExpired,
    /// The challenge store itself failed (e.g. Redis down). Fails closed.
    #[error("challenge store unavailable: {0}")]
    ChallengeStoreUnavailable(String),
    /// The request's origin is not the portal's configured origin.
    #[error("request origin {got} is not this portal's origin {expected}")]
    OriginMismatch {
        /// The configured origin.
        expected: String,
        /// What the request said.
        got: String,
    },
    /// The clock could not be read or is outside the representable range.
    #[error("verification time unavailable: {0}")]
    Clock(String),
}

impl VerifyError {
    /// The stable wire code, e.g. `"CERT_EXPIRED"`.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::Config(_) => "CONFIG_INVALID",
            VerifyError::TokenMalformed(_) => "TOKEN_MALFORMED",
            VerifyError::AlgorithmNotAllowed(_) => "ALGORITHM_NOT_ALLOWED",
            VerifyError::CertificateMalformed(_) => "CERT_MALFORMED",
            VerifyError::WeakKey(_) => "WEAK_KEY",
            VerifyError::AlgorithmKeyMismatch { .. } => "ALGORITHM_KEY_MISMATCH",
            VerifyError::CertificateExpired { .. } => "CERT_EXPIRED",
            VerifyError::CertificateNotYetValid { .. } => "CERT_NOT_YET_VALID",
            VerifyError::KeyUsage(_) => "CERT_KEY_USAGE",
            VerifyError::ExtendedKeyUsage => "CERT_EKU",
            VerifyError::CertificatePolicy(_) => "CERT_POLICY",
            VerifyError::UnknownCriticalExtension(_) => "CERT_CRITICAL_EXTENSION",
            VerifyError::CertificateNotTrusted(_) => "CERT_NOT_TRUSTED",
            VerifyError::CertificateRevoked(_) => "CERT_REVOKED",
            VerifyError::CertificateStatusUnknown => "CERT_STATUS_UNKNOWN",
            VerifyError::OcspUnavailable(_) => "OCSP_UNAVAILABLE",
            VerifyError::OcspInvalid { .. } => "OCSP_INVALID",
            VerifyError::CrlUnavailable(_) => "CRL_UNAVAILABLE",
            VerifyError::SignatureMalformed(_) => "SIGNATURE_MALFORMED",
            VerifyError::SignatureInvalid { .. } => "SIGNATURE_INVALID",
            VerifyError::CmsMalformed(_) => "CMS_MALFORMED",
            VerifyError::CmsContentType(_) => "CMS_CONTENT_TYPE",
            VerifyError::DocumentChanged => "DOCUMENT_CHANGED",
            VerifyError::SigningCertificateMismatch(_) => "SIGNING_CERTIFICATE_MISMATCH",
            VerifyError::SigningTime(_) => "SIGNING_TIME_INVALID",
            VerifyError::NotASigningCertificate(_) => "NOT_A_SIGNING_CERTIFICATE",
            VerifyError::DocumentSignatureInvalid(_) => "SIGNATURE_INVALID",
            VerifyError::NonceUnknown => "NONCE_UNKNOWN",
            VerifyError::NonceExpired => "NONCE_EXPIRED",
            VerifyError::ChallengeStoreUnavailable(_) => "CHALLENGE_STORE_UNAVAILABLE",
            VerifyError::OriginMismatch { .. } => "ORIGIN_MISMATCH",
            VerifyError::Clock(_) => "CLOCK_UNAVAILABLE",
        }
    }

    /// The OCSP problem, when this is [`VerifyError::OcspInvalid`].
    pub fn ocsp_problem(&self) -> Option<&OcspProblem> {
        match self {
            VerifyError::OcspInvalid { problem, .. } => Some(problem),
            _ => None,
        }
    }
}
