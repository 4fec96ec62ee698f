#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
//! Shared helpers: a software key standing in for the card.

use openssl::pkey::{PKey, Private};

/// Signs a precomputed `digest` the way the card does: PKCS#1 v1.5 over DigestInfo for RSA,
/// DER ECDSA for EC keys.
pub fn sign_digest(key: &PKey<Private>, md: &openssl::md::MdRef, digest: &[u8]) -> Vec<u8> {
    let mut ctx = openssl::pkey_ctx::PkeyCtx::new(key).unwrap();
    ctx.sign_init().unwrap();
    if key.rsa().is_ok() {
        ctx.set_rsa_padding(openssl::rsa::Padding::PKCS1).unwrap();
        ctx.set_signature_md(md).unwrap();
    }
    let mut out = Vec::new();
    ctx.sign_to_vec(digest, &mut out).unwrap();
    out
}

/// Runs `openssl` with `args`; returns (success, stderr).
pub fn openssl(args: &[&std::ffi::OsStr]) -> (bool, String) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl command line is installed");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
