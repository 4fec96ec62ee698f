//! `geid`: diagnostics and scripting.
//!
//! This binary is argument parsing and wiring only; behaviour lives in the library crates.
//! Exit codes: 0 success, 1 failure (one line on stderr), 2 usage error (clap's default).
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

/// geid: Georgian ID card login toolkit — diagnostics and scripting.
#[derive(Debug, Parser)]
#[command(name = "geid", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The test world: generated PKI and other test fixtures.
    #[command(subcommand)]
    Testkit(TestkitCommand),
}

#[derive(Debug, Subcommand)]
enum TestkitCommand {
    /// Generate a test PKI (root, CAs, OCSP responders, citizens) and write it to a directory.
    Pki(PkiArgs),
}

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
        Command::Testkit(TestkitCommand::Pki(args)) => testkit_pki(args),
    }
}

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
