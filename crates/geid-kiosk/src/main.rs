//! `geid-kiosk`: argument parsing and wiring around the `geid_kiosk` library.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use geid_kiosk::{Kiosk, KioskConfig, KioskKey, PortalClient};
use geid_protocol::Origin;

/// House of Justice kiosk: issue portal credentials from the ID card.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The portal's base URL, e.g. https://portal.example.ge
    #[arg(long, value_name = "URL")]
    portal: Option<String>,
    /// The origin the card signs for (default: the portal URL's origin).
    #[arg(long, value_name = "ORIGIN")]
    origin: Option<String>,
    /// This kiosk's id, as registered at the portal.
    #[arg(long, value_name = "ID")]
    kiosk_id: Option<String>,
    /// This kiosk's private key (PEM, Ed25519 or ECDSA P-256); readable by the kiosk user only.
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Address of the local UI (loopback only).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8700")]
    listen: SocketAddr,
    /// Use only this reader (default: the one a card is inserted in).
    #[arg(long, value_name = "NAME")]
    reader: Option<String>,
    /// Seconds without a touch before the screen returns to the start and forgets everything.
    #[arg(long, value_name = "SECONDS", default_value_t = 90)]
    idle_timeout: u64,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate this kiosk's key pair: the private key to FILE (mode 0600), the public key to
    /// FILE.pub for `geid-portal register-kiosk`.
    GenerateKey {
        /// Where to write the private key.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    if let Some(Command::GenerateKey { file }) = cli.command {
        return generate_key(&file);
    }
    let portal_url = cli.portal.context("--portal URL is required")?;
    let kiosk_id = cli.kiosk_id.context("--kiosk-id ID is required")?;
    let key_file = cli.key.context("--key FILE is required")?;
    let key = KioskKey::from_file(&key_file)?;
    let origin = match &cli.origin {
        Some(o) => Origin::parse(o)?,
        None => {
            let u = url::Url::parse(&portal_url).context("--portal is not a URL")?;
            Origin::parse(&u.origin().ascii_serialization())?
        }
    };
    geid_kiosk::check_listen(cli.listen)?;
    let kiosk = Kiosk::new(KioskConfig {
        portal: PortalClient::new(&portal_url, &kiosk_id, key),
        origin,
        reader: cli.reader,
        idle_timeout: Duration::from_secs(cli.idle_timeout.max(10)),
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = geid_kiosk::bind(cli.listen).await?;
        println!(
            "geid-kiosk on http://{} (operator page: /operator)",
            cli.listen
        );
        geid_kiosk::serve(listener, kiosk, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
    })
}

fn generate_key(file: &std::path::Path) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let key = openssl::pkey::PKey::generate_ed25519()?;
    let private = key.private_key_to_pem_pkcs8()?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        .with_context(|| format!("creating {}", file.display()))?;
    f.write_all(&private)?;
    let public = KioskKey::new(key)?.public_key_pem()?;
    let pub_file = file.with_extension("pub");
    std::fs::write(&pub_file, public)?;
    println!(
        "private key: {} (keep it on this kiosk only)\npublic key: {} (give it to the portal: geid-portal register-kiosk --id ID --public-key {})",
        file.display(),
        pub_file.display(),
        pub_file.display()
    );
    Ok(())
}
