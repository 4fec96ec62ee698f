//! Reading a CMS SignedData back: [`SignedDocument::parse`].

use std::time::SystemTime;

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::asn1::{ObjectIdentifier, OctetString};
use der::{AnyRef, Decode, Encode, Reader, SliceReader, Tag, TagNumber, Tagged};
use geid_protocol::{HashFunction, SignatureScheme};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectKeyIdentifier;
use x509_cert::time::Time;
use x509_cert::Certificate;

use crate::ess::SigningCertificateV2;
use crate::{oids, CmsError};

/// The largest CMS accepted by [`SignedDocument::parse`] (a signature with a few
/// certificates is under 10 KiB).
pub const MAX_CMS_LEN: usize = 1024 * 1024;

/// A certificate reference from signing-certificate-v2 (RFC 5035 §3), decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateReference {
    /// The hash algorithm (SHA-256 when the attribute leaves it out).
    pub hash_algorithm: ObjectIdentifier,
    /// The certificate hash.
    pub hash: Vec<u8>,
    /// DER of the issuer name and the serial number bytes, when given.
    pub issuer_serial: Option<(Vec<u8>, Vec<u8>)>,
}

/// A parsed detached or attached CMS SignedData with one signer.
#[derive(Clone, Debug)]
pub struct SignedDocument {
    signed_data: SignedData,
    signer: SignerInfo,
    certificates: Vec<Vec<u8>>,
    signer_certificate: Option<usize>,
    signed_attributes_der: Vec<u8>,
    content_type: Option<ObjectIdentifier>,
    message_digest: Option<Vec<u8>>,
    signing_time: Option<SystemTime>,
    signing_certificate_v2: Option<Vec<CertificateReference>>,
    has_signing_certificate_v1: bool,
}

fn malformed(what: impl Into<String>) -> CmsError {
    CmsError::Malformed(what.into())
}

/// The TLVs inside `content`.
fn children(content: &[u8]) -> Result<Vec<AnyRef<'_>>, der::Error> {
    let mut reader = SliceReader::new(content)?;
    let mut out = Vec::new();
    while !reader.is_finished() {
        out.push(AnyRef::decode(&mut reader)?);
    }
    Ok(out)
}

/// The signed attributes exactly as the signer encoded them, re-tagged as `SET OF`
/// (RFC 5652 §5.4: the signature covers the explicit SET OF tag, not the [0] IMPLICIT one).
///
/// Decoding through `der` sorts SET OF elements, so re-encoding the decoded attributes would
/// differ from what was signed whenever a producer wrote them unsorted; the raw bytes are
/// therefore taken from the input.
fn raw_signed_attributes(der: &[u8]) -> Result<Option<Vec<u8>>, der::Error> {
    let content_info = AnyRef::from_der(der)?;
    let parts = children(content_info.value())?;
    let explicit = parts.get(1).ok_or(der::ErrorKind::Incomplete {
        expected_len: der::Length::ONE,
        actual_len: der::Length::ZERO,
    })?;
    let signed_data = AnyRef::from_der(explicit.value())?;
    let fields = children(signed_data.value())?;
    let signer_infos = fields.last().ok_or(der::Tag::Set.value_error())?;
    let infos = children(signer_infos.value())?;
    let info = infos.first().ok_or(der::Tag::Set.value_error())?;
    let fields = children(info.value())?;
    let attrs = fields.get(3).filter(|f| {
        f.tag()
            == Tag::ContextSpecific {
                constructed: true,
                number: TagNumber::N0,
            }
    });
    attrs
        .map(|a| AnyRef::new(Tag::Set, a.value()).and_then(|s| s.to_der()))
        .transpose()
}

fn single_value<'a>(
    attr: &'a x509_cert::attr::Attribute,
    name: &str,
) -> Result<&'a der::Any, CmsError> {
    // RFC 5652 §11: content-type, message-digest and signing-time have exactly one value.
    match attr.values.as_slice() {
        [v] => Ok(v),
        vals => Err(malformed(format!(
            "the {name} attribute has {} values; exactly one is allowed",
            vals.len()
        ))),
    }
}

impl SignedDocument {
    /// Parses a DER `ContentInfo` holding a `SignedData` with exactly one `SignerInfo` that has
    /// signed attributes. Signed attributes geid knows (content-type, message-digest,
    /// signing-time, signing-certificate-v2) are decoded; each must appear at most once with
    /// one value (RFC 5652 §5.3, §11). Never panics on any input.
    pub fn parse(der: &[u8]) -> Result<SignedDocument, CmsError> {
        if der.len() > MAX_CMS_LEN {
            return Err(malformed(format!(
                "{} bytes; at most {MAX_CMS_LEN} are accepted",
                der.len()
            )));
        }
        let content_info = ContentInfo::from_der(der)
            .map_err(|e| malformed(format!("not a DER ContentInfo: {e}")))?;
        if content_info.content_type != oids::ID_SIGNED_DATA {
            return Err(malformed(format!(
                "content type {} is not signedData",
                content_info.content_type
            )));
        }
        let signed_data: SignedData = content_info
            .content
            .decode_as()
            .map_err(|e| malformed(format!("not a DER SignedData: {e}")))?;
        let signer = match signed_data.signer_infos.0.as_slice() {
            [one] => one.clone(),
            [] => return Err(malformed("SignedData has no SignerInfo")),
            many => {
                return Err(malformed(format!(
                    "SignedData has {} SignerInfos; geid reads signatures with one signer",
                    many.len()
                )))
            }
        };
        let Some(attrs) = signer.signed_attrs.as_ref() else {
            return Err(malformed(
                "the SignerInfo has no signed attributes (CAdES requires them)",
            ));
        };
        let signed_attributes_der = raw_signed_attributes(der)
            .map_err(|e| malformed(format!("signed attributes: {e}")))?
            .ok_or_else(|| malformed("signed attributes not found"))?;

        let mut certificates = Vec::new();
        let mut signer_certificate = None;
        for choice in signed_data.certificates.iter().flat_map(|c| c.0.iter()) {
            if let CertificateChoices::Certificate(cert) = choice {
                if signer_certificate.is_none() && identifies(&signer.sid, cert) {
                    signer_certificate = Some(certificates.len());
                }
                certificates.push(cert.to_der()?);
            }
        }

        let mut seen = Vec::new();
        let mut doc = SignedDocument {
            signed_data: signed_data.clone(),
            signer: signer.clone(),
            certificates,
            signer_certificate,
            signed_attributes_der,
            content_type: None,
            message_digest: None,
            signing_time: None,
            signing_certificate_v2: None,
            has_signing_certificate_v1: false,
        };
        for attr in attrs.iter() {
            if seen.contains(&attr.oid) {
                return Err(malformed(format!(
                    "signed attribute {} appears twice (RFC 5652 §5.3)",
                    attr.oid
                )));
            }
            seen.push(attr.oid);
            match attr.oid {
                oids::ID_CONTENT_TYPE => {
                    let v = single_value(attr, "content-type")?;
                    doc.content_type = Some(
                        v.decode_as()
                            .map_err(|e| malformed(format!("content-type attribute: {e}")))?,
                    );
                }
                oids::ID_MESSAGE_DIGEST => {
                    let v: OctetString = single_value(attr, "message-digest")?
                        .decode_as()
                        .map_err(|e| malformed(format!("message-digest attribute: {e}")))?;
                    doc.message_digest = Some(v.as_bytes().to_vec());
                }
                oids::ID_SIGNING_TIME => {
                    let t = Time::from_der(&single_value(attr, "signing-time")?.to_der()?)
                        .map_err(|e| malformed(format!("signing-time attribute: {e}")))?;
                    doc.signing_time = Some(t.to_system_time());
                }
                oids::ID_AA_SIGNING_CERTIFICATE_V2 => {
                    let v: SigningCertificateV2 = single_value(attr, "signing-certificate-v2")?
                        .decode_as()
                        .map_err(|e| malformed(format!("signing-certificate-v2 attribute: {e}")))?;
                    let mut refs = Vec::new();
                    for id in v.certs {
                        let issuer_serial = match id.issuer_serial {
                            None => None,
                            Some(is) => {
                                let name = match is.issuer.as_slice() {
                                    [GeneralName::DirectoryName(n)] => n.to_der()?,
                                    _ => {
                                        return Err(malformed(
                                            "signing-certificate-v2 issuerSerial names the \
                                             issuer other than by one directoryName",
                                        ))
                                    }
                                };
                                Some((name, is.serial_number.as_bytes().to_vec()))
                            }
                        };
                        refs.push(CertificateReference {
                            hash_algorithm: id
                                .hash_algorithm
                                .map(|a| a.oid)
                                .unwrap_or(oids::ID_SHA_256),
                            hash: id.cert_hash.as_bytes().to_vec(),
                            issuer_serial,
                        });
                    }
                    if refs.is_empty() {
                        return Err(malformed("signing-certificate-v2 names no certificate"));
                    }
                    doc.signing_certificate_v2 = Some(refs);
                }
                oids::ID_AA_SIGNING_CERTIFICATE => doc.has_signing_certificate_v1 = true,
                _ => {}
            }
        }
        Ok(doc)
    }

    /// The `eContentType` (id-data for documents).
    pub fn encapsulated_content_type(&self) -> ObjectIdentifier {
        self.signed_data.encap_content_info.econtent_type
    }

    /// Whether the content is outside the CMS (no `eContent`), as geid makes signatures.
    pub fn is_detached(&self) -> bool {
        self.signed_data.encap_content_info.econtent.is_none()
    }

    /// The encapsulated content, for an attached signature.
    pub fn encapsulated_content(&self) -> Option<Vec<u8>> {
        let any = self.signed_data.encap_content_info.econtent.as_ref()?;
        any.decode_as::<OctetString>()
            .ok()
            .map(|o| o.as_bytes().to_vec())
    }

    /// The SignerInfo's digest algorithm.
    pub fn digest_algorithm(&self) -> &AlgorithmIdentifierOwned {
        &self.signer.digest_alg
    }

    /// The digest algorithm as a hash function, when it is one of SHA-224/256/384/512.
    pub fn hash_function(&self) -> Option<HashFunction> {
        oids::hash_of_digest_oid(&self.signer.digest_alg.oid)
    }

    /// The SignerInfo's signature algorithm.
    pub fn signature_algorithm(&self) -> &AlgorithmIdentifierOwned {
        &self.signer.signature_algorithm
    }

    /// The signature scheme, when the signature algorithm is a known one whose hash (if it
    /// names one) is the digest algorithm.
    pub fn signature_scheme(&self) -> Option<SignatureScheme> {
        let hash = self.hash_function()?;
        match oids::scheme_of_signature_oid(&self.signer.signature_algorithm.oid)? {
            (scheme, None) => Some(scheme),
            (scheme, Some(h)) if h == hash => Some(scheme),
            _ => None,
        }
    }

    /// The signature value (PKCS#1 v1.5 for RSA, DER `Ecdsa-Sig-Value` for ECDSA).
    pub fn signature(&self) -> &[u8] {
        self.signer.signature.as_bytes()
    }

    /// The bytes the signature covers: the DER `SET OF` signed attributes as encoded.
    pub fn signed_attributes_der(&self) -> &[u8] {
        &self.signed_attributes_der
    }

    /// Every certificate in the `certificates` field, DER.
    pub fn certificates(&self) -> &[Vec<u8>] {
        &self.certificates
    }

    /// The certificate the `SignerInfo`'s sid names, DER, when the CMS includes it.
    pub fn signer_certificate(&self) -> Option<&[u8]> {
        self.signer_certificate
            .and_then(|i| self.certificates.get(i))
            .map(Vec::as_slice)
    }

    /// The content-type signed attribute.
    pub fn content_type(&self) -> Option<&ObjectIdentifier> {
        self.content_type.as_ref()
    }

    /// The message-digest signed attribute.
    pub fn message_digest(&self) -> Option<&[u8]> {
        self.message_digest.as_deref()
    }

    /// The signing-time signed attribute (as claimed by the signer: CAdES-BES has no proof of
    /// time).
    pub fn signing_time(&self) -> Option<SystemTime> {
        self.signing_time
    }

    /// The certificates named by signing-certificate-v2, the signer's first.
    pub fn signing_certificate_v2(&self) -> Option<&[CertificateReference]> {
        self.signing_certificate_v2.as_deref()
    }

    /// Whether the SHA-1 signing-certificate (v1) attribute is present.
    pub fn has_signing_certificate_v1(&self) -> bool {
        self.has_signing_certificate_v1
    }

    /// Whether signing-certificate-v2's first reference names the signer certificate: its hash
    /// matches and, when given, its issuer and serial too. `None` when the attribute or the
    /// signer certificate is missing, or the hash algorithm is not SHA-2.
    pub fn signing_certificate_v2_matches(&self) -> Option<bool> {
        let first = self.signing_certificate_v2.as_ref()?.first()?;
        let cert_der = self.signer_certificate()?;
        let hash = oids::hash_of_digest_oid(&first.hash_algorithm)?;
        if hash.digest(cert_der) != first.hash {
            return Some(false);
        }
        if let Some((issuer, serial)) = &first.issuer_serial {
            let cert = Certificate::from_der(cert_der).ok()?;
            let tbs = &cert.tbs_certificate;
            if tbs.issuer.to_der().ok()? != *issuer || tbs.serial_number.as_bytes() != serial {
                return Some(false);
            }
        }
        Some(true)
    }
}

/// Whether `sid` names `cert` (RFC 5652 §5.3).
fn identifies(sid: &SignerIdentifier, cert: &Certificate) -> bool {
    let tbs = &cert.tbs_certificate;
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(ias) => {
            ias.issuer == tbs.issuer && ias.serial_number == tbs.serial_number
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => tbs
            .extensions
            .iter()
            .flatten()
            .find(|e| e.extn_id == const_oid::db::rfc5280::ID_CE_SUBJECT_KEY_IDENTIFIER)
            .and_then(|e| SubjectKeyIdentifier::from_der(e.extn_value.as_bytes()).ok())
            .is_some_and(|own| own == *ski),
    }
}
