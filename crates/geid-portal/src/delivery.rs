//! Handing letters to an organisation's own document-management system, and taking its
//! answers back, instead of (or beside) the built-in staff inbox.
//!
//! [`DeliveryAdapter`] is the seam; [`SignedWebhook`] is the implementation the portal ships.
//! When an organisation has a webhook (`geid-portal org webhook ID --url URL --secret-file F`),
//! sending a letter writes an outbox row (channel `webhook`, same transaction as the state
//! change) and the outbox worker calls the adapter, with retries and backoff.
//!
//! # The signed webhook
//!
//! `POST <url>` with `Content-Type: application/json` and
//! `Geid-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`; the receiver
//! recomputes the HMAC over the exact body bytes, compares in constant time and refuses a `t`
//! more than 5 minutes away from its clock (replays). Body:
//!
//! ```json
//! {"event": "letter.sent", "letter": {"id", "organisation", "type", "subject", "text",
//!   "personalNumber", "sentAt", "signer": {"personal_number", "name", "signing_time", …}},
//!  "document": "<base64 GEID-LETTER/1 bytes>", "signature": "<base64 DER .p7s>",
//!  "attachments": [{"name", "mediaType", "sha256", "content": "<base64>"}]}
//! ```
//!
//! Any 2xx answer is success; anything else is retried. The system answers by
//! `POST /api/organisations/{org}/letters/{id}/answer` with the same header scheme (HMAC with
//! the same secret) over `{"author": …, "text": …, "attachments": [{"name", "content"}]}`;
//! attachments follow the citizen-side rules (type sniffing, size, count).

use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;

use crate::db::{now, Db};
use crate::letters;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "geid-signature";
/// How far a webhook's timestamp may be from the receiver's clock.
pub const MAX_SKEW_SECS: i64 = 300;

/// Delivers events to organisations' own systems.
#[async_trait::async_trait]
pub trait DeliveryAdapter: Send + Sync {
    /// Delivers `event` (`letter.sent`) about letter `letter_id` to organisation `org_id`;
    /// an error is retried by the outbox.
    async fn deliver(
        &self,
        db: &Db,
        org_id: &str,
        event: &str,
        letter_id: &str,
    ) -> Result<(), String>;
}

/// HMAC-SHA256 over `"<t>." + body`, hex.
pub fn sign(secret: &[u8], t: i64, body: &[u8]) -> Result<String, String> {
    let key = PKey::hmac(secret).map_err(|e| e.to_string())?;
    let mut s = Signer::new(MessageDigest::sha256(), &key).map_err(|e| e.to_string())?;
    s.update(format!("{t}.").as_bytes())
        .and_then(|_| s.update(body))
        .map_err(|e| e.to_string())?;
    Ok(letters::hex(&s.sign_to_vec().map_err(|e| e.to_string())?))
}

/// The header value for `body` at `t`.
pub fn header(secret: &[u8], t: i64, body: &[u8]) -> Result<String, String> {
    Ok(format!("t={t},v1={}", sign(secret, t, body)?))
}

/// Checks a `Geid-Signature` header over `body` at `now` (unix seconds).
pub fn verify(secret: &[u8], header: &str, body: &[u8], now: i64) -> Result<(), &'static str> {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1 = Some(v.to_owned()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return Err("WEBHOOK_SIGNATURE_MISSING");
    };
    if (now - t).abs() > MAX_SKEW_SECS {
        return Err("WEBHOOK_TIMESTAMP");
    }
    let expected = sign(secret, t, body).map_err(|_| "WEBHOOK_SIGNATURE_INVALID")?;
    if expected.len() == v1.len() && openssl::memcmp::eq(expected.as_bytes(), v1.as_bytes()) {
        Ok(())
    } else {
        Err("WEBHOOK_SIGNATURE_INVALID")
    }
}

/// The JSON body of a `letter.sent` event.
pub async fn letter_event(db: &Db, event: &str, letter_id: &str) -> Result<String, String> {
    let l = letters::get(db, letter_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no such letter")?;
    let (document, signature) = letters::signed(db, letter_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the letter is not signed")?;
    let mut attachments = Vec::new();
    for f in letters::files(db, letter_id, "letter")
        .await
        .map_err(|e| e.to_string())?
    {
        let (_, meta, content) = letters::file(db, &f.id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("attachment vanished")?;
        attachments.push(serde_json::json!({
            "name": meta.name, "mediaType": meta.media_type, "sha256": meta.sha256,
            "content": B64.encode(content),
        }));
    }
    let signer: serde_json::Value = l
        .signer_json
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    Ok(serde_json::json!({
        "event": event,
        "letter": {
            "id": l.id, "organisation": l.org_id, "type": l.kind, "subject": l.subject,
            "text": l.body, "personalNumber": l.personal_number, "sentAt": l.sent_at,
            "signer": signer,
        },
        "document": B64.encode(document),
        "signature": B64.encode(signature),
        "attachments": attachments,
    })
    .to_string())
}

/// Posts signed events to the organisation's configured webhook URL.
#[derive(Debug, Default)]
pub struct SignedWebhook {
    /// Per-request timeout (default 15 s).
    pub timeout: Option<Duration>,
}

#[async_trait::async_trait]
impl DeliveryAdapter for SignedWebhook {
    async fn deliver(
        &self,
        db: &Db,
        org_id: &str,
        event: &str,
        letter_id: &str,
    ) -> Result<(), String> {
        let org = crate::organisations::get(db, org_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("no such organisation")?;
        let (Some(url), Some(secret)) = (org.webhook_url, org.webhook_secret) else {
            return Err(format!("organisation {org_id} has no webhook"));
        };
        let body = letter_event(db, event, letter_id).await?;
        let sig = header(secret.as_bytes(), now(), body.as_bytes())?;
        let timeout = self.timeout.unwrap_or(Duration::from_secs(15));
        tokio::task::spawn_blocking(move || {
            ureq::post(&url)
                .timeout(timeout)
                .set("Content-Type", "application/json")
                .set(SIGNATURE_HEADER, &sig)
                .send_string(&body)
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_signatures_verify_and_refuse() {
        let body = br#"{"event":"letter.sent"}"#;
        let h = header(b"s3cret", 1_000, body).unwrap();
        assert_eq!(verify(b"s3cret", &h, body, 1_100), Ok(()));
        assert_eq!(
            verify(b"other", &h, body, 1_100),
            Err("WEBHOOK_SIGNATURE_INVALID")
        );
        assert_eq!(
            verify(b"s3cret", &h, b"{}", 1_100),
            Err("WEBHOOK_SIGNATURE_INVALID")
        );
        assert_eq!(verify(b"s3cret", &h, body, 2_000), Err("WEBHOOK_TIMESTAMP"));
        assert_eq!(
            verify(b"s3cret", "v1=00", body, 1_000),
            Err("WEBHOOK_SIGNATURE_MISSING")
        );
    }
}
