//! `geid testkit ocsp`: the test OCSP responder and CRL server, answering from a PKI directory.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use geid_testkit::{Fault, OcspServer, ResponderOptions};

/// Arguments of `geid testkit ocsp`.
#[derive(Debug, Args)]
pub struct OcspArgs {
    /// The PKI directory written by `geid testkit pki`.
    #[arg(long, value_name = "DIR")]
    pki: PathBuf,
    /// Address to listen on; port 0 picks a free one (the URL is printed on the first line).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8990")]
    listen: String,
    /// Also report this certificate serial (hex) revoked; repeatable.
    #[arg(long, value_name = "SERIAL")]
    revoked: Vec<String>,
    /// Do not echo request nonces (a pre-producing responder).
    #[arg(long)]
    no_nonce: bool,
    /// Wait this many milliseconds before each answer.
    #[arg(long, value_name = "N", default_value_t = 0)]
    delay_ms: u64,
    /// Answer random bytes instead of OCSP responses.
    #[arg(long)]
    garbage: bool,
    /// Misbehave in one precise way (for verifier tests).
    #[arg(long, value_enum)]
    fault: Option<FaultArg>,
    /// Sign responses with the issuing CA's own key instead of its delegated responder.
    #[arg(long)]
    signed_by_ca: bool,
    /// nextUpdate this many seconds after thisUpdate (0: omit nextUpdate).
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    next_update_secs: u64,
}

/// Named faults.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FaultArg {
    /// Sign with a key not authorised for the CA.
    UnauthorisedSigner,
    /// thisUpdate an hour old.
    StaleThisUpdate,
    /// Echo a different nonce.
    WrongNonce,
    /// Answer for another serial.
    WrongCertId,
    /// OCSP status tryLater.
    TryLater,
    /// HTTP 500.
    HttpError,
    /// nextUpdate in the past.
    ExpiredNextUpdate,
}

/// Runs the responder until the process is stopped.
pub fn run(args: OcspArgs) -> anyhow::Result<()> {
    let pki = geid_testkit::Pki::load(&args.pki)
        .with_context(|| format!("loading the PKI from {}", args.pki.display()))?;
    let fault = match (args.garbage, args.fault) {
        (true, _) => Fault::Garbage,
        (false, Some(FaultArg::UnauthorisedSigner)) => Fault::UnauthorisedSigner,
        (false, Some(FaultArg::StaleThisUpdate)) => Fault::StaleThisUpdate,
        (false, Some(FaultArg::WrongNonce)) => Fault::WrongNonce,
        (false, Some(FaultArg::WrongCertId)) => Fault::WrongCertId,
        (false, Some(FaultArg::TryLater)) => Fault::TryLater,
        (false, Some(FaultArg::HttpError)) => Fault::HttpError,
        (false, Some(FaultArg::ExpiredNextUpdate)) => Fault::ExpiredNextUpdate,
        (false, None) => Fault::None,
    };
    let options = ResponderOptions {
        revoked: args.revoked,
        no_nonce: args.no_nonce,
        delay: Duration::from_millis(args.delay_ms),
        fault,
        next_update: (args.next_update_secs > 0)
            .then(|| Duration::from_secs(args.next_update_secs)),
        signed_by_ca: args.signed_by_ca,
    };
    let server = OcspServer::start(pki, &args.listen, options).context("starting the responder")?;
    // A reader that goes away must not take the responder down: write errors are ignored.
    use std::io::Write;
    let base = server.base_url();
    let mut out = std::io::stdout();
    let _ = writeln!(out, "listening on {base}");
    let _ = writeln!(
        out,
        "OCSP: {base}/ocsp/auth, {base}/ocsp/sign; CRL: {base}/crl/auth.crl, {base}/crl/sign.crl"
    );
    let _ = out.flush();
    loop {
        std::thread::park();
    }
}
