//! ESS signing-certificate-v2 (RFC 5035 §3): the signed reference to the signer's certificate
//! that stops a signature being re-attributed to another certificate with the same key.

use der::asn1::OctetString;
use der::{Any, Sequence};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::pkix::name::GeneralNames;
use x509_cert::serial_number::SerialNumber;

/// ```text
/// SigningCertificateV2 ::= SEQUENCE {
///     certs        SEQUENCE OF ESSCertIDv2,
///     policies     SEQUENCE OF PolicyInformation OPTIONAL }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SigningCertificateV2 {
    /// The certificates; the first is the signer's (RFC 5035 §3).
    pub certs: Vec<EssCertIdV2>,
    /// Policies, kept as read.
    #[asn1(optional = "true")]
    pub policies: Option<Any>,
}

/// ```text
/// ESSCertIDv2 ::= SEQUENCE {
///     hashAlgorithm   AlgorithmIdentifier DEFAULT {algorithm id-sha256},
///     certHash        Hash,
///     issuerSerial    IssuerSerial OPTIONAL }
/// ```
///
/// DER leaves out a DEFAULT value (X.690 §11.5), so `hash_algorithm` is `None` for SHA-256.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct EssCertIdV2 {
    /// The hash algorithm; `None` means SHA-256.
    #[asn1(optional = "true")]
    pub hash_algorithm: Option<AlgorithmIdentifierOwned>,
    /// The hash of the whole DER certificate.
    pub cert_hash: OctetString,
    /// The certificate's issuer and serial number.
    #[asn1(optional = "true")]
    pub issuer_serial: Option<IssuerSerial>,
}

/// ```text
/// IssuerSerial ::= SEQUENCE {
///     issuer         GeneralNames,
///     serialNumber   CertificateSerialNumber }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct IssuerSerial {
    /// The issuer as a directoryName.
    pub issuer: GeneralNames,
    /// The serial number.
    pub serial_number: SerialNumber,
}
