//! A generated test PKI shaped like the Georgian one.
//!
//! The real hierarchy is GEO Root CA → GEO Authentication CA / GEO Signing CA, with citizen
//! certificates valid 2.5 years carrying `serialNumber=PNOGE-<11 digits>`, given name and
//! surname (ETSI EN 319 412-1 §5.1.3), OCSP and CRL (DESIGN.md, "The Georgian ID card").
//! Nothing in CI has those CAs, so [`Pki::generate`] builds the same shape from fresh keys on
//! every run:
//!
//! ```text
//! GEO Root CA (TEST)                          self-signed, CA:TRUE
//! ├── GEO Authentication CA (TEST)            CA:TRUE pathlen:0
//! │   ├── GEO Authentication CA OCSP Responder (TEST)   id-kp-OCSPSigning + ocsp-nocheck
//! │   ├── citizens' authentication certificates (and the broken variants)
//! │   └── GEO Non-CA Intermediate (TEST)      CA:FALSE — issues `non-ca-issuer`
//! └── GEO Signing CA (TEST)                   CA:TRUE pathlen:0
//!     ├── GEO Signing CA OCSP Responder (TEST)
//!     └── citizens' qualified-signature certificates (qcStatements, nonRepudiation)
//! Unknown Root CA (TEST)                      not trusted — issues `unknown-ca`
//! ```
//!
//! Every CA and responder common name ends in "(TEST)", the policy OIDs sit under a
//! placeholder private-enterprise arc ([`TEST_POLICY_AUTH`], [`TEST_POLICY_SIGN`]), and no
//! production configuration may ever trust this root.
//!
//! Citizens are looked up by stable names ([`CITIZEN`], [`EXPIRED`], …); each broken variant
//! differs from a valid citizen in exactly one way, so a verifier test can assert the exact
//! error it expects.

mod files;

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openssl::asn1::{Asn1Integer, Asn1Object, Asn1OctetString, Asn1Time, Asn1Type};
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{X509Builder, X509Extension, X509Name, X509NameBuilder, X509Ref, X509};
use serde::{Deserialize, Serialize};

use crate::der;
use crate::Error;

pub use files::Written;

/// Name of the first valid Georgian citizen (authentication and signing certificates).
pub const CITIZEN: &str = "citizen";
/// Name of a second valid Georgian citizen, for "a different key / person" tests.
pub const CITIZEN_2: &str = "citizen-2";
/// Name of an Estonian-style citizen with a P-256 authentication key.
pub const EE_P256: &str = "ee-p256";
/// Name of an Estonian-style citizen with a P-384 authentication key.
pub const EE_P384: &str = "ee-p384";
/// Name of a citizen whose authentication certificate expired half a year ago.
pub const EXPIRED: &str = "expired";
/// Name of a citizen whose authentication certificate becomes valid in 30 days.
pub const NOT_YET_VALID: &str = "not-yet-valid";
/// Name of a citizen whose keyUsage is keyEncipherment only (no digitalSignature).
pub const NO_DIGITAL_SIGNATURE: &str = "no-digital-signature";
/// Name of a citizen whose EKU is emailProtection only (no clientAuth).
pub const EKU_WITHOUT_CLIENT_AUTH: &str = "eku-without-client-auth";
/// Name of a citizen issued by [`Pki::unknown_root`], outside the trusted hierarchy.
pub const UNKNOWN_CA: &str = "unknown-ca";
/// Name of a citizen issued by [`Pki::non_ca_intermediate`] (basicConstraints CA:FALSE).
pub const NON_CA_ISSUER: &str = "non-ca-issuer";
/// Name of a citizen whose valid authentication certificate is marked revoked.
pub const REVOKED: &str = "revoked";

/// Test-only certificate policy for authentication certificates.
///
/// `1.3.6.1.4.1.99999` is a placeholder private-enterprise arc, not a registered one; the
/// real Georgian policy OIDs are not known to the project.
pub const TEST_POLICY_AUTH: &str = "1.3.6.1.4.1.99999.1.1";
/// Test-only certificate policy for qualified-signature certificates (see [`TEST_POLICY_AUTH`]).
pub const TEST_POLICY_SIGN: &str = "1.3.6.1.4.1.99999.1.2";

/// id-pe-qcStatements (RFC 3739 §3.2.6).
pub const OID_QC_STATEMENTS: &str = "1.3.6.1.5.5.7.1.3";
/// id-etsi-qcs-QcCompliance (ETSI EN 319 412-5 §4.2.1).
pub const OID_QC_COMPLIANCE: &str = "0.4.0.1862.1.1";
/// id-etsi-qcs-QcSSCD (ETSI EN 319 412-5 §4.2.2).
pub const OID_QC_SSCD: &str = "0.4.0.1862.1.4";
/// id-etsi-qcs-QcType (ETSI EN 319 412-5 §4.2.3).
pub const OID_QC_TYPE: &str = "0.4.0.1862.1.6";
/// id-etsi-qct-esign, the QcType for electronic signatures.
pub const OID_QC_TYPE_ESIGN: &str = "0.4.0.1862.1.6.1";
/// id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1).
pub const OID_OCSP_NOCHECK: &str = "1.3.6.1.5.5.7.48.1.5";
/// id-kp-OCSPSigning (RFC 5280 §4.2.1.12).
pub const OID_KP_OCSP_SIGNING: &str = "1.3.6.1.5.5.7.3.9";

const OID_CERTIFICATE_POLICIES: &str = "2.5.29.32";
const OID_CRL_DISTRIBUTION_POINTS: &str = "2.5.29.31";
const OID_EXTENDED_KEY_USAGE: &str = "2.5.29.37";
const OID_AUTHORITY_INFO_ACCESS: &str = "1.3.6.1.5.5.7.1.1";
const OID_AD_OCSP: &str = "1.3.6.1.5.5.7.48.1";
const OID_AD_CA_ISSUERS: &str = "1.3.6.1.5.5.7.48.2";

const ORGANIZATION: &str = "Public Service Development Agency (TEST)";
const DAY: i64 = 86_400;
const YEAR: i64 = 365 * DAY;
/// 2.5 years, the validity of a Georgian ID card certificate.
const CITIZEN_VALIDITY: i64 = 913 * DAY;

/// Which of the two issuing CAs something belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IssuingCa {
    /// GEO Authentication CA (TEST): citizens' authentication certificates.
    Authentication,
    /// GEO Signing CA (TEST): citizens' qualified-signature certificates.
    Signing,
}

impl IssuingCa {
    /// The URL path segment used for this CA: `auth` or `sign`.
    pub fn path_segment(self) -> &'static str {
        match self {
            IssuingCa::Authentication => "auth",
            IssuingCa::Signing => "sign",
        }
    }
}

/// Settings baked into the generated certificates.
///
/// The URLs end up in the AIA (OCSP, caIssuers) and CRL distribution point extensions of
/// citizen certificates, so a test that runs its OCSP responder on another port must set them
/// before generating. Per issuing CA the testkit appends a fixed suffix, see
/// [`PkiOptions::ocsp_url`], [`PkiOptions::crl_url`] and [`PkiOptions::ca_issuers_url`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PkiOptions {
    /// Base of the OCSP URLs; default `http://127.0.0.1:8990/ocsp`.
    pub ocsp_base_url: String,
    /// Base of the CRL URLs; default `http://127.0.0.1:8990/crl`.
    pub crl_base_url: String,
    /// Base of the caIssuers URLs; default `http://127.0.0.1:8990/ca`.
    pub ca_issuers_base_url: String,
    /// RSA modulus size for CA and OCSP responder keys; default 2048 to keep generation fast
    /// (citizen keys are always RSA-2048 like the card's).
    pub ca_key_bits: u32,
}

impl Default for PkiOptions {
    fn default() -> Self {
        PkiOptions::with_base_url("http://127.0.0.1:8990")
    }
}

impl PkiOptions {
    /// Options whose OCSP, CRL and caIssuers URLs all live under `base`
    /// (e.g. `http://127.0.0.1:41234`), the usual case for a test server on a free port.
    pub fn with_base_url(base: &str) -> Self {
        let base = base.trim_end_matches('/');
        PkiOptions {
            ocsp_base_url: format!("{base}/ocsp"),
            crl_base_url: format!("{base}/crl"),
            ca_issuers_base_url: format!("{base}/ca"),
            ca_key_bits: 2048,
        }
    }

    /// OCSP URL for certificates of `ca`: `<ocsp_base_url>/auth` or `/sign`.
    pub fn ocsp_url(&self, ca: IssuingCa) -> String {
        join(&self.ocsp_base_url, ca.path_segment())
    }

    /// CRL URL for certificates of `ca`: `<crl_base_url>/auth.crl` or `/sign.crl`.
    pub fn crl_url(&self, ca: IssuingCa) -> String {
        join(&self.crl_base_url, &format!("{}.crl", ca.path_segment()))
    }

    /// caIssuers URL for certificates of `ca`: `<ca_issuers_base_url>/auth.der` or `/sign.der`.
    pub fn ca_issuers_url(&self, ca: IssuingCa) -> String {
        join(
            &self.ca_issuers_base_url,
            &format!("{}.der", ca.path_segment()),
        )
    }

    fn validate(&self) -> Result<(), Error> {
        for url in [
            &self.ocsp_base_url,
            &self.crl_base_url,
            &self.ca_issuers_base_url,
        ] {
            let invalid = |reason: &str| Error::InvalidUrl {
                url: url.clone(),
                reason: reason.to_owned(),
            };
            let parsed = url::Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(invalid(
                    "only http and https URLs are used for OCSP and CRLs",
                ));
            }
            // GeneralName uniformResourceIdentifier is an IA5String (RFC 5280 §4.2.1.6).
            if !url.is_ascii() {
                return Err(invalid("URLs in certificates must be ASCII (IA5String)"));
            }
            if parsed.query().is_some() || parsed.fragment().is_some() {
                return Err(invalid("a base URL has no query or fragment"));
            }
        }
        if !(1024..=8192).contains(&self.ca_key_bits) {
            return Err(Error::InvalidKeySize(self.ca_key_bits));
        }
        Ok(())
    }
}

fn join(base: &str, tail: &str) -> String {
    format!("{}/{tail}", base.trim_end_matches('/'))
}

/// A certificate and its private key.
#[derive(Clone)]
pub struct CertifiedKey {
    /// The certificate.
    pub cert: X509,
    /// Its private key.
    pub key: PKey<Private>,
}

impl std::fmt::Debug for CertifiedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertifiedKey")
            .field("subject", &subject_string(&self.cert))
            .finish_non_exhaustive()
    }
}

/// Why a certificate was revoked: CRLReason (RFC 5280 §5.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RevocationReason {
    /// unspecified (0)
    Unspecified,
    /// keyCompromise (1)
    KeyCompromise,
    /// cACompromise (2)
    CaCompromise,
    /// affiliationChanged (3)
    AffiliationChanged,
    /// superseded (4)
    Superseded,
    /// cessationOfOperation (5)
    CessationOfOperation,
    /// certificateHold (6)
    CertificateHold,
    /// removeFromCRL (8)
    RemoveFromCrl,
    /// privilegeWithdrawn (9)
    PrivilegeWithdrawn,
    /// aACompromise (10)
    AaCompromise,
}

impl RevocationReason {
    /// The CRLReason ENUMERATED value, as carried in OCSP and CRLs.
    pub fn code(self) -> u8 {
        match self {
            RevocationReason::Unspecified => 0,
            RevocationReason::KeyCompromise => 1,
            RevocationReason::CaCompromise => 2,
            RevocationReason::AffiliationChanged => 3,
            RevocationReason::Superseded => 4,
            RevocationReason::CessationOfOperation => 5,
            RevocationReason::CertificateHold => 6,
            RevocationReason::RemoveFromCrl => 8,
            RevocationReason::PrivilegeWithdrawn => 9,
            RevocationReason::AaCompromise => 10,
        }
    }
}

/// A revocation the test OCSP responder reports for a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revocation {
    /// When the certificate was revoked (whole seconds).
    pub time: SystemTime,
    /// Why.
    pub reason: RevocationReason,
}

/// One person of the test world with their certificates and keys.
#[derive(Clone)]
pub struct Citizen {
    /// Stable name used as the key in the manifest and in [`Pki::citizen`], e.g. [`CITIZEN`].
    pub name: String,
    /// What this citizen is for, one line.
    pub description: String,
    /// ISO 3166 country code of the subject (`GE`, `EE`).
    pub country: String,
    /// The national personal number (11 digits), without the `PNOxx-` prefix.
    pub personal_number: String,
    /// Given name as in the certificate (Georgian script for Georgian citizens).
    pub given_name: String,
    /// Surname as in the certificate.
    pub surname: String,
    /// Common name as in the certificate.
    pub common_name: String,
    /// Authentication certificate.
    pub auth_cert: X509,
    /// Authentication private key (RSA-2048, or EC for the foreign citizens).
    pub auth_key: PKey<Private>,
    /// Qualified-signature certificate, for the citizens that have one.
    pub sign_cert: Option<X509>,
    /// Qualified-signature private key, present exactly when `sign_cert` is.
    pub sign_key: Option<PKey<Private>>,
    /// Set when the authentication certificate is to be reported revoked.
    pub revoked: Option<Revocation>,
}

impl Citizen {
    /// The subject serialNumber attribute: `PNO<country>-<personal number>`
    /// (ETSI EN 319 412-1 §5.1.3 semantics identifier).
    pub fn subject_serial_number(&self) -> String {
        format!("PNO{}-{}", self.country, self.personal_number)
    }
}

impl std::fmt::Debug for Citizen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Citizen")
            .field("name", &self.name)
            .field("personal_number", &self.personal_number)
            .field("common_name", &self.common_name)
            .field("has_sign_cert", &self.sign_cert.is_some())
            .field("revoked", &self.revoked)
            .finish_non_exhaustive()
    }
}

/// The whole generated test PKI, in memory.
///
/// Create it with [`Pki::generate`] (fresh keys), [`Pki::load`] (from a directory written by
/// [`Pki::write_to`]) or [`Pki::shared`] (once per process, default options).
#[derive(Clone, Debug)]
pub struct Pki {
    options: PkiOptions,
    root: CertifiedKey,
    auth_ca: CertifiedKey,
    sign_ca: CertifiedKey,
    auth_ocsp: CertifiedKey,
    sign_ocsp: CertifiedKey,
    unknown_root: CertifiedKey,
    non_ca_intermediate: CertifiedKey,
    citizens: Vec<Citizen>,
}

impl Pki {
    /// Generates a fresh PKI: every key is new, every serial random.
    ///
    /// Keys are generated once each, in parallel on all available cores; this is where the
    /// time goes (see the crate README for measurements).
    pub fn generate(options: &PkiOptions) -> Result<Pki, Error> {
        options.validate()?;
        generate(options)
    }

    /// A process-wide PKI generated once with [`PkiOptions::default`], for tests that do not
    /// care about URLs and want to pay for key generation only once.
    ///
    /// # Panics
    ///
    /// If generation fails (OpenSSL cannot generate keys), on every call; there is no useful
    /// way for a test to continue without its PKI. Use [`Pki::generate`] to handle the error.
    pub fn shared() -> &'static Pki {
        static SHARED: OnceLock<Result<Pki, Error>> = OnceLock::new();
        match SHARED.get_or_init(|| Pki::generate(&PkiOptions::default())) {
            Ok(pki) => pki,
            Err(error) => panic!("generating the shared test PKI failed: {error}"),
        }
    }

    /// The options the PKI was generated with.
    pub fn options(&self) -> &PkiOptions {
        &self.options
    }

    /// GEO Root CA (TEST), the only trust anchor.
    pub fn root(&self) -> &CertifiedKey {
        &self.root
    }

    /// GEO Authentication CA (TEST).
    pub fn auth_ca(&self) -> &CertifiedKey {
        &self.auth_ca
    }

    /// GEO Signing CA (TEST).
    pub fn sign_ca(&self) -> &CertifiedKey {
        &self.sign_ca
    }

    /// The issuing CA `ca`.
    pub fn issuing_ca(&self, ca: IssuingCa) -> &CertifiedKey {
        match ca {
            IssuingCa::Authentication => &self.auth_ca,
            IssuingCa::Signing => &self.sign_ca,
        }
    }

    /// The delegated OCSP responder of the issuing CA `ca` (RFC 6960 §4.2.2.2).
    pub fn ocsp_responder(&self, ca: IssuingCa) -> &CertifiedKey {
        match ca {
            IssuingCa::Authentication => &self.auth_ocsp,
            IssuingCa::Signing => &self.sign_ocsp,
        }
    }

    /// Unknown Root CA (TEST): a self-signed root outside the trusted hierarchy.
    pub fn unknown_root(&self) -> &CertifiedKey {
        &self.unknown_root
    }

    /// GEO Non-CA Intermediate (TEST): issued by the Authentication CA with
    /// basicConstraints CA:FALSE, yet used to issue [`NON_CA_ISSUER`].
    pub fn non_ca_intermediate(&self) -> &CertifiedKey {
        &self.non_ca_intermediate
    }

    /// The citizen called `name` (see the constants [`CITIZEN`], [`EXPIRED`], …).
    pub fn citizen(&self, name: &str) -> Option<&Citizen> {
        self.citizens.iter().find(|c| c.name == name)
    }

    /// All citizens, valid and broken, in a fixed order.
    pub fn citizens(&self) -> &[Citizen] {
        &self.citizens
    }

    /// The CA certificates a verifier may be given as untrusted intermediates:
    /// the Authentication CA, the Signing CA and the non-CA intermediate.
    pub fn intermediates(&self) -> [&X509; 3] {
        [
            &self.auth_ca.cert,
            &self.sign_ca.cert,
            &self.non_ca_intermediate.cert,
        ]
    }

    /// The certificate-and-key in this PKI that issued `cert`: the one whose subject is
    /// `cert`'s issuer and whose key verifies `cert`'s signature.
    pub fn issuer_of(&self, cert: &X509Ref) -> Option<&CertifiedKey> {
        self.authorities().into_iter().find(|ca| {
            ca.cert.subject_name().try_cmp(cert.issuer_name()).ok()
                == Some(std::cmp::Ordering::Equal)
                && cert.verify(&ca.key).unwrap_or(false)
        })
    }

    fn authorities(&self) -> [&CertifiedKey; 5] {
        [
            &self.root,
            &self.auth_ca,
            &self.sign_ca,
            &self.unknown_root,
            &self.non_ca_intermediate,
        ]
    }
}

// ---------------------------------------------------------------------------------------------
// Generation

/// What is deliberately wrong with a citizen's authentication certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Defect {
    None,
    Expired,
    NotYetValid,
    NoDigitalSignature,
    EkuWithoutClientAuth,
    UnknownCa,
    NonCaIssuer,
    Revoked,
}

#[derive(Debug, Clone, Copy)]
enum KeySpec {
    Rsa(u32),
    P256,
    P384,
}

impl KeySpec {
    fn generate(self) -> Result<PKey<Private>, Error> {
        Ok(match self {
            KeySpec::Rsa(bits) => PKey::from_rsa(Rsa::generate(bits)?)?,
            KeySpec::P256 => PKey::ec_gen("prime256v1")?,
            KeySpec::P384 => PKey::ec_gen("secp384r1")?,
        })
    }
}

struct CitizenSpec {
    name: &'static str,
    description: &'static str,
    country: &'static str,
    personal_number: &'static str,
    given_name: &'static str,
    surname: &'static str,
    /// `None`: "<given name> <surname>".
    common_name: Option<&'static str>,
    key: KeySpec,
    with_sign: bool,
    defect: Defect,
}

const RSA_2048: KeySpec = KeySpec::Rsa(2048);

const fn georgian(
    name: &'static str,
    description: &'static str,
    personal_number: &'static str,
    given_name: &'static str,
    surname: &'static str,
    with_sign: bool,
    defect: Defect,
) -> CitizenSpec {
    CitizenSpec {
        name,
        description,
        country: "GE",
        personal_number,
        given_name,
        surname,
        common_name: None,
        key: RSA_2048,
        with_sign,
        defect,
    }
}

/// The citizens of the test world. Personal numbers are made up and distinct.
const CITIZENS: &[CitizenSpec] = &[
    georgian(
        CITIZEN,
        "valid Georgian citizen with authentication and qualified-signature certificates",
        "01001000001",
        "გიორგი",
        "ბერიძე",
        true,
        Defect::None,
    ),
    georgian(
        CITIZEN_2,
        "second valid Georgian citizen, for another-person / another-key tests",
        "01001000002",
        "ნინო",
        "კაპანაძე",
        true,
        Defect::None,
    ),
    CitizenSpec {
        name: EE_P256,
        description: "foreign (Estonian-style) card with a P-256 authentication key",
        country: "EE",
        personal_number: "38001085718",
        given_name: "JAAK-KRISTJAN",
        surname: "JOEORG",
        common_name: Some("JOEORG,JAAK-KRISTJAN,38001085718"),
        key: KeySpec::P256,
        with_sign: false,
        defect: Defect::None,
    },
    CitizenSpec {
        name: EE_P384,
        description: "foreign (Estonian-style) card with a P-384 authentication key",
        country: "EE",
        personal_number: "49002010976",
        given_name: "MARI-LIIS",
        surname: "TAMM",
        common_name: Some("TAMM,MARI-LIIS,49002010976"),
        key: KeySpec::P384,
        with_sign: false,
        defect: Defect::None,
    },
    georgian(
        EXPIRED,
        "authentication certificate expired (notAfter about 182 days ago)",
        "01001000003",
        "დავით",
        "მაისურაძე",
        false,
        Defect::Expired,
    ),
    georgian(
        NOT_YET_VALID,
        "authentication certificate not yet valid (notBefore in 30 days)",
        "01001000004",
        "მარიამ",
        "გელაშვილი",
        false,
        Defect::NotYetValid,
    ),
    georgian(
        NO_DIGITAL_SIGNATURE,
        "keyUsage keyEncipherment only, no digitalSignature",
        "01001000005",
        "ლევან",
        "ჯაფარიძე",
        false,
        Defect::NoDigitalSignature,
    ),
    georgian(
        EKU_WITHOUT_CLIENT_AUTH,
        "extendedKeyUsage emailProtection only, no clientAuth",
        "01001000006",
        "თამარ",
        "ლომიძე",
        false,
        Defect::EkuWithoutClientAuth,
    ),
    georgian(
        UNKNOWN_CA,
        "issued by Unknown Root CA (TEST), which is not trusted",
        "01001000007",
        "ნიკა",
        "ხარაიშვილი",
        false,
        Defect::UnknownCa,
    ),
    georgian(
        NON_CA_ISSUER,
        "issued by an intermediate whose basicConstraints is CA:FALSE",
        "01001000008",
        "ანა",
        "ცინცაძე",
        false,
        Defect::NonCaIssuer,
    ),
    georgian(
        REVOKED,
        "valid authentication certificate that OCSP reports revoked (keyCompromise)",
        "01001000009",
        "ირაკლი",
        "ნოზაძე",
        false,
        Defect::Revoked,
    ),
];

/// Generates every key of the PKI up front, in parallel, and hands them out by label.
struct KeyPool(HashMap<String, PKey<Private>>);

impl KeyPool {
    fn generate(specs: Vec<(String, KeySpec)>) -> Result<KeyPool, Error> {
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, specs.len().max(1));
        let next = std::sync::atomic::AtomicUsize::new(0);
        let specs = &specs;
        let next = &next;
        let results = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    scope.spawn(move || {
                        let mut done = Vec::new();
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some((label, spec)) = specs.get(i) else {
                                break;
                            };
                            done.push((label.clone(), spec.generate()));
                        }
                        done
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().map_err(|_| Error::KeyGenerationPanicked))
                .collect::<Result<Vec<_>, Error>>()
        })?;
        let mut keys = HashMap::new();
        for (label, key) in results.into_iter().flatten() {
            keys.insert(label, key?);
        }
        Ok(KeyPool(keys))
    }

    fn take(&mut self, label: &str) -> PKey<Private> {
        match self.0.remove(label) {
            Some(key) => key,
            // Every label taken below is listed in `key_specs`; reaching this is a bug here.
            None => unreachable!("no key generated for {label}"),
        }
    }
}

fn key_specs(options: &PkiOptions) -> Vec<(String, KeySpec)> {
    let ca = KeySpec::Rsa(options.ca_key_bits);
    let mut specs: Vec<(String, KeySpec)> = [
        "root",
        "auth-ca",
        "sign-ca",
        "unknown-root",
        "non-ca-intermediate",
        "auth-ocsp",
        "sign-ocsp",
    ]
    .iter()
    .map(|label| ((*label).to_owned(), ca))
    .collect();
    for spec in CITIZENS {
        specs.push((format!("{}.auth", spec.name), spec.key));
        if spec.with_sign {
            specs.push((format!("{}.sign", spec.name), RSA_2048));
        }
    }
    specs
}

fn generate(options: &PkiOptions) -> Result<Pki, Error> {
    let now = unix_now()?;
    let mut keys = KeyPool::generate(key_specs(options))?;

    let root = self_signed_ca(
        ca_name("GEO Root CA (TEST)", ORGANIZATION)?,
        keys.take("root"),
        (now - 5 * YEAR, now + 20 * YEAR),
    )?;
    let auth_ca = issuing_ca(
        &root,
        "GEO Authentication CA (TEST)",
        keys.take("auth-ca"),
        now,
    )?;
    let sign_ca = issuing_ca(&root, "GEO Signing CA (TEST)", keys.take("sign-ca"), now)?;
    let auth_ocsp = ocsp_responder(
        &auth_ca,
        "GEO Authentication CA OCSP Responder (TEST)",
        keys.take("auth-ocsp"),
        now,
    )?;
    let sign_ocsp = ocsp_responder(
        &sign_ca,
        "GEO Signing CA OCSP Responder (TEST)",
        keys.take("sign-ocsp"),
        now,
    )?;
    let unknown_root = self_signed_ca(
        ca_name("Unknown Root CA (TEST)", "Nobody You Should Trust (TEST)")?,
        keys.take("unknown-root"),
        (now - 5 * YEAR, now + 20 * YEAR),
    )?;
    let non_ca_intermediate = non_ca_intermediate(&auth_ca, keys.take("non-ca-intermediate"), now)?;

    let mut citizens = Vec::with_capacity(CITIZENS.len());
    for spec in CITIZENS {
        let issuer = match spec.defect {
            Defect::UnknownCa => &unknown_root,
            Defect::NonCaIssuer => &non_ca_intermediate,
            _ => &auth_ca,
        };
        let common_name = spec
            .common_name
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{} {}", spec.given_name, spec.surname));
        let subject = citizen_name(spec, &common_name)?;
        let auth_key = keys.take(&format!("{}.auth", spec.name));
        let auth_cert = citizen_auth_cert(spec, &subject, &auth_key, issuer, options, now)?;
        let (sign_cert, sign_key) = if spec.with_sign {
            let key = keys.take(&format!("{}.sign", spec.name));
            let cert = citizen_sign_cert(&subject, &key, &sign_ca, options, now)?;
            (Some(cert), Some(key))
        } else {
            (None, None)
        };
        let revoked = (spec.defect == Defect::Revoked).then(|| Revocation {
            time: UNIX_EPOCH + Duration::from_secs(u64::try_from(now - 3600).unwrap_or(0)),
            reason: RevocationReason::KeyCompromise,
        });
        citizens.push(Citizen {
            name: spec.name.to_owned(),
            description: spec.description.to_owned(),
            country: spec.country.to_owned(),
            personal_number: spec.personal_number.to_owned(),
            given_name: spec.given_name.to_owned(),
            surname: spec.surname.to_owned(),
            common_name,
            auth_cert,
            auth_key,
            sign_cert,
            sign_key,
            revoked,
        });
    }

    Ok(Pki {
        options: options.clone(),
        root,
        auth_ca,
        sign_ca,
        auth_ocsp,
        sign_ocsp,
        unknown_root,
        non_ca_intermediate,
        citizens,
    })
}

fn unix_now() -> Result<i64, Error> {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| Error::TimeOutOfRange(e.to_string()))?;
    i64::try_from(since.as_secs()).map_err(|e| Error::TimeOutOfRange(e.to_string()))
}

fn ca_name(common_name: &str, organization: &str) -> Result<X509Name, Error> {
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_nid_with_type(Nid::COUNTRYNAME, "GE", Asn1Type::PRINTABLESTRING)?;
    name.append_entry_by_nid_with_type(Nid::ORGANIZATIONNAME, organization, Asn1Type::UTF8STRING)?;
    name.append_entry_by_nid_with_type(Nid::COMMONNAME, common_name, Asn1Type::UTF8STRING)?;
    Ok(name.build())
}

/// C, CN, SN, GN, serialNumber in the order ETSI EN 319 412-1 examples use.
/// countryName and serialNumber are PrintableString (RFC 5280 App. A); names are UTF8String.
fn citizen_name(spec: &CitizenSpec, common_name: &str) -> Result<X509Name, Error> {
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_nid_with_type(Nid::COUNTRYNAME, spec.country, Asn1Type::PRINTABLESTRING)?;
    name.append_entry_by_nid_with_type(Nid::COMMONNAME, common_name, Asn1Type::UTF8STRING)?;
    name.append_entry_by_nid_with_type(Nid::SURNAME, spec.surname, Asn1Type::UTF8STRING)?;
    name.append_entry_by_nid_with_type(Nid::GIVENNAME, spec.given_name, Asn1Type::UTF8STRING)?;
    name.append_entry_by_nid_with_type(
        Nid::SERIALNUMBER,
        &format!("PNO{}-{}", spec.country, spec.personal_number),
        Asn1Type::PRINTABLESTRING,
    )?;
    Ok(name.build())
}

/// A random positive serial of exactly 16 bytes (RFC 5280 §4.1.2.2 allows up to 20): 127
/// random bits with the top one set, so the DER INTEGER needs no leading zero byte.
fn random_serial() -> Result<Asn1Integer, Error> {
    let mut bn = BigNum::new()?;
    bn.rand(127, MsbOption::ONE, false)?;
    Ok(bn.to_asn1_integer()?)
}

fn custom_extension(oid: &str, critical: bool, value: &[u8]) -> Result<X509Extension, Error> {
    let object = Asn1Object::from_str(oid)?;
    let value = Asn1OctetString::new_from_bytes(value)?;
    Ok(X509Extension::new_from_der(&object, critical, &value)?)
}

/// The parts common to every certificate: version 3, random serial, names, validity, key,
/// SKI and (when not self-signed) AKI keyIdentifier; then `extensions` and a SHA-256
/// signature by the issuer (or by `key` itself when `issuer` is `None`).
fn issue(
    subject: &X509Name,
    key: &PKey<Private>,
    issuer: Option<&CertifiedKey>,
    (not_before, not_after): (i64, i64),
    extensions: Vec<X509Extension>,
) -> Result<X509, Error> {
    let mut builder = X509Builder::new()?;
    builder.set_version(2)?;
    let serial = random_serial()?;
    builder.set_serial_number(&serial)?;
    builder.set_subject_name(subject)?;
    match issuer {
        Some(issuer) => builder.set_issuer_name(issuer.cert.subject_name())?,
        None => builder.set_issuer_name(subject)?,
    }
    let not_before = Asn1Time::from_unix(not_before)?;
    let not_after = Asn1Time::from_unix(not_after)?;
    builder.set_not_before(&not_before)?;
    builder.set_not_after(&not_after)?;
    builder.set_pubkey(key)?;
    for extension in extensions {
        builder.append_extension(extension)?;
    }
    let ski = SubjectKeyIdentifier::new().build(&builder.x509v3_context(None, None))?;
    builder.append_extension(ski)?;
    if let Some(issuer) = issuer {
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&builder.x509v3_context(Some(&issuer.cert), None))?;
        builder.append_extension(aki)?;
    }
    let signer = issuer.map_or(key, |issuer| &issuer.key);
    builder.sign(signer, MessageDigest::sha256())?;
    Ok(builder.build())
}

fn ca_extensions(pathlen: Option<u32>) -> Result<Vec<X509Extension>, Error> {
    let mut basic = BasicConstraints::new();
    basic.critical().ca();
    if let Some(pathlen) = pathlen {
        basic.pathlen(pathlen);
    }
    Ok(vec![
        basic.build()?,
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()?,
    ])
}

fn self_signed_ca(
    name: X509Name,
    key: PKey<Private>,
    validity: (i64, i64),
) -> Result<CertifiedKey, Error> {
    let cert = issue(&name, &key, None, validity, ca_extensions(None)?)?;
    Ok(CertifiedKey { cert, key })
}

fn issuing_ca(
    root: &CertifiedKey,
    common_name: &str,
    key: PKey<Private>,
    now: i64,
) -> Result<CertifiedKey, Error> {
    let name = ca_name(common_name, ORGANIZATION)?;
    let validity = (now - 4 * YEAR, now + 12 * YEAR);
    let cert = issue(&name, &key, Some(root), validity, ca_extensions(Some(0))?)?;
    Ok(CertifiedKey { cert, key })
}

/// A delegated responder (RFC 6960 §4.2.2.2): issued by the CA, EKU id-kp-OCSPSigning, and
/// id-pkix-ocsp-nocheck so clients do not ask about the responder's own status (§4.2.2.2.1).
fn ocsp_responder(
    ca: &CertifiedKey,
    common_name: &str,
    key: PKey<Private>,
    now: i64,
) -> Result<CertifiedKey, Error> {
    let name = ca_name(common_name, ORGANIZATION)?;
    let extensions = vec![
        KeyUsage::new().critical().digital_signature().build()?,
        custom_extension(
            OID_EXTENDED_KEY_USAGE,
            false,
            &der::sequence(&[der::oid(OID_KP_OCSP_SIGNING)?]),
        )?,
        custom_extension(OID_OCSP_NOCHECK, false, &der::null())?,
    ];
    let cert = issue(&name, &key, Some(ca), (now - DAY, now + YEAR), extensions)?;
    Ok(CertifiedKey { cert, key })
}

/// Looks like a CA (keyCertSign, cRLSign) except for basicConstraints CA:FALSE, so a chain
/// through it fails for exactly that reason (RFC 5280 §6.1.4 (k)).
fn non_ca_intermediate(
    auth_ca: &CertifiedKey,
    key: PKey<Private>,
    now: i64,
) -> Result<CertifiedKey, Error> {
    let name = ca_name("GEO Non-CA Intermediate (TEST)", ORGANIZATION)?;
    let extensions = vec![
        BasicConstraints::new().critical().build()?,
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()?,
    ];
    let validity = (now - 4 * YEAR, now + 5 * YEAR);
    let cert = issue(&name, &key, Some(auth_ca), validity, extensions)?;
    Ok(CertifiedKey { cert, key })
}

/// certificatePolicies, AIA (OCSP + caIssuers) and CRL distribution point (RFC 5280
/// §4.2.1.4, §4.2.2.1, §4.2.1.13) for a citizen certificate of `ca`.
fn citizen_common_extensions(
    options: &PkiOptions,
    ca: IssuingCa,
    policy: &str,
) -> Result<Vec<X509Extension>, Error> {
    let uri = |url: String| der::tlv(0x86, url.as_bytes());
    let policies = der::sequence(&[der::sequence(&[der::oid(policy)?])]);
    let aia = der::sequence(&[
        der::sequence(&[der::oid(OID_AD_OCSP)?, uri(options.ocsp_url(ca))]),
        der::sequence(&[
            der::oid(OID_AD_CA_ISSUERS)?,
            uri(options.ca_issuers_url(ca)),
        ]),
    ]);
    // DistributionPoint { distributionPoint [0] { fullName [0] { uniformResourceIdentifier } } }
    let cdp = der::sequence(&[der::sequence(&[der::tlv(
        0xa0,
        &der::tlv(0xa0, &uri(options.crl_url(ca))),
    )])]);
    Ok(vec![
        custom_extension(OID_CERTIFICATE_POLICIES, false, &policies)?,
        custom_extension(OID_AUTHORITY_INFO_ACCESS, false, &aia)?,
        custom_extension(OID_CRL_DISTRIBUTION_POINTS, false, &cdp)?,
    ])
}

fn citizen_validity(now: i64, defect: Defect) -> (i64, i64) {
    let not_before = match defect {
        Defect::Expired => now - 3 * YEAR,
        Defect::NotYetValid => now + 30 * DAY,
        _ => now - DAY,
    };
    (not_before, not_before + CITIZEN_VALIDITY)
}

fn citizen_auth_cert(
    spec: &CitizenSpec,
    subject: &X509Name,
    key: &PKey<Private>,
    issuer: &CertifiedKey,
    options: &PkiOptions,
    now: i64,
) -> Result<X509, Error> {
    let key_usage = match spec.defect {
        Defect::NoDigitalSignature => KeyUsage::new().critical().key_encipherment().build()?,
        _ => KeyUsage::new().critical().digital_signature().build()?,
    };
    let eku = match spec.defect {
        Defect::EkuWithoutClientAuth => ExtendedKeyUsage::new().email_protection().build()?,
        _ => ExtendedKeyUsage::new().client_auth().build()?,
    };
    let mut extensions = vec![key_usage, eku];
    extensions.extend(citizen_common_extensions(
        options,
        IssuingCa::Authentication,
        TEST_POLICY_AUTH,
    )?);
    issue(
        subject,
        key,
        Some(issuer),
        citizen_validity(now, spec.defect),
        extensions,
    )
}

/// qcStatements (ETSI EN 319 412-5 §4): QcCompliance, QcSSCD and QcType esign.
fn qc_statements() -> Result<Vec<u8>, Error> {
    Ok(der::sequence(&[
        der::sequence(&[der::oid(OID_QC_COMPLIANCE)?]),
        der::sequence(&[der::oid(OID_QC_SSCD)?]),
        der::sequence(&[
            der::oid(OID_QC_TYPE)?,
            der::sequence(&[der::oid(OID_QC_TYPE_ESIGN)?]),
        ]),
    ]))
}

fn citizen_sign_cert(
    subject: &X509Name,
    key: &PKey<Private>,
    sign_ca: &CertifiedKey,
    options: &PkiOptions,
    now: i64,
) -> Result<X509, Error> {
    let mut extensions = vec![
        KeyUsage::new().critical().non_repudiation().build()?,
        custom_extension(OID_QC_STATEMENTS, false, &qc_statements()?)?,
    ];
    extensions.extend(citizen_common_extensions(
        options,
        IssuingCa::Signing,
        TEST_POLICY_SIGN,
    )?);
    issue(
        subject,
        key,
        Some(sign_ca),
        citizen_validity(now, Defect::None),
        extensions,
    )
}

/// A one-line rendering of a certificate's subject, e.g. `C=GE, CN=გიორგი ბერიძე, …`.
pub(crate) fn subject_string(cert: &X509Ref) -> String {
    name_string(cert.subject_name())
}

pub(crate) fn name_string(name: &openssl::x509::X509NameRef) -> String {
    name.entries()
        .map(|entry| {
            let key = entry.object().nid().short_name().unwrap_or("?").to_owned();
            let value = entry.data().to_string().unwrap_or_else(|_| "?".to_owned());
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}
