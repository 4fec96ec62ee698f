//! Who started the host, and whether it may use the card.
//!
//! Browsers pass the caller on the command line: Chromium-family browsers
//! `chrome-extension://<id>/` (plus `--parent-window=<n>` on Windows), Firefox the path of the
//! host manifest and then the add-on id. The host serves only extension ids it was built with or
//! that the installer configured; a page cannot choose them.

/// The caller, as the browser named it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// A Chromium-family extension.
    Chromium {
        /// The 32-letter extension id.
        extension_id: String,
    },
    /// A Firefox add-on.
    Firefox {
        /// The add-on id, e.g. `geid@example`.
        addon_id: String,
    },
    /// Anything else (started by hand, or by an unknown program).
    Unknown,
}

/// `true` for a Chromium extension id: 32 characters `a`–`p`.
pub fn is_chromium_extension_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| (b'a'..=b'p').contains(&b))
}

impl Caller {
    /// Reads the caller from the host's arguments (without the program name).
    pub fn from_args(args: &[String]) -> Caller {
        let Some(first) = args.first() else {
            return Caller::Unknown;
        };
        if let Some(rest) = first.strip_prefix("chrome-extension://") {
            let id = rest.trim_end_matches('/');
            if is_chromium_extension_id(id) {
                return Caller::Chromium {
                    extension_id: id.to_owned(),
                };
            }
            return Caller::Unknown;
        }
        // Firefox: <manifest path> <add-on id>
        if first.ends_with(".json") {
            if let Some(addon) = args.get(1) {
                if !addon.is_empty() && addon.len() <= 255 && !addon.starts_with('-') {
                    return Caller::Firefox {
                        addon_id: addon.clone(),
                    };
                }
            }
        }
        Caller::Unknown
    }

    /// Whether `allowed` lets this caller in.
    pub fn is_allowed(&self, allowed: &AllowedCallers) -> bool {
        match self {
            Caller::Chromium { extension_id } => allowed.chromium.iter().any(|a| a == extension_id),
            Caller::Firefox { addon_id } => allowed.firefox.iter().any(|a| a == addon_id),
            Caller::Unknown => false,
        }
    }
}

/// Extension ids allowed to call the host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowedCallers {
    /// Chromium-family extension ids.
    pub chromium: Vec<String>,
    /// Firefox add-on ids.
    pub firefox: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    const ID: &str = "abcdefghijklmnopabcdefghijklmnop";

    #[test]
    fn reads_chromium_and_firefox_callers() {
        assert_eq!(
            Caller::from_args(&args(&[&format!("chrome-extension://{ID}/")])),
            Caller::Chromium {
                extension_id: ID.into()
            }
        );
        assert_eq!(
            Caller::from_args(&args(&[
                &format!("chrome-extension://{ID}/"),
                "--parent-window=7"
            ])),
            Caller::Chromium {
                extension_id: ID.into()
            }
        );
        assert_eq!(
            Caller::from_args(&args(&[
                "/usr/lib/mozilla/native-messaging-hosts/ge.geid.host.json",
                "geid@geid.ge"
            ])),
            Caller::Firefox {
                addon_id: "geid@geid.ge".into()
            }
        );
    }

    #[test]
    fn anything_else_is_unknown() {
        for a in [
            vec![],
            vec!["chrome-extension://short/"],
            vec!["chrome-extension://ABCDEFGHIJKLMNOPABCDEFGHIJKLMNOP/"],
            vec!["chrome-extension://abcdefghijklmnopabcdefghijklmnoq/"],
            vec!["https://evil.ge/"],
            vec!["/tmp/x.json"],
            vec!["/tmp/x.json", "--flag"],
            vec!["install"],
        ] {
            assert_eq!(Caller::from_args(&args(&a)), Caller::Unknown, "{a:?}");
        }
    }

    #[test]
    fn only_listed_ids_are_allowed() {
        let allowed = AllowedCallers {
            chromium: vec![ID.into()],
            firefox: vec!["geid@geid.ge".into()],
        };
        assert!(Caller::Chromium {
            extension_id: ID.into()
        }
        .is_allowed(&allowed));
        assert!(!Caller::Chromium {
            extension_id: "p".repeat(32)
        }
        .is_allowed(&allowed));
        assert!(Caller::Firefox {
            addon_id: "geid@geid.ge".into()
        }
        .is_allowed(&allowed));
        assert!(!Caller::Firefox {
            addon_id: "evil@x".into()
        }
        .is_allowed(&allowed));
        assert!(!Caller::Unknown.is_allowed(&allowed));
    }
}
