//! `geid-portal`: argument parsing and wiring around the `geid_portal` library.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use geid_verify::Verifier;

/// The reference citizen portal: register and log in with the Georgian ID card.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Issue username-and-password credentials (as at a House of Justice); prints the
    /// one-time password, which must be changed at the first login.
    CreateAccount(CreateAccountArgs),
    /// Register a House-of-Justice kiosk with its public key (Ed25519 or ECDSA P-256, PEM);
    /// its signed requests to /kiosk/v1/ are then accepted.
    RegisterKiosk(RegisterKioskArgs),
    /// Manage the public organisations that receive letters.
    Org(OrgArgs),
    /// Manage organisation staff accounts.
    Staff(StaffArgs),
}

#[derive(Debug, Args)]
struct RegisterKioskArgs {
    /// Database URL (default: SQLite in the data folder).
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Folder of the default SQLite database.
    #[arg(long, value_name = "DIR", default_value = "geid-portal-data")]
    data_dir: PathBuf,
    /// The kiosk id (a-z, 0-9, '.', '_', '-'), as in the kiosk's configuration.
    #[arg(long)]
    id: String,
    /// The kiosk's public key file (PEM).
    #[arg(long, value_name = "FILE", required_unless_present = "remove")]
    public_key: Option<PathBuf>,
    /// Remove the kiosk instead (its requests are refused from now on).
    #[arg(long, conflicts_with = "public_key")]
    remove: bool,
}

#[derive(Debug, Args)]
struct OrgArgs {
    #[command(flatten)]
    db: DbArgs,
    #[command(subcommand)]
    command: geid_portal::letters_cli::OrgCommand,
}

#[derive(Debug, Args)]
struct StaffArgs {
    #[command(flatten)]
    db: DbArgs,
    #[command(subcommand)]
    command: geid_portal::letters_cli::StaffCommand,
}

#[derive(Debug, Args)]
struct DbArgs {
    /// Database URL (default: SQLite in the data folder).
    #[arg(long, value_name = "URL", global = true)]
    database_url: Option<String>,
    /// Folder of the default SQLite database.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "geid-portal-data",
        global = true
    )]
    data_dir: PathBuf,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The site origin tokens are verified for, e.g. https://portal.example.ge
    /// (default in demo mode: http://localhost:PORT).
    #[arg(long, value_name = "ORIGIN")]
    origin: Option<String>,
    /// Folder for the SQLite database and the demo PKI.
    #[arg(long, value_name = "DIR", default_value = "geid-portal-data")]
    data_dir: PathBuf,
    /// Database URL: sqlite://FILE or postgres://… (default: SQLite in the data folder).
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Redis URL for challenges and sessions shared by replicas (default: in memory).
    #[arg(long, value_name = "URL")]
    redis_url: Option<String>,
    /// Trust anchor certificates (PEM or DER), e.g. GEO Root CA; required unless --demo.
    #[arg(long = "trust", value_name = "FILE", num_args = 1..)]
    trust: Vec<PathBuf>,
    /// Intermediate CA certificates (PEM or DER), e.g. GEO Authentication CA.
    #[arg(long = "intermediate", value_name = "FILE", num_args = 1..)]
    intermediate: Vec<PathBuf>,
    /// Demo mode: generate a test PKI in the data folder, trust only it, run its OCSP
    /// responder in-process (needs the `demo` feature).
    #[arg(long)]
    demo: bool,
    /// Port of the demo OCSP responder (it is baked into the demo certificates).
    #[arg(long, value_name = "PORT", default_value_t = 8990)]
    demo_ocsp_port: u16,
    /// Failed logins allowed per client address per minute.
    #[arg(long, value_name = "N", default_value_t = 10)]
    max_failures: usize,
    #[command(flatten)]
    notify: geid_portal::letters_cli::NotifyArgs,
}

#[derive(Debug, Args)]
struct CreateAccountArgs {
    /// Database URL (default: SQLite in the data folder).
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Folder of the default SQLite database.
    #[arg(long, value_name = "DIR", default_value = "geid-portal-data")]
    data_dir: PathBuf,
    /// 11-digit personal number.
    #[arg(long)]
    personal_number: String,
    /// Given name.
    #[arg(long)]
    given_name: String,
    /// Surname.
    #[arg(long)]
    surname: String,
    /// Username (default: the personal number).
    #[arg(long)]
    username: Option<String>,
}

fn database_url(url: Option<String>, data_dir: &std::path::Path) -> anyhow::Result<String> {
    match url {
        Some(u) => Ok(u),
        None => {
            std::fs::create_dir_all(data_dir)
                .with_context(|| format!("creating {}", data_dir.display()))?;
            Ok(format!("sqlite://{}", data_dir.join("portal.db").display()))
        }
    }
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Some(Command::CreateAccount(a)) => rt.block_on(create_account(a)),
        Some(Command::RegisterKiosk(a)) => rt.block_on(register_kiosk(a)),
        Some(Command::Org(a)) => rt.block_on(async {
            let db = geid_portal::db::Db::open(&database_url(a.db.database_url, &a.db.data_dir)?)
                .await?;
            let r = geid_portal::letters_cli::run_org(&db, a.command).await;
            db.close().await;
            r
        }),
        Some(Command::Staff(a)) => rt.block_on(async {
            let db = geid_portal::db::Db::open(&database_url(a.db.database_url, &a.db.data_dir)?)
                .await?;
            let r = geid_portal::letters_cli::run_staff(&db, a.command).await;
            db.close().await;
            r
        }),
        None => rt.block_on(serve(cli.serve)),
    }
}

async fn create_account(a: CreateAccountArgs) -> anyhow::Result<()> {
    if a.personal_number.len() != 11 || !a.personal_number.bytes().all(|b| b.is_ascii_digit()) {
        bail!("a personal number has 11 digits");
    }
    let db = geid_portal::db::Db::open(&database_url(a.database_url, &a.data_dir)?).await?;
    let username = a.username.unwrap_or_else(|| a.personal_number.clone());
    let (account, password) = geid_portal::password::issue_credentials(
        &db,
        &a.personal_number,
        &a.given_name,
        &a.surname,
        &username,
    )
    .await?;
    println!("username: {}", account.username.unwrap_or_default());
    println!("one-time password: {password}");
    println!("(must be changed at the first login)");
    db.close().await;
    Ok(())
}

async fn register_kiosk(a: RegisterKioskArgs) -> anyhow::Result<()> {
    let db = geid_portal::db::Db::open(&database_url(a.database_url, &a.data_dir)?).await?;
    if a.remove {
        let removed = geid_portal::kiosk_api::unregister_kiosk(&db, &a.id).await?;
        println!(
            "kiosk {}: {}",
            a.id,
            if removed {
                "removed"
            } else {
                "was not registered"
            }
        );
    } else {
        let file = a.public_key.unwrap_or_default();
        let pem = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
        geid_portal::kiosk_api::register_kiosk(&db, &a.id, &pem).await?;
        println!("kiosk {} registered", a.id);
    }
    db.close().await;
    Ok(())
}

/// The bytes of each certificate file; the verifier builder parses them (PEM or DER).
fn read_all(files: &[PathBuf]) -> anyhow::Result<Vec<Vec<u8>>> {
    files
        .iter()
        .map(|f| std::fs::read(f).with_context(|| format!("reading {}", f.display())))
        .collect()
}

async fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let origin = match (&a.origin, a.demo) {
        (Some(o), _) => o.clone(),
        (None, true) => format!("http://localhost:{}", a.listen.port()),
        (None, false) => {
            bail!("--origin is required (the site origin, e.g. https://portal.example.ge)")
        }
    };
    let mut builder = Verifier::builder().origin(&origin);
    #[cfg(feature = "demo")]
    let mut _demo = None;
    if a.demo {
        #[cfg(feature = "demo")]
        {
            if !a.trust.is_empty() {
                bail!("--demo trusts only its own test PKI; drop --trust");
            }
            let demo = geid_portal::demo::start(&a.data_dir, a.demo_ocsp_port)?;
            builder = geid_portal::demo::trust(&demo.pki, builder);
            _demo = Some(demo);
        }
        #[cfg(not(feature = "demo"))]
        bail!(
            "this geid-portal was built without the `demo` feature; rebuild with --features demo"
        );
    } else {
        if a.trust.is_empty() {
            bail!("no trust anchors: give --trust FILE (e.g. GEO Root CA) or run with --demo");
        }
        for c in read_all(&a.trust)? {
            let certs = geid_verify::certificates_from_bytes(&c).map_err(anyhow::Error::msg)?;
            for cert in certs {
                let test_ca = cert
                    .subject_name()
                    .entries()
                    .filter_map(|e| e.data().to_string().ok())
                    .any(|v| v.ends_with("(TEST)"));
                if test_ca {
                    bail!("refusing to trust a geid test CA outside --demo");
                }
            }
            builder = builder.trust_anchors_from(&c);
        }
        for c in read_all(&a.intermediate)? {
            builder = builder.intermediates_from(&c);
        }
    }
    let verifier = builder.build().context("verifier configuration")?;
    // Document signatures (letters): the same anchors, no origin; give the signing CA as an
    // intermediate too. Test CAs were refused above.
    let mut signature_builder = Verifier::builder();
    #[cfg(feature = "demo")]
    if let Some(demo) = &_demo {
        signature_builder = geid_portal::demo::trust(&demo.pki, signature_builder);
    }
    if !a.demo {
        for c in read_all(&a.trust)? {
            signature_builder = signature_builder.trust_anchors_from(&c);
        }
        for c in read_all(&a.intermediate)? {
            signature_builder = signature_builder.intermediates_from(&c);
        }
    }
    let signatures = signature_builder
        .build_signature_verifier()
        .context("signature verifier configuration")?;
    let mut config = geid_portal::Config::new(verifier, database_url(a.database_url, &a.data_dir)?);
    config.redis_url = a.redis_url;
    config.max_failures = a.max_failures;
    config.letters.signature_verifier = Some(signatures);
    config.letters.notify = a.notify.config(&origin)?;
    let portal = geid_portal::build(config).await?;
    let listener = tokio::net::TcpListener::bind(a.listen)
        .await
        .with_context(|| format!("binding {}", a.listen))?;
    println!(
        "geid-portal listening on http://{} (origin {origin})",
        a.listen
    );
    #[cfg(feature = "demo")]
    if let Some(demo) = &_demo {
        print_demo_steps(demo, &origin);
    }
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    geid_portal::serve(listener, portal.router, shutdown).await?;
    portal.db.close().await;
    Ok(())
}

#[cfg(feature = "demo")]
fn print_demo_steps(demo: &geid_portal::demo::Demo, origin: &str) {
    let pki = demo.pki_dir.display();
    println!(
        "DEMO MODE: trusting only the test PKI in {pki}; OCSP responder at {}",
        demo.ocsp.base_url()
    );
    println!("To log in with the virtual card:");
    println!("  1. pcscd with the repo's reader config: pcscd -f -c $PWD/tests/pcscd/reader.conf");
    println!("  2. attach the card: geid testkit card --pki {pki} --citizen citizen --vpcd 127.0.0.1:40000");
    println!("  3. install the host: geid-host install --browser chromium");
    println!("  4. load the extension: chromium --load-extension=$PWD/browser-extension/dist/chromium {origin}");
    println!("  5. open {origin} and press \"Register with the ID card\"");
    println!("Signed letters: a staff account for the inbox at {origin}/staff/login:");
    println!(
        "  geid-portal staff add --org moj --username clerk --password-file FILE --data-dir {}",
        demo.pki_dir
            .parent()
            .map(|d| d.display().to_string())
            .unwrap_or_default()
    );
}
