//! Revocation through a real OCSP responder (and CRL server) on loopback: the testkit's
//! [`OcspServer`], answering from a PKI generated for this test binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::TcpListener;
use std::sync::OnceLock;
use std::time::Duration;

use common::*;
use geid_protocol::SignatureAlgorithm::*;
use geid_testkit::pki::{IssuingCa, Pki, CITIZEN, CITIZEN_2, REVOKED};
use geid_testkit::{Fault, OcspServer, ResponderOptions};
use geid_verify::{CrlConfig, CrlMode, OcspConfig, OcspMode, OcspProblem, Verifier, VerifyError};

const AUTH: IssuingCa = IssuingCa::Authentication;

/// A PKI whose AIA and CDP URLs point at a well-behaved responder started for it.
fn world() -> &'static (Pki, OcspServer) {
    static WORLD: OnceLock<(Pki, OcspServer)> = OnceLock::new();
    WORLD.get_or_init(|| {
        OcspServer::with_new_pki(ResponderOptions {
            next_update: Some(Duration::from_secs(3600)),
            ..Default::default()
        })
        .unwrap()
    })
}

fn wpki() -> &'static Pki {
    &world().0
}

fn token_of(name: &str, n: &geid_protocol::ChallengeNonce) -> String {
    let c = wpki().citizen(name).unwrap();
    token_with(&c.auth_cert, &c.auth_key, Rs256, n)
}

fn verifier_with(ocsp: OcspConfig) -> Verifier {
    builder_for(wpki()).ocsp(ocsp).build().unwrap()
}

fn responder(options: ResponderOptions) -> OcspServer {
    OcspServer::start(wpki().clone(), "127.0.0.1:0", options).unwrap()
}

/// OCSP at a fixed URL, authorised like AIA (issuing CA or its delegate).
fn at(server: &OcspServer) -> OcspConfig {
    let mut c = OcspConfig::aia();
    c.mode = OcspMode::Url(server.ocsp_url(AUTH));
    c
}

fn faulty(fault: Fault) -> VerifyError {
    let server = responder(ResponderOptions {
        fault,
        ..Default::default()
    });
    let n = nonce();
    reject(&verifier_with(at(&server)), &token_of(CITIZEN, &n), &n)
}

fn problem(e: &VerifyError) -> OcspProblem {
    assert_eq!(e.code(), "OCSP_INVALID", "{e}");
    e.ocsp_problem().cloned().unwrap()
}

#[test]
fn good_via_aia_with_nonce() {
    let n = nonce();
    let id =
        run(verifier_with(OcspConfig::aia()).verify(token_of(CITIZEN, &n).as_bytes(), &n)).unwrap();
    assert_eq!(id.personal_number, "01001000001");
}

#[test]
fn revoked_via_aia() {
    let n = nonce();
    let e = reject(
        &verifier_with(OcspConfig::aia()),
        &token_of(REVOKED, &n),
        &n,
    );
    assert!(
        matches!(&e, VerifyError::CertificateRevoked(m) if m.contains("KeyCompromise")),
        "{e}"
    );
    assert_eq!(e.code(), "CERT_REVOKED");
}

#[test]
fn revoked_by_responder_option() {
    let serial = wpki()
        .citizen(CITIZEN_2)
        .unwrap()
        .auth_cert
        .serial_number()
        .to_bn()
        .unwrap();
    let server = responder(ResponderOptions {
        revoked: vec![serial.to_hex_str().unwrap().to_string()],
        ..Default::default()
    });
    let n = nonce();
    let e = reject(&verifier_with(at(&server)), &token_of(CITIZEN_2, &n), &n);
    assert_eq!(e.code(), "CERT_REVOKED");
}

#[test]
fn unknown_to_the_responder() {
    // Issued by the real CA but never recorded in the PKI the responder answers from.
    let n = nonce();
    let leaf = Leaf::rsa();
    let key = leaf.key.clone();
    let cert = leaf.issue(wpki().auth_ca());
    let server = responder(ResponderOptions::default());
    let e = reject(
        &verifier_with(at(&server)),
        &token_with(&cert, &key, Rs256, &n),
        &n,
    );
    assert_eq!(e, VerifyError::CertificateStatusUnknown);
    assert_eq!(e.code(), "CERT_STATUS_UNKNOWN");
}

#[test]
fn certificate_without_aia() {
    let n = nonce();
    let leaf = Leaf::rsa();
    let key = leaf.key.clone();
    let cert = leaf.issue(wpki().auth_ca());
    let e = reject(
        &verifier_with(OcspConfig::aia()),
        &token_with(&cert, &key, Rs256, &n),
        &n,
    );
    assert!(
        matches!(&e, VerifyError::OcspUnavailable(m) if m.contains("Authority")),
        "{e}"
    );
}

#[test]
fn responder_down() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut c = OcspConfig::aia();
    c.mode = OcspMode::Url(format!("http://127.0.0.1:{port}/ocsp/auth"));
    let n = nonce();
    let e = reject(&verifier_with(c), &token_of(CITIZEN, &n), &n);
    assert_eq!(e.code(), "OCSP_UNAVAILABLE", "{e}");
}

#[test]
fn responder_slower_than_the_timeout() {
    let server = responder(ResponderOptions {
        delay: Duration::from_millis(2000),
        ..Default::default()
    });
    let mut c = at(&server);
    c.timeout = Duration::from_millis(300);
    let n = nonce();
    let started = std::time::Instant::now();
    let e = reject(&verifier_with(c), &token_of(CITIZEN, &n), &n);
    assert_eq!(e.code(), "OCSP_UNAVAILABLE", "{e}");
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn responder_returns_garbage() {
    assert_eq!(problem(&faulty(Fault::Garbage)), OcspProblem::Malformed);
}

#[test]
fn responder_signed_by_an_unauthorised_key() {
    assert_eq!(
        problem(&faulty(Fault::UnauthorisedSigner)),
        OcspProblem::UnauthorisedSigner
    );
}

#[test]
fn responder_with_stale_this_update() {
    assert_eq!(problem(&faulty(Fault::StaleThisUpdate)), OcspProblem::Stale);
}

#[test]
fn responder_with_mismatched_nonce() {
    assert_eq!(
        problem(&faulty(Fault::WrongNonce)),
        OcspProblem::NonceMismatch
    );
}

#[test]
fn responder_that_does_not_echo_the_nonce() {
    let server = responder(ResponderOptions {
        no_nonce: true,
        ..Default::default()
    });
    let n = nonce();
    let e = reject(&verifier_with(at(&server)), &token_of(CITIZEN, &n), &n);
    assert_eq!(problem(&e), OcspProblem::NonceMismatch);
}

#[test]
fn responder_with_mismatched_cert_id() {
    assert_eq!(
        problem(&faulty(Fault::WrongCertId)),
        OcspProblem::CertIdMismatch
    );
}

#[test]
fn responder_with_next_update_in_the_past() {
    assert_eq!(
        problem(&faulty(Fault::ExpiredNextUpdate)),
        OcspProblem::Expired
    );
}

#[test]
fn response_signed_by_the_issuing_ca_itself_is_accepted() {
    let server = responder(ResponderOptions {
        signed_by_ca: true,
        ..Default::default()
    });
    let n = nonce();
    run(verifier_with(at(&server)).verify(token_of(CITIZEN, &n).as_bytes(), &n)).unwrap();
    let n = nonce();
    assert_eq!(
        reject(&verifier_with(at(&server)), &token_of(REVOKED, &n), &n).code(),
        "CERT_REVOKED"
    );
}

#[test]
fn response_signed_by_the_ca_is_refused_by_a_designated_pin() {
    let server = responder(ResponderOptions {
        signed_by_ca: true,
        ..Default::default()
    });
    let pinned = wpki().ocsp_responder(AUTH).cert.clone();
    let v = verifier_with(OcspConfig::designated(server.ocsp_url(AUTH), pinned));
    let n = nonce();
    assert_eq!(
        problem(&reject(&v, &token_of(CITIZEN, &n), &n)),
        OcspProblem::UnauthorisedSigner
    );
}

#[test]
fn responder_says_try_later() {
    let e = faulty(Fault::TryLater);
    assert!(
        matches!(&e, VerifyError::OcspUnavailable(m) if m.contains("TryLater")),
        "{e}"
    );
}

#[test]
fn responder_http_error() {
    let e = faulty(Fault::HttpError);
    assert!(
        matches!(&e, VerifyError::OcspUnavailable(m) if m.contains("500")),
        "{e}"
    );
}

#[test]
fn response_larger_than_the_cap() {
    let server = responder(ResponderOptions::default());
    let mut c = at(&server);
    c.max_response_bytes = 200;
    let n = nonce();
    let e = reject(&verifier_with(c), &token_of(CITIZEN, &n), &n);
    assert!(
        matches!(&e, VerifyError::OcspUnavailable(m) if m.contains("larger")),
        "{e}"
    );
}

#[test]
fn designated_responder_with_pinned_certificate() {
    let server = responder(ResponderOptions::default());
    let pinned = wpki().ocsp_responder(AUTH).cert.clone();
    let v = verifier_with(OcspConfig::designated(server.ocsp_url(AUTH), pinned));
    let n = nonce();
    run(v.verify(token_of(CITIZEN, &n).as_bytes(), &n)).unwrap();
    let n = nonce();
    assert_eq!(
        reject(&v, &token_of(REVOKED, &n), &n).code(),
        "CERT_REVOKED"
    );
}

#[test]
fn designated_responder_pinned_to_another_certificate() {
    let server = responder(ResponderOptions::default());
    let wrong = wpki().ocsp_responder(IssuingCa::Signing).cert.clone();
    let v = verifier_with(OcspConfig::designated(server.ocsp_url(AUTH), wrong));
    let n = nonce();
    assert_eq!(
        problem(&reject(&v, &token_of(CITIZEN, &n), &n)),
        OcspProblem::UnauthorisedSigner
    );
}

#[test]
fn designated_responder_signing_with_an_unpinned_key() {
    let server = responder(ResponderOptions {
        fault: Fault::UnauthorisedSigner,
        ..Default::default()
    });
    let pinned = wpki().ocsp_responder(AUTH).cert.clone();
    let v = verifier_with(OcspConfig::designated(server.ocsp_url(AUTH), pinned));
    let n = nonce();
    assert_eq!(
        problem(&reject(&v, &token_of(CITIZEN, &n), &n)),
        OcspProblem::UnauthorisedSigner
    );
}

#[test]
fn nonce_less_responses_are_cached_until_next_update() {
    let server = responder(ResponderOptions {
        no_nonce: true,
        next_update: Some(Duration::from_secs(600)),
        ..Default::default()
    });
    let mut c = at(&server);
    c.use_nonce = false;
    let v = verifier_with(c);
    for _ in 0..3 {
        let n = nonce();
        run(v.verify(token_of(CITIZEN, &n).as_bytes(), &n)).unwrap();
    }
    assert_eq!(
        server.requests(),
        1,
        "the second and third logins are answered from the cache"
    );
    // Revoked answers are never cached.
    for _ in 0..2 {
        let n = nonce();
        assert_eq!(
            reject(&v, &token_of(REVOKED, &n), &n).code(),
            "CERT_REVOKED"
        );
    }
    assert_eq!(server.requests(), 3);
}

#[test]
fn nonce_less_stale_response_without_next_update() {
    let server = responder(ResponderOptions {
        no_nonce: true,
        fault: Fault::StaleThisUpdate,
        ..Default::default()
    });
    let mut c = at(&server);
    c.use_nonce = false;
    let n = nonce();
    assert_eq!(
        problem(&reject(&verifier_with(c), &token_of(CITIZEN, &n), &n)),
        OcspProblem::Stale
    );
}

#[test]
fn this_update_in_the_future_beyond_skew() {
    // The verifier's clock is an hour behind the responder's.
    let server = responder(ResponderOptions::default());
    let v = builder_for(wpki())
        .ocsp(at(&server))
        .allowed_skew(Duration::from_secs(60))
        .at(std::time::SystemTime::now() - Duration::from_secs(3600))
        .build()
        .unwrap();
    let n = nonce();
    assert_eq!(
        problem(&reject(&v, &token_of(CITIZEN, &n), &n)),
        OcspProblem::NotYetValid
    );
}

// ---- CRL -----------------------------------------------------------------------------------

fn crl_verifier(mode: CrlMode) -> Verifier {
    let crl = CrlConfig {
        mode,
        ..Default::default()
    };
    builder_for(wpki()).crl(crl).build().unwrap()
}

#[test]
fn crl_from_the_distribution_point_accepts_a_good_certificate() {
    let n = nonce();
    run(crl_verifier(CrlMode::DistributionPoint).verify(token_of(CITIZEN, &n).as_bytes(), &n))
        .unwrap();
}

#[test]
fn crl_lists_the_revoked_citizen() {
    let n = nonce();
    let e = reject(
        &crl_verifier(CrlMode::DistributionPoint),
        &token_of(REVOKED, &n),
        &n,
    );
    assert!(
        matches!(&e, VerifyError::CertificateRevoked(m) if m.contains("CRL")),
        "{e}"
    );
}

#[test]
fn crl_is_cached_until_next_update() {
    let server = responder(ResponderOptions::default());
    let v = crl_verifier(CrlMode::Url(server.crl_url(AUTH)));
    for _ in 0..3 {
        let n = nonce();
        run(v.verify(token_of(CITIZEN, &n).as_bytes(), &n)).unwrap();
    }
    assert_eq!(server.requests(), 1);
}

#[test]
fn crl_of_another_ca() {
    let server = responder(ResponderOptions::default());
    let n = nonce();
    let e = reject(
        &crl_verifier(CrlMode::Url(server.crl_url(IssuingCa::Signing))),
        &token_of(CITIZEN, &n),
        &n,
    );
    assert!(
        matches!(&e, VerifyError::CrlUnavailable(m) if m.contains("issuing CA")),
        "{e}"
    );
}

#[test]
fn crl_server_down() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let n = nonce();
    let v = crl_verifier(CrlMode::Url(format!(
        "http://127.0.0.1:{port}/crl/auth.crl"
    )));
    assert_eq!(
        reject(&v, &token_of(CITIZEN, &n), &n).code(),
        "CRL_UNAVAILABLE"
    );
}

#[test]
fn crl_garbage() {
    let server = responder(ResponderOptions {
        fault: Fault::HttpError,
        ..Default::default()
    });
    let n = nonce();
    let v = crl_verifier(CrlMode::Url(server.crl_url(AUTH)));
    assert_eq!(
        reject(&v, &token_of(CITIZEN, &n), &n).code(),
        "CRL_UNAVAILABLE"
    );
}
