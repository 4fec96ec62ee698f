//! Web origins: the site a login token is bound to.
//!
//! An origin here is what browsers call the serialised origin of a page (RFC 6454 §6.2):
//! `scheme://host[:port]`, nothing more. geid accepts `https` everywhere and `http` only for
//! loopback development hosts, normalises to lower case, IDN to punycode (UTS #46 via the
//! WHATWG URL parser) and drops the scheme's default port. Anything else is rejected with the
//! reason, never silently repaired.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest origin accepted, in bytes, before and after normalisation.
pub const ORIGIN_MAX_LEN: usize = 255;

/// A validated, normalised web origin.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin(String);

/// Why a string is not an acceptable origin.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OriginError {
    /// The string is empty.
    #[error("origin is empty")]
    Empty,
    /// Over 255 bytes.
    #[error("origin is {len} bytes; at most {ORIGIN_MAX_LEN} are allowed")]
    TooLong {
        /// The length found.
        len: usize,
    },
    /// Whitespace, a control character or a backslash.
    #[error("origin contains whitespace, a control character or a backslash")]
    InvalidCharacter,
    /// Not parseable as `scheme://host[:port]`.
    #[error("origin is not a valid URL origin: {0}")]
    Malformed(String),
    /// A scheme other than `https` (or `http` for loopback).
    #[error("origin scheme {0:?} is not allowed; use https")]
    UnsupportedScheme(String),
    /// `http` for a host that is not `localhost`, `127.0.0.1` or `[::1]`.
    #[error("http is allowed only for localhost, 127.0.0.1 and [::1]; use https")]
    InsecureHttp,
    /// `user:password@` in front of the host.
    #[error("origin must not contain user information")]
    UserInfo,
    /// Anything after the host and port, including a lone `/`.
    #[error("origin must not contain a path")]
    Path,
    /// A `?query`.
    #[error("origin must not contain a query")]
    Query,
    /// A `#fragment`.
    #[error("origin must not contain a fragment")]
    Fragment,
    /// No host.
    #[error("origin has no host")]
    MissingHost,
}

impl Origin {
    /// Parses and normalises an origin.
    pub fn parse(input: &str) -> Result<Origin, OriginError> {
        if input.is_empty() {
            return Err(OriginError::Empty);
        }
        if input.len() > ORIGIN_MAX_LEN {
            return Err(OriginError::TooLong { len: input.len() });
        }
        // The WHATWG parser strips and tolerates these; an origin from a well-behaved source
        // never has them, so their presence means something is off.
        if input
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
        {
            return Err(OriginError::InvalidCharacter);
        }
        let Some((scheme, rest)) = input.split_once("://") else {
            return Err(OriginError::Malformed("expected scheme://host".into()));
        };
        let scheme_lc = scheme.to_ascii_lowercase();
        if scheme_lc != "https" && scheme_lc != "http" {
            return Err(OriginError::UnsupportedScheme(
                scheme.chars().take(16).collect(),
            ));
        }
        // Look at the raw authority so that "https://a.ge/" is refused, which the URL parser
        // would otherwise normalise into the same thing as "https://a.ge".
        if let Some(i) = rest.find(['/', '?', '#']) {
            return Err(match rest.as_bytes()[i] {
                b'?' => OriginError::Query,
                b'#' => OriginError::Fragment,
                _ => OriginError::Path,
            });
        }
        if rest.contains('@') {
            return Err(OriginError::UserInfo);
        }
        if rest.is_empty() || rest.starts_with(':') {
            return Err(OriginError::MissingHost);
        }
        let url = url::Url::parse(input).map_err(|e| OriginError::Malformed(e.to_string()))?;
        let host = url.host().ok_or(OriginError::MissingHost)?;
        if url.scheme() == "http" {
            let loopback = match host {
                url::Host::Domain(d) => d == "localhost",
                url::Host::Ipv4(ip) => ip == std::net::Ipv4Addr::LOCALHOST,
                url::Host::Ipv6(ip) => ip == std::net::Ipv6Addr::LOCALHOST,
            };
            if !loopback {
                return Err(OriginError::InsecureHttp);
            }
        }
        let serialised = url.origin().ascii_serialization();
        if serialised.len() > ORIGIN_MAX_LEN {
            return Err(OriginError::TooLong {
                len: serialised.len(),
            });
        }
        Ok(Origin(serialised))
    }

    /// The normalised origin, e.g. `https://portal.example.ge`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `true` for `http` origins (loopback development only).
    pub fn is_insecure_http(&self) -> bool {
        self.0.starts_with("http://")
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Origin {
    type Err = OriginError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Origin::parse(s)
    }
}

impl Serialize for Origin {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Origin {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Origin::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(input: &str, expected: &str) {
        assert_eq!(Origin::parse(input).unwrap().as_str(), expected, "{input}");
    }

    fn err(input: &str, expected: OriginError) {
        assert_eq!(Origin::parse(input), Err(expected), "{input}");
    }

    #[test]
    fn accepts_and_normalises() {
        ok("https://portal.example.ge", "https://portal.example.ge");
        ok("HTTPS://Portal.Example.GE", "https://portal.example.ge");
        ok("https://portal.example.ge:443", "https://portal.example.ge");
        ok(
            "https://portal.example.ge:8443",
            "https://portal.example.ge:8443",
        );
        ok("https://მაგალითი.გე", "https://xn--lodafveble.xn--node");
        ok("https://[2001:db8::1]", "https://[2001:db8::1]");
        ok("https://192.0.2.10", "https://192.0.2.10");
        ok("http://localhost:8080", "http://localhost:8080");
        ok("http://127.0.0.1", "http://127.0.0.1");
        ok("http://[::1]:3000", "http://[::1]:3000");
        ok("http://LOCALHOST:80", "http://localhost");
    }

    #[test]
    fn rejects_with_the_reason() {
        err("", OriginError::Empty);
        err("http://portal.example.ge", OriginError::InsecureHttp);
        err("http://127.0.0.2", OriginError::InsecureHttp);
        err("http://localhost.evil.ge", OriginError::InsecureHttp);
        err("https://portal.example.ge/", OriginError::Path);
        err("https://portal.example.ge/login", OriginError::Path);
        err("https://portal.example.ge?x=1", OriginError::Query);
        err("https://portal.example.ge#top", OriginError::Fragment);
        err("https://user:pw@portal.example.ge", OriginError::UserInfo);
        err("https://@portal.example.ge", OriginError::UserInfo);
        err("https://", OriginError::MissingHost);
        err("https://:443", OriginError::MissingHost);
        err(" https://portal.example.ge", OriginError::InvalidCharacter);
        err("https://portal.example.ge\n", OriginError::InvalidCharacter);
        err("https://portal\t.example.ge", OriginError::InvalidCharacter);
        err("https:\\\\portal.example.ge", OriginError::InvalidCharacter);
        assert!(matches!(
            Origin::parse("wss://portal.example.ge"),
            Err(OriginError::UnsupportedScheme(s)) if s == "wss"
        ));
        assert!(matches!(
            Origin::parse("chrome-extension://abcdef"),
            Err(OriginError::UnsupportedScheme(_))
        ));
        assert!(matches!(
            Origin::parse("portal.example.ge"),
            Err(OriginError::Malformed(_))
        ));
        assert!(matches!(
            Origin::parse("https://portal.example.ge:99999"),
            Err(OriginError::Malformed(_))
        ));
        assert!(matches!(
            Origin::parse("https://exa mple.ge"),
            Err(OriginError::InvalidCharacter)
        ));
        let long = format!("https://{}.ge", "a".repeat(250));
        assert!(matches!(
            Origin::parse(&long),
            Err(OriginError::TooLong { .. })
        ));
    }

    #[test]
    fn serde_validates() {
        let o: Origin = serde_json::from_str("\"https://A.ge:443\"").unwrap();
        assert_eq!(o.as_str(), "https://a.ge");
        assert_eq!(serde_json::to_string(&o).unwrap(), "\"https://a.ge\"");
        assert!(serde_json::from_str::<Origin>("\"http://a.ge\"").is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,300}") {
            let _ = Origin::parse(&s);
        }

        #[test]
        fn normalised_origin_is_a_fixed_point(
            label in "[a-z][a-z0-9-]{0,20}[a-z0-9]",
            tld in "[a-z]{2,6}",
            port in prop::option::of(1u16..),
        ) {
            let input = match port {
                Some(p) => format!("https://{label}.{tld}:{p}"),
                None => format!("https://{label}.{tld}"),
            };
            if let Ok(o) = Origin::parse(&input) {
                prop_assert_eq!(Origin::parse(o.as_str()).unwrap(), o);
            }
        }
    }
}
