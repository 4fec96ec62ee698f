//! Registering the host with browsers: native-messaging host manifests.
//!
//! On Linux and macOS a browser finds the host through a JSON manifest in a browser-specific
//! folder (per user or system-wide); on Windows through a registry key whose default value is the
//! manifest's path. `install` writes the manifests (and, on Windows, the keys) and records what it
//! wrote in a receipt; `uninstall` removes exactly what the receipt lists, and only while it is
//! unchanged. Locations: `docs/install.md`.

use std::path::{Path, PathBuf};

use geid_protocol::HashFunction;
use serde::{Deserialize, Serialize};

use crate::caller::AllowedCallers;

/// The host's registered name (`ge.geid.host.json`).
pub const HOST_NAME: &str = "ge.geid.host";

/// A browser the host can be registered with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Browser {
    /// Google Chrome.
    Chrome,
    /// Chromium.
    Chromium,
    /// Microsoft Edge.
    Edge,
    /// Brave.
    Brave,
    /// Mozilla Firefox.
    Firefox,
}

impl Browser {
    /// Every supported browser.
    pub const ALL: [Browser; 5] = [
        Browser::Chrome,
        Browser::Chromium,
        Browser::Edge,
        Browser::Brave,
        Browser::Firefox,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Browser::Chrome => "chrome",
            Browser::Chromium => "chromium",
            Browser::Edge => "edge",
            Browser::Brave => "brave",
            Browser::Firefox => "firefox",
        }
    }

    /// Parses a command-line name.
    pub fn from_name(s: &str) -> Option<Browser> {
        Browser::ALL.into_iter().find(|b| b.name() == s)
    }

    /// The Windows registry key under HKCU or HKLM.
    pub fn registry_key(self) -> String {
        let base = match self {
            Browser::Chrome => r"Software\Google\Chrome",
            Browser::Chromium => r"Software\Chromium",
            Browser::Edge => r"Software\Microsoft\Edge",
            Browser::Brave => r"Software\BraveSoftware\Brave-Browser",
            Browser::Firefox => r"Software\Mozilla",
        };
        format!(r"{base}\NativeMessagingHosts\{HOST_NAME}")
    }
}

/// Per user or for every user of the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Only the current user (no administrator rights needed).
    User,
    /// Every user (needs root / administrator).
    System,
}

/// The operating-system family whose conventions apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Os {
    /// Linux and other XDG systems.
    Linux,
    /// macOS.
    MacOs,
    /// Windows.
    Windows,
}

impl Os {
    /// The running system.
    pub fn current() -> Os {
        if cfg!(target_os = "macos") {
            Os::MacOs
        } else if cfg!(windows) {
            Os::Windows
        } else {
            Os::Linux
        }
    }
}

/// The folder where `browser` looks for host manifests. On Windows this is where geid keeps the
/// manifest that the registry key points to.
pub fn manifest_dir(browser: Browser, scope: Scope, os: Os, home: &Path) -> PathBuf {
    use Browser::*;
    match (os, scope) {
        (Os::Linux, Scope::User) => home.join(match browser {
            Chrome => ".config/google-chrome/NativeMessagingHosts",
            Chromium => ".config/chromium/NativeMessagingHosts",
            Edge => ".config/microsoft-edge/NativeMessagingHosts",
            Brave => ".config/BraveSoftware/Brave-Browser/NativeMessagingHosts",
            Firefox => ".mozilla/native-messaging-hosts",
        }),
        (Os::Linux, Scope::System) => PathBuf::from(match browser {
            // Brave reads Chrome's system-wide folder.
            Chrome | Brave => "/etc/opt/chrome/native-messaging-hosts",
            Chromium => "/etc/chromium/native-messaging-hosts",
            Edge => "/etc/opt/edge/native-messaging-hosts",
            Firefox => "/usr/lib/mozilla/native-messaging-hosts",
        }),
        (Os::MacOs, Scope::User) => home.join(match browser {
            Chrome => "Library/Application Support/Google/Chrome/NativeMessagingHosts",
            Chromium => "Library/Application Support/Chromium/NativeMessagingHosts",
            Edge => "Library/Application Support/Microsoft Edge/NativeMessagingHosts",
            Brave => "Library/Application Support/BraveSoftware/Brave-Browser/NativeMessagingHosts",
            Firefox => "Library/Application Support/Mozilla/NativeMessagingHosts",
        }),
        (Os::MacOs, Scope::System) => PathBuf::from(match browser {
            Chrome | Brave => "/Library/Google/Chrome/NativeMessagingHosts",
            Chromium => "/Library/Application Support/Chromium/NativeMessagingHosts",
            Edge => "/Library/Microsoft/Edge/NativeMessagingHosts",
            Firefox => "/Library/Application Support/Mozilla/NativeMessagingHosts",
        }),
        (Os::Windows, _) => home.join("geid").join("manifests").join(browser.name()),
    }
}

/// The manifest for `browser`.
pub fn manifest(browser: Browser, host_path: &Path, allowed: &AllowedCallers) -> serde_json::Value {
    let mut m = serde_json::json!({
        "name": HOST_NAME,
        "description": "geid: log in with the Georgian ID card",
        "path": host_path.display().to_string(),
        "type": "stdio",
    });
    if browser == Browser::Firefox {
        m["allowed_extensions"] = serde_json::json!(allowed.firefox);
    } else {
        let origins: Vec<String> = allowed
            .chromium
            .iter()
            .map(|id| format!("chrome-extension://{id}/"))
            .collect();
        m["allowed_origins"] = serde_json::json!(origins);
    }
    m
}

/// One thing install wrote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Written {
    /// A file, with the SHA-256 of what was written.
    File {
        /// Where.
        path: PathBuf,
        /// Hex SHA-256 of the content written.
        sha256: String,
    },
    /// A folder install created (removed on uninstall when empty).
    Dir {
        /// Where.
        path: PathBuf,
    },
    /// A Windows registry key (default value = manifest path).
    RegistryKey {
        /// `HKCU` or `HKLM`.
        hive: String,
        /// The key.
        key: String,
    },
}

/// What one install wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// Everything written, in order.
    pub written: Vec<Written>,
}

/// Install failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    /// A file or folder could not be written or removed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was attempted.
        action: &'static str,
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A registry change failed.
    #[error("registry: {0}")]
    Registry(String),
    /// No home directory to install into.
    #[error("no home directory (HOME is not set)")]
    NoHome,
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> InstallError {
    let path = path.to_owned();
    move |source| InstallError::Io {
        action,
        path,
        source,
    }
}

fn hex_sha256(bytes: &[u8]) -> String {
    HashFunction::Sha256
        .digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Where installation puts and finds things.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The OS conventions.
    pub os: Os,
    /// User or system.
    pub scope: Scope,
    /// The user's home (or, on Windows, `%LOCALAPPDATA%`/`%PROGRAMDATA%`).
    pub home: PathBuf,
    /// Where the receipt is kept.
    pub receipt: PathBuf,
}

impl Layout {
    /// The layout for this machine and scope.
    pub fn for_scope(scope: Scope) -> Result<Layout, InstallError> {
        let os = Os::current();
        let home = match os {
            Os::Windows => std::env::var_os(if scope == Scope::User {
                "LOCALAPPDATA"
            } else {
                "PROGRAMDATA"
            })
            .map(PathBuf::from)
            .ok_or(InstallError::NoHome)?,
            _ => crate::config::home_dir().ok_or(InstallError::NoHome)?,
        };
        let receipt = match (os, scope) {
            (Os::Windows, _) => home.join("geid").join("install-receipt.json"),
            (_, Scope::User) => crate::config::user_data_dir()
                .ok_or(InstallError::NoHome)?
                .join("install-receipt.json"),
            (Os::MacOs, Scope::System) => {
                PathBuf::from("/Library/Application Support/geid/install-receipt.json")
            }
            (Os::Linux, Scope::System) => PathBuf::from("/var/lib/geid/install-receipt.json"),
        };
        Ok(Layout {
            os,
            scope,
            home,
            receipt,
        })
    }

    /// Where `browser`'s manifest goes.
    pub fn manifest_path(&self, browser: Browser) -> PathBuf {
        manifest_dir(browser, self.scope, self.os, &self.home).join(format!("{HOST_NAME}.json"))
    }
}

fn create_dirs(dir: &Path, receipt: &mut Receipt) -> Result<(), InstallError> {
    let mut missing = Vec::new();
    let mut d = dir;
    while !d.exists() {
        missing.push(d.to_owned());
        match d.parent() {
            Some(p) => d = p,
            None => break,
        }
    }
    std::fs::create_dir_all(dir).map_err(io("create", dir))?;
    for path in missing.into_iter().rev() {
        receipt.written.push(Written::Dir { path });
    }
    Ok(())
}

fn write_file(path: &Path, content: &[u8], receipt: &mut Receipt) -> Result<(), InstallError> {
    if let Some(parent) = path.parent() {
        create_dirs(parent, receipt)?;
    }
    std::fs::write(path, content).map_err(io("write", path))?;
    receipt.written.push(Written::File {
        path: path.to_owned(),
        sha256: hex_sha256(content),
    });
    Ok(())
}

/// Writes the manifests for `browsers` pointing at `host_path`, plus a configuration file when
/// `extra` adds extension ids; returns the receipt (also saved). An earlier installation in the
/// same scope is removed first, so installing twice leaves one set of files.
pub fn install(
    layout: &Layout,
    browsers: &[Browser],
    host_path: &Path,
    allowed: &AllowedCallers,
    config_file: Option<(&Path, &crate::config::ConfigFile)>,
) -> Result<Receipt, InstallError> {
    uninstall(layout)?;
    let mut receipt = Receipt::default();
    let result = (|| {
        for &browser in browsers {
            let path = layout.manifest_path(browser);
            let json = serde_json::to_vec_pretty(&manifest(browser, host_path, allowed))
                .map_err(|e| InstallError::Registry(e.to_string()))?;
            write_file(&path, &json, &mut receipt)?;
            if layout.os == Os::Windows {
                let hive = if layout.scope == Scope::User {
                    "HKCU"
                } else {
                    "HKLM"
                };
                registry_set(hive, &browser.registry_key(), &path)?;
                receipt.written.push(Written::RegistryKey {
                    hive: hive.into(),
                    key: browser.registry_key(),
                });
            }
        }
        if let Some((path, file)) = config_file {
            let json = serde_json::to_vec_pretty(file)
                .map_err(|e| InstallError::Registry(e.to_string()))?;
            write_file(path, &json, &mut receipt)?;
        }
        let json = serde_json::to_vec_pretty(&receipt)
            .map_err(|e| InstallError::Registry(e.to_string()))?;
        if let Some(parent) = layout.receipt.parent() {
            create_dirs(parent, &mut receipt)?;
        }
        std::fs::write(&layout.receipt, json).map_err(io("write", &layout.receipt))?;
        // Rewrite with the receipt folder included, so uninstall removes it too.
        let json = serde_json::to_vec_pretty(&receipt)
            .map_err(|e| InstallError::Registry(e.to_string()))?;
        std::fs::write(&layout.receipt, json).map_err(io("write", &layout.receipt))?;
        Ok(())
    })();
    match result {
        Ok(()) => Ok(receipt),
        Err(e) => {
            // Leave nothing half-installed.
            let _ = remove(&receipt);
            let _ = std::fs::remove_file(&layout.receipt);
            Err(e)
        }
    }
}

/// What uninstall did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UninstallReport {
    /// Removed files, folders and keys.
    pub removed: Vec<String>,
    /// Left in place because they changed since install, with the reason.
    pub kept: Vec<String>,
}

fn remove(receipt: &Receipt) -> UninstallReport {
    let mut report = UninstallReport::default();
    // Files and keys first, then folders deepest first.
    for w in receipt.written.iter().rev() {
        match w {
            Written::File { path, sha256 } => match std::fs::read(path) {
                Ok(bytes) if hex_sha256(&bytes) == *sha256 => match std::fs::remove_file(path) {
                    Ok(()) => report.removed.push(path.display().to_string()),
                    Err(e) => report.kept.push(format!("{}: {e}", path.display())),
                },
                Ok(_) => report
                    .kept
                    .push(format!("{}: changed since install", path.display())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => report.kept.push(format!("{}: {e}", path.display())),
            },
            Written::RegistryKey { hive, key } => match registry_delete(hive, key) {
                Ok(()) => report.removed.push(format!(r"{hive}\{key}")),
                Err(e) => report.kept.push(format!(r"{hive}\{key}: {e}")),
            },
            Written::Dir { .. } => {}
        }
    }
    for w in receipt.written.iter().rev() {
        if let Written::Dir { path } = w {
            // Only empty folders go; anything else in them belongs to someone else.
            if std::fs::remove_dir(path).is_ok() {
                report.removed.push(path.display().to_string());
            }
        }
    }
    report
}

/// Removes what the receipt of `layout`'s scope lists. Nothing installed is not an error.
pub fn uninstall(layout: &Layout) -> Result<UninstallReport, InstallError> {
    let bytes = match std::fs::read(&layout.receipt) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(UninstallReport::default()),
        Err(e) => return Err(io("read", &layout.receipt)(e)),
    };
    let receipt: Receipt = serde_json::from_slice(&bytes).map_err(|e| InstallError::Io {
        action: "parse",
        path: layout.receipt.clone(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })?;
    std::fs::remove_file(&layout.receipt).map_err(io("remove", &layout.receipt))?;
    let mut report = remove(&receipt);
    report.removed.push(layout.receipt.display().to_string());
    // The receipt's folder may now be empty.
    for w in receipt.written.iter().rev() {
        if let Written::Dir { path } = w {
            if std::fs::remove_dir(path).is_ok() {
                report.removed.push(path.display().to_string());
            }
        }
    }
    Ok(report)
}

#[cfg(windows)]
fn registry_set(hive: &str, key: &str, manifest: &Path) -> Result<(), InstallError> {
    let status = std::process::Command::new("reg")
        .args([
            "add",
            &format!(r"{hive}\{key}"),
            "/ve",
            "/t",
            "REG_SZ",
            "/d",
        ])
        .arg(manifest)
        .arg("/f")
        .status()
        .map_err(|e| InstallError::Registry(e.to_string()))?;
    if status.success() {
        Ok(())
    } else {
        Err(InstallError::Registry(format!(
            "reg add {hive}\\{key} failed"
        )))
    }
}

#[cfg(windows)]
fn registry_delete(hive: &str, key: &str) -> Result<(), InstallError> {
    let status = std::process::Command::new("reg")
        .args(["delete", &format!(r"{hive}\{key}"), "/f"])
        .status()
        .map_err(|e| InstallError::Registry(e.to_string()))?;
    if status.success() {
        Ok(())
    } else {
        Err(InstallError::Registry(format!(
            "reg delete {hive}\\{key} failed"
        )))
    }
}

#[cfg(not(windows))]
fn registry_set(_hive: &str, _key: &str, _manifest: &Path) -> Result<(), InstallError> {
    Err(InstallError::Registry(
        "the registry exists only on Windows".into(),
    ))
}

#[cfg(not(windows))]
fn registry_delete(_hive: &str, _key: &str) -> Result<(), InstallError> {
    Err(InstallError::Registry(
        "the registry exists only on Windows".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> AllowedCallers {
        AllowedCallers {
            chromium: vec!["abcdefghijklmnopabcdefghijklmnop".into()],
            firefox: vec!["geid@geid.ge".into()],
        }
    }

    fn layout(home: &Path) -> Layout {
        Layout {
            os: Os::Linux,
            scope: Scope::User,
            home: home.to_owned(),
            receipt: home.join(".local/share/geid/install-receipt.json"),
        }
    }

    fn tree(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_owned()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p.clone());
                }
                out.push(p);
            }
        }
        out.sort();
        out
    }

    #[test]
    fn manifests_follow_each_browser_family() {
        let m = manifest(
            Browser::Chromium,
            Path::new("/usr/bin/geid-host"),
            &allowed(),
        );
        assert_eq!(m["name"], HOST_NAME);
        assert_eq!(m["type"], "stdio");
        assert_eq!(m["path"], "/usr/bin/geid-host");
        assert_eq!(
            m["allowed_origins"][0],
            "chrome-extension://abcdefghijklmnopabcdefghijklmnop/"
        );
        assert!(m.get("allowed_extensions").is_none());
        let m = manifest(
            Browser::Firefox,
            Path::new("/usr/bin/geid-host"),
            &allowed(),
        );
        assert_eq!(m["allowed_extensions"][0], "geid@geid.ge");
        assert!(m.get("allowed_origins").is_none());
    }

    #[test]
    fn locations_match_the_browsers_documentation() {
        let home = Path::new("/home/u");
        assert_eq!(
            manifest_dir(Browser::Chrome, Scope::User, Os::Linux, home),
            Path::new("/home/u/.config/google-chrome/NativeMessagingHosts")
        );
        assert_eq!(
            manifest_dir(Browser::Firefox, Scope::System, Os::Linux, home),
            Path::new("/usr/lib/mozilla/native-messaging-hosts")
        );
        assert_eq!(
            manifest_dir(Browser::Chromium, Scope::System, Os::Linux, home),
            Path::new("/etc/chromium/native-messaging-hosts")
        );
        assert_eq!(
            manifest_dir(Browser::Firefox, Scope::User, Os::MacOs, home),
            Path::new("/home/u/Library/Application Support/Mozilla/NativeMessagingHosts")
        );
        assert_eq!(
            Browser::Edge.registry_key(),
            r"Software\Microsoft\Edge\NativeMessagingHosts\ge.geid.host"
        );
    }

    #[test]
    fn uninstall_removes_exactly_what_install_wrote() {
        let home = tempfile::tempdir().unwrap();
        // Something of the user's that must survive.
        let mine = home.path().join(".config/chromium/Default/Preferences");
        std::fs::create_dir_all(mine.parent().unwrap()).unwrap();
        std::fs::write(&mine, "{}").unwrap();
        let before = tree(home.path());
        let l = layout(home.path());
        let receipt = install(
            &l,
            &Browser::ALL,
            Path::new("/opt/geid/geid-host"),
            &allowed(),
            None,
        )
        .unwrap();
        let written = receipt
            .written
            .iter()
            .filter(|w| matches!(w, Written::File { .. }))
            .count();
        assert_eq!(written, Browser::ALL.len());
        assert!(l.manifest_path(Browser::Chromium).exists());
        assert!(l.receipt.exists());
        // Installing again replaces rather than duplicates.
        install(
            &l,
            &Browser::ALL,
            Path::new("/opt/geid/geid-host"),
            &allowed(),
            None,
        )
        .unwrap();
        let report = uninstall(&l).unwrap();
        assert!(report.kept.is_empty(), "{:?}", report.kept);
        assert_eq!(tree(home.path()), before);
        // Nothing installed: not an error.
        assert_eq!(uninstall(&l).unwrap(), UninstallReport::default());
    }

    #[test]
    fn uninstall_keeps_files_changed_since_install() {
        let home = tempfile::tempdir().unwrap();
        let l = layout(home.path());
        install(
            &l,
            &[Browser::Chromium],
            Path::new("/x/geid-host"),
            &allowed(),
            None,
        )
        .unwrap();
        let path = l.manifest_path(Browser::Chromium);
        std::fs::write(&path, "edited by hand").unwrap();
        let report = uninstall(&l).unwrap();
        assert_eq!(report.kept.len(), 1, "{report:?}");
        assert!(path.exists());
    }
}
