//! Server-side sessions behind an opaque cookie.
//!
//! The cookie carries only a random 256-bit id (`HttpOnly`, `SameSite=Lax`, `Secure` unless
//! switched off for plain-HTTP development); the data lives in a [`SessionStore`]: in memory for
//! one process ([`MemorySessionStore`]) or in Redis for replicas ([`RedisSessionStore`]). Any
//! other store plugs in by implementing the trait.
//!
//! [`SessionLayer`] loads the session before the handler runs and saves it afterwards, only
//! when it changed; handlers take a [`Session`] argument. A store that fails turns the
//! response into a `503` (`SESSION_STORE_UNAVAILABLE`), never a panic.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::extract::{FromRequestParts, Request};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;

use crate::ApiError;

/// Session contents: string keys to string values.
pub type SessionData = BTreeMap<String, String>;

/// The session store failed (Redis away, lock poisoned, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionStoreError(pub String);

impl std::fmt::Display for SessionStoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "session store unavailable: {}", self.0)
    }
}

impl std::error::Error for SessionStoreError {}

/// Where session data is kept, by session id.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// The data of session `id`, `None` when unknown or expired.
    async fn load(&self, id: &str) -> Result<Option<SessionData>, SessionStoreError>;
    /// Stores `data` under `id` for `ttl`.
    async fn save(
        &self,
        id: &str,
        data: &SessionData,
        ttl: Duration,
    ) -> Result<(), SessionStoreError>;
    /// Forgets session `id`.
    async fn delete(&self, id: &str) -> Result<(), SessionStoreError>;
}

/// Sessions in this process's memory, for a single replica. Expired entries are swept on save.
#[derive(Default)]
pub struct MemorySessionStore {
    inner: Mutex<MemoryMap>,
}

/// Session id → (expiry, data).
type MemoryMap = HashMap<String, (Instant, SessionData)>;

impl MemorySessionStore {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, MemoryMap>, SessionStoreError> {
        self.inner
            .lock()
            .map_err(|_| SessionStoreError("session lock poisoned".into()))
    }
}

#[async_trait]
impl SessionStore for MemorySessionStore {
    async fn load(&self, id: &str) -> Result<Option<SessionData>, SessionStoreError> {
        let map = self.lock()?;
        Ok(map
            .get(id)
            .filter(|(expires, _)| *expires > Instant::now())
            .map(|(_, d)| d.clone()))
    }

    async fn save(
        &self,
        id: &str,
        data: &SessionData,
        ttl: Duration,
    ) -> Result<(), SessionStoreError> {
        let now = Instant::now();
        let mut map = self.lock()?;
        if map.len() > 10_000 {
            map.retain(|_, (expires, _)| *expires > now);
        }
        map.insert(id.to_owned(), (now + ttl, data.clone()));
        Ok(())
    }

    async fn delete(&self, id: &str) -> Result<(), SessionStoreError> {
        self.lock()?.remove(id);
        Ok(())
    }
}

/// Sessions in Redis (`SET <prefix><id> <json> EX <ttl>`), shared by every replica.
pub struct RedisSessionStore {
    connection: redis::aio::MultiplexedConnection,
    prefix: String,
}

fn redis_error(e: redis::RedisError) -> SessionStoreError {
    SessionStoreError(format!("redis: {e}"))
}

impl RedisSessionStore {
    /// Connects to `url` (`redis://host:port/db`); keys are `<prefix><session id>`.
    pub async fn connect(url: &str, prefix: &str) -> Result<RedisSessionStore, SessionStoreError> {
        let client = redis::Client::open(url).map_err(redis_error)?;
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Duration::from_secs(2))
            .set_response_timeout(Duration::from_secs(2));
        let connection = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(redis_error)?;
        Ok(RedisSessionStore {
            connection,
            prefix: prefix.to_owned(),
        })
    }
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    async fn load(&self, id: &str) -> Result<Option<SessionData>, SessionStoreError> {
        let mut con = self.connection.clone();
        let value: Option<String> = redis::cmd("GET")
            .arg(format!("{}{id}", self.prefix))
            .query_async(&mut con)
            .await
            .map_err(redis_error)?;
        Ok(value.and_then(|v| serde_json::from_str(&v).ok()))
    }

    async fn save(
        &self,
        id: &str,
        data: &SessionData,
        ttl: Duration,
    ) -> Result<(), SessionStoreError> {
        let json = serde_json::to_string(data).map_err(|e| SessionStoreError(e.to_string()))?;
        let mut con = self.connection.clone();
        let () = redis::cmd("SET")
            .arg(format!("{}{id}", self.prefix))
            .arg(json)
            .arg("EX")
            .arg(ttl.as_secs().max(1))
            .query_async(&mut con)
            .await
            .map_err(redis_error)?;
        Ok(())
    }

    async fn delete(&self, id: &str) -> Result<(), SessionStoreError> {
        let mut con = self.connection.clone();
        let _: i64 = redis::cmd("DEL")
            .arg(format!("{}{id}", self.prefix))
            .query_async(&mut con)
            .await
            .map_err(redis_error)?;
        Ok(())
    }
}

/// 32 random bytes, base64url without padding (43 characters).
pub fn random_token() -> Result<String, SessionStoreError> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| SessionStoreError(format!("random: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn looks_like_id(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[derive(Default)]
struct State {
    id: Option<String>,
    /// An id to delete from the store when saving (after `rotate_id` or `destroy`).
    retired: Option<String>,
    data: SessionData,
    changed: bool,
    destroyed: bool,
}

/// The current request's session; take it as a handler argument.
///
/// Cheap to clone; all clones see the same data. Changes are saved after the handler returns.
#[derive(Clone)]
pub struct Session {
    state: Arc<Mutex<State>>,
}

impl Session {
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        // A poisoned lock only means another clone panicked mid-update; the data is strings.
        let mut guard = match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&mut guard)
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<String> {
        self.with(|s| s.data.get(key).cloned())
    }

    /// Sets `key` to `value`.
    pub fn insert(&self, key: &str, value: impl Into<String>) {
        let value = value.into();
        self.with(|s| {
            s.destroyed = false;
            s.changed = true;
            s.data.insert(key.to_owned(), value);
        })
    }

    /// Removes `key` and returns its value.
    pub fn remove(&self, key: &str) -> Option<String> {
        self.with(|s| {
            let old = s.data.remove(key);
            if old.is_some() {
                s.changed = true;
            }
            old
        })
    }

    /// Gives the session a new id on save (the data moves, the old id is deleted): call it
    /// whenever the privilege changes (login), against session fixation.
    pub fn rotate_id(&self) {
        self.with(|s| {
            if let Some(old) = s.id.take() {
                s.retired = Some(old);
            }
            s.changed = true;
        })
    }

    /// Empties the session and deletes it from the store (log out).
    pub fn destroy(&self) {
        self.with(|s| {
            if let Some(old) = s.id.take() {
                s.retired = Some(old);
            }
            s.data.clear();
            s.destroyed = true;
            s.changed = false;
        })
    }

    /// The synchronizer CSRF token of this session, created on first use.
    pub fn csrf_token(&self) -> String {
        if let Some(t) = self.get(CSRF_KEY) {
            return t;
        }
        let token = random_token().unwrap_or_default();
        if token.is_empty() {
            return token;
        }
        self.insert(CSRF_KEY, token.clone());
        token
    }

    /// Whether `candidate` is this session's CSRF token (constant-time comparison).
    pub fn csrf_matches(&self, candidate: &str) -> bool {
        match self.get(CSRF_KEY) {
            Some(t) if !t.is_empty() && t.len() == candidate.len() => {
                t.bytes()
                    .zip(candidate.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
            }
            _ => false,
        }
    }
}

/// Session key of the CSRF token.
pub const CSRF_KEY: &str = "csrf";

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Session>().cloned().ok_or_else(|| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "no session: add geid_axum::SessionLayer to the router",
            )
        })
    }
}

/// Session configuration; make a [`SessionLayer`] from it with [`Sessions::layer`].
#[derive(Clone)]
pub struct Sessions {
    store: Arc<dyn SessionStore>,
    cookie_name: String,
    secure: bool,
    ttl: Duration,
}

impl Sessions {
    /// Sessions in `store`, cookie `geid_session`, `Secure`, 8 hours after the last change.
    pub fn new(store: Arc<dyn SessionStore>) -> Sessions {
        Sessions {
            store,
            cookie_name: "geid_session".into(),
            secure: true,
            ttl: Duration::from_secs(8 * 3600),
        }
    }

    /// Cookie name.
    pub fn cookie_name(mut self, name: &str) -> Sessions {
        self.cookie_name = name.to_owned();
        self
    }

    /// Whether the cookie carries `Secure` (leave on; off only for plain-HTTP tests).
    pub fn secure(mut self, secure: bool) -> Sessions {
        self.secure = secure;
        self
    }

    /// How long an untouched session lives.
    pub fn ttl(mut self, ttl: Duration) -> Sessions {
        self.ttl = ttl;
        self
    }

    /// The tower layer.
    pub fn layer(&self) -> SessionLayer {
        SessionLayer {
            sessions: self.clone(),
        }
    }

    fn cookie_id(&self, headers: &HeaderMap) -> Option<String> {
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, v)| *k == self.cookie_name && looks_like_id(v))
            .map(|(_, v)| v.to_owned())
    }

    fn cookie(&self, id: &str, max_age: u64) -> Option<HeaderValue> {
        let secure = if self.secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{}={id}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}",
            self.cookie_name
        ))
        .ok()
    }

    async fn load(&self, headers: &HeaderMap) -> Result<Session, SessionStoreError> {
        let mut state = State::default();
        if let Some(id) = self.cookie_id(headers) {
            if let Some(data) = self.store.load(&id).await? {
                state.id = Some(id);
                state.data = data;
            }
        }
        Ok(Session {
            state: Arc::new(Mutex::new(state)),
        })
    }

    async fn finish(
        &self,
        session: Session,
        response: &mut Response,
    ) -> Result<(), SessionStoreError> {
        let (id, retired, data, changed, destroyed) = session.with(|s| {
            (
                s.id.clone(),
                s.retired.take(),
                std::mem::take(&mut s.data),
                s.changed,
                s.destroyed,
            )
        });
        if let Some(old) = retired {
            self.store.delete(&old).await?;
        }
        if destroyed {
            if let Some(c) = self.cookie("", 0) {
                response.headers_mut().append(SET_COOKIE, c);
            }
            return Ok(());
        }
        if !changed {
            return Ok(());
        }
        let id = match id {
            Some(id) => id,
            None => random_token()?,
        };
        self.store.save(&id, &data, self.ttl).await?;
        if let Some(c) = self.cookie(&id, self.ttl.as_secs()) {
            response.headers_mut().append(SET_COOKIE, c);
        }
        Ok(())
    }
}

/// Loads the session for every request and saves it after the response; see [`Sessions`].
#[derive(Clone)]
pub struct SessionLayer {
    sessions: Sessions,
}

impl<S> tower_layer::Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            sessions: self.sessions.clone(),
        }
    }
}

/// The service made by [`SessionLayer`].
#[derive(Clone)]
pub struct SessionService<S> {
    inner: S,
    sessions: Sessions,
}

fn unavailable(e: &SessionStoreError) -> Response {
    tracing::warn!("{e}");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "SESSION_STORE_UNAVAILABLE",
        "the session store is unavailable; try again in a moment",
    )
    .into_response()
}

impl<S> tower_service::Service<Request> for SessionService<S>
where
    S: tower_service::Service<Request, Response = Response, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        // Take the service that was polled ready, leave a fresh clone behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let sessions = self.sessions.clone();
        Box::pin(async move {
            let session = match sessions.load(req.headers()).await {
                Ok(s) => s,
                Err(e) => return Ok(unavailable(&e)),
            };
            req.extensions_mut().insert(session.clone());
            let mut response = inner.call(req).await?;
            if let Err(e) = sessions.finish(session, &mut response).await {
                return Ok(unavailable(&e));
            }
            Ok(response)
        })
    }
}
