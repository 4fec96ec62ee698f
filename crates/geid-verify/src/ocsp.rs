//! OCSP client (RFC 6960), failing closed.
//!
//! A request carries one CertID (SHA-1 hashes of the issuer's name and key, as RFC 6960
//! §4.1.1 and every deployed responder expect) and, unless configured nonce-less, a 32-byte
//! nonce (RFC 8954 §2.1). A response is accepted only when, in this order:
//! 1. it is a successful `BasicOCSPResponse` (§4.2.1);
//! 2. its signer is authorised (§4.2.2.2): the pinned designated responder; or the issuing CA
//!    itself; or a certificate issued directly by the issuing CA with id-kp-OCSPSigning,
//!    valid now and carrying id-pkix-ocsp-nocheck (§4.2.2.2.1) — geid does not chase the
//!    responder's own status, so a delegate without nocheck is refused;
//! 3. the signature over `tbsResponseData` verifies with that signer's key;
//! 4. a `SingleResponse` has exactly the CertID asked about (§3.2 item 1);
//! 5. the nonce is echoed (when used);
//! 6. thisUpdate is not in the future beyond the skew, nextUpdate (if any) not in the past,
//!    and thisUpdate not older than the maximum age unless a nextUpdate window vouches for
//!    it (§3.2 items 4–6, §4.2.2.1);
//! 7. the status is `good` (`revoked` and `unknown` reject).
//!
//! Good answers from nonce-less responders are cached by CertID until their nextUpdate.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use const_oid::db::rfc5280::ID_CE_EXT_KEY_USAGE;
use const_oid::db::rfc5912::{
    ECDSA_WITH_SHA_256, ECDSA_WITH_SHA_384, ECDSA_WITH_SHA_512, ID_SHA_1,
    SHA_256_WITH_RSA_ENCRYPTION, SHA_384_WITH_RSA_ENCRYPTION, SHA_512_WITH_RSA_ENCRYPTION,
};
use const_oid::db::rfc6960::{ID_PKIX_OCSP_BASIC, ID_PKIX_OCSP_NOCHECK, ID_PKIX_OCSP_NONCE};
use const_oid::ObjectIdentifier;
use der::asn1::{Null, OctetString};
use der::{Decode, Encode};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Public};
use openssl::x509::X509;
use x509_cert::ext::pkix::ExtendedKeyUsage;
use x509_cert::ext::Extension;
use x509_cert::Certificate;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspRequest, OcspResponse, OcspResponseStatus, Request,
    ResponderId, TbsRequest, Version,
};

use crate::cert::{rfc3339, CheckedCert};
use crate::config::{OcspConfig, OcspMode};
use crate::error::{OcspProblem, VerifyError};
use crate::http::Http;

/// id-kp-OCSPSigning (RFC 5280 §4.2.1.12).
const KP_OCSP_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.9");
/// Length of the request nonce (RFC 8954 §2.1 recommends 32).
pub const OCSP_NONCE_LEN: usize = 32;

/// The CertID of `leaf` issued by `issuer`, SHA-1 flavour (RFC 6960 §4.1.1).
pub fn cert_id(leaf: &X509, issuer: &X509) -> Result<CertId, String> {
    let leaf = Certificate::from_der(&leaf.to_der().map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let issuer = Certificate::from_der(&issuer.to_der().map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let name = issuer
        .tbs_certificate
        .subject
        .to_der()
        .map_err(|e| e.to_string())?;
    let key = issuer
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    Ok(CertId {
        hash_algorithm: x509_cert::spki::AlgorithmIdentifierOwned {
            oid: ID_SHA_1,
            parameters: Some(Null.into()),
        },
        issuer_name_hash: OctetString::new(openssl::sha::sha1(&name).to_vec())
            .map_err(|e| e.to_string())?,
        issuer_key_hash: OctetString::new(openssl::sha::sha1(key).to_vec())
            .map_err(|e| e.to_string())?,
        serial_number: leaf.tbs_certificate.serial_number,
    })
}

/// Builds the DER of an OCSP request for `id` with an optional nonce.
pub fn request_der(id: &CertId, nonce: Option<&[u8]>) -> Result<Vec<u8>, der::Error> {
    let request_extensions = match nonce {
        None => None,
        Some(n) => Some(vec![Extension {
            extn_id: ID_PKIX_OCSP_NONCE,
            critical: false,
            extn_value: OctetString::new(OctetString::new(n)?.to_der()?)?,
        }]),
    };
    OcspRequest {
        tbs_request: TbsRequest {
            version: Version::V1,
            requestor_name: None,
            request_list: vec![Request {
                req_cert: id.clone(),
                single_request_extensions: None,
            }],
            request_extensions,
        },
        optional_signature: None,
    }
    .to_der()
}

struct Cached {
    not_before: SystemTime,
    until: SystemTime,
}

pub(crate) struct OcspClient {
    config: OcspConfig,
    skew: Duration,
    http: Http,
    cache: Mutex<HashMap<Vec<u8>, Cached>>,
}

fn digest_for(oid: &ObjectIdentifier) -> Option<MessageDigest> {
    Some(match *oid {
        SHA_256_WITH_RSA_ENCRYPTION | ECDSA_WITH_SHA_256 => MessageDigest::sha256(),
        SHA_384_WITH_RSA_ENCRYPTION | ECDSA_WITH_SHA_384 => MessageDigest::sha384(),
        SHA_512_WITH_RSA_ENCRYPTION | ECDSA_WITH_SHA_512 => MessageDigest::sha512(),
        _ => return None,
    })
}

fn key_hash(cert: &Certificate) -> [u8; 20] {
    openssl::sha::sha1(
        cert.tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes(),
    )
}

fn responder_matches(id: &ResponderId, cert: &Certificate) -> bool {
    match id {
        ResponderId::ByName(name) => *name == cert.tbs_certificate.subject,
        ResponderId::ByKey(hash) => hash.as_bytes() == key_hash(cert),
    }
}

fn to_openssl(cert: &Certificate) -> Option<X509> {
    X509::from_der(&cert.to_der().ok()?).ok()
}

fn parse(cert: &X509) -> Option<Certificate> {
    Certificate::from_der(&cert.to_der().ok()?).ok()
}

impl OcspClient {
    pub(crate) fn new(config: OcspConfig, skew: Duration) -> OcspClient {
        let http = Http::new(config.timeout, config.max_response_bytes);
        OcspClient {
            config,
            skew,
            http,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn url_for(&self, leaf: &CheckedCert) -> Result<String, VerifyError> {
        match &self.config.mode {
            OcspMode::Designated { url, .. } | OcspMode::Url(url) => Ok(url.clone()),
            _ => leaf
                .ocsp_urls
                .iter()
                .find(|u| u.starts_with("http://"))
                .cloned()
                .ok_or_else(|| {
                    VerifyError::OcspUnavailable(
                        "the certificate names no http OCSP responder in its Authority \
                         Information Access; configure a designated responder"
                            .into(),
                    )
                }),
        }
    }

    /// Checks `leaf`'s status at `now`.
    pub(crate) async fn check(
        &self,
        leaf: &CheckedCert,
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        if matches!(self.config.mode, OcspMode::Off) {
            return Ok(());
        }
        let id = &leaf.cert_id;
        let id_der = id
            .to_der()
            .map_err(|e| VerifyError::OcspUnavailable(format!("encoding the CertID: {e}")))?;
        if !self.config.use_nonce {
            if let Ok(cache) = self.cache.lock() {
                if let Some(hit) = cache.get(&id_der) {
                    if now >= hit.not_before && now < hit.until {
                        return Ok(());
                    }
                }
            }
        }
        let url = self.url_for(leaf)?;
        let nonce = if self.config.use_nonce {
            let mut n = [0u8; OCSP_NONCE_LEN];
            getrandom::getrandom(&mut n).map_err(|e| {
                VerifyError::OcspUnavailable(format!("no randomness for the nonce: {e}"))
            })?;
            Some(n)
        } else {
            None
        };
        let request = request_der(id, nonce.as_ref().map(|n| &n[..]))
            .map_err(|e| VerifyError::OcspUnavailable(format!("encoding the request: {e}")))?;
        let body = self
            .http
            .post(
                &url,
                "application/ocsp-request",
                "application/ocsp-response",
                request,
            )
            .await
            .map_err(|e| VerifyError::OcspUnavailable(format!("{url}: {e}")))?;
        let accepted = self.accept(&url, &body, leaf, nonce.as_ref().map(|n| &n[..]), now)?;
        if let (false, Some(until)) = (self.config.use_nonce, accepted) {
            if let Ok(mut cache) = self.cache.lock() {
                if cache.len() >= self.config.cache_capacity {
                    cache.retain(|_, c| c.until > now);
                    if cache.len() >= self.config.cache_capacity {
                        cache.clear();
                    }
                }
                if self.config.cache_capacity > 0 {
                    cache.insert(
                        id_der,
                        Cached {
                            not_before: now.checked_sub(self.skew).unwrap_or(now),
                            until,
                        },
                    );
                }
            }
        }
        Ok(())
    }

    /// Validates a response; on `good` returns its nextUpdate (if any).
    fn accept(
        &self,
        url: &str,
        body: &[u8],
        leaf: &CheckedCert,
        nonce: Option<&[u8]>,
        now: SystemTime,
    ) -> Result<Option<SystemTime>, VerifyError> {
        let invalid = |problem| VerifyError::OcspInvalid {
            url: url.to_owned(),
            problem,
        };
        let response = OcspResponse::from_der(body).map_err(|_| invalid(OcspProblem::Malformed))?;
        if response.response_status != OcspResponseStatus::Successful {
            return Err(VerifyError::OcspUnavailable(format!(
                "{url} answered {:?}",
                response.response_status
            )));
        }
        let bytes = response
            .response_bytes
            .ok_or_else(|| invalid(OcspProblem::Malformed))?;
        if bytes.response_type != ID_PKIX_OCSP_BASIC {
            return Err(invalid(OcspProblem::Malformed));
        }
        let basic = BasicOcspResponse::from_der(bytes.response.as_bytes())
            .map_err(|_| invalid(OcspProblem::Malformed))?;
        let tbs = basic
            .tbs_response_data
            .to_der()
            .map_err(|_| invalid(OcspProblem::Malformed))?;

        // 2. Who signed it, and may they?
        let signer = self.authorised_signer(&basic, leaf, now).map_err(invalid)?;
        // 3. The signature.
        let md = digest_for(&basic.signature_algorithm.oid)
            .ok_or_else(|| invalid(OcspProblem::BadSignature))?;
        let signature = basic
            .signature
            .as_bytes()
            .ok_or_else(|| invalid(OcspProblem::BadSignature))?;
        let ok = openssl::sign::Verifier::new(md, &signer)
            .and_then(|mut v| v.verify_oneshot(signature, &tbs))
            .unwrap_or(false);
        if !ok {
            return Err(invalid(OcspProblem::BadSignature));
        }

        // 4. CertID.
        let data = &basic.tbs_response_data;
        let single = data
            .responses
            .iter()
            .find(|r| r.cert_id == leaf.cert_id)
            .ok_or_else(|| invalid(OcspProblem::CertIdMismatch))?;

        // 5. Nonce.
        if let Some(nonce) = nonce {
            let expected = OctetString::new(nonce)
                .and_then(|o| o.to_der())
                .map_err(|_| invalid(OcspProblem::NonceMismatch))?;
            let echoed = data
                .response_extensions
                .as_deref()
                .unwrap_or(&[])
                .iter()
                .find(|e| e.extn_id == ID_PKIX_OCSP_NONCE)
                .map(|e| e.extn_value.as_bytes());
            if echoed != Some(&expected[..]) {
                return Err(invalid(OcspProblem::NonceMismatch));
            }
        }

        // 6. Times.
        let this_update = single.this_update.0.to_system_time();
        let next_update = single.next_update.map(|t| t.0.to_system_time());
        if this_update > now + self.skew {
            return Err(invalid(OcspProblem::NotYetValid));
        }
        if let Some(next) = next_update {
            if next + self.skew < now {
                return Err(invalid(OcspProblem::Expired));
            }
        }
        let vouched = !self.config.use_nonce && next_update.is_some();
        if !vouched && this_update + self.config.max_this_update_age + self.skew < now {
            return Err(invalid(OcspProblem::Stale));
        }

        // 7. Status.
        match &single.cert_status {
            CertStatus::Good(_) => Ok(next_update),
            CertStatus::Revoked(info) => Err(VerifyError::CertificateRevoked(format!(
                " at {}{} (OCSP, {url})",
                rfc3339(info.revocation_time.0.to_system_time()),
                info.revocation_reason
                    .map(|r| format!(", reason {r:?}"))
                    .unwrap_or_default()
            ))),
            CertStatus::Unknown(_) => Err(VerifyError::CertificateStatusUnknown),
        }
    }

    fn authorised_signer(
        &self,
        basic: &BasicOcspResponse,
        leaf: &CheckedCert,
        now: SystemTime,
    ) -> Result<PKey<Public>, OcspProblem> {
        let responder = &basic.tbs_response_data.responder_id;
        if let OcspMode::Designated {
            responder: pinned, ..
        } = &self.config.mode
        {
            let parsed = parse(pinned).ok_or(OcspProblem::UnauthorisedSigner)?;
            if !responder_matches(responder, &parsed) {
                return Err(OcspProblem::UnauthorisedSigner);
            }
            return pinned
                .public_key()
                .map_err(|_| OcspProblem::UnauthorisedSigner);
        }
        let issuer = parse(&leaf.issuer).ok_or(OcspProblem::UnauthorisedSigner)?;
        if responder_matches(responder, &issuer) {
            return leaf
                .issuer
                .public_key()
                .map_err(|_| OcspProblem::UnauthorisedSigner);
        }
        let delegate = basic
            .certs
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .find(|c| responder_matches(responder, c))
            .ok_or(OcspProblem::UnauthorisedSigner)?;
        // Issued directly by the issuing CA (name and signature).
        if delegate.tbs_certificate.issuer != issuer.tbs_certificate.subject {
            return Err(OcspProblem::UnauthorisedSigner);
        }
        let delegate_x509 = to_openssl(delegate).ok_or(OcspProblem::UnauthorisedSigner)?;
        let ca_key = leaf
            .issuer
            .public_key()
            .map_err(|_| OcspProblem::UnauthorisedSigner)?;
        if !delegate_x509.verify(&ca_key).unwrap_or(false) {
            return Err(OcspProblem::UnauthorisedSigner);
        }
        let exts = delegate
            .tbs_certificate
            .extensions
            .as_deref()
            .unwrap_or(&[]);
        let has_ocsp_signing = exts
            .iter()
            .find(|e| e.extn_id == ID_CE_EXT_KEY_USAGE)
            .and_then(|e| ExtendedKeyUsage::from_der(e.extn_value.as_bytes()).ok())
            .is_some_and(|eku| eku.0.contains(&KP_OCSP_SIGNING));
        if !has_ocsp_signing {
            return Err(OcspProblem::UnauthorisedSigner);
        }
        let validity = &delegate.tbs_certificate.validity;
        let in_validity = now + self.skew >= validity.not_before.to_system_time()
            && now <= validity.not_after.to_system_time() + self.skew;
        let nocheck = exts.iter().any(|e| e.extn_id == ID_PKIX_OCSP_NOCHECK);
        if !in_validity || !nocheck {
            return Err(OcspProblem::ResponderCertificate);
        }
        delegate_x509
            .public_key()
            .map_err(|_| OcspProblem::UnauthorisedSigner)
    }
}
