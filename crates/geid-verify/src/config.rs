//! Verifier configuration and its builder; every setting is checked in [`VerifierBuilder::build`].

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use geid_protocol::{Origin, SignatureAlgorithm};
use openssl::x509::X509;

use crate::{Verifier, VerifyError};

/// A source of the verification time.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Where OCSP requests go (RFC 6960).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum OcspMode {
    /// No OCSP. Use only when revocation is checked another way (CRL), or in tests.
    Off,
    /// The responder named in the certificate's Authority Information Access extension; the
    /// response must be signed by the issuing CA or a delegate it issued with id-kp-OCSPSigning.
    Aia,
    /// A fixed responder URL (e.g. a local relay) whose responses are authorised like AIA ones:
    /// signed by the issuing CA or its id-kp-OCSPSigning delegate.
    Url(String),
    /// A designated responder at `url` whose signing certificate is pinned: only a response
    /// signed by `responder`'s key is accepted (RFC 6960 §4.2.2.2, "locally configured").
    Designated {
        /// The responder URL (http or https).
        url: String,
        /// The pinned responder certificate.
        responder: X509,
    },
}

/// OCSP settings. Defaults follow Web eID's validator: on (AIA), 5 s timeout, 32-byte
/// request nonce, thisUpdate at most 2 minutes old, 15 minutes clock skew.
#[derive(Clone, Debug)]
pub struct OcspConfig {
    /// Which responder to ask.
    pub mode: OcspMode,
    /// Whole-request timeout (connect, send, receive).
    pub timeout: Duration,
    /// Largest response accepted, in bytes.
    pub max_response_bytes: usize,
    /// Send a 32-byte nonce and require it back (RFC 8954). A responder that pre-produces
    /// responses cannot echo nonces; set `false` for it, and responses are then cached by
    /// CertID until their nextUpdate.
    pub use_nonce: bool,
    /// Largest accepted age of thisUpdate (for responses without a cached nextUpdate window).
    pub max_this_update_age: Duration,
    /// How many CertIDs the nonce-less response cache holds.
    pub cache_capacity: usize,
}

impl Default for OcspConfig {
    fn default() -> Self {
        OcspConfig {
            mode: OcspMode::Aia,
            timeout: Duration::from_secs(5),
            max_response_bytes: 64 * 1024,
            use_nonce: true,
            max_this_update_age: Duration::from_secs(120),
            cache_capacity: 10_000,
        }
    }
}

impl OcspConfig {
    /// OCSP switched off.
    pub fn off() -> Self {
        OcspConfig {
            mode: OcspMode::Off,
            ..OcspConfig::default()
        }
    }

    /// OCSP through the certificate's AIA responder (the default).
    pub fn aia() -> Self {
        OcspConfig::default()
    }

    /// OCSP through a designated responder with a pinned certificate.
    pub fn designated(url: impl Into<String>, responder: X509) -> Self {
        OcspConfig {
            mode: OcspMode::Designated {
                url: url.into(),
                responder,
            },
            ..OcspConfig::default()
        }
    }
}

/// Where CRLs come from (RFC 5280 §5). Off by default; OCSP is the primary check.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CrlMode {
    /// No CRL check.
    Off,
    /// The HTTP URL in the certificate's CRL distribution points extension.
    DistributionPoint,
    /// A configured URL, for every certificate.
    Url(String),
}

/// CRL settings.
#[derive(Clone, Debug)]
pub struct CrlConfig {
    /// Which CRL to use.
    pub mode: CrlMode,
    /// Download timeout.
    pub timeout: Duration,
    /// Largest CRL accepted, in bytes.
    pub max_bytes: usize,
}

impl Default for CrlConfig {
    fn default() -> Self {
        CrlConfig {
            mode: CrlMode::Off,
            timeout: Duration::from_secs(5),
            max_bytes: 8 * 1024 * 1024,
        }
    }
}

/// Builds a [`Verifier`]; see [`Verifier::builder`].
pub struct VerifierBuilder {
    pub(crate) origin: Option<String>,
    pub(crate) anchors: Vec<X509>,
    pub(crate) intermediates: Vec<X509>,
    pub(crate) problems: Vec<String>,
    pub(crate) allowed_algorithms: Vec<SignatureAlgorithm>,
    pub(crate) required_policies: Vec<String>,
    pub(crate) disallowed_policies: Vec<String>,
    pub(crate) clock: Clock,
    pub(crate) skew: Duration,
    pub(crate) ocsp: OcspConfig,
    pub(crate) crl: CrlConfig,
    pub(crate) chain_cache_capacity: usize,
    pub(crate) max_signing_time_age: Option<Duration>,
}

impl Default for VerifierBuilder {
    fn default() -> Self {
        VerifierBuilder {
            origin: None,
            anchors: Vec::new(),
            intermediates: Vec::new(),
            problems: Vec::new(),
            allowed_algorithms: SignatureAlgorithm::ALL.to_vec(),
            required_policies: Vec::new(),
            disallowed_policies: Vec::new(),
            clock: Arc::new(SystemTime::now),
            skew: Duration::from_secs(15 * 60),
            ocsp: OcspConfig::default(),
            crl: CrlConfig::default(),
            chain_cache_capacity: 10_000,
            max_signing_time_age: None,
        }
    }
}

/// Reads one or more certificates from PEM (any number of blocks) or a single DER certificate.
pub fn certificates_from_bytes(bytes: &[u8]) -> Result<Vec<X509>, String> {
    if bytes.starts_with(b"-----") || bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        let certs = X509::stack_from_pem(bytes).map_err(|e| format!("not valid PEM: {e}"))?;
        if certs.is_empty() {
            return Err("PEM holds no CERTIFICATE block".into());
        }
        Ok(certs)
    } else {
        X509::from_der(bytes)
            .map(|c| vec![c])
            .map_err(|e| format!("not a DER certificate: {e}"))
    }
}

impl VerifierBuilder {
    /// The portal's own origin, e.g. `https://portal.example.ge` (required). `http://` is
    /// accepted only for `localhost`, `127.0.0.1` and `[::1]`.
    pub fn origin(mut self, origin: &str) -> Self {
        self.origin = Some(origin.to_owned());
        self
    }

    /// Adds a trust anchor.
    pub fn trust_anchor(mut self, cert: X509) -> Self {
        self.anchors.push(cert);
        self
    }

    /// Adds the trust anchors in `bytes` (PEM with one or more certificates, or DER).
    pub fn trust_anchors_from(mut self, bytes: &[u8]) -> Self {
        match certificates_from_bytes(bytes) {
            Ok(certs) => self.anchors.extend(certs),
            Err(e) => self.problems.push(format!("trust anchor: {e}")),
        }
        self
    }

    /// Adds an intermediate CA certificate (tokens carry only the leaf).
    pub fn intermediate(mut self, cert: X509) -> Self {
        self.intermediates.push(cert);
        self
    }

    /// Adds the intermediate CA certificates in `bytes` (PEM or DER).
    pub fn intermediates_from(mut self, bytes: &[u8]) -> Self {
        match certificates_from_bytes(bytes) {
            Ok(certs) => self.intermediates.extend(certs),
            Err(e) => self.problems.push(format!("intermediate: {e}")),
        }
        self
    }

    /// Restricts the accepted signature algorithms (default: all nine of Web eID).
    pub fn allowed_algorithms(
        mut self,
        algs: impl IntoIterator<Item = SignatureAlgorithm>,
    ) -> Self {
        self.allowed_algorithms = algs.into_iter().collect();
        self
    }

    /// Requires the certificate to carry at least one of the policies given this way.
    pub fn require_policy(mut self, oid: &str) -> Self {
        self.required_policies.push(oid.to_owned());
        self
    }

    /// Refuses certificates carrying this policy (e.g. a Mobile-ID or seal policy).
    pub fn disallow_policy(mut self, oid: &str) -> Self {
        self.disallowed_policies.push(oid.to_owned());
        self
    }

    /// Where the verification time comes from (default: the system clock).
    pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Verifies as of a fixed time (for replaying a login, debugging, tests).
    pub fn at(self, time: SystemTime) -> Self {
        self.clock(move || time)
    }

    /// Allowed clock difference with OCSP responders (default 15 minutes).
    pub fn allowed_skew(mut self, skew: Duration) -> Self {
        self.skew = skew;
        self
    }

    /// OCSP settings (default: [`OcspConfig::aia`]).
    pub fn ocsp(mut self, ocsp: OcspConfig) -> Self {
        self.ocsp = ocsp;
        self
    }

    /// CRL settings (default: off).
    pub fn crl(mut self, crl: CrlConfig) -> Self {
        self.crl = crl;
        self
    }

    /// How many verified certificate chains are cached (default 10 000; 0 disables the cache).
    pub fn chain_cache_capacity(mut self, n: usize) -> Self {
        self.chain_cache_capacity = n;
        self
    }

    /// Document signatures only: refuse a signature whose signing time lies further back than
    /// `age` before the verification time (default: no limit). CAdES-BES carries no proof of
    /// time, so a service that verifies signatures as they arrive can use this to refuse a
    /// back-dated signing time.
    pub fn max_signing_time_age(mut self, age: Duration) -> Self {
        self.max_signing_time_age = Some(age);
        self
    }

    /// Checks the configuration and builds the login verifier.
    pub fn build(self) -> Result<Verifier, VerifyError> {
        let config = |m: String| VerifyError::Config(m);
        self.check()?;
        let origin = self
            .origin
            .as_deref()
            .ok_or_else(|| config("the portal origin is required (builder.origin(…))".into()))?;
        let origin = Origin::parse(origin).map_err(|e| config(format!("origin: {e}")))?;
        Verifier::from_builder(self, origin)
    }

    /// Checks the configuration and builds a verifier of document signatures (CMS); the origin
    /// is not needed and ignored. Trust anchors should be the root(s) of the signing CA, with
    /// the signing CA as an intermediate.
    pub fn build_signature_verifier(self) -> Result<crate::SignatureVerifier, VerifyError> {
        self.check()?;
        Ok(crate::SignatureVerifier::from_builder(self))
    }

    fn check(&self) -> Result<(), VerifyError> {
        let config = |m: String| VerifyError::Config(m);
        if let Some(p) = self.problems.first() {
            return Err(config(p.clone()));
        }
        if self.anchors.is_empty() {
            return Err(config(
                "at least one trust anchor is required (builder.trust_anchor(…))".into(),
            ));
        }
        for anchor in &self.anchors {
            if !crate::cert::is_ca(anchor) {
                return Err(config(format!(
                    "trust anchor {} is not a CA certificate (basicConstraints CA:TRUE required)",
                    crate::identity::name_line(anchor.subject_name())
                )));
            }
        }
        for cert in &self.intermediates {
            if !crate::cert::is_ca(cert) {
                // Accepted: a non-CA certificate in the intermediate pool cannot issue anything
                // the chain check would accept, and the test world deliberately has one.
                continue;
            }
        }
        if self.allowed_algorithms.is_empty() {
            return Err(config(
                "at least one signature algorithm must be allowed".into(),
            ));
        }
        for oid in self
            .required_policies
            .iter()
            .chain(&self.disallowed_policies)
        {
            if const_oid::ObjectIdentifier::new(oid).is_err() {
                return Err(config(format!("{oid:?} is not a dotted OID")));
            }
        }
        if let OcspMode::Designated { url, .. } | OcspMode::Url(url) = &self.ocsp.mode {
            check_url(url).map_err(|e| config(format!("OCSP responder URL: {e}")))?;
        }
        if let CrlMode::Url(url) = &self.crl.mode {
            check_url(url).map_err(|e| config(format!("CRL URL: {e}")))?;
        }
        if self.ocsp.timeout.is_zero() || self.crl.timeout.is_zero() {
            return Err(config("timeouts must be positive".into()));
        }
        Ok(())
    }
}

fn check_url(url: &str) -> Result<(), String> {
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(format!("{url:?} is not an http(s) URL"));
    }
    Ok(())
}
