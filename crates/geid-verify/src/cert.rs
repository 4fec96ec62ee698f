//! Certificate checks: decoding, key strength, validity, key usage, EKU, policies and the chain.
//!
//! The leaf is decoded twice, by `x509-cert` (strict DER, extensions read field by field) and
//! by openssl (the chain builder). Chain building follows RFC 5280 §6.1 through openssl's
//! `X509_verify_cert` with the verification time set, `X509_V_FLAG_X509_STRICT`, and the
//! SSL-client purpose, which also enforces CA basicConstraints and keyCertSign.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use const_oid::db::rfc5280 as oids;
use const_oid::ObjectIdentifier;
use der::Decode;
use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Public};
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::verify::{X509VerifyFlags, X509VerifyParam};
use openssl::x509::{X509PurposeId, X509StoreContext, X509};
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AuthorityInfoAccessSyntax, BasicConstraints, CertificatePolicies, CrlDistributionPoints,
    ExtendedKeyUsage, KeyUsage,
};
use x509_cert::Certificate;

use crate::{Identity, VerifyError};
use geid_protocol::{SignatureAlgorithm, SignatureScheme};

/// id-kp-clientAuth.
const KP_CLIENT_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");
/// id-pe-qcStatements (RFC 3739).
const PE_QC_STATEMENTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.3");
/// id-ad-ocsp.
const AD_OCSP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");

/// Extensions the verifier understands and may therefore accept as critical.
const KNOWN_EXTENSIONS: &[ObjectIdentifier] = &[
    oids::ID_CE_KEY_USAGE,
    oids::ID_CE_EXT_KEY_USAGE,
    oids::ID_CE_BASIC_CONSTRAINTS,
    oids::ID_CE_CERTIFICATE_POLICIES,
    oids::ID_CE_SUBJECT_ALT_NAME,
    oids::ID_CE_SUBJECT_KEY_IDENTIFIER,
    oids::ID_CE_AUTHORITY_KEY_IDENTIFIER,
    oids::ID_CE_CRL_DISTRIBUTION_POINTS,
    oids::ID_PE_AUTHORITY_INFO_ACCESS,
    oids::ID_CE_SUBJECT_DIRECTORY_ATTRIBUTES,
    PE_QC_STATEMENTS,
];

/// The kind and size of a public key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Rsa(u32),
    Ec(Nid),
}

impl std::fmt::Display for KeyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyKind::Rsa(bits) => write!(f, "RSA-{bits}"),
            KeyKind::Ec(nid) => write!(f, "EC {}", curve_name(*nid)),
        }
    }
}

fn curve_name(nid: Nid) -> &'static str {
    match nid {
        Nid::X9_62_PRIME256V1 => "P-256",
        Nid::SECP384R1 => "P-384",
        Nid::SECP521R1 => "P-521",
        other => other.short_name().unwrap_or("unknown curve"),
    }
}

/// A leaf certificate that passed every certificate and chain check.
pub(crate) struct CheckedCert {
    pub cert: X509,
    pub issuer: X509,
    pub key: PKey<Public>,
    pub key_kind: KeyKind,
    pub identity: Identity,
    /// The verification time must lie in this window for the cached result to stand: the
    /// intersection of the validity periods of every certificate in the chain.
    pub valid_from: SystemTime,
    pub valid_until: SystemTime,
    pub ocsp_urls: Vec<String>,
    pub crl_urls: Vec<String>,
    /// The OCSP CertID (RFC 6960 §4.1.1), computed once.
    pub cert_id: x509_ocsp::CertId,
}

pub(crate) fn is_ca(cert: &X509) -> bool {
    let Ok(der) = cert.to_der() else {
        return false;
    };
    let Ok(parsed) = Certificate::from_der(&der) else {
        return false;
    };
    extensions(&parsed)
        .iter()
        .find(|e| e.extn_id == oids::ID_CE_BASIC_CONSTRAINTS)
        .and_then(|e| BasicConstraints::from_der(e.extn_value.as_bytes()).ok())
        .is_some_and(|bc| bc.ca)
}

fn extensions(cert: &Certificate) -> &[x509_cert::ext::Extension] {
    cert.tbs_certificate.extensions.as_deref().unwrap_or(&[])
}

pub(crate) fn rfc3339(t: SystemTime) -> String {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("@{secs}"))
}

pub(crate) fn asn1_to_system(t: &Asn1TimeRef) -> Option<SystemTime> {
    let epoch = Asn1Time::from_unix(0).ok()?;
    let diff = epoch.diff(t).ok()?;
    let secs = i64::from(diff.days) * 86_400 + i64::from(diff.secs);
    if secs >= 0 {
        Some(UNIX_EPOCH + Duration::from_secs(secs as u64))
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))
    }
}

pub(crate) fn key_kind(key: &PKey<Public>) -> Result<KeyKind, VerifyError> {
    match key.id() {
        Id::RSA => {
            let bits = key.bits();
            if bits < 2048 {
                return Err(VerifyError::WeakKey(format!(
                    "RSA-{bits}; at least 2048 bits are required"
                )));
            }
            if bits > 8192 {
                return Err(VerifyError::WeakKey(format!(
                    "RSA-{bits}; keys over 8192 bits are not accepted"
                )));
            }
            Ok(KeyKind::Rsa(bits))
        }
        Id::EC => {
            let nid = key
                .ec_key()
                .ok()
                .and_then(|k| k.group().curve_name())
                .ok_or_else(|| {
                    VerifyError::WeakKey("EC key with explicit or unnamed curve parameters".into())
                })?;
            match nid {
                Nid::X9_62_PRIME256V1 | Nid::SECP384R1 | Nid::SECP521R1 => Ok(KeyKind::Ec(nid)),
                other => Err(VerifyError::WeakKey(format!(
                    "EC curve {}; only P-256, P-384 and P-521 are accepted",
                    curve_name(other)
                ))),
            }
        }
        other => Err(VerifyError::WeakKey(format!(
            "key type {other:?}; only RSA and EC keys are accepted"
        ))),
    }
}

/// Whether `alg` can be used with a key of `kind`.
pub(crate) fn check_algorithm_fits(
    alg: SignatureAlgorithm,
    kind: KeyKind,
) -> Result<(), VerifyError> {
    let fits = match (alg.scheme(), kind) {
        (SignatureScheme::RsaPkcs1 | SignatureScheme::RsaPss, KeyKind::Rsa(_)) => true,
        (SignatureScheme::Ecdsa, KeyKind::Ec(nid)) => matches!(
            (alg, nid),
            (SignatureAlgorithm::Es256, Nid::X9_62_PRIME256V1)
                | (SignatureAlgorithm::Es384, Nid::SECP384R1)
                | (SignatureAlgorithm::Es512, Nid::SECP521R1)
        ),
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        Err(VerifyError::AlgorithmKeyMismatch {
            algorithm: alg.as_str().to_owned(),
            key: kind.to_string(),
        })
    }
}

/// What the certificate is being checked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Usage {
    /// Login: keyUsage digitalSignature, EKU clientAuth when present, SSL-client chain purpose.
    Login,
    /// Document signature: keyUsage nonRepudiation (contentCommitment, RFC 5280 §4.2.1.3),
    /// no EKU requirement, chain purpose "any" (the CA checks of RFC 5280 §6.1 still apply).
    Signature,
}

/// The fixed per-verifier parameters of certificate checking.
pub(crate) struct CertPolicy<'a> {
    pub usage: Usage,
    pub anchors: &'a [X509],
    pub intermediates: &'a [X509],
    pub required_policies: &'a [String],
    pub disallowed_policies: &'a [String],
}

/// Runs every certificate check in the documented order and returns the checked certificate.
pub(crate) fn check_certificate(
    der: &[u8],
    algorithm: SignatureAlgorithm,
    now: SystemTime,
    policy: &CertPolicy<'_>,
) -> Result<CheckedCert, VerifyError> {
    // 1. Decoding.
    let malformed = |m: String| VerifyError::CertificateMalformed(m);
    let parsed = Certificate::from_der(der)
        .map_err(|e| malformed(format!("not a DER X.509 certificate: {e}")))?;
    let cert =
        X509::from_der(der).map_err(|e| malformed(format!("openssl cannot read it: {e}")))?;
    if parsed.tbs_certificate.version != x509_cert::Version::V3 {
        return Err(malformed("not an X.509 version 3 certificate".into()));
    }
    let exts = extensions(&parsed);
    let mut seen = HashSet::new();
    for ext in exts {
        if !seen.insert(ext.extn_id) {
            return Err(malformed(format!(
                "extension {} appears twice (RFC 5280 §4.2)",
                ext.extn_id
            )));
        }
        if ext.critical && !KNOWN_EXTENSIONS.contains(&ext.extn_id) {
            return Err(VerifyError::UnknownCriticalExtension(
                ext.extn_id.to_string(),
            ));
        }
    }
    let key = cert
        .public_key()
        .map_err(|e| malformed(format!("public key: {e}")))?;
    let kind = key_kind(&key)?;
    check_algorithm_fits(algorithm, kind)?;

    // 2. Validity at the verification time.
    let validity = &parsed.tbs_certificate.validity;
    let not_before = validity.not_before.to_system_time();
    let not_after = validity.not_after.to_system_time();
    if now > not_after {
        return Err(VerifyError::CertificateExpired {
            not_after: rfc3339(not_after),
            at: rfc3339(now),
        });
    }
    if now < not_before {
        return Err(VerifyError::CertificateNotYetValid {
            not_before: rfc3339(not_before),
            at: rfc3339(now),
        });
    }

    let find = |oid| exts.iter().find(|e| e.extn_id == oid);

    // 3. keyUsage digitalSignature (login) or nonRepudiation (document signature).
    let ku = find(oids::ID_CE_KEY_USAGE);
    if policy.usage == Usage::Signature {
        let ku = ku.ok_or_else(|| {
            VerifyError::NotASigningCertificate("it has no keyUsage extension".into())
        })?;
        let ku = KeyUsage::from_der(ku.extn_value.as_bytes())
            .map_err(|e| malformed(format!("keyUsage: {e}")))?;
        if !ku.non_repudiation() {
            return Err(VerifyError::NotASigningCertificate(
                if ku.digital_signature() {
                    "its keyUsage lacks nonRepudiation; digitalSignature alone marks an \
                 authentication key"
                        .into()
                } else {
                    "its keyUsage lacks nonRepudiation".into()
                },
            ));
        }
    } else {
        let ku = ku.ok_or_else(|| VerifyError::KeyUsage("is missing".into()))?;
        let ku = KeyUsage::from_der(ku.extn_value.as_bytes())
            .map_err(|e| malformed(format!("keyUsage: {e}")))?;
        if !ku.digital_signature() {
            return Err(VerifyError::KeyUsage("lacks digitalSignature".into()));
        }
    }

    // 4. EKU, when present, contains clientAuth (login only).
    let eku = find(oids::ID_CE_EXT_KEY_USAGE).filter(|_| policy.usage == Usage::Login);
    if let Some(eku) = eku {
        let eku = ExtendedKeyUsage::from_der(eku.extn_value.as_bytes())
            .map_err(|e| malformed(format!("extendedKeyUsage: {e}")))?;
        if !eku.0.contains(&KP_CLIENT_AUTH) {
            return Err(VerifyError::ExtendedKeyUsage);
        }
    }

    // 5. Certificate policies.
    let policies: Vec<String> = match find(oids::ID_CE_CERTIFICATE_POLICIES) {
        None => Vec::new(),
        Some(ext) => CertificatePolicies::from_der(ext.extn_value.as_bytes())
            .map_err(|e| malformed(format!("certificatePolicies: {e}")))?
            .0
            .iter()
            .map(|p| p.policy_identifier.to_string())
            .collect(),
    };
    if let Some(bad) = policies
        .iter()
        .find(|p| policy.disallowed_policies.contains(p))
    {
        return Err(VerifyError::CertificatePolicy(format!(
            "policy {bad} is not allowed for login on this portal"
        )));
    }
    if !policy.required_policies.is_empty()
        && !policies
            .iter()
            .any(|p| policy.required_policies.contains(p))
    {
        return Err(VerifyError::CertificatePolicy(if policies.is_empty() {
            format!(
                "the certificate has no certificatePolicies; one of {:?} is required",
                policy.required_policies
            )
        } else {
            format!(
                "the certificate's policies {policies:?} include none of the required {:?}",
                policy.required_policies
            )
        }));
    }

    // 6. Chain to a configured anchor.
    let (issuer, valid_from, valid_until) = verify_chain(&cert, now, policy)?;

    let ocsp_urls = find(oids::ID_PE_AUTHORITY_INFO_ACCESS)
        .and_then(|e| AuthorityInfoAccessSyntax::from_der(e.extn_value.as_bytes()).ok())
        .map(|aia| {
            aia.0
                .iter()
                .filter(|ad| ad.access_method == AD_OCSP)
                .filter_map(|ad| match &ad.access_location {
                    GeneralName::UniformResourceIdentifier(u) => Some(u.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let crl_urls = find(oids::ID_CE_CRL_DISTRIBUTION_POINTS)
        .and_then(|e| CrlDistributionPoints::from_der(e.extn_value.as_bytes()).ok())
        .map(|cdp| {
            cdp.0
                .iter()
                .filter_map(|dp| match &dp.distribution_point {
                    Some(DistributionPointName::FullName(names)) => Some(names),
                    _ => None,
                })
                .flatten()
                .filter_map(|n| match n {
                    GeneralName::UniformResourceIdentifier(u) => Some(u.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();

    let identity = Identity::from_certificate(&cert, algorithm, rfc3339(not_after))?;
    let cert_id = crate::ocsp::cert_id(&cert, &issuer).map_err(malformed)?;
    Ok(CheckedCert {
        cert_id,
        cert,
        issuer,
        key,
        key_kind: kind,
        identity,
        valid_from: valid_from.max(not_before),
        valid_until: valid_until.min(not_after),
        ocsp_urls,
        crl_urls,
    })
}

/// openssl's `X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION`.
const ERR_UNHANDLED_CRITICAL_EXTENSION: i32 = 34;

fn verify_chain(
    cert: &X509,
    now: SystemTime,
    policy: &CertPolicy<'_>,
) -> Result<(X509, SystemTime, SystemTime), VerifyError> {
    let untrusted = |e: String| VerifyError::CertificateNotTrusted(e);
    let secs = now
        .duration_since(UNIX_EPOCH)
        .map_err(|e| VerifyError::Clock(e.to_string()))?
        .as_secs();
    let secs = i64::try_from(secs).map_err(|e| VerifyError::Clock(e.to_string()))?;
    let internal = |e: openssl::error::ErrorStack| untrusted(format!("chain building failed: {e}"));

    let mut param = X509VerifyParam::new().map_err(internal)?;
    param.set_time(secs as _);
    param
        .set_flags(X509VerifyFlags::X509_STRICT)
        .map_err(internal)?;
    param
        .set_purpose(match policy.usage {
            Usage::Login => X509PurposeId::SSL_CLIENT,
            Usage::Signature => X509PurposeId::ANY,
        })
        .map_err(internal)?;
    let mut store = X509StoreBuilder::new().map_err(internal)?;
    for anchor in policy.anchors {
        store.add_cert(anchor.clone()).map_err(internal)?;
    }
    store.set_param(&param).map_err(internal)?;
    let store = store.build();
    let mut chain = Stack::new().map_err(internal)?;
    for c in policy.intermediates {
        chain.push(c.clone()).map_err(internal)?;
    }
    let mut ctx = X509StoreContext::new().map_err(internal)?;
    let outcome = ctx
        .init(&store, cert, &chain, |c| {
            let ok = c.verify_cert()?;
            if ok {
                let certs: Vec<X509> = c
                    .chain()
                    .map(|s| s.iter().map(|x| x.to_owned()).collect())
                    .unwrap_or_default();
                Ok(Ok(certs))
            } else {
                let depth = c.error_depth();
                let subject = c
                    .current_cert()
                    .map(|x| crate::identity::name_line(x.subject_name()))
                    .unwrap_or_default();
                Ok(Err((c.error(), depth, subject)))
            }
        })
        .map_err(internal)?;
    match outcome {
        Ok(certs) => {
            let issuer = certs
                .get(1)
                .cloned()
                .ok_or_else(|| untrusted("the certificate is itself a trust anchor".into()))?;
            let mut from = UNIX_EPOCH;
            let mut until = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::MAX / 4);
            for c in &certs {
                if let Some(t) = asn1_to_system(c.not_before()) {
                    from = from.max(t);
                }
                if let Some(t) = asn1_to_system(c.not_after()) {
                    until = until.min(t);
                }
            }
            Ok((issuer, from, until))
        }
        Err((error, depth, subject)) => {
            if error.as_raw() == ERR_UNHANDLED_CRITICAL_EXTENSION {
                return Err(VerifyError::UnknownCriticalExtension(format!(
                    "(in the chain at depth {depth}, {subject})"
                )));
            }
            Err(untrusted(format!(
                "{} (at depth {depth}: {subject}); configure the issuing CA as an intermediate and its root as a trust anchor",
                error.error_string()
            )))
        }
    }
}
