#![allow(clippy::unwrap_used, clippy::expect_used)]
//! prepare → assemble → parse, for every supported hash, RSA and ECDSA; and the parser on
//! arbitrary bytes.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use geid_cms::{prepare, prepare_digest, CmsError, HashFunction, SignatureScheme, SignedDocument};
use geid_testkit::pki::{Pki, CITIZEN, EE_P256};
use proptest::prelude::*;

fn md(hash: HashFunction) -> &'static openssl::md::MdRef {
    match hash {
        HashFunction::Sha224 => openssl::md::Md::sha224(),
        HashFunction::Sha384 => openssl::md::Md::sha384(),
        HashFunction::Sha512 => openssl::md::Md::sha512(),
        _ => openssl::md::Md::sha256(),
    }
}

fn rsa_signed(content: &[u8], hash: HashFunction, at: SystemTime) -> (Vec<u8>, Vec<u8>) {
    let c = Pki::shared().citizen(CITIZEN).unwrap();
    let cert = c.sign_cert.as_ref().unwrap().to_der().unwrap();
    let p = prepare(content, hash, &cert, at).unwrap();
    let sig = common::sign_digest(c.sign_key.as_ref().unwrap(), md(hash), &p.digest_to_sign());
    (p.assemble(&sig, SignatureScheme::RsaPkcs1).unwrap(), cert)
}

#[test]
fn round_trip_every_sha2_hash() {
    let at = UNIX_EPOCH + Duration::from_secs(1_780_000_000);
    for hash in [
        HashFunction::Sha224,
        HashFunction::Sha256,
        HashFunction::Sha384,
        HashFunction::Sha512,
    ] {
        let (p7s, cert) = rsa_signed(b"letter", hash, at);
        let doc = SignedDocument::parse(&p7s).unwrap();
        assert_eq!(doc.hash_function(), Some(hash));
        assert_eq!(doc.signature_scheme(), Some(SignatureScheme::RsaPkcs1));
        assert_eq!(doc.signer_certificate(), Some(cert.as_slice()));
        assert_eq!(doc.certificates().len(), 1);
        assert_eq!(
            doc.message_digest(),
            Some(hash.digest(b"letter").as_slice())
        );
        assert_eq!(doc.signing_time(), Some(at));
        assert_eq!(doc.content_type(), Some(&geid_cms::oids::ID_DATA));
        assert_eq!(doc.signing_certificate_v2_matches(), Some(true));
        assert!(doc.is_detached());
        assert_eq!(doc.signature().len(), 256);
    }
}

#[test]
fn prepare_is_deterministic_to_the_second() {
    let c = Pki::shared().citizen(CITIZEN).unwrap();
    let cert = c.sign_cert.as_ref().unwrap().to_der().unwrap();
    let t = UNIX_EPOCH + Duration::from_millis(1_780_000_000_250);
    let a = prepare(b"x", HashFunction::Sha256, &cert, t).unwrap();
    let digest = HashFunction::Sha256.digest(b"x");
    let b = prepare_digest(
        &digest,
        HashFunction::Sha256,
        &cert,
        t + Duration::from_millis(500),
    )
    .unwrap();
    assert_eq!(a.digest_to_sign(), b.digest_to_sign());
    assert_eq!(
        a.signing_time(),
        UNIX_EPOCH + Duration::from_secs(1_780_000_000)
    );
    // Past 2049 the time is a GeneralizedTime (RFC 5652 §11.3) and still round-trips.
    let late = UNIX_EPOCH + Duration::from_secs(2_600_000_000);
    let (p7s, _) = rsa_signed(b"x", HashFunction::Sha256, late);
    assert_eq!(
        SignedDocument::parse(&p7s).unwrap().signing_time(),
        Some(late)
    );
}

#[test]
fn ecdsa_raw_and_der_signatures() {
    let c = Pki::shared().citizen(EE_P256).unwrap();
    let cert = c.auth_cert.to_der().unwrap();
    let p = prepare(b"doc", HashFunction::Sha256, &cert, SystemTime::now()).unwrap();
    let der_sig = common::sign_digest(&c.auth_key, md(HashFunction::Sha256), &p.digest_to_sign());
    let raw = geid_protocol::ecdsa_der_to_raw(&der_sig, 32).unwrap();
    let from_raw = p.assemble(&raw, SignatureScheme::Ecdsa).unwrap();
    let from_der = p.assemble(&der_sig, SignatureScheme::Ecdsa).unwrap();
    assert_eq!(from_raw, from_der);
    let doc = SignedDocument::parse(&from_raw).unwrap();
    assert_eq!(doc.signature(), der_sig.as_slice());
    assert_eq!(doc.signature_scheme(), Some(SignatureScheme::Ecdsa));
}

#[test]
fn refusals_when_preparing_and_assembling() {
    let c = Pki::shared().citizen(CITIZEN).unwrap();
    let cert = c.sign_cert.as_ref().unwrap().to_der().unwrap();
    let now = SystemTime::now();
    assert!(matches!(
        prepare(b"x", HashFunction::Sha3_256, &cert, now),
        Err(CmsError::UnsupportedHash(HashFunction::Sha3_256))
    ));
    assert!(matches!(
        prepare_digest(&[0; 20], HashFunction::Sha256, &cert, now),
        Err(CmsError::DigestLength { actual: 20, .. })
    ));
    assert!(matches!(
        prepare(b"x", HashFunction::Sha256, b"not a certificate", now),
        Err(CmsError::Certificate(_))
    ));
    let p = prepare(b"x", HashFunction::Sha256, &cert, now).unwrap();
    assert!(matches!(
        p.assemble(&[1; 64], SignatureScheme::Ecdsa),
        Err(CmsError::UnsupportedScheme(_))
    ));
    assert!(matches!(
        p.assemble(&[1; 256], SignatureScheme::RsaPss),
        Err(CmsError::UnsupportedScheme(_))
    ));
    assert!(matches!(
        p.assemble(&[], SignatureScheme::RsaPkcs1),
        Err(CmsError::Signature(_))
    ));
}

#[test]
fn parser_refusals() {
    let (p7s, _) = rsa_signed(b"x", HashFunction::Sha256, SystemTime::now());
    for cut in [0, 1, 10, p7s.len() / 2, p7s.len() - 1] {
        assert!(matches!(
            SignedDocument::parse(&p7s[..cut]),
            Err(CmsError::Malformed(_))
        ));
    }
    let mut trailing = p7s.clone();
    trailing.push(0);
    assert!(matches!(
        SignedDocument::parse(&trailing),
        Err(CmsError::Malformed(_))
    ));
    assert!(matches!(
        SignedDocument::parse(&vec![0x30; geid_cms::MAX_CMS_LEN + 1]),
        Err(CmsError::Malformed(_))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = SignedDocument::parse(&bytes);
    }

    #[test]
    fn parser_never_panics_on_mutated_signatures(pos in 0usize..4000, byte in any::<u8>(), cut in 0usize..4000) {
        let (mut p7s, _) = shared_p7s();
        let pos = pos % p7s.len();
        p7s[pos] = byte;
        let cut = cut % (p7s.len() + 1);
        let _ = SignedDocument::parse(&p7s[..cut]);
        let _ = SignedDocument::parse(&p7s);
    }

    #[test]
    fn round_trip(content in proptest::collection::vec(any::<u8>(), 0..2000), secs in 0u64..4_000_000_000) {
        let c = Pki::shared().citizen(CITIZEN).unwrap();
        let cert = c.sign_cert.as_ref().unwrap().to_der().unwrap();
        let at = UNIX_EPOCH + Duration::from_secs(secs);
        let p = prepare(&content, HashFunction::Sha256, &cert, at).unwrap();
        // Any 256-byte value stands in for the signature: the format must carry it unchanged.
        let sig: Vec<u8> = p.digest_to_sign().iter().cycle().take(256).copied().collect();
        let p7s = p.assemble(&sig, SignatureScheme::RsaPkcs1).unwrap();
        let doc = SignedDocument::parse(&p7s).unwrap();
        prop_assert_eq!(doc.signature(), sig.as_slice());
        prop_assert_eq!(doc.signing_time(), Some(at));
        prop_assert_eq!(doc.signed_attributes_der(), p.signed_attributes_der());
        let expected = HashFunction::Sha256.digest(&content);
        prop_assert_eq!(doc.message_digest(), Some(expected.as_slice()));
    }
}

fn shared_p7s() -> (Vec<u8>, Vec<u8>) {
    static P7S: std::sync::OnceLock<(Vec<u8>, Vec<u8>)> = std::sync::OnceLock::new();
    P7S.get_or_init(|| rsa_signed(b"shared", HashFunction::Sha256, SystemTime::now()))
        .clone()
}
