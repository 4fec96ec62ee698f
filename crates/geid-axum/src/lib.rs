//! Drop-in axum routes for logging in with the Georgian ID card (or any Web eID 1.0 card).
//!
//! [`GeidAuth::router`] serves two JSON endpoints, to be nested under a prefix of the
//! application's choice (e.g. `/auth`):
//!
//! - `POST /challenge` issues a one-time nonce from a [`ChallengeStore`], keeps it in the
//!   caller's session and answers `{"nonce": "…"}`; the page hands it to `geid.js`'s
//!   `authenticate(nonce)`;
//! - `POST /login` takes the token JSON the page got back, takes the nonce out of *this*
//!   session (a token made for another session's challenge therefore fails), verifies the token
//!   with [`Verifier::verify_with_store`] (which consumes the nonce in the store, so it works at
//!   most once even across replicas), rotates the session id, and hands the [`Identity`] to the
//!   application's [`LoginHandler`], whose JSON answer is returned.
//!
//! Refusals are JSON `{"error": CODE, "message": …}` with the verifier's stable codes
//! ([`VerifyError::code`]) and a fitting status (400 malformed, 401 refused, 403 wrong origin,
//! 429 too many failures, 503 a dependency away). Each client address may fail a limited number
//! of times per window ([`FailureLimiter`]).
//!
//! Sessions come from [`SessionLayer`] with any [`SessionStore`] (memory and Redis included).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod limit;
pub mod session;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{CONTENT_TYPE, ORIGIN, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use geid_protocol::ChallengeNonce;
pub use geid_verify::{ChallengeStore, Identity, Verifier, VerifyError};
use serde::Serialize;

pub use limit::FailureLimiter;
pub use session::{
    MemorySessionStore, RedisSessionStore, Session, SessionLayer, SessionStore, SessionStoreError,
    Sessions,
};

/// The README's example compiles as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// Session key under which the pending challenge nonce is kept.
pub const NONCE_KEY: &str = "geid.nonce";

/// A JSON error response: `{"error": code, "message": message}` with `status`.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code, e.g. `CERT_REVOKED`.
    pub code: String,
    /// A sentence for people.
    pub message: String,
    /// Seconds for a `Retry-After` header (429).
    pub retry_after: Option<u64>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: &'a str,
}

impl ApiError {
    /// An error with `status`, `code` and `message`.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.to_owned(),
            message: message.into(),
            retry_after: None,
        }
    }

    /// The response to a verifier refusal: its stable code with a fitting status.
    pub fn from_verify(e: &VerifyError) -> ApiError {
        ApiError::new(status_for(e.code()), e.code(), e.to_string())
    }
}

/// The HTTP status geid-axum uses for a stable error code.
pub fn status_for(code: &str) -> StatusCode {
    match code {
        "TOKEN_MALFORMED" | "ALGORITHM_NOT_ALLOWED" | "NONCE_MISSING" | "BAD_REQUEST" => {
            StatusCode::BAD_REQUEST
        }
        "ORIGIN_MISMATCH" | "CSRF" => StatusCode::FORBIDDEN,
        "TOO_MANY_ATTEMPTS" => StatusCode::TOO_MANY_REQUESTS,
        "OCSP_UNAVAILABLE"
        | "CRL_UNAVAILABLE"
        | "CHALLENGE_STORE_UNAVAILABLE"
        | "SESSION_STORE_UNAVAILABLE"
        | "DATABASE_UNAVAILABLE" => StatusCode::SERVICE_UNAVAILABLE,
        "CONFIG_INVALID" | "CLOCK_UNAVAILABLE" | "INTERNAL" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::UNAUTHORIZED,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            Json(ErrorBody {
                error: &self.code,
                message: &self.message,
            }),
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        r
    }
}

/// One login attempt, as reported to [`LoginHandler::on_attempt`] (for audit and metrics).
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The client address used for rate limiting.
    pub client: IpAddr,
    /// `OK` or the refusal code.
    pub code: String,
    /// The verified identity, when verification succeeded.
    pub identity: Option<Identity>,
    /// How long verification took, when it ran.
    pub verification_time: Option<Duration>,
}

/// What the application does with a verified card holder.
#[async_trait]
pub trait LoginHandler: Send + Sync + 'static {
    /// Called after the token verified and the session id was rotated. Store what you need in
    /// `session` (e.g. the user id); the returned JSON is the `200` answer. An `Err` is sent
    /// as the error response and counts as a failed attempt.
    async fn on_login(
        &self,
        identity: &Identity,
        session: &Session,
    ) -> Result<serde_json::Value, ApiError>;

    /// Called once for every login attempt, with its outcome. The default does nothing.
    async fn on_attempt(&self, _attempt: &Attempt) {}
}

struct Inner {
    verifier: Verifier,
    challenges: Arc<dyn ChallengeStore>,
    handler: Arc<dyn LoginHandler>,
    limiter: FailureLimiter,
    client_ip_header: Option<HeaderName>,
}

/// The challenge and login endpoints; see the crate documentation.
pub struct GeidAuth {
    verifier: Verifier,
    challenges: Arc<dyn ChallengeStore>,
    handler: Arc<dyn LoginHandler>,
    limiter: FailureLimiter,
    client_ip_header: Option<HeaderName>,
}

impl GeidAuth {
    /// Endpoints verifying with `verifier`, issuing nonces from `challenges`, handing
    /// identities to `handler`. At most 10 failed logins per minute per client by default.
    pub fn new(
        verifier: Verifier,
        challenges: Arc<dyn ChallengeStore>,
        handler: Arc<dyn LoginHandler>,
    ) -> GeidAuth {
        GeidAuth {
            verifier,
            challenges,
            handler,
            limiter: FailureLimiter::new(10, Duration::from_secs(60)),
            client_ip_header: None,
        }
    }

    /// At most `max_failures` failed logins per `window` per client address.
    pub fn failure_limit(mut self, max_failures: usize, window: Duration) -> GeidAuth {
        self.limiter = FailureLimiter::new(max_failures, window);
        self
    }

    /// Read the client address from this header (its last comma-separated entry, as appended
    /// by your reverse proxy) instead of the TCP peer. Only behind a proxy that sets it.
    pub fn client_ip_header(mut self, name: HeaderName) -> GeidAuth {
        self.client_ip_header = Some(name);
        self
    }

    /// `POST /challenge` and `POST /login`; nest under a prefix, and add a [`SessionLayer`]
    /// outside. Serve with `into_make_service_with_connect_info::<SocketAddr>()` so the
    /// failure limit sees client addresses.
    pub fn router<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        let inner = Arc::new(Inner {
            verifier: self.verifier,
            challenges: self.challenges,
            handler: self.handler,
            limiter: self.limiter,
            client_ip_header: self.client_ip_header,
        });
        Router::new()
            .route("/challenge", post(challenge))
            .route("/login", post(login))
            .with_state(inner)
    }
}

#[derive(Serialize)]
struct ChallengeBody {
    nonce: String,
}

fn check_origin(inner: &Inner, headers: &HeaderMap) -> Result<(), ApiError> {
    // Browsers send Origin on every POST; a non-browser client may omit it, and is then bound
    // by the token signature, which always uses the configured origin.
    if let Some(origin) = headers.get(ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        inner
            .verifier
            .check_request_origin(origin)
            .map_err(|e| ApiError::from_verify(&e))?;
    }
    Ok(())
}

async fn challenge(
    State(inner): State<Arc<Inner>>,
    session: Session,
    headers: HeaderMap,
) -> Result<Json<ChallengeBody>, ApiError> {
    check_origin(&inner, &headers)?;
    let nonce = inner
        .challenges
        .issue()
        .await
        .map_err(|e| ApiError::from_verify(&e))?;
    session.insert(NONCE_KEY, nonce.as_str());
    Ok(Json(ChallengeBody {
        nonce: nonce.as_str().to_owned(),
    }))
}

fn client_ip(inner: &Inner, headers: &HeaderMap, peer: Option<SocketAddr>) -> IpAddr {
    if let Some(name) = &inner.client_ip_header {
        if let Some(ip) = headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse().ok())
        {
            return ip;
        }
    }
    peer.map(|p| p.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

async fn login(State(inner): State<Arc<Inner>>, session: Session, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let client = client_ip(&inner, &headers, peer);
    // The verifier refuses tokens over 10 000 bytes; read a little more so it can say so.
    let body: Bytes = match axum::body::to_bytes(body, 16 * 1024).await {
        Ok(b) => b,
        Err(_) => {
            inner.limiter.record_failure(client);
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "TOKEN_MALFORMED",
                "the login body is too large for a token",
            )
            .into_response();
        }
    };
    let mut attempt = Attempt {
        client,
        code: String::new(),
        identity: None,
        verification_time: None,
    };
    let result = login_inner(&inner, &session, &headers, &body, &mut attempt).await;
    match result {
        Ok(json) => {
            attempt.code = "OK".into();
            inner.handler.on_attempt(&attempt).await;
            Json(json).into_response()
        }
        Err(e) => {
            attempt.code = e.code.clone();
            if e.status.is_client_error() && e.status != StatusCode::TOO_MANY_REQUESTS {
                inner.limiter.record_failure(client);
            }
            inner.handler.on_attempt(&attempt).await;
            e.into_response()
        }
    }
}

async fn login_inner(
    inner: &Inner,
    session: &Session,
    headers: &HeaderMap,
    body: &[u8],
    attempt: &mut Attempt,
) -> Result<serde_json::Value, ApiError> {
    if let Err(wait) = inner.limiter.check(attempt.client) {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_ATTEMPTS",
            "too many failed logins from this address; wait and try again",
        );
        e.retry_after = Some(wait.as_secs().max(1));
        return Err(e);
    }
    check_origin(inner, headers)?;
    let json_body = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_body {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "TOKEN_MALFORMED",
            "the login body must be the token as application/json",
        ));
    }
    // Take the nonce out of this session whatever happens next: one try per challenge.
    let nonce = session.remove(NONCE_KEY).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "NONCE_MISSING",
            "this session has no pending challenge; ask for a challenge first",
        )
    })?;
    let nonce = ChallengeNonce::parse(&nonce).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "NONCE_MISSING",
            "bad session nonce",
        )
    })?;
    let started = Instant::now();
    let verified = inner
        .verifier
        .verify_with_store(body, &nonce, inner.challenges.as_ref())
        .await;
    attempt.verification_time = Some(started.elapsed());
    let identity = verified.map_err(|e| {
        tracing::info!(code = e.code(), "login refused: {e}");
        ApiError::from_verify(&e)
    })?;
    attempt.identity = Some(identity.clone());
    session.rotate_id();
    inner.handler.on_login(&identity, session).await
}
