//! Step 1 ([`prepare`]) and step 2 ([`Prepared::assemble`]) of making a signature.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{GeneralizedTime, OctetString, SetOfVec, UtcTime};
use der::{Any, Decode, Encode};
use geid_protocol::{HashFunction, SignatureScheme};
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::{Attribute, Attributes};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::time::Time;
use x509_cert::Certificate;

use crate::ess::{EssCertIdV2, IssuerSerial, SigningCertificateV2};
use crate::{key_type, oids, CmsError, KeyType};

/// Signed attributes computed for one signer, waiting for the signature.
#[derive(Clone, Debug)]
pub struct Prepared {
    hash: HashFunction,
    certificate: Certificate,
    signed_attributes: Attributes,
    signed_attributes_der: Vec<u8>,
    signing_time: SystemTime,
}

/// Step 1 for `content`: hashes it with `hash` and computes the signed attributes.
///
/// `signing_time` is recorded at second precision, as UTCTime until 2049 and GeneralizedTime
/// from 2050 (RFC 5652 §11.3).
pub fn prepare(
    content: &[u8],
    hash: HashFunction,
    signer_certificate_der: &[u8],
    signing_time: SystemTime,
) -> Result<Prepared, CmsError> {
    if oids::digest_oid(hash).is_none() {
        return Err(CmsError::UnsupportedHash(hash));
    }
    prepare_digest(
        &hash.digest(content),
        hash,
        signer_certificate_der,
        signing_time,
    )
}

/// Step 1 for a content digest computed elsewhere (a large file hashed while it streamed in).
pub fn prepare_digest(
    content_digest: &[u8],
    hash: HashFunction,
    signer_certificate_der: &[u8],
    signing_time: SystemTime,
) -> Result<Prepared, CmsError> {
    if oids::digest_oid(hash).is_none() {
        return Err(CmsError::UnsupportedHash(hash));
    }
    if content_digest.len() != hash.output_len() {
        return Err(CmsError::DigestLength {
            hash,
            expected: hash.output_len(),
            actual: content_digest.len(),
        });
    }
    let certificate = Certificate::from_der(signer_certificate_der)
        .map_err(|e| CmsError::Certificate(e.to_string()))?;
    let signing_time = whole_seconds(signing_time)?;

    let content_type = attribute(oids::ID_CONTENT_TYPE, &oids::ID_DATA)?;
    let message_digest = attribute(oids::ID_MESSAGE_DIGEST, &OctetString::new(content_digest)?)?;
    let signing_time_attr = attribute(oids::ID_SIGNING_TIME, &encode_time(signing_time)?)?;
    let ess = SigningCertificateV2 {
        certs: vec![EssCertIdV2 {
            hash_algorithm: match hash {
                HashFunction::Sha256 => None,
                other => Some(digest_algorithm(other)?),
            },
            cert_hash: OctetString::new(hash.digest(signer_certificate_der))?,
            issuer_serial: Some(IssuerSerial {
                issuer: vec![GeneralName::DirectoryName(
                    certificate.tbs_certificate.issuer.clone(),
                )],
                serial_number: certificate.tbs_certificate.serial_number.clone(),
            }),
        }],
        policies: None,
    };
    let ess = attribute(oids::ID_AA_SIGNING_CERTIFICATE_V2, &ess)?;

    let mut signed_attributes = Attributes::new();
    for a in [content_type, signing_time_attr, message_digest, ess] {
        signed_attributes.insert(a)?;
    }
    let signed_attributes_der = signed_attributes.to_der()?;
    Ok(Prepared {
        hash,
        certificate,
        signed_attributes,
        signed_attributes_der,
        signing_time,
    })
}

fn whole_seconds(t: SystemTime) -> Result<SystemTime, CmsError> {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map_err(|_| CmsError::SigningTime("before 1970".into()))?
        .as_secs();
    Ok(UNIX_EPOCH + Duration::from_secs(secs))
}

fn encode_time(t: SystemTime) -> Result<Time, CmsError> {
    let out_of_range = |e: der::Error| CmsError::SigningTime(e.to_string());
    match UtcTime::from_system_time(t) {
        Ok(utc) => Ok(Time::UtcTime(utc)),
        Err(_) => GeneralizedTime::from_system_time(t)
            .map(Time::GeneralTime)
            .map_err(out_of_range),
    }
}

fn attribute(oid: der::asn1::ObjectIdentifier, value: &impl Encode) -> Result<Attribute, CmsError> {
    let mut values = SetOfVec::new();
    values.insert(Any::from_der(&value.to_der()?)?)?;
    Ok(Attribute { oid, values })
}

fn digest_algorithm(hash: HashFunction) -> Result<AlgorithmIdentifierOwned, CmsError> {
    // RFC 5754 §2: SHA-2 digest AlgorithmIdentifiers are written without parameters.
    Ok(AlgorithmIdentifierOwned {
        oid: oids::digest_oid(hash).ok_or(CmsError::UnsupportedHash(hash))?,
        parameters: None,
    })
}

impl Prepared {
    /// The hash function of the content digest and of [`Prepared::digest_to_sign`].
    pub fn hash_function(&self) -> HashFunction {
        self.hash
    }

    /// The signing time as recorded (whole seconds).
    pub fn signing_time(&self) -> SystemTime {
        self.signing_time
    }

    /// The DER `SET OF Attribute` the signature covers (RFC 5652 §5.4).
    pub fn signed_attributes_der(&self) -> &[u8] {
        &self.signed_attributes_der
    }

    /// The hash of [`Prepared::signed_attributes_der`]: give this to the card (or the
    /// extension's `sign`) with [`Prepared::hash_function`].
    pub fn digest_to_sign(&self) -> Vec<u8> {
        self.hash.digest(&self.signed_attributes_der)
    }

    /// Step 2: the DER `ContentInfo` with `signature` over the signed attributes.
    ///
    /// RSA signatures are PKCS#1 v1.5 over [`Prepared::digest_to_sign`]. ECDSA signatures
    /// may be given raw (`r || s`, as cards and Web eID produce) or DER-encoded; CMS carries
    /// the DER form (RFC 5753 §2.1.1). RSASSA-PSS is not produced.
    pub fn assemble(&self, signature: &[u8], scheme: SignatureScheme) -> Result<Vec<u8>, CmsError> {
        let key = key_type(&self.certificate);
        let (signature, parameters) = match (scheme, key) {
            (SignatureScheme::RsaPkcs1, KeyType::Rsa) => {
                if signature.is_empty() || signature.len() > 1024 {
                    return Err(CmsError::Signature(format!(
                        "an RSA signature of {} bytes",
                        signature.len()
                    )));
                }
                // RFC 4055 §5: parameters MUST be NULL for the PKCS#1 v1.5 OIDs.
                (signature.to_vec(), Some(Any::from(der::asn1::Null)))
            }
            (SignatureScheme::Ecdsa, KeyType::Ec(field_len)) => {
                let der_form = if signature.len() == 2 * field_len {
                    geid_protocol::ecdsa_raw_to_der(signature, field_len)
                        .map_err(|e| CmsError::Signature(e.to_string()))?
                } else {
                    geid_protocol::ecdsa_der_to_raw(signature, field_len)
                        .map_err(|e| CmsError::Signature(e.to_string()))?;
                    signature.to_vec()
                };
                (der_form, None)
            }
            (SignatureScheme::RsaPss, _) => {
                return Err(CmsError::UnsupportedScheme(
                    "RSASSA-PSS is not produced; sign with PKCS#1 v1.5".into(),
                ))
            }
            (scheme, key) => {
                return Err(CmsError::UnsupportedScheme(format!(
                    "{scheme:?} cannot be used with the certificate's {key} key"
                )))
            }
        };
        let signature_algorithm = AlgorithmIdentifierOwned {
            oid: oids::signature_oid(scheme, self.hash)
                .ok_or(CmsError::UnsupportedHash(self.hash))?,
            parameters,
        };
        let digest_alg = digest_algorithm(self.hash)?;
        let tbs = &self.certificate.tbs_certificate;
        let signer = SignerInfo {
            version: CmsVersion::V1,
            sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: tbs.issuer.clone(),
                serial_number: tbs.serial_number.clone(),
            }),
            digest_alg: digest_alg.clone(),
            signed_attrs: Some(self.signed_attributes.clone()),
            signature_algorithm,
            signature: OctetString::new(signature)?,
            unsigned_attrs: None,
        };
        let mut digest_algorithms = SetOfVec::new();
        digest_algorithms.insert(digest_alg)?;
        let mut certificates = SetOfVec::new();
        certificates.insert(CertificateChoices::Certificate(self.certificate.clone()))?;
        let signed_data = SignedData {
            // RFC 5652 §5.1: version 1 for issuerAndSerialNumber, id-data and no attribute
            // or other-format certificates.
            version: CmsVersion::V1,
            digest_algorithms,
            encap_content_info: EncapsulatedContentInfo {
                econtent_type: oids::ID_DATA,
                econtent: None,
            },
            certificates: Some(CertificateSet(certificates)),
            crls: None,
            signer_infos: SignerInfos(SetOfVec::try_from(vec![signer])?),
        };
        Ok(ContentInfo {
            content_type: oids::ID_SIGNED_DATA,
            content: Any::encode_from(&signed_data)?,
        }
        .to_der()?)
    }
}
