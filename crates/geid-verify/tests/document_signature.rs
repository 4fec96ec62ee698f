#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Detached CAdES-BES document signatures: `SignatureVerifier::verify_signature`, one case per
//! check, each asserting the exact error code; openssl-made signatures; the virtual card.

mod common;

use std::net::TcpListener;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use common::{now, pki, run, Leaf};
use geid_cms::{prepare, HashFunction, SignatureScheme};
use geid_testkit::pki::{Pki, PkiOptions, CITIZEN, CITIZEN_2};
use geid_testkit::{OcspServer, ResponderOptions};
use geid_verify::{OcspConfig, SignatureVerifier, SignerIdentity, Verifier, VerifierBuilder};
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::KeyUsage;
use openssl::x509::X509;

const LETTER: &[u8] = "განცხადება — request for public information\n".as_bytes();

fn builder_for(pki: &Pki) -> VerifierBuilder {
    Verifier::builder()
        .trust_anchor(pki.root().cert.clone())
        .intermediate(pki.sign_ca().cert.clone())
        .ocsp(OcspConfig::off())
}

fn verifier() -> SignatureVerifier {
    builder_for(pki()).build_signature_verifier().unwrap()
}

fn sign_digest(key: &PKey<Private>, digest: &[u8]) -> Vec<u8> {
    let mut ctx = openssl::pkey_ctx::PkeyCtx::new(key).unwrap();
    ctx.sign_init().unwrap();
    ctx.set_rsa_padding(openssl::rsa::Padding::PKCS1).unwrap();
    ctx.set_signature_md(openssl::md::Md::sha256()).unwrap();
    let mut out = Vec::new();
    ctx.sign_to_vec(digest, &mut out).unwrap();
    out
}

/// A signature over `content` naming `cert`, made with `key`, at `at`.
fn signed(content: &[u8], cert: &X509, key: &PKey<Private>, at: SystemTime) -> Vec<u8> {
    let p = prepare(content, HashFunction::Sha256, &cert.to_der().unwrap(), at).unwrap();
    p.assemble(
        &sign_digest(key, &p.digest_to_sign()),
        SignatureScheme::RsaPkcs1,
    )
    .unwrap()
}

fn citizen_signed(content: &[u8]) -> Vec<u8> {
    let c = pki().citizen(CITIZEN).unwrap();
    signed(
        content,
        c.sign_cert.as_ref().unwrap(),
        c.sign_key.as_ref().unwrap(),
        SystemTime::now(),
    )
}

fn refused(v: &SignatureVerifier, content: &[u8], cms: &[u8]) -> String {
    match run(v.verify_signature(content, cms)) {
        Ok(id) => panic!("expected a refusal, got {id:?}"),
        Err(e) => {
            assert!(!e.to_string().is_empty());
            e.code().to_owned()
        }
    }
}

fn accepted(v: &SignatureVerifier, content: &[u8], cms: &[u8]) -> SignerIdentity {
    run(v.verify_signature(content, cms)).unwrap()
}

#[test]
fn a_geid_signature_verifies_with_the_signer_identity() {
    let at = SystemTime::now() - Duration::from_secs(60);
    let c = pki().citizen(CITIZEN).unwrap();
    let cms = signed(
        LETTER,
        c.sign_cert.as_ref().unwrap(),
        c.sign_key.as_ref().unwrap(),
        at,
    );
    let id = accepted(&verifier(), LETTER, &cms);
    assert_eq!(id.signer.personal_number, "01001000001");
    assert_eq!(id.signer.given_name.as_deref(), Some("გიორგი"));
    assert_eq!(id.signer.surname.as_deref(), Some("ბერიძე"));
    assert_eq!(id.hash_function, HashFunction::Sha256);
    assert_eq!(id.signer.algorithm.as_str(), "RS256");
    let secs = at.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    assert_eq!(
        id.signed_at,
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    );
    assert_eq!(
        id.certificate,
        c.sign_cert.as_ref().unwrap().to_der().unwrap()
    );
    let json = serde_json::to_value(&id).unwrap();
    assert_eq!(json["personalNumber"], "01001000001");
    assert!(json["signingTime"].as_str().unwrap().ends_with('Z'));
    assert_eq!(json["hashFunction"], "SHA-256");
}

#[test]
fn a_virtual_card_signature_verifies() {
    use geid_card::atr::ATR_GEID_V1;
    use geid_card::{Card, CardProfile, Generation, KeySlot, PinEntry};
    use geid_testkit::virtual_card::{CardKeys, PinValues, VirtualCard, VirtualTransport};
    let c = pki().citizen(CITIZEN).unwrap();
    let keys = CardKeys {
        auth_cert: c.auth_cert.clone(),
        auth_key: c.auth_key.clone(),
        sign_cert: c.sign_cert.clone().unwrap(),
        sign_key: c.sign_key.clone().unwrap(),
    };
    let card = VirtualCard::new(
        ATR_GEID_V1,
        CardProfile::for_generation(Generation::GeorgiaEidV1),
        keys,
        PinValues::default(),
    )
    .unwrap();
    let mut card = Card::open(VirtualTransport::new(card)).unwrap();
    let cert = card.certificate(KeySlot::Signing).unwrap();
    let p = prepare(LETTER, HashFunction::Sha256, &cert, SystemTime::now()).unwrap();
    let pin = PinEntry::Pin(geid_protocol::Pin::new("123456").unwrap());
    let sig = card
        .sign(
            KeySlot::Signing,
            HashFunction::Sha256,
            &p.digest_to_sign(),
            pin,
        )
        .unwrap();
    let cms = p.assemble(&sig, SignatureScheme::RsaPkcs1).unwrap();
    assert_eq!(
        accepted(&verifier(), LETTER, &cms).signer.personal_number,
        "01001000001"
    );
}

#[test]
fn a_changed_document_is_refused() {
    let cms = citizen_signed(LETTER);
    assert_eq!(
        refused(&verifier(), b"another letter", &cms),
        "DOCUMENT_CHANGED"
    );
    let mut changed = LETTER.to_vec();
    changed.push(b' ');
    assert_eq!(refused(&verifier(), &changed, &cms), "DOCUMENT_CHANGED");
}

#[test]
fn a_signature_by_another_key_is_refused() {
    // The citizen's certificate, but citizen-2's signing key made the signature.
    let c = pki().citizen(CITIZEN).unwrap();
    let other = pki().citizen(CITIZEN_2).unwrap();
    let cms = signed(
        LETTER,
        c.sign_cert.as_ref().unwrap(),
        other.sign_key.as_ref().unwrap(),
        SystemTime::now(),
    );
    assert_eq!(refused(&verifier(), LETTER, &cms), "SIGNATURE_INVALID");
}

/// Replaces the included certificate and the sid of `cms` with `cert`'s, and re-signs the
/// unchanged signed attributes with `key`: the signature is good, but signing-certificate-v2
/// still names the certificate the attributes were prepared for.
fn with_certificate_swapped(cms: &[u8], cert: &X509, key: &PKey<Private>) -> Vec<u8> {
    use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
    use cms::content_info::ContentInfo;
    use cms::signed_data::{CertificateSet, SignedData, SignerIdentifier, SignerInfos};
    use der::{Any, Decode, Encode};
    let ci = ContentInfo::from_der(cms).unwrap();
    let mut sd: SignedData = ci.content.decode_as().unwrap();
    let parsed = x509_cert::Certificate::from_der(&cert.to_der().unwrap()).unwrap();
    let mut si = sd.signer_infos.0.get(0).unwrap().clone();
    si.sid = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
        issuer: parsed.tbs_certificate.issuer.clone(),
        serial_number: parsed.tbs_certificate.serial_number.clone(),
    });
    let attrs = si.signed_attrs.as_ref().unwrap().to_der().unwrap();
    let digest = HashFunction::Sha256.digest(&attrs);
    si.signature = der::asn1::OctetString::new(sign_digest(key, &digest)).unwrap();
    sd.signer_infos = SignerInfos::try_from(vec![si]).unwrap();
    sd.certificates =
        Some(CertificateSet::try_from(vec![CertificateChoices::Certificate(parsed)]).unwrap());
    ContentInfo {
        content_type: ci.content_type,
        content: Any::encode_from(&sd).unwrap(),
    }
    .to_der()
    .unwrap()
}

#[test]
fn signing_certificate_v2_naming_another_certificate_is_refused() {
    let c = pki().citizen(CITIZEN).unwrap();
    let other = pki().citizen(CITIZEN_2).unwrap();
    // Prepared for citizen-2's certificate, then presented as the citizen's.
    let cms = signed(
        LETTER,
        other.sign_cert.as_ref().unwrap(),
        other.sign_key.as_ref().unwrap(),
        SystemTime::now(),
    );
    let swapped = with_certificate_swapped(
        &cms,
        c.sign_cert.as_ref().unwrap(),
        c.sign_key.as_ref().unwrap(),
    );
    assert_eq!(
        refused(&verifier(), LETTER, &swapped),
        "SIGNING_CERTIFICATE_MISMATCH"
    );
}

#[test]
fn a_signature_by_an_authentication_key_is_refused() {
    let c = pki().citizen(CITIZEN).unwrap();
    let cms = signed(LETTER, &c.auth_cert, &c.auth_key, SystemTime::now());
    // Even when the authentication CA is configured, so the chain itself would pass.
    let v = builder_for(pki())
        .intermediate(pki().auth_ca().cert.clone())
        .build_signature_verifier()
        .unwrap();
    assert_eq!(refused(&v, LETTER, &cms), "NOT_A_SIGNING_CERTIFICATE");
}

fn signing_leaf(validity: (i64, i64)) -> Leaf {
    let mut leaf = Leaf::rsa();
    leaf.key_usage = Some(
        KeyUsage::new()
            .critical()
            .non_repudiation()
            .build()
            .unwrap(),
    );
    leaf.eku = None;
    leaf.policies = None;
    leaf.validity = validity;
    leaf
}

#[test]
fn an_expired_signing_certificate_is_refused() {
    let day = 86_400;
    let leaf = signing_leaf((now() - 400 * day, now() - 30 * day));
    let key = leaf.key.clone();
    let cert = leaf.issue(pki().sign_ca());
    let cms = signed(LETTER, &cert, &key, SystemTime::now());
    assert_eq!(refused(&verifier(), LETTER, &cms), "CERT_EXPIRED");

    // Validity is checked at the signing time: a signature dated inside the validity period
    // verifies (CAdES-BES trusts the signer's clock) unless the verifier bounds its age.
    let back = SystemTime::now() - Duration::from_secs(60 * day as u64);
    let cms = signed(LETTER, &cert, &key, back);
    accepted(&verifier(), LETTER, &cms);
    let bounded = builder_for(pki())
        .max_signing_time_age(Duration::from_secs(day as u64))
        .build_signature_verifier()
        .unwrap();
    assert_eq!(refused(&bounded, LETTER, &cms), "SIGNING_TIME_INVALID");

    // A certificate not yet valid at the signing time.
    let leaf = signing_leaf((now() + day, now() + 400 * day));
    let key = leaf.key.clone();
    let cert = leaf.issue(pki().sign_ca());
    let cms = signed(LETTER, &cert, &key, SystemTime::now());
    assert_eq!(refused(&verifier(), LETTER, &cms), "CERT_NOT_YET_VALID");
}

#[test]
fn a_signing_time_in_the_future_is_refused() {
    let c = pki().citizen(CITIZEN).unwrap();
    let cms = signed(
        LETTER,
        c.sign_cert.as_ref().unwrap(),
        c.sign_key.as_ref().unwrap(),
        SystemTime::now() + Duration::from_secs(3600),
    );
    assert_eq!(refused(&verifier(), LETTER, &cms), "SIGNING_TIME_INVALID");
}

#[test]
fn an_untrusted_signer_is_refused() {
    let cms = citizen_signed(LETTER);
    let v = Verifier::builder()
        .trust_anchor(pki().unknown_root().cert.clone())
        .intermediate(pki().sign_ca().cert.clone())
        .ocsp(OcspConfig::off())
        .build_signature_verifier()
        .unwrap();
    assert_eq!(refused(&v, LETTER, &cms), "CERT_NOT_TRUSTED");
}

#[test]
fn truncated_and_garbage_cms_is_refused() {
    let cms = citizen_signed(LETTER);
    for bad in [
        &cms[..cms.len() - 1],
        &cms[..cms.len() / 2],
        &cms[..4],
        &[][..],
        b"-----BEGIN PKCS7-----",
        &[0x30, 0x03, 0x02, 0x01, 0x01][..],
    ] {
        assert_eq!(refused(&verifier(), LETTER, bad), "CMS_MALFORMED");
    }
    let mut flipped = cms.clone();
    let n = flipped.len();
    flipped[n - 40] ^= 0x01; // inside the signature value
    assert_eq!(refused(&verifier(), LETTER, &flipped), "SIGNATURE_INVALID");
}

#[test]
fn algorithms_outside_the_allow_list_are_refused() {
    let cms = citizen_signed(LETTER);
    let v = builder_for(pki())
        .allowed_algorithms([geid_protocol::SignatureAlgorithm::Rs512])
        .build_signature_verifier()
        .unwrap();
    assert_eq!(refused(&v, LETTER, &cms), "ALGORITHM_NOT_ALLOWED");
}

// ---- openssl cms -sign ---------------------------------------------------------------------

fn openssl_sign(extra: &[&str]) -> (tempfile::TempDir, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    pki().write_to(dir.path()).unwrap();
    let content = dir.path().join("letter.txt");
    std::fs::write(&content, LETTER).unwrap();
    let out = dir.path().join("letter.txt.p7s");
    let status = std::process::Command::new("openssl")
        .args([
            "cms", "-sign", "-binary", "-md", "sha256", "-outform", "DER",
        ])
        .arg("-signer")
        .arg(dir.path().join("citizen.sign.cert.pem"))
        .arg("-inkey")
        .arg(dir.path().join("citizen.sign.key.pem"))
        .arg("-in")
        .arg(&content)
        .arg("-out")
        .arg(&out)
        .args(extra)
        .status()
        .expect("the openssl command line is installed");
    assert!(status.success());
    let p7s = std::fs::read(&out).unwrap();
    (dir, p7s)
}

#[test]
fn openssl_cades_signatures_verify() {
    let (_dir, p7s) = openssl_sign(&["-cades"]);
    let id = accepted(&verifier(), LETTER, &p7s);
    assert_eq!(id.signer.personal_number, "01001000001");
    assert_eq!(refused(&verifier(), b"changed", &p7s), "DOCUMENT_CHANGED");
}

#[test]
fn openssl_signatures_without_signing_certificate_v2_are_refused() {
    let (_dir, p7s) = openssl_sign(&[]);
    assert_eq!(
        refused(&verifier(), LETTER, &p7s),
        "SIGNING_CERTIFICATE_MISMATCH"
    );
}

#[test]
fn a_content_type_other_than_data_is_refused() {
    // id-ct-TSTInfo as the encapsulated content type; openssl writes the matching attribute.
    let (_dir, p7s) = openssl_sign(&["-cades", "-econtent_type", "1.2.840.113549.1.9.16.1.4"]);
    assert_eq!(refused(&verifier(), LETTER, &p7s), "CMS_CONTENT_TYPE");
}

#[test]
fn an_attached_signature_is_refused_as_malformed() {
    let (_dir, p7s) = openssl_sign(&["-cades", "-nodetach"]);
    assert_eq!(refused(&verifier(), LETTER, &p7s), "CMS_MALFORMED");
}

// ---- revocation ----------------------------------------------------------------------------

/// A PKI whose AIA points at a responder that reports the citizen's signing certificate
/// revoked, and citizen-2's good.
fn ocsp_world() -> &'static (Pki, OcspServer) {
    static WORLD: OnceLock<(Pki, OcspServer)> = OnceLock::new();
    WORLD.get_or_init(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let pki = Pki::generate(&PkiOptions::with_base_url(&format!(
            "http://127.0.0.1:{port}"
        )))
        .unwrap();
        let serial = pki
            .citizen(CITIZEN)
            .unwrap()
            .sign_cert
            .as_ref()
            .unwrap()
            .serial_number()
            .to_bn()
            .unwrap()
            .to_hex_str()
            .unwrap()
            .to_string();
        let options = ResponderOptions {
            revoked: vec![serial],
            next_update: Some(Duration::from_secs(3600)),
            ..Default::default()
        };
        let server = OcspServer::start_on(listener, pki.clone(), options).unwrap();
        (pki, server)
    })
}

#[test]
fn revocation_is_checked_through_ocsp() {
    let (pki, server) = ocsp_world();
    let v = builder_for(pki)
        .ocsp(OcspConfig::aia())
        .build_signature_verifier()
        .unwrap();
    let sign = |name: &str| {
        let c = pki.citizen(name).unwrap();
        signed(
            LETTER,
            c.sign_cert.as_ref().unwrap(),
            c.sign_key.as_ref().unwrap(),
            SystemTime::now(),
        )
    };
    let before = server.requests();
    assert_eq!(
        accepted(&v, LETTER, &sign(CITIZEN_2))
            .signer
            .personal_number,
        "01001000002"
    );
    assert_eq!(refused(&v, LETTER, &sign(CITIZEN)), "CERT_REVOKED");
    assert!(server.requests() >= before + 2);
}

// ---- signed attributes as the signer encoded them -------------------------------------------

fn replace_once(haystack: &mut [u8], needle: &[u8], with: &[u8]) {
    assert_eq!(needle.len(), with.len());
    let at = haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("found");
    haystack[at..at + needle.len()].copy_from_slice(with);
}

#[test]
fn unsorted_signed_attributes_are_verified_as_encoded() {
    // Some producers write the SET OF signed attributes unsorted (not DER). The signature covers
    // their bytes as written, so the verifier must hash those, not a re-sorted encoding.
    use geid_testkit::der::Tlv;
    let c = pki().citizen(CITIZEN).unwrap();
    let key = c.sign_key.as_ref().unwrap();
    let cert = c.sign_cert.as_ref().unwrap().to_der().unwrap();
    let p = prepare(LETTER, HashFunction::Sha256, &cert, SystemTime::now()).unwrap();
    let old_sig = sign_digest(key, &p.digest_to_sign());
    let mut cms = p.assemble(&old_sig, SignatureScheme::RsaPkcs1).unwrap();

    let sorted = p.signed_attributes_der();
    let set = Tlv::parse_one(sorted).unwrap();
    let header = sorted.len() - set.content.len();
    let mut reversed_content = Vec::new();
    for attr in set.children().unwrap().iter().rev() {
        reversed_content.extend_from_slice(attr.raw);
    }
    assert_ne!(reversed_content.as_slice(), set.content);
    let mut unsorted = sorted[..header].to_vec();
    unsorted.extend_from_slice(&reversed_content);

    replace_once(&mut cms, set.content, &reversed_content);
    let new_sig = sign_digest(key, &HashFunction::Sha256.digest(&unsorted));
    replace_once(&mut cms, &old_sig, &new_sig);

    let doc = geid_cms::SignedDocument::parse(&cms).unwrap();
    assert_eq!(doc.signed_attributes_der(), unsorted.as_slice());
    accepted(&verifier(), LETTER, &cms);
}

#[test]
fn an_ecdsa_signature_verifies() {
    let day = 86_400;
    let mut leaf = signing_leaf((now() - day, now() + 365 * day));
    leaf.key = common::ec(openssl::nid::Nid::X9_62_PRIME256V1);
    let key = leaf.key.clone();
    let cert = leaf.issue(pki().sign_ca());
    let p = prepare(
        LETTER,
        HashFunction::Sha256,
        &cert.to_der().unwrap(),
        SystemTime::now(),
    )
    .unwrap();
    let mut ctx = openssl::pkey_ctx::PkeyCtx::new(&key).unwrap();
    ctx.sign_init().unwrap();
    let mut der_sig = Vec::new();
    ctx.sign_to_vec(&p.digest_to_sign(), &mut der_sig).unwrap();
    // Raw r || s, as a card or the extension returns it.
    let raw = geid_protocol::ecdsa_der_to_raw(&der_sig, 32).unwrap();
    let cms = p.assemble(&raw, SignatureScheme::Ecdsa).unwrap();
    let id = accepted(&verifier(), LETTER, &cms);
    assert_eq!(id.signer.algorithm.as_str(), "ES256");
    assert_eq!(refused(&verifier(), b"other", &cms), "DOCUMENT_CHANGED");
}
