//! `geid-host`: started by the browser (protocol on stdin/stdout), or by a person
//! (`install`, `uninstall`, `doctor`, `manifest`).
//!
//! Argument parsing and wiring only; behaviour lives in the `geid_host` library.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use geid_host::backend::{BackendFactory, CardBackend};
use geid_host::caller::{is_chromium_extension_id, Caller};
use geid_host::config::{ConfigFile, HostConfig};
use geid_host::install::{self, Browser, Layout, Scope};
use geid_host::pcsc_backend::PcscBackend;
use geid_host::pkcs11_backend::Pkcs11HostBackend;
use geid_host::server::{Exit, Server, ServerConfig};

/// geid-host: the native-messaging host for the geid browser extension.
///
/// Browsers start it by themselves; people use it to register it with browsers and to check a
/// machine.
#[derive(Debug, Parser)]
#[command(name = "geid-host", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Register the host with browsers (writes native-messaging manifests).
    Install(InstallArgs),
    /// Remove exactly what `install` wrote.
    Uninstall(ScopeArgs),
    /// Check pcscd, readers, the card, manifests and extension ids; print what to fix.
    Doctor,
    /// Print the manifest `install` would write for one browser.
    Manifest {
        /// The browser.
        #[arg(long, value_parser = parse_browser)]
        browser: Browser,
        /// The host path to put in the manifest (default: this program).
        #[arg(long)]
        path: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
struct ScopeArgs {
    /// For every user of the machine (needs root / administrator).
    #[arg(long, conflicts_with = "user")]
    system: bool,
    /// For the current user only (the default).
    #[arg(long)]
    user: bool,
}

#[derive(Debug, Args)]
struct InstallArgs {
    /// Which browsers: chrome, chromium, edge, brave, firefox or all (repeatable).
    #[arg(long, value_name = "BROWSER", default_value = "all")]
    browser: Vec<String>,
    #[command(flatten)]
    scope: ScopeArgs,
    /// Also allow this Chromium-family extension id (repeatable).
    #[arg(long, value_name = "ID", value_parser = parse_extension_id)]
    extension_id: Vec<String>,
    /// Also allow this Firefox add-on id (repeatable).
    #[arg(long, value_name = "ID")]
    firefox_id: Vec<String>,
}

fn parse_browser(s: &str) -> Result<Browser, String> {
    Browser::from_name(s).ok_or_else(|| {
        format!("unknown browser {s:?}; use chrome, chromium, edge, brave or firefox")
    })
}

fn parse_extension_id(s: &str) -> Result<String, String> {
    if is_chromium_extension_id(s) {
        Ok(s.to_owned())
    } else {
        Err("an extension id is 32 letters a-p".into())
    }
}

/// PC/SC, or the PKCS#11 module the configuration names.
fn factory(config: &HostConfig) -> BackendFactory {
    match config.pkcs11.clone() {
        Some((module, label)) => Arc::new(move || {
            Box::new(Pkcs11HostBackend::new(module.clone(), label.clone())) as Box<dyn CardBackend>
        }),
        None => Arc::new(|| Box::new(PcscBackend::new()) as Box<dyn CardBackend>),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let started_by_browser = args
        .first()
        .is_some_and(|a| a.starts_with("chrome-extension://") || a.ends_with(".json"));
    if started_by_browser {
        return serve(&args);
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("geid-host: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: &[String]) -> ExitCode {
    let log = geid_host::logging::init();
    let config = HostConfig::load();
    let caller = Caller::from_args(args);
    let caller_allowed = caller.is_allowed(&config.allowed);
    tracing::info!(?caller, allowed = caller_allowed, log = ?log, "started");
    let server = Server::new(
        factory(&config),
        ServerConfig {
            caller_allowed,
            timeouts: config.timeouts,
        },
    );
    let exit = server.run(std::io::stdin().lock(), std::io::stdout());
    tracing::info!(?exit, "exiting");
    match exit {
        Exit::PortClosed | Exit::Quit => ExitCode::SUCCESS,
        Exit::BrokenStream(_) => ExitCode::FAILURE,
    }
}

fn scope(a: &ScopeArgs) -> Scope {
    if a.system {
        Scope::System
    } else {
        Scope::User
    }
}

fn this_program() -> Result<PathBuf, String> {
    std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .map_err(|e| format!("cannot find this program's path: {e}"))
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Install(args) => {
            let mut browsers = Vec::new();
            for name in &args.browser {
                if name == "all" {
                    browsers.extend(Browser::ALL);
                } else {
                    browsers.push(parse_browser(name)?);
                }
            }
            browsers.dedup();
            let layout = Layout::for_scope(scope(&args.scope)).map_err(|e| e.to_string())?;
            let mut config = HostConfig::load();
            let extra = ConfigFile {
                allowed_extension_ids: args.extension_id.clone(),
                allowed_firefox_ids: args.firefox_id.clone(),
                ..ConfigFile::default()
            };
            config.merge(extra.clone());
            let config_path = match layout.scope {
                Scope::User => geid_host::config::user_config_dir().map(|d| d.join("host.json")),
                Scope::System => Some(PathBuf::from("/etc/geid/host.json")),
            };
            let config_file = match (&config_path, extra == ConfigFile::default()) {
                (Some(p), false) => Some((p.as_path(), &extra)),
                _ => None,
            };
            let host = this_program()?;
            let receipt = install::install(&layout, &browsers, &host, &config.allowed, config_file)
                .map_err(|e| e.to_string())?;
            for w in &receipt.written {
                if let install::Written::File { path, .. } = w {
                    println!("wrote {}", path.display());
                }
            }
            println!("receipt: {}", layout.receipt.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Uninstall(s) => {
            let layout = Layout::for_scope(scope(&s)).map_err(|e| e.to_string())?;
            let report = install::uninstall(&layout).map_err(|e| e.to_string())?;
            if report.removed.is_empty() {
                println!(
                    "nothing to remove: geid-host is not installed ({:?})",
                    layout.scope
                );
            }
            for r in &report.removed {
                println!("removed {r}");
            }
            for k in &report.kept {
                println!("kept {k}");
            }
            Ok(if report.kept.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Doctor => {
            let config = HostConfig::load();
            let checks = geid_host::doctor::run(&factory(&config), &config, &this_program()?);
            Ok(if geid_host::doctor::print(&checks) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Manifest { browser, path } => {
            let path = match path {
                Some(p) => p,
                None => this_program()?,
            };
            let config = HostConfig::load();
            let m = install::manifest(browser, &path, &config.allowed);
            println!(
                "{}",
                serde_json::to_string_pretty(&m).map_err(|e| e.to_string())?
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
