//! Notifications (e-mail, SMS) and organisation webhooks, through a durable outbox.
//!
//! Whatever must leave the portal because of a state change (an answer → e-mail and SMS to the
//! citizen; a sent letter → the organisation's webhook) is written as an `outbox` row **in the
//! same transaction** as the change, so either both happen or neither. A worker
//! ([`spawn_worker`]) delivers due rows; a failure (mail server down, gateway refusing) leaves
//! the row pending with `attempts + 1` and the next try after `base · 2^(attempts-1)`, capped at
//! one hour, until [`NotifyConfig::max_attempts`] (then `failed`, kept for an operator). A
//! crash between sending and marking the row sent sends the message again after the lease:
//! delivery is at least once. Several replicas can run the worker: a row is claimed by moving
//! its `next_attempt_ms` forward by [`NotifyConfig::lease`] with a compare-and-set before it is
//! sent.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sqlx::{Any, Row, Transaction};

use crate::db::{now, Db, DbError};

/// Outbox channel: e-mail (recipient: address).
pub const EMAIL: &str = "email";
/// Outbox channel: SMS (recipient: `+995…`).
pub const SMS: &str = "sms";
/// Outbox channel: organisation webhook (recipient: organisation id; body: the JSON to post).
pub const WEBHOOK: &str = "webhook";

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Adds a message to the outbox inside `tx`, due now.
pub async fn enqueue(
    tx: &mut Transaction<'static, Any>,
    channel: &str,
    recipient: &str,
    subject: &str,
    body: &str,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO outbox (id, channel, recipient, subject, body, state, attempts, \
         next_attempt_ms, created_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $7)",
    )
    .bind(crate::letters::random_id()?)
    .bind(channel)
    .bind(recipient)
    .bind(subject)
    .bind(body)
    .bind(now_ms())
    .bind(now())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// One outbox row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OutboxEntry {
    /// Random id.
    pub id: String,
    /// [`EMAIL`], [`SMS`] or [`WEBHOOK`].
    pub channel: String,
    /// Address, number or organisation id.
    pub recipient: String,
    /// Subject (e-mail) or event name (webhook).
    pub subject: String,
    /// Text or JSON.
    pub body: String,
    /// `pending`, `sent` or `failed`.
    pub state: String,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// The last failure.
    pub last_error: Option<String>,
}

/// Every outbox row, oldest first (admin and tests).
pub async fn entries(db: &Db) -> Result<Vec<OutboxEntry>, DbError> {
    let rows = sqlx::query(
        "SELECT id, channel, recipient, subject, body, state, attempts, last_error FROM outbox \
         ORDER BY created_at, id",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(OutboxEntry {
                id: r.try_get("id")?,
                channel: r.try_get("channel")?,
                recipient: r.try_get("recipient")?,
                subject: r.try_get("subject")?,
                body: r.try_get("body")?,
                state: r.try_get("state")?,
                attempts: r.try_get("attempts")?,
                last_error: r.try_get("last_error")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

/// Sends SMS messages. Implementations: [`HttpSmsGateway`], [`FileSms`].
#[async_trait::async_trait]
pub trait SmsSender: Send + Sync {
    /// Sends `text` to `to` (`+995…`); an error is retried later.
    async fn send(&self, to: &str, text: &str) -> Result<(), String>;
}

/// An HTTP SMS gateway: `POST url` with `{"to": …, "text": …}` and, when set,
/// `Authorization: Bearer TOKEN`; any 2xx is success.
pub struct HttpSmsGateway {
    /// The gateway endpoint.
    pub url: String,
    /// Bearer token.
    pub token: Option<String>,
}

#[async_trait::async_trait]
impl SmsSender for HttpSmsGateway {
    async fn send(&self, to: &str, text: &str) -> Result<(), String> {
        let (url, token) = (self.url.clone(), self.token.clone());
        let body = serde_json::json!({ "to": to, "text": text }).to_string();
        tokio::task::spawn_blocking(move || {
            let mut req = ureq::post(&url)
                .timeout(Duration::from_secs(10))
                .set("Content-Type", "application/json");
            if let Some(t) = token {
                req = req.set("Authorization", &format!("Bearer {t}"));
            }
            req.send_string(&body)
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }
}

/// Demo SMS: appends one JSON line per message to a file (or only logs when `path` is `None`).
pub struct FileSms {
    /// The file.
    pub path: Option<std::path::PathBuf>,
}

#[async_trait::async_trait]
impl SmsSender for FileSms {
    async fn send(&self, to: &str, text: &str) -> Result<(), String> {
        tracing::info!("SMS to {to}: {text}");
        if let Some(p) = &self.path {
            use std::io::Write;
            let line = serde_json::json!({ "to": to, "text": text }).to_string();
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| e.to_string())?;
            writeln!(f, "{line}").map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// How to reach the SMTP server.
#[derive(Clone, Debug)]
pub struct SmtpConfig {
    /// Host name.
    pub host: String,
    /// Port (25, 587, 465; anything in tests).
    pub port: u16,
    /// `none` (loopback tests only), `starttls` (required STARTTLS) or `tls` (implicit TLS).
    pub tls: String,
    /// Username and password, when the server wants them.
    pub credentials: Option<(String, String)>,
    /// The From address, e.g. `Citizen portal <no-reply@portal.example.ge>`.
    pub from: String,
    /// Give up on one connection after this long.
    pub timeout: Duration,
}

/// Notification settings.
#[derive(Clone)]
pub struct NotifyConfig {
    /// `None`: e-mails stay pending (retried) until a server is configured.
    pub smtp: Option<SmtpConfig>,
    /// The SMS sender.
    pub sms: Arc<dyn SmsSender>,
    /// The first retry delay; doubles each time, capped at one hour.
    pub base_backoff: Duration,
    /// How often the worker looks for due rows.
    pub poll: Duration,
    /// Attempts before a row is marked `failed`.
    pub max_attempts: i64,
    /// How long a claimed row is reserved for the worker that claimed it; a worker that dies
    /// mid-delivery delays the row by this much. Keep it above the SMTP timeout.
    pub lease: Duration,
    /// The portal's public address, for links in messages.
    pub public_url: String,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            smtp: None,
            sms: Arc::new(FileSms { path: None }),
            base_backoff: Duration::from_secs(30),
            poll: Duration::from_secs(2),
            max_attempts: 12,
            lease: Duration::from_secs(120),
            public_url: String::new(),
        }
    }
}

impl std::fmt::Debug for NotifyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyConfig")
            .field("smtp", &self.smtp)
            .field("base_backoff", &self.base_backoff)
            .finish_non_exhaustive()
    }
}

/// The delay before attempt `attempts + 1`.
pub fn backoff(base: Duration, attempts: i64) -> Duration {
    let factor = 1u32 << attempts.clamp(0, 20);
    base.saturating_mul(factor).min(Duration::from_secs(3600))
}

fn mailer(c: &SmtpConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let tls = match c.tls.as_str() {
        "none" => Tls::None,
        "starttls" => Tls::Required(TlsParameters::new(c.host.clone()).map_err(|e| e.to_string())?),
        "tls" => Tls::Wrapper(TlsParameters::new(c.host.clone()).map_err(|e| e.to_string())?),
        other => return Err(format!("unknown SMTP TLS mode {other}")),
    };
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.host)
        .port(c.port)
        .tls(tls)
        .timeout(Some(c.timeout));
    if let Some((u, p)) = &c.credentials {
        b = b.credentials(Credentials::new(u.clone(), p.clone()));
    }
    Ok(b.build())
}

/// Sends one e-mail now.
pub async fn send_email(c: &SmtpConfig, to: &str, subject: &str, body: &str) -> Result<(), String> {
    let message = Message::builder()
        .from(c.from.parse().map_err(|e| format!("From address: {e}"))?)
        .to(to.parse().map_err(|e| format!("address {to}: {e}"))?)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body.to_owned())
        .map_err(|e| e.to_string())?;
    mailer(c)?
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Delivers webhooks (see [`crate::delivery`]).
pub type WebhookSender = Arc<dyn crate::delivery::DeliveryAdapter>;

/// The worker's handle: [`Worker::wake`] makes it look at once (after an enqueue).
#[derive(Clone)]
pub struct Worker {
    wake: Arc<tokio::sync::Notify>,
}

impl Worker {
    /// Look for due rows now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Starts the delivery loop on the current runtime.
pub fn spawn_worker(db: Db, config: NotifyConfig, webhooks: WebhookSender) -> Worker {
    let wake = Arc::new(tokio::sync::Notify::new());
    let w = Worker { wake: wake.clone() };
    tokio::spawn(async move {
        loop {
            if let Err(e) = run_once(&db, &config, &webhooks).await {
                tracing::warn!("outbox: {e}");
            }
            let _ = tokio::time::timeout(config.poll, wake.notified()).await;
        }
    });
    w
}

/// Delivers every due row once; returns how many were sent.
pub async fn run_once(
    db: &Db,
    config: &NotifyConfig,
    webhooks: &WebhookSender,
) -> Result<usize, DbError> {
    let t = now_ms();
    let rows = sqlx::query(
        "SELECT id, channel, recipient, subject, body, attempts, next_attempt_ms FROM outbox \
         WHERE state = 'pending' AND next_attempt_ms <= $1 ORDER BY next_attempt_ms LIMIT 50",
    )
    .bind(t)
    .fetch_all(db.pool())
    .await?;
    let mut sent = 0;
    for r in rows {
        let id: String = r.try_get("id")?;
        let channel: String = r.try_get("channel")?;
        let recipient: String = r.try_get("recipient")?;
        let subject: String = r.try_get("subject")?;
        let body: String = r.try_get("body")?;
        let attempts: i64 = r.try_get("attempts")?;
        let due: i64 = r.try_get("next_attempt_ms")?;
        // Claim for the lease; another worker's claim makes this 0 rows.
        let claimed = sqlx::query(
            "UPDATE outbox SET next_attempt_ms = $1 WHERE id = $2 AND next_attempt_ms = $3 \
             AND state = 'pending'",
        )
        .bind(now_ms() + config.lease.as_millis() as i64)
        .bind(&id)
        .bind(due)
        .execute(db.pool())
        .await?
        .rows_affected();
        if claimed != 1 {
            continue;
        }
        let result = match channel.as_str() {
            EMAIL => match &config.smtp {
                Some(c) => send_email(c, &recipient, &subject, &body).await,
                None => Err("no SMTP server configured".into()),
            },
            SMS => config.sms.send(&recipient, &body).await,
            WEBHOOK => webhooks.deliver(db, &recipient, &subject, &body).await,
            other => Err(format!("unknown channel {other}")),
        };
        match result {
            Ok(()) => {
                sent += 1;
                sqlx::query(
                    "UPDATE outbox SET state = 'sent', attempts = $1, sent_at = $2, \
                     last_error = NULL WHERE id = $3",
                )
                .bind(attempts + 1)
                .bind(now())
                .bind(&id)
                .execute(db.pool())
                .await?;
            }
            Err(e) => {
                tracing::warn!(
                    "outbox {channel} to {recipient}: attempt {}: {e}",
                    attempts + 1
                );
                let failed = attempts + 1 >= config.max_attempts;
                let next = now_ms() + backoff(config.base_backoff, attempts).as_millis() as i64;
                sqlx::query(
                    "UPDATE outbox SET state = $1, attempts = $2, next_attempt_ms = $3, \
                     last_error = $4 WHERE id = $5",
                )
                .bind(if failed { "failed" } else { "pending" })
                .bind(attempts + 1)
                .bind(next)
                .bind(e)
                .bind(&id)
                .execute(db.pool())
                .await?;
            }
        }
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let b = Duration::from_secs(30);
        assert_eq!(backoff(b, 0), Duration::from_secs(30));
        assert_eq!(backoff(b, 1), Duration::from_secs(60));
        assert_eq!(backoff(b, 3), Duration::from_secs(240));
        assert_eq!(backoff(b, 40), Duration::from_secs(3600));
    }
}
