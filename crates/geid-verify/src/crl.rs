//! CRL checking (RFC 5280 §5, §6.3), optional per configuration.
//!
//! The CRL comes from the certificate's HTTP distribution point or a configured URL. It is
//! accepted only when issued and signed by the certificate's issuing CA, its thisUpdate is not
//! in the future beyond the skew, and its nextUpdate is present and not past; it is then cached
//! until nextUpdate. A listed serial rejects the login; a CRL that cannot be fetched or
//! accepted rejects it too (fail closed).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use openssl::x509::{CrlStatus, X509Crl};

use crate::cert::{asn1_to_system, rfc3339, CheckedCert};
use crate::config::{CrlConfig, CrlMode};
use crate::http::Http;
use crate::VerifyError;

struct CachedCrl {
    crl: X509Crl,
    next_update: SystemTime,
}

pub(crate) struct CrlClient {
    config: CrlConfig,
    skew: Duration,
    http: Http,
    cache: Mutex<HashMap<String, Arc<CachedCrl>>>,
}

impl CrlClient {
    pub(crate) fn new(config: CrlConfig, skew: Duration) -> CrlClient {
        let http = Http::new(config.timeout, config.max_bytes);
        CrlClient {
            config,
            skew,
            http,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) async fn check(
        &self,
        leaf: &CheckedCert,
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        let url = match &self.config.mode {
            CrlMode::Off => return Ok(()),
            CrlMode::Url(url) => url.clone(),
            CrlMode::DistributionPoint => leaf
                .crl_urls
                .iter()
                .find(|u| u.starts_with("http://"))
                .cloned()
                .ok_or_else(|| {
                    VerifyError::CrlUnavailable(
                        "the certificate names no http CRL distribution point; configure a CRL URL"
                            .into(),
                    )
                })?,
        };
        let unavailable = |m: String| VerifyError::CrlUnavailable(format!("{url}: {m}"));
        let cached = self
            .cache
            .lock()
            .ok()
            .and_then(|c| c.get(&url).cloned())
            .filter(|c| now < c.next_update);
        let entry = match cached {
            Some(entry) => entry,
            None => {
                let body = self.http.get(&url).await.map_err(unavailable)?;
                let crl = X509Crl::from_der(&body)
                    .or_else(|_| X509Crl::from_pem(&body))
                    .map_err(|e| unavailable(format!("not a CRL: {e}")))?;
                let next_update = crl
                    .next_update()
                    .and_then(asn1_to_system)
                    .ok_or_else(|| unavailable("the CRL has no nextUpdate".into()))?;
                let entry = Arc::new(CachedCrl { crl, next_update });
                if let Ok(mut cache) = self.cache.lock() {
                    if cache.len() > 1000 {
                        cache.clear();
                    }
                    cache.insert(url.clone(), entry.clone());
                }
                entry
            }
        };
        let crl = &entry.crl;
        let issuer_ok = crl
            .issuer_name()
            .try_cmp(leaf.issuer.subject_name())
            .map(|o| o.is_eq())
            .unwrap_or(false);
        let key = leaf
            .issuer
            .public_key()
            .map_err(|e| unavailable(format!("issuer key: {e}")))?;
        if !issuer_ok || !crl.verify(&key).unwrap_or(false) {
            return Err(unavailable(
                "the CRL is not issued and signed by the certificate's issuing CA".into(),
            ));
        }
        let this_update = asn1_to_system(crl.last_update())
            .ok_or_else(|| unavailable("unreadable thisUpdate".into()))?;
        if this_update > now + self.skew {
            return Err(unavailable(format!(
                "thisUpdate {} is in the future",
                rfc3339(this_update)
            )));
        }
        if entry.next_update + self.skew < now {
            return Err(unavailable(format!(
                "the CRL expired at {}",
                rfc3339(entry.next_update)
            )));
        }
        match crl.get_by_serial(leaf.cert.serial_number()) {
            CrlStatus::NotRevoked => Ok(()),
            CrlStatus::Revoked(r) => Err(VerifyError::CertificateRevoked(format!(
                " at {} (CRL, {url})",
                asn1_to_system(r.revocation_date())
                    .map(rfc3339)
                    .unwrap_or_default()
            ))),
            CrlStatus::RemoveFromCrl(_) => Ok(()),
        }
    }
}
