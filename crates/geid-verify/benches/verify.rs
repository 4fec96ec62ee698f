//! Tokens verified per second on one core, next to the bare openssl signature check of the
//! same key type, with OCSP off and with OCSP answered from the cache; plus memory per cached
//! chain. Run: `cargo bench -p geid-verify -- --quick`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use criterion::{black_box, criterion_group, Criterion};
use geid_protocol::{ChallengeNonce, Origin, SignatureAlgorithm};
use geid_testkit::pki::{CertifiedKey, Pki, CITIZEN, EE_P256, EE_P384};
use geid_testkit::{OcspServer, ResponderOptions, TokenSigner};
use geid_verify::{OcspConfig, OcspMode, Verifier};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Public};

const ORIGIN: &str = "https://portal.example.ge";

fn builder(pki: &Pki) -> geid_verify::VerifierBuilder {
    let mut b = Verifier::builder()
        .origin(ORIGIN)
        .trust_anchor(pki.root().cert.clone());
    for c in pki.intermediates() {
        b = b.intermediate(c.clone());
    }
    b
}

struct Case {
    label: &'static str,
    citizen: &'static str,
    alg: SignatureAlgorithm,
}

const CASES: [Case; 3] = [
    Case {
        label: "RS256 (RSA-2048)",
        citizen: CITIZEN,
        alg: SignatureAlgorithm::Rs256,
    },
    Case {
        label: "ES256 (P-256)",
        citizen: EE_P256,
        alg: SignatureAlgorithm::Es256,
    },
    Case {
        label: "ES384 (P-384)",
        citizen: EE_P384,
        alg: SignatureAlgorithm::Es384,
    },
];

fn bench(c: &mut Criterion) {
    let pki = Pki::shared();
    let origin = Origin::parse(ORIGIN).unwrap();
    let nonce = ChallengeNonce::generate().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let offline = builder(pki).ocsp(OcspConfig::off()).build().unwrap();
    let server = OcspServer::start(
        pki.clone(),
        "127.0.0.1:0",
        ResponderOptions {
            no_nonce: true,
            next_update: Some(Duration::from_secs(3600)),
            ..Default::default()
        },
    )
    .unwrap();
    let mut ocsp = OcspConfig::aia();
    ocsp.mode = OcspMode::Url(server.ocsp_url(geid_testkit::IssuingCa::Authentication));
    ocsp.use_nonce = false;
    let cached_ocsp = builder(pki).ocsp(ocsp).build().unwrap();

    let mut group = c.benchmark_group("verify");
    for case in CASES {
        let citizen = pki.citizen(case.citizen).unwrap();
        let signer = TokenSigner::new(&citizen.auth_cert, citizen.auth_key.clone()).unwrap();
        let token = signer.token(case.alg, &origin, &nonce).unwrap();
        let json = token.to_json();
        // Warm the chain cache and the OCSP cache.
        rt.block_on(offline.verify(json.as_bytes(), &nonce))
            .unwrap();
        rt.block_on(cached_ocsp.verify(json.as_bytes(), &nonce))
            .unwrap();

        group.bench_function(format!("{} token, OCSP off", case.label), |b| {
            b.iter(|| {
                rt.block_on(offline.verify(black_box(json.as_bytes()), &nonce))
                    .unwrap()
            })
        });
        group.bench_function(format!("{} token, OCSP from cache", case.label), |b| {
            b.iter(|| {
                rt.block_on(cached_ocsp.verify(black_box(json.as_bytes()), &nonce))
                    .unwrap()
            })
        });

        let key: PKey<Public> = citizen.auth_cert.public_key().unwrap();
        let data = case.alg.signed_data(&origin, &nonce);
        let signature = match case.alg.ecdsa_field_len() {
            Some(n) => geid_protocol::ecdsa_raw_to_der(&token.signature, n).unwrap(),
            None => token.signature.clone(),
        };
        let md = match case.alg.hash().output_len() {
            48 => MessageDigest::sha384(),
            _ => MessageDigest::sha256(),
        };
        group.bench_function(format!("{} bare openssl verify", case.label), |b| {
            b.iter(|| {
                let mut v = openssl::sign::Verifier::new(md, &key).unwrap();
                assert!(v
                    .verify_oneshot(black_box(&signature), black_box(&data))
                    .unwrap());
            })
        });
    }
    group.finish();
    assert!(server.requests() <= 3, "OCSP answered from the cache");
}

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Fills the chain cache with `n` distinct certificates (same key, different serials) and
/// reports the resident-memory growth per entry.
fn memory_per_cached_chain() {
    const N: usize = 2000;
    let pki = Pki::shared();
    let origin = Origin::parse(ORIGIN).unwrap();
    let nonce = ChallengeNonce::generate().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let verifier = builder(pki)
        .ocsp(OcspConfig::off())
        .chain_cache_capacity(N + 10)
        .build()
        .unwrap();
    let base = pki.citizen(CITIZEN).unwrap();
    let tokens: Vec<String> = (0..N)
        .map(|i| {
            let cert = reissue(&base.auth_cert, pki.auth_ca(), i as u32 + 1);
            TokenSigner::new(&cert, base.auth_key.clone())
                .unwrap()
                .token(SignatureAlgorithm::Rs256, &origin, &nonce)
                .unwrap()
                .to_json()
        })
        .collect();
    // One verification first so lazily allocated openssl/tokio state is not counted.
    rt.block_on(verifier.verify(tokens[0].as_bytes(), &nonce))
        .unwrap();
    let before = rss_bytes();
    for t in &tokens[1..] {
        rt.block_on(verifier.verify(t.as_bytes(), &nonce)).unwrap();
    }
    let after = rss_bytes();
    assert_eq!(verifier.cached_chains(), N);
    println!(
        "memory per cached chain: {} bytes (RSS growth over {} RSA-2048 citizen chains; \
         certificate DER is {} bytes)",
        after.saturating_sub(before) / (N - 1),
        N - 1,
        base.auth_cert.to_der().unwrap().len()
    );
}

fn reissue(template: &openssl::x509::X509, ca: &CertifiedKey, serial: u32) -> openssl::x509::X509 {
    let mut b = openssl::x509::X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    let sn = openssl::bn::BigNum::from_u32(serial)
        .unwrap()
        .to_asn1_integer()
        .unwrap();
    b.set_serial_number(&sn).unwrap();
    b.set_subject_name(template.subject_name()).unwrap();
    b.set_issuer_name(template.issuer_name()).unwrap();
    b.set_not_before(template.not_before()).unwrap();
    b.set_not_after(template.not_after()).unwrap();
    b.set_pubkey(&template.public_key().unwrap()).unwrap();
    let der = template.to_der().unwrap();
    for ext in geid_testkit::der::certificate_extensions(&der).unwrap() {
        let object = openssl::asn1::Asn1Object::from_str(&ext.oid).unwrap();
        let value = openssl::asn1::Asn1OctetString::new_from_bytes(&ext.value).unwrap();
        b.append_extension(
            openssl::x509::X509Extension::new_from_der(&object, ext.critical, &value).unwrap(),
        )
        .unwrap();
    }
    b.sign(&ca.key, MessageDigest::sha256()).unwrap();
    b.build()
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}

fn main() {
    memory_per_cached_chain();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
