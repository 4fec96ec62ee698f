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
use crate::verify::{error_json, ocsp_config, parse_time, print, read};

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
    /// Trust anchor certificate(s), PEM or DER; repeatable.
    #[arg(long, value_name = "FILE", required = true)]
    trust: Vec<PathBuf>,
    /// Intermediate CA certificate(s) (the signing CA), PEM or DER; repeatable.
    #[arg(long, value_name = "FILE")]
    intermediate: Vec<PathBuf>,
    /// OCSP: `off`, `aia` (the certificate's responder), `URL` (fixed responder, CA or
    /// delegate signs) or `URL=RESPONDER_CERT` (designated responder with a pinned certificate).
    #[arg(long, value_name = "MODE", default_value = "aia")]
    ocsp: String,
    /// Verify as of this time (RFC 3339) instead of now.
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    at: Option<SystemTime>,
    /// Print compact one-line JSON.
    #[arg(long)]
    json: bool,
}

fn build(
    a: &VerifySignatureArgs,
) -> Result<(geid_verify::SignatureVerifier, Vec<u8>, Vec<u8>), String> {
    let mut b = Verifier::builder().ocsp(ocsp_config(&a.ocsp)?);
    for path in &a.trust {
        b = b.trust_anchors_from(&read(path)?);
    }
    for path in &a.intermediate {
        b = b.intermediates_from(&read(path)?);
    }
    if let Some(at) = a.at {
        b = b.at(at);
    }
    let verifier = b.build_signature_verifier().map_err(|e| e.to_string())?;
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
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("geid verify-signature: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(verifier.verify_signature(&content, &p7s)) {
        Ok(signer) => {
            print(&serde_json::to_value(&signer).unwrap_or_default(), a.json);
            ExitCode::SUCCESS
        }
        Err(e) => {
            print(&error_json(&e), a.json);
            ExitCode::FAILURE
        }
    }
}
