//! The generated test PKI has the shape, names and extensions DESIGN.md asks for, its chains
//! verify (or fail) as intended, and it survives a write/load round trip.

// clippy's allow-unwrap-in-tests covers #[test] functions only, not the helpers here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use geid_testkit::der::{self, RawExtension, Tlv};
use geid_testkit::pki::*;
use geid_testkit::{Pki, PkiOptions};
use openssl::asn1::Asn1Time;
use openssl::nid::Nid;
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::{
    X509ExtendedKeyUsage, X509KeyUsage, X509PurposeId, X509Ref, X509StoreContext, X509VerifyResult,
    X509,
};

const OID_BASIC_CONSTRAINTS: &str = "2.5.29.19";
const OID_KEY_USAGE: &str = "2.5.29.15";
const OID_EXTENDED_KEY_USAGE: &str = "2.5.29.37";
const OID_CERTIFICATE_POLICIES: &str = "2.5.29.32";
const OID_SKI: &str = "2.5.29.14";
const OID_AKI: &str = "2.5.29.35";
const OID_AIA: &str = "1.3.6.1.5.5.7.1.1";
const OID_CDP: &str = "2.5.29.31";

const OID_COUNTRY: &str = "2.5.4.6";
const OID_ORGANIZATION: &str = "2.5.4.10";
const OID_COMMON_NAME: &str = "2.5.4.3";
const OID_SURNAME: &str = "2.5.4.4";
const OID_GIVEN_NAME: &str = "2.5.4.42";
const OID_SERIAL_NUMBER: &str = "2.5.4.5";

const VALID_GEORGIANS: [&str; 2] = [CITIZEN, CITIZEN_2];

fn pki() -> &'static Pki {
    Pki::shared()
}

fn citizen(name: &str) -> &'static Citizen {
    pki()
        .citizen(name)
        .unwrap_or_else(|| panic!("no citizen {name}"))
}

fn extensions(cert: &X509Ref) -> Vec<RawExtension> {
    der::certificate_extensions(&cert.to_der().unwrap()).unwrap()
}

fn extension(cert: &X509Ref, oid: &str) -> Option<RawExtension> {
    extensions(cert).into_iter().find(|e| e.oid == oid)
}

fn attributes(cert: &X509Ref) -> Vec<der::NameAttribute> {
    der::name_attributes(&cert.subject_name().to_der().unwrap()).unwrap()
}

fn attribute(cert: &X509Ref, oid: &str) -> der::NameAttribute {
    let found: Vec<_> = attributes(cert)
        .into_iter()
        .filter(|a| a.oid == oid)
        .collect();
    assert_eq!(found.len(), 1, "exactly one {oid} in the subject");
    found.into_iter().next().unwrap()
}

/// The OIDs listed in a SEQUENCE OF (SEQUENCE { OID, … }) such as certificatePolicies or
/// qcStatements, in order.
fn leading_oids(value: &[u8]) -> Vec<String> {
    Tlv::parse_one(value)
        .unwrap()
        .children()
        .unwrap()
        .iter()
        .map(|item| item.children().unwrap()[0].as_oid().unwrap())
        .collect()
}

fn unix(time: &openssl::asn1::Asn1TimeRef) -> i64 {
    let d = Asn1Time::from_unix(0).unwrap().diff(time).unwrap();
    i64::from(d.days) * 86_400 + i64::from(d.secs)
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Verifies `cert` against the test root with the PKI's intermediates as untrusted certs,
/// like `openssl verify -CAfile root.pem -untrusted intermediates.pem`.
fn verify(pki: &Pki, cert: &X509Ref, purpose: Option<X509PurposeId>) -> Result<(), String> {
    let mut store = X509StoreBuilder::new().unwrap();
    store.add_cert(pki.root().cert.clone()).unwrap();
    if let Some(purpose) = purpose {
        store.set_purpose(purpose).unwrap();
    }
    let store = store.build();
    let mut chain = Stack::new().unwrap();
    for intermediate in pki.intermediates() {
        chain.push(intermediate.clone()).unwrap();
    }
    let mut context = X509StoreContext::new().unwrap();
    let (ok, error) = context
        .init(&store, cert, &chain, |c| Ok((c.verify_cert()?, c.error())))
        .unwrap();
    if ok {
        Ok(())
    } else {
        Err(verify_error_name(error))
    }
}

fn verify_error_name(error: X509VerifyResult) -> String {
    format!("{} ({})", error.error_string(), error.as_raw())
}

fn assert_verify_fails(pki: &Pki, cert: &X509Ref, purpose: Option<X509PurposeId>, raw: i32) {
    let error = verify(pki, cert, purpose).expect_err("chain must not verify");
    assert!(error.ends_with(&format!("({raw})")), "got {error}");
}

// X509_V_ERR_* codes (openssl/x509_vfy.h, OpenSSL 3).
const ERR_CERT_NOT_YET_VALID: i32 = 9;
const ERR_CERT_HAS_EXPIRED: i32 = 10;
const ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY: i32 = 20;
const ERR_INVALID_CA: i32 = 79;
const ERR_INVALID_PURPOSE: i32 = 26;

fn all_certificates(pki: &Pki) -> Vec<(String, X509)> {
    let mut certs = vec![
        ("root".to_owned(), pki.root().cert.clone()),
        ("auth-ca".to_owned(), pki.auth_ca().cert.clone()),
        ("sign-ca".to_owned(), pki.sign_ca().cert.clone()),
        (
            "auth-ocsp".to_owned(),
            pki.ocsp_responder(IssuingCa::Authentication).cert.clone(),
        ),
        (
            "sign-ocsp".to_owned(),
            pki.ocsp_responder(IssuingCa::Signing).cert.clone(),
        ),
        ("unknown-root".to_owned(), pki.unknown_root().cert.clone()),
        (
            "non-ca-intermediate".to_owned(),
            pki.non_ca_intermediate().cert.clone(),
        ),
    ];
    for c in pki.citizens() {
        certs.push((format!("{}.auth", c.name), c.auth_cert.clone()));
        if let Some(sign) = &c.sign_cert {
            certs.push((format!("{}.sign", c.name), sign.clone()));
        }
    }
    certs
}

// --- CAs and responders -------------------------------------------------------------------

#[test]
fn root_is_self_signed_ca_with_ski() {
    let root = &pki().root().cert;
    assert_eq!(
        root.subject_name().to_der().unwrap(),
        root.issuer_name().to_der().unwrap()
    );
    assert!(root.verify(&pki().root().key).unwrap());
    let bc = extension(root, OID_BASIC_CONSTRAINTS).unwrap();
    assert!(bc.critical);
    // BasicConstraints ::= SEQUENCE { cA BOOLEAN TRUE } with no pathLenConstraint.
    assert_eq!(bc.value, [0x30, 0x03, 0x01, 0x01, 0xff]);
    assert!(extension(root, OID_KEY_USAGE).unwrap().critical);
    assert_eq!(
        root.key_usage().unwrap(),
        X509KeyUsage::KEY_CERT_SIGN | X509KeyUsage::CRL_SIGN
    );
    assert!(root.subject_key_id().is_some());
    assert!(extension(root, OID_AKI).is_none());
}

#[test]
fn issuing_cas_have_pathlen_zero_and_key_identifiers() {
    let pki = pki();
    for ca in [pki.auth_ca(), pki.sign_ca()] {
        let cert = &ca.cert;
        assert!(cert.verify(&pki.root().key).unwrap());
        let bc = extension(cert, OID_BASIC_CONSTRAINTS).unwrap();
        assert!(bc.critical);
        assert_eq!(bc.value, [0x30, 0x06, 0x01, 0x01, 0xff, 0x02, 0x01, 0x00]);
        assert_eq!(cert.pathlen(), Some(0));
        assert!(extension(cert, OID_KEY_USAGE).unwrap().critical);
        assert_eq!(
            cert.key_usage().unwrap(),
            X509KeyUsage::KEY_CERT_SIGN | X509KeyUsage::CRL_SIGN
        );
        assert!(cert.subject_key_id().is_some());
        assert_eq!(
            cert.authority_key_id().unwrap().as_slice(),
            pki.root().cert.subject_key_id().unwrap().as_slice()
        );
    }
}

#[test]
fn ca_names_are_georgian_shaped_and_marked_test() {
    let pki = pki();
    let expected = [
        (&pki.root().cert, "GEO Root CA (TEST)"),
        (&pki.auth_ca().cert, "GEO Authentication CA (TEST)"),
        (&pki.sign_ca().cert, "GEO Signing CA (TEST)"),
        (&pki.unknown_root().cert, "Unknown Root CA (TEST)"),
    ];
    for (cert, cn) in expected {
        let attr = attribute(cert, OID_COMMON_NAME);
        assert_eq!(attr.value, cn.as_bytes());
    }
    for (name, cert) in all_certificates(pki)
        .into_iter()
        .filter(|(n, _)| !n.contains('.'))
    {
        let cn = String::from_utf8(attribute(&cert, OID_COMMON_NAME).value).unwrap();
        assert!(cn.contains("(TEST)"), "{name}: {cn}");
        assert_eq!(attribute(&cert, OID_COUNTRY).value, b"GE", "{name}");
        let org = String::from_utf8(attribute(&cert, OID_ORGANIZATION).value).unwrap();
        assert!(org.contains("(TEST)"), "{name}: {org}");
    }
}

#[test]
fn ocsp_responders_are_delegated_with_nocheck() {
    let pki = pki();
    for ca in [IssuingCa::Authentication, IssuingCa::Signing] {
        let responder = &pki.ocsp_responder(ca).cert;
        assert!(responder.verify(&pki.issuing_ca(ca).key).unwrap());
        assert_eq!(
            responder.issuer_name().to_der().unwrap(),
            pki.issuing_ca(ca).cert.subject_name().to_der().unwrap()
        );
        assert_eq!(
            responder.extended_key_usage().unwrap(),
            X509ExtendedKeyUsage::OCSP_SIGN
        );
        assert_eq!(
            leading_oids_of_eku(responder),
            vec![OID_KP_OCSP_SIGNING.to_owned()]
        );
        let nocheck = extension(responder, OID_OCSP_NOCHECK).expect("ocsp-nocheck present");
        assert_eq!(nocheck.value, [0x05, 0x00]);
        assert_eq!(
            responder.key_usage().unwrap(),
            X509KeyUsage::DIGITAL_SIGNATURE
        );
        assert!(verify(pki, responder, None).is_ok());
        let cn = String::from_utf8(attribute(responder, OID_COMMON_NAME).value).unwrap();
        assert!(cn.contains("OCSP Responder (TEST)"), "{cn}");
    }
}

fn leading_oids_of_eku(cert: &X509Ref) -> Vec<String> {
    let eku = extension(cert, OID_EXTENDED_KEY_USAGE).unwrap();
    Tlv::parse_one(&eku.value)
        .unwrap()
        .children()
        .unwrap()
        .iter()
        .map(|t| t.as_oid().unwrap())
        .collect()
}

// --- Georgian citizens --------------------------------------------------------------------

#[test]
fn georgian_names_are_utf8string_in_georgian_script() {
    let c = citizen(CITIZEN);
    assert_eq!(c.given_name, "გიორგი");
    assert_eq!(c.surname, "ბერიძე");
    assert_eq!(c.common_name, "გიორგი ბერიძე");
    for name in VALID_GEORGIANS {
        let c = citizen(name);
        let mut certs = vec![&c.auth_cert];
        certs.extend(c.sign_cert.as_ref());
        for cert in certs {
            for (oid, text) in [
                (OID_GIVEN_NAME, &c.given_name),
                (OID_SURNAME, &c.surname),
                (OID_COMMON_NAME, &c.common_name),
            ] {
                let attr = attribute(cert, oid);
                assert_eq!(attr.tag, der::TAG_UTF8_STRING, "{name} {oid}");
                assert_eq!(attr.value, text.as_bytes(), "{name} {oid}");
                let text = String::from_utf8(attr.value).unwrap();
                // Mkhedruli block U+10D0..U+10FF.
                assert!(
                    text.chars()
                        .filter(|ch| *ch != ' ')
                        .all(|ch| ('\u{10D0}'..='\u{10FF}').contains(&ch)),
                    "{text}"
                );
            }
            let country = attribute(cert, OID_COUNTRY);
            assert_eq!(
                (country.tag, country.value.as_slice()),
                (der::TAG_PRINTABLE_STRING, &b"GE"[..])
            );
        }
    }
}

fn is_pno(value: &str, country: &str) -> bool {
    let Some(digits) = value.strip_prefix(&format!("PNO{country}-")) else {
        return false;
    };
    digits.len() == 11 && digits.bytes().all(|b| b.is_ascii_digit())
}

#[test]
fn serial_number_attribute_is_pnoge_with_eleven_digits() {
    for c in pki().citizens() {
        let attr = attribute(&c.auth_cert, OID_SERIAL_NUMBER);
        assert_eq!(attr.tag, der::TAG_PRINTABLE_STRING);
        let value = String::from_utf8(attr.value).unwrap();
        assert!(is_pno(&value, &c.country), "{}: {value}", c.name);
        assert_eq!(value, c.subject_serial_number());
        assert_eq!(value, format!("PNO{}-{}", c.country, c.personal_number));
        if c.country == "GE" {
            assert!(value.starts_with("PNOGE-"));
        }
    }
}

#[test]
fn personal_numbers_are_eleven_digits_and_distinct() {
    let mut seen = HashSet::new();
    for c in pki().citizens() {
        assert_eq!(c.personal_number.len(), 11, "{}", c.name);
        assert!(c.personal_number.bytes().all(|b| b.is_ascii_digit()));
        assert!(seen.insert(c.personal_number.clone()), "{} repeats", c.name);
    }
    assert!(pki().citizens().len() >= 11);
}

#[test]
fn authentication_certificates_have_the_card_profile() {
    let pki = pki();
    let opts = pki.options();
    for c in pki.citizens() {
        let cert = &c.auth_cert;
        let name = &c.name;
        let ku = extension(cert, OID_KEY_USAGE).unwrap();
        assert!(ku.critical, "{name}");
        match name.as_str() {
            NO_DIGITAL_SIGNATURE => assert_eq!(
                cert.key_usage().unwrap(),
                X509KeyUsage::KEY_ENCIPHERMENT,
                "{name}"
            ),
            _ => assert_eq!(
                cert.key_usage().unwrap(),
                X509KeyUsage::DIGITAL_SIGNATURE,
                "{name}"
            ),
        }
        match name.as_str() {
            EKU_WITHOUT_CLIENT_AUTH => {
                assert_eq!(
                    cert.extended_key_usage().unwrap(),
                    X509ExtendedKeyUsage::SMIME
                )
            }
            _ => assert_eq!(
                cert.extended_key_usage().unwrap(),
                X509ExtendedKeyUsage::SSL_CLIENT,
                "{name}"
            ),
        }
        let policies = extension(cert, OID_CERTIFICATE_POLICIES).unwrap();
        assert_eq!(leading_oids(&policies.value), vec![TEST_POLICY_AUTH]);
        assert_aia_and_cdp(cert, opts, IssuingCa::Authentication);
        assert!(extension(cert, OID_SKI).is_some(), "{name}");
        let issuer = pki.issuer_of(cert).expect("issuer in the PKI");
        assert_eq!(
            cert.authority_key_id().unwrap().as_slice(),
            issuer.cert.subject_key_id().unwrap().as_slice(),
            "{name}"
        );
        assert!(extension(cert, OID_QC_STATEMENTS).is_none());
    }
}

fn assert_aia_and_cdp(cert: &X509Ref, opts: &PkiOptions, ca: IssuingCa) {
    let ocsp: Vec<String> = cert
        .ocsp_responders()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(ocsp, vec![opts.ocsp_url(ca)]);
    let aia = cert.authority_info().unwrap();
    let ca_issuers: Vec<String> = aia
        .iter()
        .filter(|ad| ad.method().nid() == Nid::AD_CA_ISSUERS)
        .map(|ad| ad.location().uri().unwrap().to_owned())
        .collect();
    assert_eq!(ca_issuers, vec![opts.ca_issuers_url(ca)]);
    let cdp = cert.crl_distribution_points().unwrap();
    let uris: Vec<String> = cdp
        .iter()
        .flat_map(|dp| dp.distpoint().unwrap().fullname().unwrap().iter())
        .map(|gn| gn.uri().unwrap().to_owned())
        .collect();
    assert_eq!(uris, vec![opts.crl_url(ca)]);
    assert!(extension(cert, OID_AIA).is_some());
    assert!(extension(cert, OID_CDP).is_some());
}

#[test]
fn authentication_keys_are_rsa_2048_for_georgians_and_ec_for_foreigners() {
    for c in pki().citizens() {
        let key = c.auth_cert.public_key().unwrap();
        assert!(key.public_eq(&c.auth_key), "{}", c.name);
        match c.name.as_str() {
            EE_P256 => assert_eq!(
                key.ec_key().unwrap().group().curve_name(),
                Some(Nid::X9_62_PRIME256V1)
            ),
            EE_P384 => assert_eq!(
                key.ec_key().unwrap().group().curve_name(),
                Some(Nid::SECP384R1)
            ),
            _ => {
                assert_eq!(c.country, "GE");
                assert_eq!(key.rsa().unwrap().size() * 8, 2048, "{}", c.name);
            }
        }
    }
}

#[test]
fn foreign_citizens_have_ascii_names_and_pnoee() {
    for name in [EE_P256, EE_P384] {
        let c = citizen(name);
        assert_eq!(c.country, "EE");
        assert!(c.sign_cert.is_none());
        for oid in [OID_GIVEN_NAME, OID_SURNAME, OID_COMMON_NAME] {
            let attr = attribute(&c.auth_cert, oid);
            assert!(attr.value.is_ascii(), "{name} {oid}");
        }
        assert_eq!(attribute(&c.auth_cert, OID_COUNTRY).value, b"EE", "{name}");
    }
    assert_eq!(
        citizen(EE_P256).subject_serial_number(),
        "PNOEE-38001085718"
    );
}

#[test]
fn signing_certificates_are_qualified() {
    let pki = pki();
    for name in VALID_GEORGIANS {
        let c = citizen(name);
        let cert = c.sign_cert.as_ref().expect("sign cert");
        let key = c.sign_key.as_ref().expect("sign key");
        assert!(cert.public_key().unwrap().public_eq(key));
        assert!(
            !cert.public_key().unwrap().public_eq(&c.auth_key),
            "separate keys"
        );
        assert_eq!(key.rsa().unwrap().size() * 8, 2048);
        assert!(cert.verify(&pki.sign_ca().key).unwrap());
        assert_eq!(
            cert.subject_name().to_der().unwrap(),
            c.auth_cert.subject_name().to_der().unwrap()
        );
        assert!(extension(cert, OID_KEY_USAGE).unwrap().critical);
        assert_eq!(cert.key_usage().unwrap(), X509KeyUsage::NON_REPUDIATION);

        let qc = extension(cert, OID_QC_STATEMENTS).expect("qcStatements present");
        assert!(!qc.critical);
        assert_eq!(
            leading_oids(&qc.value),
            vec![OID_QC_COMPLIANCE, OID_QC_SSCD, OID_QC_TYPE]
        );
        // QcType's statementInfo is SEQUENCE OF OID holding id-etsi-qct-esign.
        let statements = Tlv::parse_one(&qc.value).unwrap().children().unwrap();
        let qc_type = statements[2].children().unwrap();
        let types: Vec<String> = qc_type[1]
            .children()
            .unwrap()
            .iter()
            .map(|t| t.as_oid().unwrap())
            .collect();
        assert_eq!(types, vec![OID_QC_TYPE_ESIGN]);

        let policies = extension(cert, OID_CERTIFICATE_POLICIES).unwrap();
        assert_eq!(leading_oids(&policies.value), vec![TEST_POLICY_SIGN]);
        assert_aia_and_cdp(cert, pki.options(), IssuingCa::Signing);
        assert_eq!(
            cert.authority_key_id().unwrap().as_slice(),
            pki.sign_ca().cert.subject_key_id().unwrap().as_slice()
        );
    }
}

#[test]
fn citizen_validity_is_two_and_a_half_years_from_yesterday() {
    let now = now();
    for c in pki().citizens() {
        let mut certs = vec![&c.auth_cert];
        certs.extend(c.sign_cert.as_ref());
        for cert in certs {
            let nb = unix(cert.not_before());
            let na = unix(cert.not_after());
            assert_eq!(na - nb, 913 * 86_400, "{}", c.name);
            match c.name.as_str() {
                EXPIRED => assert!(na < now - 150 * 86_400),
                NOT_YET_VALID => assert!(nb > now + 29 * 86_400),
                _ => assert!((now - 86_400 - 300..=now - 86_400 + 300).contains(&nb)),
            }
        }
    }
    for ca in [pki().root(), pki().auth_ca(), pki().sign_ca()] {
        let na = unix(ca.cert.not_after());
        assert!(na > now + 10 * 365 * 86_400, "CAs outlive citizens");
    }
}

#[test]
fn serials_are_random_positive_sixteen_bytes_and_unique() {
    let mut seen = HashSet::new();
    for (name, cert) in all_certificates(pki()) {
        let bn = cert.serial_number().to_bn().unwrap();
        assert!(!bn.is_negative(), "{name}");
        let bytes = bn.to_vec();
        assert_eq!(bytes.len(), 16, "{name}");
        assert!(
            bytes[0] & 0x80 == 0,
            "{name}: no leading zero needed in DER"
        );
        assert!(seen.insert(bytes), "{name}: serial repeats");
    }
}

// --- broken variants ------------------------------------------------------------------------

#[test]
fn broken_variants_differ_in_the_intended_way() {
    let pki = pki();
    let now = now();
    assert!(unix(citizen(EXPIRED).auth_cert.not_after()) < now);
    assert!(unix(citizen(NOT_YET_VALID).auth_cert.not_before()) > now);

    let unknown = &citizen(UNKNOWN_CA).auth_cert;
    assert!(unknown.verify(&pki.unknown_root().key).unwrap());
    assert!(pki
        .issuer_of(unknown)
        .is_some_and(|i| i.cert.to_der().unwrap() == pki.unknown_root().cert.to_der().unwrap()));

    let intermediate = &pki.non_ca_intermediate().cert;
    assert!(intermediate.verify(&pki.auth_ca().key).unwrap());
    let bc = extension(intermediate, OID_BASIC_CONSTRAINTS).unwrap();
    assert!(bc.critical);
    assert_eq!(bc.value, [0x30, 0x00], "CA:FALSE");
    assert!(citizen(NON_CA_ISSUER)
        .auth_cert
        .verify(&pki.non_ca_intermediate().key)
        .unwrap());

    let revoked = citizen(REVOKED);
    let revocation = revoked.revoked.expect("revoked");
    assert_eq!(revocation.reason, RevocationReason::KeyCompromise);
    assert_eq!(revocation.reason.code(), 1);
    assert!(revocation.time < SystemTime::now());
    for c in pki.citizens().iter().filter(|c| c.name != REVOKED) {
        assert!(c.revoked.is_none(), "{}", c.name);
    }
}

// --- chains ---------------------------------------------------------------------------------

#[test]
fn valid_citizens_chain_to_the_root() {
    let pki = pki();
    for name in [CITIZEN, CITIZEN_2, EE_P256, EE_P384, REVOKED] {
        let c = citizen(name);
        verify(pki, &c.auth_cert, Some(X509PurposeId::SSL_CLIENT))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        if let Some(sign) = &c.sign_cert {
            verify(pki, sign, None).unwrap_or_else(|e| panic!("{name} sign: {e}"));
        }
    }
}

#[test]
fn broken_chains_fail_for_the_intended_reason() {
    let pki = pki();
    let cert = |name| &citizen(name).auth_cert;
    assert_verify_fails(pki, cert(EXPIRED), None, ERR_CERT_HAS_EXPIRED);
    assert_verify_fails(pki, cert(NOT_YET_VALID), None, ERR_CERT_NOT_YET_VALID);
    assert_verify_fails(
        pki,
        cert(UNKNOWN_CA),
        None,
        ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
    );
    assert_verify_fails(pki, cert(NON_CA_ISSUER), None, ERR_INVALID_CA);
    let client = Some(X509PurposeId::SSL_CLIENT);
    assert_verify_fails(pki, cert(NO_DIGITAL_SIGNATURE), client, ERR_INVALID_PURPOSE);
    assert_verify_fails(
        pki,
        cert(EKU_WITHOUT_CLIENT_AUTH),
        client,
        ERR_INVALID_PURPOSE,
    );
}

// --- options, shared, files -------------------------------------------------------------------

#[test]
fn shared_is_generated_once() {
    assert!(std::ptr::eq(Pki::shared(), Pki::shared()));
}

#[test]
fn default_urls_match_the_documented_ones() {
    let o = PkiOptions::default();
    assert_eq!(
        o.ocsp_url(IssuingCa::Authentication),
        "http://127.0.0.1:8990/ocsp/auth"
    );
    assert_eq!(
        o.ocsp_url(IssuingCa::Signing),
        "http://127.0.0.1:8990/ocsp/sign"
    );
    assert_eq!(
        o.crl_url(IssuingCa::Authentication),
        "http://127.0.0.1:8990/crl/auth.crl"
    );
    assert_eq!(
        o.ca_issuers_url(IssuingCa::Authentication),
        "http://127.0.0.1:8990/ca/auth.der"
    );
}

#[test]
fn bad_options_are_refused_before_generating() {
    for url in [
        "ftp://x/ocsp",
        "not a url",
        "http://例え.jp/ocsp",
        "http://h/o?q=1",
    ] {
        let options = PkiOptions {
            ocsp_base_url: url.to_owned(),
            ..PkiOptions::default()
        };
        let err = Pki::generate(&options).expect_err(url);
        assert!(
            matches!(err, geid_testkit::Error::InvalidUrl { .. }),
            "{url}: {err}"
        );
    }
    let options = PkiOptions {
        ca_key_bits: 512,
        ..PkiOptions::default()
    };
    assert!(matches!(
        Pki::generate(&options),
        Err(geid_testkit::Error::InvalidKeySize(512))
    ));
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("geid-testkit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// One fresh generation with custom URLs, written, loaded and compared.
#[test]
fn custom_urls_survive_write_and_load() {
    let options = PkiOptions::with_base_url("http://127.0.0.1:41234/");
    let pki = Pki::generate(&options).unwrap();
    let dir = scratch_dir("roundtrip");
    let written = pki.write_to(&dir).unwrap();
    assert_eq!(written.manifest, dir.join("manifest.json"));

    let loaded = Pki::load(&dir).unwrap();
    assert_eq!(loaded.options(), &options);
    let ocsp = loaded
        .citizen(CITIZEN)
        .unwrap()
        .auth_cert
        .ocsp_responders()
        .unwrap();
    assert_eq!(ocsp[0].to_string(), "http://127.0.0.1:41234/ocsp/auth");

    let before = all_certificates(&pki);
    let after = all_certificates(&loaded);
    assert_eq!(before.len(), after.len());
    for ((n1, c1), (n2, c2)) in before.iter().zip(&after) {
        assert_eq!(n1, n2);
        assert_eq!(c1.to_der().unwrap(), c2.to_der().unwrap(), "{n1}");
    }
    for (a, b) in pki.citizens().iter().zip(loaded.citizens()) {
        assert_eq!(a.name, b.name);
        assert_eq!(a.personal_number, b.personal_number);
        assert_eq!(
            (
                &a.given_name,
                &a.surname,
                &a.common_name,
                &a.country,
                &a.description
            ),
            (
                &b.given_name,
                &b.surname,
                &b.common_name,
                &b.country,
                &b.description
            )
        );
        assert_eq!(a.revoked, b.revoked);
        assert_eq!(
            a.auth_key.private_key_to_der().unwrap(),
            b.auth_key.private_key_to_der().unwrap()
        );
        assert_eq!(
            a.sign_key.as_ref().map(|k| k.private_key_to_der().unwrap()),
            b.sign_key.as_ref().map(|k| k.private_key_to_der().unwrap())
        );
    }
    assert_eq!(
        pki.root().key.private_key_to_der().unwrap(),
        loaded.root().key.private_key_to_der().unwrap()
    );
    for ca in [IssuingCa::Authentication, IssuingCa::Signing] {
        assert_eq!(
            pki.ocsp_responder(ca).key.private_key_to_der().unwrap(),
            loaded.ocsp_responder(ca).key.private_key_to_der().unwrap()
        );
    }
    verify(&loaded, &loaded.citizen(CITIZEN).unwrap().auth_cert, None).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn manifest_lists_every_file_that_exists() {
    let pki = pki();
    let dir = scratch_dir("manifest");
    let written = pki.write_to(&dir).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&written.manifest).unwrap()).unwrap();
    assert_eq!(manifest["format"], "geid-testkit-pki/1");

    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let mut listed = BTreeSet::from(["manifest.json".to_owned()]);
    let entries = manifest["entries"].as_array().unwrap();
    for entry in entries {
        for key in ["cert_pem", "cert_der", "key_pem"] {
            let file = entry[key].as_str().unwrap().to_owned();
            assert!(dir.join(&file).is_file(), "{file}");
            assert!(listed.insert(file.clone()), "{file} listed twice");
        }
    }
    assert_eq!(listed, on_disk);
    let written_names: BTreeSet<String> = written
        .files
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    assert_eq!(written_names, on_disk);

    // Roles, serials, personal numbers and revocation status as documented.
    let roles: BTreeSet<&str> = entries
        .iter()
        .map(|e| e["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        BTreeSet::from([
            "root",
            "intermediate",
            "ocsp-responder",
            "unknown-root",
            "non-ca-intermediate",
            "citizen-auth",
            "citizen-sign",
        ])
    );
    let find = |name: &str, role: &str| {
        entries
            .iter()
            .find(|e| e["name"] == name && e["role"] == role)
            .unwrap_or_else(|| panic!("{name} {role}"))
    };
    let c = citizen(CITIZEN);
    let auth = find(CITIZEN, "citizen-auth");
    assert_eq!(auth["personal_number"], c.personal_number.as_str());
    assert_eq!(
        auth["serial"],
        c.auth_cert
            .serial_number()
            .to_bn()
            .unwrap()
            .to_hex_str()
            .unwrap()
            .to_string()
            .as_str()
    );
    assert!(auth["subject"]
        .as_str()
        .unwrap()
        .contains("CN=გიორგი ბერიძე"));
    assert_eq!(auth["revocation"]["status"], "good");
    let revoked = find(REVOKED, "citizen-auth");
    assert_eq!(revoked["revocation"]["status"], "revoked");
    assert_eq!(revoked["revocation"]["reason"], "keyCompromise");
    assert!(revoked["revocation"]["time"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    assert!(find("root", "root").get("personal_number").is_none());

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("citizen.auth.key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "keys are private to the owner");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn load_refuses_a_key_that_does_not_match() {
    let pki = pki();
    let dir = scratch_dir("mismatch");
    pki.write_to(&dir).unwrap();
    std::fs::copy(
        dir.join("citizen-2.auth.key.pem"),
        dir.join("citizen.auth.key.pem"),
    )
    .unwrap();
    let err = Pki::load(&dir).unwrap_err();
    assert!(
        matches!(err, geid_testkit::Error::KeyMismatch { .. }),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn load_of_a_missing_directory_names_the_manifest() {
    let dir = scratch_dir("missing");
    let err = Pki::load(&dir).unwrap_err();
    assert!(err.to_string().contains("manifest.json"), "{err}");
}
