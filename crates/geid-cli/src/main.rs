//! `geid`: diagnostics and scripting.
//!
//! This binary is argument parsing and wiring only; behaviour lives in the library crates.
//! Exit codes: 0 success, 1 failure (one line on stderr), 2 usage error (clap's default).
#![forbid(unsafe_code)]

#[cfg(feature = "testkit")]
use std::path::PathBuf;
use std::process::ExitCode;

#[cfg(feature = "testkit")]
use anyhow::Context;
#[cfg(feature = "testkit")]
use clap::Args;
use clap::{Parser, Subcommand};

mod card;
mod signature;
#[cfg(feature = "testkit")]
mod testkit_ocsp;
mod verify;

/// geid: Georgian ID card login toolkit — diagnostics and scripting.
#[derive(Debug, Parser)]
#[command(name = "geid", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the stable error codes the host and extension report, with what to do about each.
    Errors {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Verify a login token as a portal would: chain, policy, OCSP, signature.
    Verify(verify::VerifyArgs),
    /// Sign a document with the card's qualified-signature key: a detached CAdES-BES .p7s.
    Sign(signature::SignArgs),
    /// Verify a detached CMS signature (.p7s) over a document: chain, key usage, OCSP.
    VerifySignature(signature::VerifySignatureArgs),
    /// List smart-card readers and the cards in them.
    Readers {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show the card holder, certificates and PIN retry counters.
    Info(card::InfoArgs),
    /// Log in: sign a challenge with the card and print the Web eID token.
    Auth(card::AuthArgs),
    /// PIN management: status, change, unblock.
    #[command(subcommand)]
    Pin(card::PinCommand),
    /// Record an APDU trace of a card (PIN bytes redacted) to confirm the card profile.
    Trace(card::TraceArgs),
    /// The test world: generated PKI and other test fixtures.
    #[cfg(feature = "testkit")]
    #[command(subcommand)]
    Testkit(TestkitCommand),
    /// Login tokens made with software keys (tests, integrators, load generators).
    #[cfg(feature = "testkit")]
    #[command(subcommand)]
    Token(TokenCommand),
}

#[cfg(feature = "testkit")]
#[derive(Debug, Subcommand)]
enum TestkitCommand {
    /// Generate a test PKI (root, CAs, OCSP responders, citizens) and write it to a directory.
    Pki(PkiArgs),
    /// Run the test OCSP responder and CRL server for a PKI directory.
    Ocsp(testkit_ocsp::OcspArgs),
    /// Run a virtual ID card for a test citizen behind pcscd's vpcd reader.
    Card(card::TestkitCardArgs),
}

#[cfg(feature = "testkit")]
#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Make a Web eID token with a certificate and its private key, and print its JSON.
    Make(TokenMakeArgs),
}

#[cfg(feature = "testkit")]
#[derive(Debug, Args)]
struct TokenMakeArgs {
    /// The authentication certificate (PEM or DER).
    #[arg(long, value_name = "FILE")]
    cert: PathBuf,
    /// Its private key (PEM or DER).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The site origin the token is for, e.g. https://portal.example.ge.
    #[arg(long, value_name = "URL", value_parser = parse_origin)]
    origin: geid_protocol::Origin,
    /// The challenge nonce the portal issued (44-128 base64 characters).
    #[arg(long, value_name = "NONCE", value_parser = parse_nonce)]
    nonce: geid_protocol::ChallengeNonce,
    /// Signature algorithm (RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512);
    /// defaults to what a card with this key would use.
    #[arg(long, value_name = "ALG", value_parser = parse_alg)]
    alg: Option<geid_protocol::SignatureAlgorithm>,
}

#[cfg(feature = "testkit")]
fn parse_origin(s: &str) -> Result<geid_protocol::Origin, String> {
    geid_protocol::Origin::parse(s).map_err(|e| e.to_string())
}

#[cfg(feature = "testkit")]
fn parse_nonce(s: &str) -> Result<geid_protocol::ChallengeNonce, String> {
    geid_protocol::ChallengeNonce::parse(s).map_err(|e| e.to_string())
}

#[cfg(feature = "testkit")]
fn parse_alg(s: &str) -> Result<geid_protocol::SignatureAlgorithm, String> {
    s.parse::<geid_protocol::SignatureAlgorithm>()
        .map_err(|e| e.to_string())
}

#[cfg(feature = "testkit")]
#[derive(Debug, Args)]
struct PkiArgs {
    /// Directory to write certificates, keys and manifest.json into (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Base OCSP URL baked into the certificates; `/auth` and `/sign` are appended.
    #[arg(long, value_name = "URL")]
    ocsp_url: Option<String>,
    /// Base CRL URL baked into the certificates; `/auth.crl` and `/sign.crl` are appended.
    #[arg(long, value_name = "URL")]
    crl_url: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `verify` and `verify-signature` have their own exit codes (0 accepted, 1 refused, 2 usage).
    let cli = match cli.command {
        Command::Verify(args) => return verify::run(args),
        Command::VerifySignature(args) => return signature::verify_signature(args),
        command => Cli { command },
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("geid: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Errors { json } => {
            print_errors(json);
            Ok(())
        }
        Command::Readers { json } => card::readers(json),
        Command::Info(a) => card::info(a),
        Command::Auth(a) => card::auth(a),
        Command::Sign(a) => signature::sign(a),
        Command::Pin(c) => card::pin(c),
        Command::Trace(a) => card::trace(a),
        #[cfg(feature = "testkit")]
        Command::Testkit(TestkitCommand::Pki(args)) => testkit_pki(args),
        #[cfg(feature = "testkit")]
        Command::Testkit(TestkitCommand::Ocsp(args)) => testkit_ocsp::run(args),
        #[cfg(feature = "testkit")]
        Command::Testkit(TestkitCommand::Card(args)) => card::testkit_card(args),
        Command::VerifySignature(args) => {
            let code = signature::verify_signature(args);
            std::process::exit(if code == ExitCode::SUCCESS { 0 } else { 1 })
        }
        Command::Verify(args) => {
            let code = verify::run(args);
            std::process::exit(if code == ExitCode::SUCCESS { 0 } else { 1 })
        }
        #[cfg(feature = "testkit")]
        Command::Token(TokenCommand::Make(args)) => token_make(args),
    }
}

fn print_errors(json: bool) {
    let codes = geid_protocol::ErrorCode::ALL;
    if json {
        let list: Vec<_> = codes
            .iter()
            .map(|c| serde_json::json!({"code": c.as_str(), "action": c.user_action()}))
            .collect();
        println!("{}", serde_json::Value::Array(list));
    } else {
        for c in codes {
            println!("{:<22} {}", c.as_str(), c.user_action());
        }
    }
}

#[cfg(feature = "testkit")]
fn token_make(args: TokenMakeArgs) -> anyhow::Result<()> {
    let signer = geid_testkit::TokenSigner::from_files(&args.cert, &args.key)?;
    let alg = match args.alg {
        Some(alg) => alg,
        None => signer.default_algorithm()?,
    };
    let token = signer.token(alg, &args.origin, &args.nonce)?;
    println!("{}", token.to_json());
    Ok(())
}

#[cfg(feature = "testkit")]
fn testkit_pki(args: PkiArgs) -> anyhow::Result<()> {
    let mut options = geid_testkit::PkiOptions::default();
    if let Some(url) = args.ocsp_url {
        options.ocsp_base_url = url;
    }
    if let Some(url) = args.crl_url {
        options.crl_base_url = url;
    }
    let pki = geid_testkit::Pki::generate(&options).context("generating the test PKI")?;
    let written = pki.write_to(&args.out).context("writing the test PKI")?;
    println!(
        "wrote {} files ({} citizens) to {}",
        written.files.len(),
        pki.citizens().len(),
        args.out.display()
    );
    println!("manifest: {}", written.manifest.display());
    Ok(())
}
