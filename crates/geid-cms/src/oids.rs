//! Object identifiers used in CAdES-BES signatures, and the hash/signature algorithm mapping.

use const_oid::ObjectIdentifier;
use geid_protocol::{HashFunction, SignatureScheme};

pub use const_oid::db::rfc5911::{
    ID_CONTENT_TYPE, ID_DATA, ID_MESSAGE_DIGEST, ID_SIGNED_DATA, ID_SIGNING_TIME,
};
pub use const_oid::db::rfc5912::{
    ECDSA_WITH_SHA_224, ECDSA_WITH_SHA_256, ECDSA_WITH_SHA_384, ECDSA_WITH_SHA_512,
    ID_EC_PUBLIC_KEY, ID_SHA_224, ID_SHA_256, ID_SHA_384, ID_SHA_512, RSA_ENCRYPTION, SECP_256_R_1,
    SECP_384_R_1, SECP_521_R_1, SHA_224_WITH_RSA_ENCRYPTION, SHA_256_WITH_RSA_ENCRYPTION,
    SHA_384_WITH_RSA_ENCRYPTION, SHA_512_WITH_RSA_ENCRYPTION,
};

/// id-aa-signingCertificateV2 (RFC 5035 §3).
pub const ID_AA_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
/// id-aa-signingCertificate (RFC 2634 §5.4, SHA-1 only): recognised, not produced.
pub const ID_AA_SIGNING_CERTIFICATE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.12");

/// The digest algorithm OID of `hash`, or `None` for hash functions geid does not use in CMS.
pub fn digest_oid(hash: HashFunction) -> Option<ObjectIdentifier> {
    Some(match hash {
        HashFunction::Sha224 => ID_SHA_224,
        HashFunction::Sha256 => ID_SHA_256,
        HashFunction::Sha384 => ID_SHA_384,
        HashFunction::Sha512 => ID_SHA_512,
        _ => return None,
    })
}

/// The hash function of a digest algorithm OID.
pub fn hash_of_digest_oid(oid: &ObjectIdentifier) -> Option<HashFunction> {
    Some(match *oid {
        ID_SHA_224 => HashFunction::Sha224,
        ID_SHA_256 => HashFunction::Sha256,
        ID_SHA_384 => HashFunction::Sha384,
        ID_SHA_512 => HashFunction::Sha512,
        _ => return None,
    })
}

/// The signature algorithm OID for `scheme` with `hash` (RFC 4055 §5, RFC 5758 §3.2).
pub fn signature_oid(scheme: SignatureScheme, hash: HashFunction) -> Option<ObjectIdentifier> {
    Some(match (scheme, hash) {
        (SignatureScheme::RsaPkcs1, HashFunction::Sha224) => SHA_224_WITH_RSA_ENCRYPTION,
        (SignatureScheme::RsaPkcs1, HashFunction::Sha256) => SHA_256_WITH_RSA_ENCRYPTION,
        (SignatureScheme::RsaPkcs1, HashFunction::Sha384) => SHA_384_WITH_RSA_ENCRYPTION,
        (SignatureScheme::RsaPkcs1, HashFunction::Sha512) => SHA_512_WITH_RSA_ENCRYPTION,
        (SignatureScheme::Ecdsa, HashFunction::Sha224) => ECDSA_WITH_SHA_224,
        (SignatureScheme::Ecdsa, HashFunction::Sha256) => ECDSA_WITH_SHA_256,
        (SignatureScheme::Ecdsa, HashFunction::Sha384) => ECDSA_WITH_SHA_384,
        (SignatureScheme::Ecdsa, HashFunction::Sha512) => ECDSA_WITH_SHA_512,
        _ => return None,
    })
}

/// The scheme and, when the OID names one, the hash of a signature algorithm OID.
///
/// `rsaEncryption` alone (as some CMS producers write, RFC 5754 §3.2) gives the PKCS#1 v1.5
/// scheme and no hash: the digest algorithm of the `SignerInfo` then decides.
pub fn scheme_of_signature_oid(
    oid: &ObjectIdentifier,
) -> Option<(SignatureScheme, Option<HashFunction>)> {
    let rsa = SignatureScheme::RsaPkcs1;
    let ec = SignatureScheme::Ecdsa;
    Some(match *oid {
        RSA_ENCRYPTION => (rsa, None),
        SHA_224_WITH_RSA_ENCRYPTION => (rsa, Some(HashFunction::Sha224)),
        SHA_256_WITH_RSA_ENCRYPTION => (rsa, Some(HashFunction::Sha256)),
        SHA_384_WITH_RSA_ENCRYPTION => (rsa, Some(HashFunction::Sha384)),
        SHA_512_WITH_RSA_ENCRYPTION => (rsa, Some(HashFunction::Sha512)),
        ECDSA_WITH_SHA_224 => (ec, Some(HashFunction::Sha224)),
        ECDSA_WITH_SHA_256 => (ec, Some(HashFunction::Sha256)),
        ECDSA_WITH_SHA_384 => (ec, Some(HashFunction::Sha384)),
        ECDSA_WITH_SHA_512 => (ec, Some(HashFunction::Sha512)),
        _ => return None,
    })
}
