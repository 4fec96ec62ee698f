//! Host configuration: which extensions may call, and user timeouts.
//!
//! Read, in order, from the ids built in, `/etc/geid/host.json`, the user's
//! `$XDG_CONFIG_HOME/geid/host.json` (default `~/.config/geid/host.json`), and the file named by
//! `GEID_HOST_CONFIG`. Extension ids accumulate; timeouts from a later file win. A file that does
//! not exist is skipped; one that cannot be parsed is reported and skipped.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::caller::AllowedCallers;
use crate::operation::Timeouts;

/// Chromium extension ids built into this host. The development id of the extension in this
/// repository (from the `key` in its manifest) is always included; store ids are added at build
/// time with `GEID_EXTENSION_IDS=id1,id2`.
pub const DEV_EXTENSION_ID: &str = "cpgfckjdblcnolcedngcmfbldcajgmld";
/// The Firefox add-on id of the extension in this repository.
pub const FIREFOX_ADDON_ID: &str = "geid@geid.ge";

/// The host's file format.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigFile {
    /// Extra Chromium-family extension ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_extension_ids: Vec<String>,
    /// Extra Firefox add-on ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_firefox_ids: Vec<String>,
    /// Seconds to wait for a card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_timeout_secs: Option<u64>,
    /// Seconds to wait for a PIN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_timeout_secs: Option<u64>,
    /// A vendor PKCS#11 module to reach the card through instead of PC/SC (the fallback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pkcs11_module: Option<PathBuf>,
    /// With `pkcs11_module`: the label of the token to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pkcs11_token_label: Option<String>,
}

/// The effective configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostConfig {
    /// Who may call.
    pub allowed: AllowedCallers,
    /// User timeouts.
    pub timeouts: Timeouts,
    /// Files read (for `doctor`).
    pub sources: Vec<PathBuf>,
    /// The PKCS#11 fallback module and token label, when configured.
    pub pkcs11: Option<(PathBuf, Option<String>)>,
}

/// The user's config directory for geid (`$XDG_CONFIG_HOME/geid` or `~/.config/geid`).
pub fn user_config_dir() -> Option<PathBuf> {
    dir_from_env("XDG_CONFIG_HOME", &[".config"]).map(|d| d.join("geid"))
}

/// The user's state directory for geid (`$XDG_STATE_HOME/geid` or `~/.local/state/geid`).
pub fn user_state_dir() -> Option<PathBuf> {
    dir_from_env("XDG_STATE_HOME", &[".local", "state"]).map(|d| d.join("geid"))
}

/// The user's data directory for geid (`$XDG_DATA_HOME/geid` or `~/.local/share/geid`).
pub fn user_data_dir() -> Option<PathBuf> {
    dir_from_env("XDG_DATA_HOME", &[".local", "share"]).map(|d| d.join("geid"))
}

/// The user's home directory.
pub fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

fn dir_from_env(var: &str, fallback: &[&str]) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(v) if Path::new(&v).is_absolute() => Some(PathBuf::from(v)),
        _ => home_dir().map(|h| fallback.iter().fold(h, |p, c| p.join(c))),
    }
}

impl HostConfig {
    /// The built-in configuration, without reading any file.
    pub fn built_in() -> HostConfig {
        let mut chromium = vec![DEV_EXTENSION_ID.to_owned()];
        if let Some(ids) = option_env!("GEID_EXTENSION_IDS") {
            chromium.extend(
                ids.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from),
            );
        }
        HostConfig {
            allowed: AllowedCallers {
                chromium,
                firefox: vec![FIREFOX_ADDON_ID.to_owned()],
            },
            timeouts: Timeouts::default(),
            sources: Vec::new(),
            pkcs11: None,
        }
    }

    /// Built-in values plus every configuration file found.
    pub fn load() -> HostConfig {
        let mut config = HostConfig::built_in();
        let mut files = vec![PathBuf::from("/etc/geid/host.json")];
        if let Some(dir) = user_config_dir() {
            files.push(dir.join("host.json"));
        }
        if let Some(path) = std::env::var_os("GEID_HOST_CONFIG") {
            files.push(PathBuf::from(path));
        }
        for file in files {
            match std::fs::read(&file) {
                Ok(bytes) => match serde_json::from_slice::<ConfigFile>(&bytes) {
                    Ok(f) => {
                        config.merge(f);
                        config.sources.push(file);
                    }
                    Err(e) => {
                        tracing::warn!(file = %file.display(), "ignoring unreadable configuration: {e}")
                    }
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(file = %file.display(), "cannot read configuration: {e}"),
            }
        }
        config
    }

    /// Adds a file's settings.
    pub fn merge(&mut self, file: ConfigFile) {
        for id in file.allowed_extension_ids {
            if !self.allowed.chromium.contains(&id) {
                self.allowed.chromium.push(id);
            }
        }
        for id in file.allowed_firefox_ids {
            if !self.allowed.firefox.contains(&id) {
                self.allowed.firefox.push(id);
            }
        }
        if let Some(s) = file.card_timeout_secs {
            self.timeouts.card = Duration::from_secs(s);
        }
        if let Some(s) = file.pin_timeout_secs {
            self.timeouts.pin = Duration::from_secs(s);
        }
        if let Some(module) = file.pkcs11_module {
            self.pkcs11 = Some((module, file.pkcs11_token_label));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_has_the_development_extension_and_is_valid() {
        let c = HostConfig::built_in();
        assert!(c
            .allowed
            .chromium
            .iter()
            .all(|id| crate::caller::is_chromium_extension_id(id)));
        assert!(c.allowed.chromium.contains(&DEV_EXTENSION_ID.to_owned()));
    }

    #[test]
    fn files_add_ids_and_override_timeouts() {
        let mut c = HostConfig::built_in();
        c.merge(serde_json::from_str(r#"{"allowedExtensionIds":["abcdefghijklmnopabcdefghijklmnop"],"pinTimeoutSecs":5}"#).unwrap());
        assert!(c
            .allowed
            .chromium
            .contains(&"abcdefghijklmnopabcdefghijklmnop".to_owned()));
        assert_eq!(c.timeouts.pin, Duration::from_secs(5));
        assert_eq!(c.timeouts.card, Duration::from_secs(120));
        assert!(serde_json::from_str::<ConfigFile>(r#"{"allowedIds":[]}"#).is_err());
    }
}
