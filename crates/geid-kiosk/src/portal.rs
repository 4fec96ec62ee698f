//! The portal's kiosk API, as this kiosk calls it: every request signed with the kiosk's own
//! private key ([`geid_protocol::kiosk`]).

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use geid_protocol::kiosk::{
    string_to_sign, HEADER_KIOSK, HEADER_REQUEST_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP,
};
use geid_protocol::{AuthToken, ChallengeNonce};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private};

/// Path of the challenge endpoint.
pub const CHALLENGE_PATH: &str = "/kiosk/v1/challenge";
/// Path of the credentials endpoint.
pub const CREDENTIALS_PATH: &str = "/kiosk/v1/credentials";

/// Why a call to the portal did not give an answer to use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PortalError {
    /// The portal could not be reached (network, DNS, TLS, timeout) or answered a 5xx without
    /// an error body. Nothing was issued.
    #[error("the portal cannot be reached: {0}")]
    Unreachable(String),
    /// The portal refused the request with a stable code.
    #[error("the portal refused ({code}): {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Stable code, e.g. `CERT_REVOKED`.
        code: String,
        /// The portal's message.
        message: String,
    },
    /// The portal answered something this kiosk cannot read.
    #[error("unexpected answer from the portal: {0}")]
    Malformed(String),
}

impl PortalError {
    /// The stable code: the portal's, or `PORTAL_UNREACHABLE` / `PORTAL_MALFORMED`.
    pub fn code(&self) -> &str {
        match self {
            PortalError::Unreachable(_) => "PORTAL_UNREACHABLE",
            PortalError::Refused { code, .. } => code,
            PortalError::Malformed(_) => "PORTAL_MALFORMED",
        }
    }
}

/// The kiosk's private key (Ed25519 or ECDSA P-256).
#[derive(Clone)]
pub struct KioskKey {
    key: PKey<Private>,
}

impl std::fmt::Debug for KioskKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KioskKey(<private>)")
    }
}

impl KioskKey {
    /// Reads a PEM private key (PKCS#8 or traditional) from `path`.
    pub fn from_file(path: &Path) -> anyhow::Result<KioskKey> {
        let pem = std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("reading the kiosk key {}: {e}", path.display()))?;
        KioskKey::from_pem(&pem)
    }

    /// Parses a PEM private key; only Ed25519 and ECDSA P-256 are accepted.
    pub fn from_pem(pem: &[u8]) -> anyhow::Result<KioskKey> {
        let key = PKey::private_key_from_pem(pem)
            .map_err(|e| anyhow::anyhow!("the kiosk key is not a PEM private key: {e}"))?;
        KioskKey::new(key)
    }

    /// Wraps a key; only Ed25519 and ECDSA P-256 are accepted.
    pub fn new(key: PKey<Private>) -> anyhow::Result<KioskKey> {
        let ok = match key.id() {
            Id::ED25519 => true,
            Id::EC => key.ec_key()?.group().curve_name() == Some(Nid::X9_62_PRIME256V1),
            _ => false,
        };
        if !ok {
            anyhow::bail!("the kiosk key must be Ed25519 or ECDSA P-256");
        }
        Ok(KioskKey { key })
    }

    /// The public key, PEM (what `geid-portal register-kiosk` takes).
    pub fn public_key_pem(&self) -> anyhow::Result<Vec<u8>> {
        Ok(self.key.public_key_to_pem()?)
    }

    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, openssl::error::ErrorStack> {
        let mut signer = if self.key.id() == Id::ED25519 {
            openssl::sign::Signer::new_without_digest(&self.key)?
        } else {
            openssl::sign::Signer::new(MessageDigest::sha256(), &self.key)?
        };
        signer.sign_oneshot_to_vec(data)
    }
}

/// A challenge from the portal.
#[derive(Debug, Clone)]
pub struct Challenge {
    /// The one-time nonce, bound to this kiosk.
    pub nonce: ChallengeNonce,
    /// The origin the portal verifies tokens for.
    pub origin: String,
}

/// What the portal issued.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    /// The username for the portal's password login.
    pub username: String,
    /// The one-time password (must be changed at the first login).
    pub password: String,
    /// Given name on the account.
    pub given_name: String,
    /// Surname on the account.
    pub surname: String,
    /// Whether the account was created now.
    pub new_account: bool,
}

/// A client of one portal's kiosk API.
#[derive(Clone, Debug)]
pub struct PortalClient {
    base: String,
    kiosk_id: String,
    key: KioskKey,
    agent: ureq::Agent,
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl PortalClient {
    /// A client for the portal at `base` (e.g. `https://portal.example.ge`).
    pub fn new(base: &str, kiosk_id: &str, key: KioskKey) -> PortalClient {
        PortalClient {
            base: base.trim_end_matches('/').to_owned(),
            kiosk_id: kiosk_id.to_owned(),
            key,
            agent: ureq::AgentBuilder::new()
                .timeout_connect(Duration::from_secs(3))
                .timeout(Duration::from_secs(15))
                .redirects(0)
                .build(),
        }
    }

    /// The portal's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// This kiosk's id.
    pub fn kiosk_id(&self) -> &str {
        &self.kiosk_id
    }

    fn post(&self, path: &str, body: &str) -> Result<serde_json::Value, PortalError> {
        let timestamp = unix_now();
        let mut id = [0u8; 18];
        getrandom::getrandom(&mut id).map_err(|e| PortalError::Malformed(e.to_string()))?;
        let request_id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id);
        let data = string_to_sign(
            "POST",
            path,
            timestamp,
            &request_id,
            &self.kiosk_id,
            body.as_bytes(),
        );
        let signature = self
            .key
            .sign(&data)
            .map_err(|e| PortalError::Malformed(format!("signing the request: {e}")))?;
        let reply = self
            .agent
            .post(&format!("{}{path}", self.base))
            .set(HEADER_KIOSK, &self.kiosk_id)
            .set(HEADER_TIMESTAMP, &timestamp.to_string())
            .set(HEADER_REQUEST_ID, &request_id)
            .set(
                HEADER_SIGNATURE,
                &base64::engine::general_purpose::STANDARD.encode(signature),
            )
            .set("content-type", "application/json")
            .send_string(body);
        match reply {
            Ok(r) => r
                .into_json()
                .map_err(|e| PortalError::Malformed(e.to_string())),
            Err(ureq::Error::Status(status, r)) => {
                let body: serde_json::Value = r.into_json().unwrap_or_default();
                match body["error"].as_str() {
                    Some(code) => Err(PortalError::Refused {
                        status,
                        code: code.to_owned(),
                        message: body["message"].as_str().unwrap_or_default().to_owned(),
                    }),
                    None if status >= 500 => {
                        Err(PortalError::Unreachable(format!("HTTP status {status}")))
                    }
                    None => Err(PortalError::Malformed(format!("HTTP status {status}"))),
                }
            }
            Err(e) => Err(PortalError::Unreachable(e.to_string())),
        }
    }

    /// A fresh challenge for this kiosk.
    pub fn challenge(&self) -> Result<Challenge, PortalError> {
        let v = self.post(CHALLENGE_PATH, "")?;
        let nonce = v["nonce"]
            .as_str()
            .and_then(|n| ChallengeNonce::parse(n).ok())
            .ok_or_else(|| PortalError::Malformed("no nonce in the challenge".into()))?;
        let origin = v["origin"]
            .as_str()
            .ok_or_else(|| PortalError::Malformed("no origin in the challenge".into()))?
            .to_owned();
        Ok(Challenge { nonce, origin })
    }

    /// Sends the card's token for `nonce`; the portal verifies it and issues credentials.
    pub fn credentials(
        &self,
        nonce: &ChallengeNonce,
        token: &AuthToken,
    ) -> Result<Credentials, PortalError> {
        let token: serde_json::Value = serde_json::from_str(&token.to_json())
            .map_err(|e| PortalError::Malformed(e.to_string()))?;
        let body = serde_json::json!({"nonce": nonce.as_str(), "token": token}).to_string();
        let v = self.post(CREDENTIALS_PATH, &body)?;
        serde_json::from_value(v).map_err(|e| PortalError::Malformed(e.to_string()))
    }

    /// Whether the portal answers its `/healthz`.
    pub fn reachable(&self) -> Result<(), PortalError> {
        match self.agent.get(&format!("{}/healthz", self.base)).call() {
            Ok(_) => Ok(()),
            Err(ureq::Error::Status(s, _)) => {
                Err(PortalError::Unreachable(format!("/healthz answered {s}")))
            }
            Err(e) => Err(PortalError::Unreachable(e.to_string())),
        }
    }
}
