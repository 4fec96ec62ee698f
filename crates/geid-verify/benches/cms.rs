//! Document signatures: the cost of `geid_cms::prepare` + `assemble` (the card's signature
//! precomputed, so only the CMS work is timed), of parsing, and of
//! `SignatureVerifier::verify_signature` with OCSP off, for a 10 KiB document signed with
//! RSA-2048. Run: `cargo bench -p geid-verify --bench cms -- --quick`; medians are in
//! `target/criterion/cms*/new/estimates.json`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::SystemTime;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use geid_cms::{prepare, HashFunction, SignatureScheme, SignedDocument};
use geid_testkit::pki::{Pki, CITIZEN};
use geid_verify::{OcspConfig, Verifier};

fn bench(c: &mut Criterion) {
    let pki = Pki::shared();
    let citizen = pki.citizen(CITIZEN).unwrap();
    let cert = citizen.sign_cert.as_ref().unwrap().to_der().unwrap();
    let key = citizen.sign_key.as_ref().unwrap();
    let document: Vec<u8> = (0..10 * 1024).map(|i| (i % 251) as u8).collect();
    let at = SystemTime::now();

    let prepared = prepare(&document, HashFunction::Sha256, &cert, at).unwrap();
    let signature = {
        let mut ctx = openssl::pkey_ctx::PkeyCtx::new(key).unwrap();
        ctx.sign_init().unwrap();
        ctx.set_rsa_padding(openssl::rsa::Padding::PKCS1).unwrap();
        ctx.set_signature_md(openssl::md::Md::sha256()).unwrap();
        let mut out = Vec::new();
        ctx.sign_to_vec(&prepared.digest_to_sign(), &mut out)
            .unwrap();
        out
    };
    let p7s = prepared
        .assemble(&signature, SignatureScheme::RsaPkcs1)
        .unwrap();

    c.bench_function("cms prepare+assemble (10 KiB, RSA-2048)", |b| {
        b.iter(|| {
            let p = prepare(black_box(&document), HashFunction::Sha256, &cert, at).unwrap();
            let _ = black_box(p.digest_to_sign());
            black_box(p.assemble(&signature, SignatureScheme::RsaPkcs1).unwrap())
        })
    });
    c.bench_function("cms parse", |b| {
        b.iter(|| black_box(SignedDocument::parse(black_box(&p7s)).unwrap()))
    });

    let verifier = Verifier::builder()
        .trust_anchor(pki.root().cert.clone())
        .intermediate(pki.sign_ca().cert.clone())
        .ocsp(OcspConfig::off())
        .build_signature_verifier()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(verifier.verify_signature(&document, &p7s))
        .unwrap();
    c.bench_function("cms verify_signature (10 KiB, RSA-2048, OCSP off)", |b| {
        b.iter(|| {
            black_box(
                rt.block_on(verifier.verify_signature(black_box(&document), black_box(&p7s)))
                    .unwrap(),
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
