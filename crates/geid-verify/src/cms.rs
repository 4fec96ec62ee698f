//! Verification of detached CAdES-BES document signatures (CMS SignedData, RFC 5652), such as
//! `geid-cms` and `openssl cms -sign -cades` make.
//!
//! [`SignatureVerifier::verify_signature`] runs these checks in order, each with its own
//! error code:
//! 1. the CMS is a DER SignedData with one SignerInfo and signed attributes, detached
//!    (`CMS_MALFORMED`);
//! 2. eContentType and the content-type attribute are both id-data (RFC 5652 §11.1,
//!    `CMS_CONTENT_TYPE`);
//! 3. digest and signature algorithms are SHA-256/384/512 with RSA PKCS#1 v1.5 or ECDSA, and
//!    allowed by the configuration (`ALGORITHM_NOT_ALLOWED`);
//! 4. the message-digest attribute equals the hash of the document (RFC 5652 §11.2,
//!    `DOCUMENT_CHANGED`);
//! 5. the signer's certificate is included, and the ESS signing-certificate-v2 attribute
//!    (RFC 5035 §3) names it by hash and, when given, issuer and serial
//!    (`SIGNING_CERTIFICATE_MISMATCH`). The attribute is **required**: CAdES-BES demands a
//!    signing-certificate reference (ETSI EN 319 122-1 §5.2.2), and without it a signature
//!    could be re-attributed to another certificate for the same key. `openssl cms -sign`
//!    writes it only with `-cades`; its plain output is refused. The SHA-1 v1 attribute alone
//!    is not accepted;
//! 6. the signing-time attribute is present and not after the verification time plus the
//!    allowed skew (nor older than the configured maximum age) (`SIGNING_TIME_INVALID`);
//! 7. the certificate checks of login verification, **at the signing time**: strict DER, key
//!    strength, validity (`CERT_EXPIRED`, `CERT_NOT_YET_VALID`), keyUsage nonRepudiation
//!    (`NOT_A_SIGNING_CERTIFICATE`: a signature by an authentication key), policies, and the
//!    chain to a configured anchor (RFC 5280 §6.1, `CERT_NOT_TRUSTED`). Certificates included
//!    in the CMS may serve as intermediates;
//! 8. the signature over the DER signed attributes (RFC 5652 §5.4) with the certificate's key
//!    (`SIGNATURE_INVALID`);
//! 9. revocation now (OCSP and/or CRL as configured, failing closed): CAdES-BES carries no
//!    proof of when it was made, so a certificate revoked at any time before verification is
//!    refused (`CERT_REVOKED`).
//!
//! The signing time is the signer's claim. A service that verifies signatures as they arrive
//! can bound it with [`crate::VerifierBuilder::max_signing_time_age`].

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use geid_cms::{oids, SignedDocument};
use geid_protocol::{HashFunction, SignatureAlgorithm, SignatureScheme};
use openssl::hash::MessageDigest;
use openssl::x509::X509;
use serde::Serialize;

use crate::cert::{self, rfc3339, CertPolicy, Usage};
use crate::config::{Clock, VerifierBuilder};
use crate::{crl, ocsp, Identity, VerifyError};

/// Who signed a document, and when they said they did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SignerIdentity {
    /// The signer, read from the verified signing certificate. `algorithm` is the signature
    /// algorithm in Web eID naming (RS256 for sha256WithRSAEncryption).
    #[serde(flatten)]
    pub signer: Identity,
    /// The signing-time attribute, RFC 3339.
    pub signing_time: String,
    /// The signing-time attribute.
    #[serde(skip)]
    pub signed_at: SystemTime,
    /// The digest algorithm, e.g. `SHA-256`.
    pub hash_function: HashFunction,
    /// The signing certificate, DER.
    #[serde(skip)]
    pub certificate: Vec<u8>,
}

/// Verifies detached CMS document signatures. Cheap to clone; share one per process.
///
/// Built like [`crate::Verifier`]: `Verifier::builder()…build_signature_verifier()`, with the
/// signing CA's root as anchor and the signing CA as intermediate.
#[derive(Clone)]
pub struct SignatureVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    anchors: Vec<X509>,
    intermediates: Vec<X509>,
    allowed_algorithms: Vec<SignatureAlgorithm>,
    required_policies: Vec<String>,
    disallowed_policies: Vec<String>,
    clock: Clock,
    skew: Duration,
    max_signing_time_age: Option<Duration>,
    ocsp: ocsp::OcspClient,
    crl: crl::CrlClient,
}

impl std::fmt::Debug for SignatureVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureVerifier")
            .field("anchors", &self.inner.anchors.len())
            .field("intermediates", &self.inner.intermediates.len())
            .finish_non_exhaustive()
    }
}

fn algorithm(scheme: SignatureScheme, hash: HashFunction) -> Option<SignatureAlgorithm> {
    Some(match (scheme, hash) {
        (SignatureScheme::RsaPkcs1, HashFunction::Sha256) => SignatureAlgorithm::Rs256,
        (SignatureScheme::RsaPkcs1, HashFunction::Sha384) => SignatureAlgorithm::Rs384,
        (SignatureScheme::RsaPkcs1, HashFunction::Sha512) => SignatureAlgorithm::Rs512,
        (SignatureScheme::Ecdsa, HashFunction::Sha256) => SignatureAlgorithm::Es256,
        (SignatureScheme::Ecdsa, HashFunction::Sha384) => SignatureAlgorithm::Es384,
        (SignatureScheme::Ecdsa, HashFunction::Sha512) => SignatureAlgorithm::Es512,
        _ => return None,
    })
}

fn message_digest(hash: HashFunction) -> MessageDigest {
    match hash {
        HashFunction::Sha384 => MessageDigest::sha384(),
        HashFunction::Sha512 => MessageDigest::sha512(),
        _ => MessageDigest::sha256(),
    }
}

impl SignatureVerifier {
    pub(crate) fn from_builder(b: VerifierBuilder) -> SignatureVerifier {
        SignatureVerifier {
            inner: Arc::new(Inner {
                anchors: b.anchors,
                intermediates: b.intermediates,
                allowed_algorithms: b.allowed_algorithms,
                required_policies: b.required_policies,
                disallowed_policies: b.disallowed_policies,
                clock: b.clock,
                skew: b.skew,
                max_signing_time_age: b.max_signing_time_age,
                ocsp: ocsp::OcspClient::new(b.ocsp, b.skew),
                crl: crl::CrlClient::new(b.crl, b.skew),
            }),
        }
    }

    /// Verifies the detached CMS signature `cms_der` over `content`; see the module docs for
    /// the checks and their order.
    pub async fn verify_signature(
        &self,
        content: &[u8],
        cms_der: &[u8],
    ) -> Result<SignerIdentity, VerifyError> {
        let inner = &self.inner;
        let doc =
            SignedDocument::parse(cms_der).map_err(|e| VerifyError::CmsMalformed(e.to_string()))?;
        if !doc.is_detached() {
            return Err(VerifyError::CmsMalformed(
                "the signature carries its content (attached); a detached signature is \
                 verified against the document given separately"
                    .into(),
            ));
        }

        // Content type (RFC 5652 §11.1).
        let econtent_type = doc.encapsulated_content_type();
        if econtent_type != oids::ID_DATA {
            return Err(VerifyError::CmsContentType(format!(
                "eContentType is {econtent_type}, not id-data (1.2.840.113549.1.7.1)"
            )));
        }
        match doc.content_type() {
            None => {
                return Err(VerifyError::CmsContentType(
                    "the content-type signed attribute is missing".into(),
                ))
            }
            Some(ct) if *ct != econtent_type => {
                return Err(VerifyError::CmsContentType(format!(
                    "the content-type attribute says {ct} but eContentType is {econtent_type}"
                )))
            }
            Some(_) => {}
        }

        // Algorithms.
        let hash = doc.hash_function();
        let alg = match (doc.signature_scheme(), hash) {
            (Some(scheme), Some(hash)) => algorithm(scheme, hash),
            _ => None,
        };
        let (Some(alg), Some(hash)) = (alg, hash) else {
            return Err(VerifyError::AlgorithmNotAllowed(format!(
                "{} with digest {} (geid accepts RSA PKCS#1 v1.5 and ECDSA with SHA-256/384/512)",
                doc.signature_algorithm().oid,
                doc.digest_algorithm().oid
            )));
        };
        if !inner.allowed_algorithms.contains(&alg) {
            return Err(VerifyError::AlgorithmNotAllowed(alg.to_string()));
        }

        // The document (RFC 5652 §11.2).
        let digest = doc.message_digest().ok_or_else(|| {
            VerifyError::CmsMalformed("the message-digest signed attribute is missing".into())
        })?;
        if digest != hash.digest(content).as_slice() {
            return Err(VerifyError::DocumentChanged);
        }

        // The signer certificate and signing-certificate-v2 (RFC 5035 §3).
        let cert_der = doc.signer_certificate().ok_or_else(|| {
            VerifyError::CmsMalformed(
                "the CMS does not include the certificate its SignerInfo names".into(),
            )
        })?;
        match doc.signing_certificate_v2_matches() {
            Some(true) => {}
            Some(false) => {
                return Err(VerifyError::SigningCertificateMismatch(
                    "signing-certificate-v2 names another certificate than the included \
                     signer certificate"
                        .into(),
                ))
            }
            None if doc.signing_certificate_v2().is_none() => {
                return Err(VerifyError::SigningCertificateMismatch(
                    if doc.has_signing_certificate_v1() {
                        "only the SHA-1 signing-certificate (v1) attribute is present; \
                         signing-certificate-v2 is required"
                    } else {
                        "the signing-certificate-v2 attribute is missing; CAdES-BES requires it \
                         (with openssl, sign with -cades)"
                    }
                    .into(),
                ))
            }
            None => {
                return Err(VerifyError::SigningCertificateMismatch(
                    "signing-certificate-v2 uses a hash algorithm other than SHA-2".into(),
                ))
            }
        }

        // Signing time (RFC 5652 §11.3).
        let signed_at = doc.signing_time().ok_or_else(|| {
            VerifyError::SigningTime("the signing-time signed attribute is missing".into())
        })?;
        let now = (inner.clock)();
        if signed_at > now + inner.skew {
            return Err(VerifyError::SigningTime(format!(
                "signed at {} which is after the verification time {}",
                rfc3339(signed_at),
                rfc3339(now)
            )));
        }
        if let Some(max) = inner.max_signing_time_age {
            if now.duration_since(signed_at).is_ok_and(|age| age > max) {
                return Err(VerifyError::SigningTime(format!(
                    "signed at {}, more than {} s before the verification time {}",
                    rfc3339(signed_at),
                    max.as_secs(),
                    rfc3339(now)
                )));
            }
        }

        // The certificate at the signing time.
        let mut intermediates = inner.intermediates.clone();
        intermediates.extend(
            doc.certificates()
                .iter()
                .filter(|c| c.as_slice() != cert_der)
                .filter_map(|c| X509::from_der(c).ok()),
        );
        let policy = CertPolicy {
            usage: Usage::Signature,
            anchors: &inner.anchors,
            intermediates: &intermediates,
            required_policies: &inner.required_policies,
            disallowed_policies: &inner.disallowed_policies,
        };
        let checked = cert::check_certificate(cert_der, alg, signed_at, &policy)?;

        // The signature over the signed attributes (RFC 5652 §5.4).
        let verified = openssl::sign::Verifier::new(message_digest(hash), &checked.key)
            .and_then(|mut v| v.verify_oneshot(doc.signature(), doc.signed_attributes_der()))
            .unwrap_or(false);
        if !verified {
            return Err(VerifyError::DocumentSignatureInvalid(format!(
                "{alg} over the signed attributes; the signature was made with another key \
                 than the included certificate's"
            )));
        }

        // Revocation, now.
        inner.ocsp.check(&checked, now).await?;
        inner.crl.check(&checked, now).await?;

        let mut signer = checked.identity.clone();
        signer.algorithm = alg;
        Ok(SignerIdentity {
            signer,
            signing_time: rfc3339(signed_at),
            signed_at,
            hash_function: hash,
            certificate: cert_der.to_vec(),
        })
    }
}
