//! Shared helpers for the verifier tests: a verifier over the shared test PKI, token makers,
//! and a builder for certificates with one deliberate defect.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::{SystemTime, UNIX_EPOCH};

use geid_protocol::{AuthToken, ChallengeNonce, Origin, SignatureAlgorithm};
use geid_testkit::der;
use geid_testkit::pki::{CertifiedKey, Pki, TEST_POLICY_AUTH};
use geid_testkit::TokenSigner;
use geid_verify::{OcspConfig, Verifier, VerifierBuilder, VerifyError};
use openssl::asn1::{Asn1Object, Asn1OctetString, Asn1Time, Asn1Type};
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{X509Builder, X509Extension, X509NameBuilder, X509};

pub const ORIGIN: &str = "https://portal.example.ge";

pub fn pki() -> &'static Pki {
    Pki::shared()
}

pub fn origin() -> Origin {
    Origin::parse(ORIGIN).unwrap()
}

pub fn nonce() -> ChallengeNonce {
    ChallengeNonce::generate().unwrap()
}

/// A builder trusting the test root with the test intermediates, OCSP off.
pub fn builder_for(pki: &Pki) -> VerifierBuilder {
    let mut b = Verifier::builder()
        .origin(ORIGIN)
        .trust_anchor(pki.root().cert.clone())
        .ocsp(OcspConfig::off());
    for c in pki.intermediates() {
        b = b.intermediate(c.clone());
    }
    b
}

pub fn builder() -> VerifierBuilder {
    builder_for(pki())
}

pub fn verifier() -> Verifier {
    builder().build().unwrap()
}

pub fn signer(name: &str) -> TokenSigner {
    let c = pki().citizen(name).unwrap();
    TokenSigner::new(&c.auth_cert, c.auth_key.clone()).unwrap()
}

pub fn token(name: &str, alg: SignatureAlgorithm, nonce: &ChallengeNonce) -> String {
    signer(name).token(alg, &origin(), nonce).unwrap().to_json()
}

pub fn token_with(
    cert: &X509,
    key: &PKey<Private>,
    alg: SignatureAlgorithm,
    nonce: &ChallengeNonce,
) -> String {
    TokenSigner::new(cert, key.clone())
        .unwrap()
        .token(alg, &origin(), nonce)
        .unwrap()
        .to_json()
}

/// A token whose certificate bytes are replaced (the signature is then irrelevant).
pub fn token_with_cert_bytes(
    cert: Vec<u8>,
    alg: SignatureAlgorithm,
    signature_len: usize,
) -> String {
    AuthToken {
        certificate: cert,
        algorithm: alg,
        signature: vec![1; signature_len],
        format: "web-eid:1.0".into(),
        app_version: "https://geid.invalid/releases/0.1.0".into(),
    }
    .to_json()
}

pub fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Verifies and returns the error, failing the test on success.
pub fn reject(v: &Verifier, token: &str, nonce: &ChallengeNonce) -> VerifyError {
    match run(v.verify(token.as_bytes(), nonce)) {
        Ok(id) => panic!("expected a rejection, got {id:?}"),
        Err(e) => e,
    }
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn rsa(bits: u32) -> PKey<Private> {
    PKey::from_rsa(openssl::rsa::Rsa::generate(bits).unwrap()).unwrap()
}

pub fn ec(curve: Nid) -> PKey<Private> {
    let group = openssl::ec::EcGroup::from_curve_name(curve).unwrap();
    PKey::from_ec_key(openssl::ec::EcKey::generate(&group).unwrap()).unwrap()
}

pub fn raw_extension(oid: &str, critical: bool, value: &[u8]) -> X509Extension {
    let object = Asn1Object::from_str(oid).unwrap();
    let value = Asn1OctetString::new_from_bytes(value).unwrap();
    X509Extension::new_from_der(&object, critical, &value).unwrap()
}

pub fn policies_ext(oids: &[&str]) -> X509Extension {
    let items: Vec<Vec<u8>> = oids
        .iter()
        .map(|o| der::sequence(&[der::oid(o).unwrap()]))
        .collect();
    raw_extension("2.5.29.32", false, &der::sequence(&items))
}

/// A citizen-like leaf; each field can be broken on its own.
pub struct Leaf {
    pub key: PKey<Private>,
    pub serial_number: Option<String>,
    pub key_usage: Option<X509Extension>,
    pub eku: Option<X509Extension>,
    pub policies: Option<X509Extension>,
    pub extra: Vec<X509Extension>,
    pub validity: (i64, i64),
    pub ca: bool,
}

impl Leaf {
    pub fn new(key: PKey<Private>) -> Leaf {
        let now = now();
        Leaf {
            key,
            serial_number: Some("PNOGE-01001000099".into()),
            key_usage: Some(
                KeyUsage::new()
                    .critical()
                    .digital_signature()
                    .build()
                    .unwrap(),
            ),
            eku: Some(ExtendedKeyUsage::new().client_auth().build().unwrap()),
            policies: Some(policies_ext(&[TEST_POLICY_AUTH])),
            extra: Vec::new(),
            validity: (now - 86_400, now + 365 * 86_400),
            ca: false,
        }
    }

    pub fn rsa() -> Leaf {
        Leaf::new(rsa(2048))
    }

    pub fn issue(self, issuer: &CertifiedKey) -> X509 {
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_nid_with_type(Nid::COUNTRYNAME, "GE", Asn1Type::PRINTABLESTRING)
            .unwrap();
        name.append_entry_by_nid_with_type(
            Nid::COMMONNAME,
            "ტესტი ტესტიშვილი",
            Asn1Type::UTF8STRING,
        )
        .unwrap();
        name.append_entry_by_nid_with_type(Nid::SURNAME, "ტესტიშვილი", Asn1Type::UTF8STRING)
            .unwrap();
        name.append_entry_by_nid_with_type(Nid::GIVENNAME, "ტესტი", Asn1Type::UTF8STRING)
            .unwrap();
        if let Some(sn) = &self.serial_number {
            name.append_entry_by_nid_with_type(Nid::SERIALNUMBER, sn, Asn1Type::PRINTABLESTRING)
                .unwrap();
        }
        let name = name.build();
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        let mut serial = BigNum::new().unwrap();
        serial.rand(127, MsbOption::ONE, false).unwrap();
        b.set_serial_number(&serial.to_asn1_integer().unwrap())
            .unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(issuer.cert.subject_name()).unwrap();
        b.set_not_before(&Asn1Time::from_unix(self.validity.0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::from_unix(self.validity.1).unwrap())
            .unwrap();
        b.set_pubkey(&self.key).unwrap();
        if self.ca {
            b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
                .unwrap();
        }
        for ext in [self.key_usage, self.eku, self.policies]
            .into_iter()
            .flatten()
        {
            b.append_extension(ext).unwrap();
        }
        for ext in self.extra {
            b.append_extension(ext).unwrap();
        }
        let ski = SubjectKeyIdentifier::new()
            .build(&b.x509v3_context(None, None))
            .unwrap();
        b.append_extension(ski).unwrap();
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&b.x509v3_context(Some(&issuer.cert), None))
            .unwrap();
        b.append_extension(aki).unwrap();
        b.sign(&issuer.key, MessageDigest::sha256()).unwrap();
        b.build()
    }
}

/// Issues `leaf` under the shared PKI's authentication CA and makes a token with its key.
pub fn leaf_token(leaf: Leaf, alg: SignatureAlgorithm, nonce: &ChallengeNonce) -> String {
    let key = leaf.key.clone();
    let cert = leaf.issue(pki().auth_ca());
    token_with(&cert, &key, alg, nonce)
}
