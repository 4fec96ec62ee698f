//! The kiosk API: House-of-Justice kiosks issue portal credentials from the ID card.
//!
//! A kiosk is registered with its own public key (`geid-portal register-kiosk --id ID
//! --public-key FILE`; Ed25519 or ECDSA P-256); the portal never holds a secret the kiosk also
//! holds. Every request is signed as [`geid_protocol::kiosk`] describes (method, path,
//! timestamp, request id, kiosk id, body hash); a timestamp more than
//! [`MAX_SKEW_SECS`](geid_protocol::kiosk::MAX_SKEW_SECS) away and a request id seen before
//! are refused.
//!
//! - `POST /kiosk/v1/challenge` answers `{"nonce", "origin"}`: a one-time challenge bound to
//!   this kiosk, and the origin the card must sign it for (the portal's own);
//! - `POST /kiosk/v1/credentials` takes `{"nonce", "token"}` (the Web eID token the card made
//!   for that origin and nonce), verifies it with the portal's [`Verifier`], finds or creates
//!   the account of the personal number, and answers `{"username", "password", "givenName",
//!   "surname", "newAccount"}`; the password is one-time ([`issue_credentials`]: it must be
//!   changed at the first login).
//!
//! Refusals are `{"error": CODE, "message"}` with the verifier's codes or `KIOSK_*` codes.
//! Every issuance and every refusal goes to the audit log with method `kiosk` and client
//! `kiosk:<id>@<address>`.

use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use geid_axum::ApiError;
use geid_protocol::kiosk::{
    string_to_sign, valid_kiosk_id, valid_request_id, HEADER_KIOSK, HEADER_REQUEST_ID,
    HEADER_SIGNATURE, HEADER_TIMESTAMP, MAX_SKEW_SECS,
};
use geid_protocol::ChallengeNonce;
use geid_verify::Verifier;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Public};
use sqlx::Row;

use crate::db::{now, Db, DbError};
use crate::password::issue_credentials;
use crate::ClientIp;

/// Path of the challenge endpoint.
pub const CHALLENGE_PATH: &str = "/kiosk/v1/challenge";
/// Path of the credentials endpoint.
pub const CREDENTIALS_PATH: &str = "/kiosk/v1/credentials";
/// How long a kiosk challenge may be used.
pub const CHALLENGE_TTL_SECS: i64 = 300;
/// Largest request body (a token is at most 10 000 characters).
const BODY_LIMIT: usize = 16 * 1024;

/// Why a kiosk could not be registered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// The id is not 1–64 characters of `[a-z0-9._-]`.
    #[error("a kiosk id has 1 to 64 characters of a-z, 0-9, '.', '_', '-'")]
    BadId,
    /// The key is not a PEM public key of a kind kiosks may use.
    #[error("the public key must be a PEM Ed25519 or ECDSA P-256 public key: {0}")]
    BadKey(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

fn parse_public_key(pem: &[u8]) -> Result<PKey<Public>, String> {
    let key = PKey::public_key_from_pem(pem).map_err(|e| e.to_string())?;
    match key.id() {
        Id::ED25519 => Ok(key),
        Id::EC => {
            let curve = key
                .ec_key()
                .map_err(|e| e.to_string())?
                .group()
                .curve_name();
            if curve == Some(Nid::X9_62_PRIME256V1) {
                Ok(key)
            } else {
                Err(format!("EC curve {curve:?} is not P-256"))
            }
        }
        other => Err(format!("key type {other:?}")),
    }
}

/// Registers kiosk `id` with its public key (PEM), replacing the key of an existing kiosk.
pub async fn register_kiosk(db: &Db, id: &str, public_key_pem: &[u8]) -> Result<(), RegisterError> {
    if !valid_kiosk_id(id) {
        return Err(RegisterError::BadId);
    }
    let key = parse_public_key(public_key_pem).map_err(RegisterError::BadKey)?;
    let pem = key
        .public_key_to_pem()
        .map_err(|e| RegisterError::BadKey(e.to_string()))?;
    sqlx::query(
        "INSERT INTO kiosks (id, public_key_pem, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (id) DO UPDATE SET public_key_pem = $2",
    )
    .bind(id)
    .bind(String::from_utf8_lossy(&pem).into_owned())
    .bind(now())
    .execute(&db.pool)
    .await
    .map_err(DbError::from)?;
    Ok(())
}

/// Removes kiosk `id`; `true` when it was registered.
pub async fn unregister_kiosk(db: &Db, id: &str) -> Result<bool, DbError> {
    let r = sqlx::query("DELETE FROM kiosks WHERE id = $1")
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(r.rows_affected() > 0)
}

#[derive(Clone)]
struct KioskState {
    db: Db,
    verifier: Verifier,
}

/// The kiosk API routes (full paths under `/kiosk/v1/`), to be merged into the portal.
pub fn router(db: Db, verifier: Verifier) -> Router {
    Router::new()
        .route(CHALLENGE_PATH, post(challenge))
        .route(CREDENTIALS_PATH, post(credentials))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(KioskState { db, verifier })
}

fn refused(code: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(geid_axum::status_for(code), code, message)
}

fn unavailable(e: &DbError) -> ApiError {
    tracing::warn!("kiosk api: {e}");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "DATABASE_UNAVAILABLE",
        "the database is unavailable; try again in a moment",
    )
}

/// Who made a request, for the audit log.
struct Caller {
    kiosk: String,
    ip: IpAddr,
}

impl KioskState {
    async fn audit(&self, caller: &Caller, person: Option<&str>, result: &str) {
        let client = format!("kiosk:{}@{}", caller.kiosk, caller.ip);
        if let Err(e) = self.db.audit("kiosk", person, result, &client).await {
            tracing::warn!("audit log: {e}");
        }
    }

    /// Checks the request signature; audits and returns the refusal otherwise.
    async fn authenticate(
        &self,
        headers: &HeaderMap,
        ip: IpAddr,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<Caller, ApiError> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let claimed = header(HEADER_KIOSK).unwrap_or("");
        let mut caller = Caller {
            kiosk: if valid_kiosk_id(claimed) {
                claimed.to_owned()
            } else {
                "(invalid)".to_owned()
            },
            ip,
        };
        let result = self.check_signature(headers, method, path, body).await;
        match result {
            Ok(id) => {
                caller.kiosk = id;
                Ok(caller)
            }
            Err(e) => {
                self.audit(&caller, None, &e.code).await;
                Err(e)
            }
        }
    }

    async fn check_signature(
        &self,
        headers: &HeaderMap,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<String, ApiError> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let (Some(kiosk), Some(ts), Some(request_id), Some(sig)) = (
            header(HEADER_KIOSK),
            header(HEADER_TIMESTAMP),
            header(HEADER_REQUEST_ID),
            header(HEADER_SIGNATURE),
        ) else {
            return Err(refused(
                "KIOSK_SIGNATURE_MISSING",
                "kiosk requests carry the x-geid-kiosk, x-geid-timestamp, x-geid-request-id and x-geid-signature headers",
            ));
        };
        if !valid_kiosk_id(kiosk) || !valid_request_id(request_id) {
            return Err(refused(
                "BAD_REQUEST",
                "malformed kiosk id or request id header",
            ));
        }
        let row = sqlx::query("SELECT public_key_pem FROM kiosks WHERE id = $1")
            .bind(kiosk)
            .fetch_optional(&self.db.pool)
            .await
            .map_err(|e| unavailable(&e.into()))?;
        let Some(row) = row else {
            return Err(refused(
                "KIOSK_UNKNOWN",
                format!("kiosk {kiosk} is not registered at this portal"),
            ));
        };
        let pem: String = row
            .try_get("public_key_pem")
            .map_err(|e| unavailable(&e.into()))?;
        let Ok(timestamp) = ts.parse::<i64>() else {
            return Err(refused(
                "BAD_REQUEST",
                "x-geid-timestamp is not unix seconds",
            ));
        };
        let skew = (now() - timestamp).abs();
        if skew > MAX_SKEW_SECS {
            return Err(refused(
                "KIOSK_CLOCK_SKEW",
                format!(
                    "the request was signed {skew} s away from the portal's clock (at most {MAX_SKEW_SECS} s); check the kiosk's clock"
                ),
            ));
        }
        let signature = base64::engine::general_purpose::STANDARD
            .decode(sig)
            .map_err(|_| refused("KIOSK_SIGNATURE_INVALID", "the signature is not base64"))?;
        let data = string_to_sign(method, path, timestamp, request_id, kiosk, body);
        if !verify_signature(pem.as_bytes(), &data, &signature) {
            return Err(refused(
                "KIOSK_SIGNATURE_INVALID",
                "the request signature does not verify with the kiosk's registered key",
            ));
        }
        // Forget request ids that are too old to be accepted anyway, then record this one.
        let pruned = sqlx::query("DELETE FROM kiosk_requests WHERE at < $1")
            .bind(now() - 2 * MAX_SKEW_SECS - 1)
            .execute(&self.db.pool)
            .await;
        if let Err(e) = pruned {
            return Err(unavailable(&e.into()));
        }
        let inserted = sqlx::query(
            "INSERT INTO kiosk_requests (kiosk_id, request_id, at) VALUES ($1, $2, $3) \
             ON CONFLICT (kiosk_id, request_id) DO NOTHING",
        )
        .bind(kiosk)
        .bind(request_id)
        .bind(timestamp)
        .execute(&self.db.pool)
        .await
        .map_err(|e| unavailable(&e.into()))?;
        if inserted.rows_affected() == 0 {
            return Err(refused(
                "KIOSK_REQUEST_REPLAYED",
                "this request id was already used; every kiosk request is accepted once",
            ));
        }
        Ok(kiosk.to_owned())
    }
}

fn verify_signature(pem: &[u8], data: &[u8], signature: &[u8]) -> bool {
    let Ok(key) = parse_public_key(pem) else {
        return false;
    };
    let verifier = if key.id() == Id::ED25519 {
        openssl::sign::Verifier::new_without_digest(&key)
    } else {
        openssl::sign::Verifier::new(MessageDigest::sha256(), &key)
    };
    verifier
        .and_then(|mut v| v.verify_oneshot(signature, data))
        .unwrap_or(false)
}

fn no_store(mut r: Response) -> Response {
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn challenge(
    State(st): State<KioskState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let caller = match st
        .authenticate(&headers, ip, "POST", CHALLENGE_PATH, &body)
        .await
    {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let nonce = match ChallengeNonce::generate() {
        Ok(n) => n,
        Err(e) => return refused("INTERNAL", e.to_string()).into_response(),
    };
    let _ = sqlx::query("DELETE FROM kiosk_challenges WHERE expires_at < $1")
        .bind(now())
        .execute(&st.db.pool)
        .await;
    let stored = sqlx::query(
        "INSERT INTO kiosk_challenges (nonce, kiosk_id, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(nonce.as_str())
    .bind(&caller.kiosk)
    .bind(now() + CHALLENGE_TTL_SECS)
    .execute(&st.db.pool)
    .await;
    if let Err(e) = stored {
        return unavailable(&e.into()).into_response();
    }
    no_store(
        Json(serde_json::json!({
            "nonce": nonce.as_str(),
            "origin": st.verifier.origin().as_str(),
        }))
        .into_response(),
    )
}

#[derive(serde::Deserialize)]
struct CredentialsRequest {
    nonce: String,
    token: Box<serde_json::value::RawValue>,
}

async fn credentials(
    State(st): State<KioskState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let caller = match st
        .authenticate(&headers, ip, "POST", CREDENTIALS_PATH, &body)
        .await
    {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    match issue(&st, &caller, &body).await {
        Ok(r) => no_store(r),
        Err((e, person)) => {
            st.audit(&caller, person.as_deref(), &e.code).await;
            e.into_response()
        }
    }
}

async fn issue(
    st: &KioskState,
    caller: &Caller,
    body: &[u8],
) -> Result<Response, (ApiError, Option<String>)> {
    let req: CredentialsRequest = serde_json::from_slice(body).map_err(|e| {
        (
            refused(
                "BAD_REQUEST",
                format!("expected {{\"nonce\", \"token\"}}: {e}"),
            ),
            None,
        )
    })?;
    let nonce = ChallengeNonce::parse(&req.nonce)
        .map_err(|e| (refused("BAD_REQUEST", format!("nonce: {e}")), None))?;
    // Take the challenge first: a failed attempt cannot be retried with it.
    let taken = sqlx::query(
        "DELETE FROM kiosk_challenges WHERE nonce = $1 AND kiosk_id = $2 RETURNING expires_at",
    )
    .bind(nonce.as_str())
    .bind(&caller.kiosk)
    .fetch_optional(&st.db.pool)
    .await
    .map_err(|e| (unavailable(&e.into()), None))?;
    let Some(row) = taken else {
        let e = geid_verify::VerifyError::NonceUnknown;
        return Err((ApiError::from_verify(&e), None));
    };
    let expires_at: i64 = row
        .try_get("expires_at")
        .map_err(|e| (unavailable(&e.into()), None))?;
    if expires_at < now() {
        let e = geid_verify::VerifyError::NonceExpired;
        return Err((ApiError::from_verify(&e), None));
    }
    let identity = st
        .verifier
        .verify(req.token.get().as_bytes(), &nonce)
        .await
        .map_err(|e| (ApiError::from_verify(&e), None))?;
    let pn = identity.personal_number.clone();
    let existing = st
        .db
        .account(&pn)
        .await
        .map_err(|e| (unavailable(&e), Some(pn.clone())))?;
    let given_name = identity
        .given_name
        .clone()
        .or_else(|| identity.common_name.clone())
        .unwrap_or_default();
    let surname = identity.surname.clone().unwrap_or_default();
    // A citizen who already has a username keeps it; a new one gets the personal number (as
    // `geid-portal create-account` does).
    let username = existing
        .as_ref()
        .and_then(|a| a.username.clone())
        .unwrap_or_else(|| pn.clone());
    let (account, password) = issue_credentials(&st.db, &pn, &given_name, &surname, &username)
        .await
        .map_err(|e| match e {
            DbError::UsernameTaken => (
                refused(
                    "USERNAME_TAKEN",
                    "the username is taken by another account; issue credentials at the desk",
                ),
                Some(pn.clone()),
            ),
            other => (unavailable(&other), Some(pn.clone())),
        })?;
    st.audit(caller, Some(&pn), "OK").await;
    tracing::info!(kiosk = %caller.kiosk, "credentials issued");
    Ok(Json(serde_json::json!({
        "username": account.username.unwrap_or(username),
        "password": password,
        "givenName": account.given_name,
        "surname": account.surname,
        "newAccount": existing.is_none(),
        "mustChangePassword": account.must_change_password,
    }))
    .into_response())
}
