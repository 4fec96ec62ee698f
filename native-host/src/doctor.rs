//! `geid-host doctor`: what is set up, what is missing, and what to do about it.

use std::path::Path;

use crate::backend::BackendFactory;
use crate::config::HostConfig;
use crate::install::{Browser, Layout, Scope, HOST_NAME};

/// The outcome of one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Fine.
    Ok,
    /// Works, but worth knowing.
    Warn,
    /// Broken: logins will fail until fixed.
    Fail,
}

/// One check.
#[derive(Clone, Debug)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// The outcome.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// What to do, when not fine.
    pub fix: Option<String>,
}

fn check(
    name: impl Into<String>,
    status: Status,
    detail: impl Into<String>,
    fix: Option<&str>,
) -> Check {
    Check {
        name: name.into(),
        status,
        detail: detail.into(),
        fix: fix.map(String::from),
    }
}

/// Runs every check.
pub fn run(factory: &BackendFactory, config: &HostConfig, host_path: &Path) -> Vec<Check> {
    let mut checks = Vec::new();

    // PC/SC, readers, card.
    let mut backend = factory();
    match backend.readers() {
        Err(e) => checks.push(check(
            "smart-card service",
            Status::Fail,
            e.message,
            Some("install and start pcscd: `sudo apt install pcscd && sudo systemctl enable --now pcscd.socket`"),
        )),
        Ok(readers) => {
            checks.push(check("smart-card service", Status::Ok, "pcscd answers", None));
            if readers.is_empty() {
                checks.push(check("readers", Status::Fail, "no reader connected", Some("connect a smart-card reader")));
            } else {
                for r in &readers {
                    let (status, detail, fix) = match (&r.card, r.card_present) {
                        (Some(kind), _) => (Status::Ok, format!("{}: {kind} card{}", r.name, r.holder.as_ref().map(|h| format!(" of {h}")).unwrap_or_default()), None),
                        (None, true) => (Status::Warn, format!("{}: a card that is not a supported ID card", r.name), Some("insert a Georgian ID card")),
                        (None, false) => (Status::Warn, format!("{}: no card", r.name), Some("insert the ID card")),
                    };
                    checks.push(check("reader", status, detail, fix));
                }
            }
        }
    }

    // Manifests.
    let mut any = false;
    for scope in [Scope::User, Scope::System] {
        let Ok(layout) = Layout::for_scope(scope) else {
            continue;
        };
        for browser in Browser::ALL {
            let path = layout.manifest_path(browser);
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            any = true;
            let name = format!("{} manifest ({scope:?})", browser.name());
            let m: serde_json::Value = match serde_json::from_slice(&bytes) {
                Ok(m) => m,
                Err(e) => {
                    checks.push(check(
                        name,
                        Status::Fail,
                        format!("{}: not JSON: {e}", path.display()),
                        Some("run `geid-host install` again"),
                    ));
                    continue;
                }
            };
            let target = m["path"].as_str().unwrap_or_default();
            if m["name"] != HOST_NAME {
                checks.push(check(
                    name,
                    Status::Fail,
                    format!("{}: wrong name {}", path.display(), m["name"]),
                    Some("run `geid-host install` again"),
                ));
            } else if !Path::new(target).is_file() {
                checks.push(check(
                    name,
                    Status::Fail,
                    format!(
                        "{} points to {target}, which does not exist",
                        path.display()
                    ),
                    Some("run `geid-host install` again from the installed geid-host"),
                ));
            } else if Path::new(target) != host_path {
                checks.push(check(
                    name,
                    Status::Warn,
                    format!(
                        "{} points to {target}, not to this program ({})",
                        path.display(),
                        host_path.display()
                    ),
                    Some("if that is an old copy, run `geid-host install` from the one you use"),
                ));
            } else {
                let ids = if browser == Browser::Firefox {
                    &m["allowed_extensions"]
                } else {
                    &m["allowed_origins"]
                };
                let n = ids.as_array().map_or(0, Vec::len);
                if n == 0 {
                    checks.push(check(
                        name,
                        Status::Fail,
                        format!("{} allows no extension", path.display()),
                        Some("run `geid-host install --extension-id ID`"),
                    ));
                } else {
                    checks.push(check(
                        name,
                        Status::Ok,
                        format!(
                            "{} ({n} extension id{})",
                            path.display(),
                            if n == 1 { "" } else { "s" }
                        ),
                        None,
                    ));
                }
            }
        }
    }
    if !any {
        checks.push(check(
            "browser manifests",
            Status::Fail,
            "no browser knows about geid-host",
            Some("run `geid-host install`"),
        ));
    }

    checks.push(check(
        "allowed extensions",
        Status::Ok,
        format!(
            "{} Chromium-family id(s), {} Firefox id(s){}",
            config.allowed.chromium.len(),
            config.allowed.firefox.len(),
            if config.sources.is_empty() {
                String::new()
            } else {
                format!(
                    " (from built-in values and {})",
                    config
                        .sources
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        ),
        None,
    ));
    checks
}

/// Prints the checks for a person; returns `true` when none failed.
pub fn print(checks: &[Check]) -> bool {
    let mut ok = true;
    for c in checks {
        let tag = match c.status {
            Status::Ok => "ok  ",
            Status::Warn => "warn",
            Status::Fail => {
                ok = false;
                "FAIL"
            }
        };
        println!("[{tag}] {}: {}", c.name, c.detail);
        if let Some(fix) = &c.fix {
            println!("       fix: {fix}");
        }
    }
    ok
}
