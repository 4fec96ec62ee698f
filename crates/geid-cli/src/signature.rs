//! `geid sign` (a detached CAdES-BES signature made with the card) and `geid verify-signature`.
//!
//! `sign` exits 0 with the `.p7s` written, 1 on failure (one line on stderr), 2 on usage.
//! `verify-signature` follows `geid verify`: exit 0 with the signer as JSON; exit 1 with
//! `{"error": CODE, "message": …}` when the signature is refused; exit 2 on usage errors.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Context;
use clap::Args;
use geid_card::{KeyKind, KeySlot};
use geid_cms::{HashFunction, SignatureScheme};
use geid_verify::Verifier;

use crate::card::{connect, pin_entry, PinArgs, ReaderArgs};
use crate::verify::{read, run_and_print, TrustArgs};

/// Arguments of `geid sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The document to sign.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Where to write the detached signature (default: FILE.p7s).
    #[arg(long, value_name = "FILE.p7s")]
    out: Option<PathBuf>,
    #[command(flatten)]
    reader: ReaderArgs,
    #[command(flatten)]
    pin: PinArgs,
}

/// `geid sign`: signs FILE with the card's qualified-signature key (SHA-256).
pub fn sign(a: SignArgs) -> anyhow::Result<()> {
    let content =
        std::fs::read(&a.file).with_context(|| format!("cannot read {}", a.file.display()))?;
    let out = a.out.clone().unwrap_or_else(|| {
        let mut name = a.file.clone().into_os_string();
        name.push(".p7s");
        PathBuf::from(name)
    });
    let pin = pin_entry(&a.pin, "signature PIN")?;
    let mut card = connect(&a.reader)?;
    let cert = card.certificate(KeySlot::Signing)?;
    let info = geid_card::CertificateInfo::parse(&cert)?;
    let scheme = match info.key {
        KeyKind::Rsa { .. } => SignatureScheme::RsaPkcs1,
        KeyKind::Ec { .. } => SignatureScheme::Ecdsa,
    };
    let hash = HashFunction::Sha256;
    let prepared = geid_cms::prepare(&content, hash, &cert, SystemTime::now())?;
    let signature = card.sign(KeySlot::Signing, hash, &prepared.digest_to_sign(), pin)?;
    let p7s = prepared.assemble(&signature, scheme)?;
    std::fs::write(&out, &p7s).with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "signed {} as {} ({}); signature written to {}",
        a.file.display(),
        info.common_name.as_deref().unwrap_or(&info.subject),
        info.personal_number
            .as_deref()
            .unwrap_or("no personal number"),
        out.display()
    );
    Ok(())
}

/// Arguments of `geid verify-signature`.
#[derive(Debug, Args)]
pub struct VerifySignatureArgs {
    /// The signed document.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The detached CMS signature (DER).
    #[arg(value_name = "FILE.p7s")]
    signature: PathBuf,
    /// Anchors, intermediates (the signing CA), OCSP, time, output.
    #[command(flatten)]
    trust: TrustArgs,
}

fn build(
    a: &VerifySignatureArgs,
) -> Result<(geid_verify::SignatureVerifier, Vec<u8>, Vec<u8>), String> {
    let verifier = a
        .trust
        .apply(Verifier::builder())?
        .build_signature_verifier()
        .map_err(|e| e.to_string())?;
    Ok((verifier, read(&a.file)?, read(&a.signature)?))
}

/// Runs `geid verify-signature`.
pub fn verify_signature(a: VerifySignatureArgs) -> ExitCode {
    let (verifier, content, p7s) = match build(&a) {
        Ok(v) => v,
        Err(message) => {
            eprintln!("geid verify-signature: {message}");
            return ExitCode::from(2);
        }
    };
    run_and_print(
        "geid verify-signature",
        a.trust.json,
        verifier.verify_signature(&content, &p7s),
    )
}
