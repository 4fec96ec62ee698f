//! `geid verify`: verify a login token the way a portal would, for scripts and debugging.
//!
//! Exit 0 with the identity as JSON; exit 1 with `{"error": CODE, "message": …}` when the token
//! is refused; exit 2 on usage errors (bad arguments, unreadable files, invalid configuration).

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use clap::Args;
use geid_verify::{certificates_from_bytes, OcspConfig, Verifier, VerifierBuilder, VerifyError};

/// Arguments of `geid verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The token JSON file, or `-` for standard input.
    #[arg(long, value_name = "FILE|-")]
    token: String,
    /// The portal origin the token must be for, e.g. https://portal.example.ge.
    #[arg(long, value_name = "URL")]
    origin: String,
    /// The challenge nonce the portal issued.
    #[arg(long, value_name = "NONCE", value_parser = parse_nonce)]
    nonce: geid_protocol::ChallengeNonce,
    #[command(flatten)]
    trust: TrustArgs,
}

/// What to trust and how to check revocation: shared by `geid verify` and
/// `geid verify-signature`.
#[derive(Debug, Args)]
pub struct TrustArgs {
    /// Trust anchor certificate(s), PEM or DER; repeatable.
    #[arg(long, value_name = "FILE", required = true)]
    trust: Vec<PathBuf>,
    /// Intermediate CA certificate(s), PEM or DER; repeatable.
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
    pub(crate) json: bool,
}

impl TrustArgs {
    /// Applies anchors, intermediates, OCSP mode and verification time to a builder.
    pub(crate) fn apply(&self, mut b: VerifierBuilder) -> Result<VerifierBuilder, String> {
        b = b.ocsp(ocsp_config(&self.ocsp)?);
        for path in &self.trust {
            b = b.trust_anchors_from(&read(path)?);
        }
        for path in &self.intermediate {
            b = b.intermediates_from(&read(path)?);
        }
        if let Some(at) = self.at {
            b = b.at(at);
        }
        Ok(b)
    }
}

fn parse_nonce(s: &str) -> Result<geid_protocol::ChallengeNonce, String> {
    geid_protocol::ChallengeNonce::parse(s).map_err(|e| e.to_string())
}

pub(crate) fn parse_time(s: &str) -> Result<SystemTime, String> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("not an RFC 3339 time: {e}"))?;
    Ok(SystemTime::from(t))
}

pub(crate) fn read(path: &PathBuf) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

pub(crate) fn ocsp_config(mode: &str) -> Result<OcspConfig, String> {
    match mode {
        "off" => Ok(OcspConfig::off()),
        "aia" => Ok(OcspConfig::aia()),
        other => match other.rsplit_once('=') {
            Some((url, cert)) if !cert.contains('/') || std::path::Path::new(cert).exists() => {
                let bytes = read(&PathBuf::from(cert))?;
                let cert = certificates_from_bytes(&bytes)?
                    .into_iter()
                    .next()
                    .ok_or("no responder certificate")?;
                Ok(OcspConfig::designated(url, cert))
            }
            _ => {
                let mut c = OcspConfig::aia();
                c.mode = geid_verify::OcspMode::Url(other.to_owned());
                Ok(c)
            }
        },
    }
}

fn build(args: &VerifyArgs) -> Result<(Verifier, Vec<u8>), String> {
    let verifier = args
        .trust
        .apply(Verifier::builder().origin(&args.origin))?
        .build()
        .map_err(|e| e.to_string())?;
    let token = if args.token == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .take(64 * 1024)
            .read_to_end(&mut buf)
            .map_err(|e| format!("cannot read the token from stdin: {e}"))?;
        buf
    } else {
        read(&PathBuf::from(&args.token))?
    };
    Ok((verifier, token))
}

pub(crate) fn print(value: &serde_json::Value, compact: bool) {
    if compact {
        println!("{value}");
    } else {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
        );
    }
}

/// Runs `geid verify`.
pub fn run(args: VerifyArgs) -> ExitCode {
    let (verifier, token) = match build(&args) {
        Ok(v) => v,
        Err(message) => {
            eprintln!("geid verify: {message}");
            return ExitCode::from(2);
        }
    };
    // Trailing whitespace (a newline from `echo` or an editor) is not part of the token.
    let trimmed = token.trim_ascii_end();
    run_and_print(
        "geid verify",
        args.trust.json,
        verifier.verify(trimmed, &args.nonce),
    )
}

/// Runs one verification on a single-threaded runtime and prints the outcome: the result as
/// JSON with exit 0, or `{"error", "message"}` with exit 1.
pub(crate) fn run_and_print<T: serde::Serialize>(
    command: &str,
    compact: bool,
    verification: impl std::future::Future<Output = Result<T, VerifyError>>,
) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{command}: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(verification) {
        Ok(result) => {
            print(&serde_json::to_value(&result).unwrap_or_default(), compact);
            ExitCode::SUCCESS
        }
        Err(e) => {
            print(&error_json(&e), compact);
            ExitCode::FAILURE
        }
    }
}

pub(crate) fn error_json(e: &VerifyError) -> serde_json::Value {
    serde_json::json!({"error": e.code(), "message": e.to_string()})
}
