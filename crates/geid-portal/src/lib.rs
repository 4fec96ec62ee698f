//! The reference citizen portal: register and log in with the Georgian ID card, or with
//! credentials issued at a House of Justice.
//!
//! [`build`] wires everything from a [`Config`] into an axum [`Router`]; the `geid-portal`
//! binary is argument parsing around it. Pages are server-rendered (minijinja templates,
//! Georgian and English); the only script is `static/portal.js`, which imports the page library
//! `geid.js` for the card step. The card flow uses [`geid_axum`]'s `/auth/challenge` and
//! `/auth/login`; a verified card holder without an account is taken to `/register` to add an
//! e-mail address and a mobile number.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod db;
pub mod delivery;
#[cfg(feature = "demo")]
pub mod demo;
pub mod i18n;
pub mod kiosk_api;
pub mod letters;
pub mod letters_cli;
pub mod letters_web;
pub mod metrics;
pub mod notify;
pub mod organisations;
pub mod password;
pub mod validate;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use geid_axum::{ApiError, Attempt, FailureLimiter, GeidAuth, LoginHandler, Session, Sessions};
use geid_verify::{ChallengeStore, Identity, MemoryChallengeStore, RedisChallengeStore, Verifier};
use minijinja::{context, Environment, Value};
use serde::Deserialize;

use db::{Db, DbError};
use i18n::Lang;
use metrics::Metrics;

/// Session key: the logged-in personal number.
const USER: &str = "user";
/// Session key: the password must be changed before anything else.
const MUST_CHANGE: &str = "must_change";
/// Session key: the card-verified identity waiting for the registration form (JSON).
const PENDING: &str = "pending";

/// What the portal needs to run.
pub struct Config {
    /// The token verifier (origin, trust anchors, OCSP).
    pub verifier: Verifier,
    /// `sqlite://FILE` or `postgres://…`.
    pub database_url: String,
    /// Redis for challenges and sessions (replicas); `None` keeps them in memory.
    pub redis_url: Option<String>,
    /// `Secure` on the session cookie.
    pub secure_cookies: bool,
    /// Failed logins allowed per client address and window, card and password each.
    pub max_failures: usize,
    /// The failure window.
    pub failure_window: Duration,
    /// Signed letters: signature verifier, notifications, delivery adapter.
    pub letters: letters_web::LettersConfig,
}

impl Config {
    /// Defaults around `verifier` and `database_url`: memory stores, secure cookies, 10
    /// failures per minute.
    pub fn new(verifier: Verifier, database_url: impl Into<String>) -> Config {
        Config {
            verifier,
            database_url: database_url.into(),
            redis_url: None,
            secure_cookies: true,
            max_failures: 10,
            failure_window: Duration::from_secs(60),
            letters: letters_web::LettersConfig::default(),
        }
    }
}

/// A built portal: the router and its database.
pub struct Portal {
    /// Serve with `into_make_service_with_connect_info::<SocketAddr>()`.
    pub router: Router,
    /// The database (for admin commands and tests).
    pub db: Db,
}

struct Shared {
    db: Db,
    env: Environment<'static>,
    metrics: Metrics,
    password_limiter: FailureLimiter,
    /// A hash to verify against when the username is unknown, so timing does not tell.
    dummy_hash: String,
    letters: letters_web::LettersState,
}

type AppState = Arc<Shared>;

fn templates() -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    for (name, src) in [
        ("base.html", include_str!("../templates/base.html")),
        ("home.html", include_str!("../templates/home.html")),
        ("register.html", include_str!("../templates/register.html")),
        ("account.html", include_str!("../templates/account.html")),
        (
            "password_login.html",
            include_str!("../templates/password_login.html"),
        ),
        (
            "change_password.html",
            include_str!("../templates/change_password.html"),
        ),
        ("message.html", include_str!("../templates/message.html")),
    ] {
        env.add_template(name, src)?;
    }
    letters_web::add_templates(&mut env)?;
    Ok(env)
}

/// Builds the portal: opens (and migrates) the database, connects Redis when configured.
pub async fn build(config: Config) -> anyhow::Result<Portal> {
    let db = Db::open(&config.database_url).await?;
    let (challenges, session_store): (Arc<dyn ChallengeStore>, Arc<dyn geid_axum::SessionStore>) =
        match &config.redis_url {
            Some(url) => (
                Arc::new(
                    RedisChallengeStore::connect(
                        url,
                        "geid:challenge:",
                        geid_verify::DEFAULT_CHALLENGE_TTL,
                    )
                    .await?,
                ),
                Arc::new(geid_axum::RedisSessionStore::connect(url, "geid:session:").await?),
            ),
            None => (
                Arc::new(MemoryChallengeStore::default()),
                Arc::new(geid_axum::MemorySessionStore::default()),
            ),
        };
    let dummy_hash = tokio::task::spawn_blocking(|| password::hash("no such user"))
        .await?
        .map_err(anyhow::Error::msg)?;
    let shared = Arc::new(Shared {
        db: db.clone(),
        env: templates()?,
        metrics: Metrics::default(),
        password_limiter: FailureLimiter::new(config.max_failures, config.failure_window),
        dummy_hash,
        letters: letters_web::start(&db, config.letters),
    });
    let kiosk = kiosk_api::router(db.clone(), config.verifier.clone());
    let auth = GeidAuth::new(
        config.verifier,
        challenges,
        Arc::new(CardLogin {
            shared: shared.clone(),
        }),
    )
    .failure_limit(config.max_failures, config.failure_window);
    let sessions = Sessions::new(session_store).secure(config.secure_cookies);
    let router = Router::new()
        .route("/", get(home))
        .route("/register", get(register_form).post(register_submit))
        .route("/account", get(account))
        .route("/login/password", get(password_form).post(password_submit))
        .route(
            "/password/change",
            get(change_password_form).post(change_password_submit),
        )
        .route("/logout", post(logout))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .route("/static/geid.js", get(geid_js))
        .route("/static/portal.js", get(portal_js))
        .route("/static/portal.css", get(portal_css))
        .nest("/auth", auth.router())
        .merge(letters_web::router())
        .with_state(shared)
        .merge(kiosk)
        .layer(sessions.layer())
        .layer(axum::middleware::map_response(security_headers));
    Ok(Portal { router, db })
}

/// Serves `router` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; \
             base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    r
}

// ---- request helpers ------------------------------------------------------------------------

/// The page language, and whether `?lang=` chose it.
struct PageLang(Lang, bool);

impl<S: Send + Sync> FromRequestParts<S> for PageLang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().and_then(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == "lang")
                .map(|(_, v)| v.to_owned())
        });
        let (lang, chosen) = Lang::choose(q.as_deref(), &parts.headers);
        Ok(PageLang(lang, chosen))
    }
}

/// The client address (TCP peer).
pub(crate) struct ClientIp(pub(crate) IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip())
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        ))
    }
}

fn notice_query(parts: &axum::http::Uri) -> Option<String> {
    parts.query().and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "notice")
            .map(|(_, v)| v.to_owned())
    })
}

fn redirect(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(LOCATION, v);
    }
    r
}

impl Shared {
    fn render(&self, lang: &PageLang, status: StatusCode, name: &str, ctx: Value) -> Response {
        let full = context! { lang => lang.0.code(), t => lang.0.texts(), ..ctx };
        let html = self.env.get_template(name).and_then(|t| t.render(full));
        let mut r = match html {
            Ok(html) => {
                (status, [(CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
            }
            Err(e) => {
                tracing::error!("template {name}: {e}");
                (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
            }
        };
        r.headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if lang.1 {
            let cookie = format!(
                "lang={}; Path=/; Max-Age=31536000; SameSite=Lax",
                lang.0.code()
            );
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().append(SET_COOKIE, v);
            }
        }
        r
    }

    fn message(&self, lang: &PageLang, status: StatusCode, title: &str, text: &str) -> Response {
        self.render(
            lang,
            status,
            "message.html",
            context! { title => lang.0.t(title), text => lang.0.t(text) },
        )
    }

    fn unavailable(&self, lang: &PageLang, e: &DbError) -> Response {
        tracing::warn!("{e}");
        self.message(
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable_title",
            "unavailable",
        )
    }

    fn csrf_refused(&self, lang: &PageLang) -> Response {
        self.message(lang, StatusCode::FORBIDDEN, "site_name", "csrf")
    }

    /// The failed-login limit for password logins (citizens' and staff's): refused attempts are
    /// audited under `method`. Checked before the database is asked.
    async fn password_login_allowed(
        &self,
        method: &str,
        client: IpAddr,
    ) -> Result<(), (StatusCode, &'static str)> {
        if self.password_limiter.check(client).is_err() {
            self.audit(method, None, "TOO_MANY_ATTEMPTS", client).await;
            return Err((StatusCode::TOO_MANY_REQUESTS, "too_many"));
        }
        Ok(())
    }

    /// Checks `password` against the hash of the user found (or a dummy hash when none was,
    /// so the answer time does not tell which usernames exist), with argon2 off the async
    /// threads; a refusal is counted against the client and audited under `method`.
    async fn check_password<T>(
        &self,
        method: &str,
        client: IpAddr,
        found: Option<(T, String)>,
        password: &str,
    ) -> Result<T, (StatusCode, &'static str)> {
        let (user, phc) = match found {
            Some((user, phc)) => (Some(user), phc),
            None => (None, self.dummy_hash.clone()),
        };
        let pw = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || password::verify(&pw, &phc))
            .await
            .unwrap_or(false);
        match user.filter(|_| ok) {
            Some(user) => Ok(user),
            None => {
                self.password_limiter.record_failure(client);
                self.audit(method, None, "BAD_CREDENTIALS", client).await;
                Err((StatusCode::UNAUTHORIZED, "bad_credentials"))
            }
        }
    }

    async fn audit(&self, method: &str, person: Option<&str>, result: &str, client: IpAddr) {
        self.metrics.login(method, result);
        if let Err(e) = self
            .db
            .audit(method, person, result, &client.to_string())
            .await
        {
            tracing::warn!("audit log: {e}");
        }
    }
}

// ---- the card login handler ------------------------------------------------------------------

struct CardLogin {
    shared: AppState,
}

#[derive(serde::Serialize, Deserialize)]
struct Pending {
    personal_number: String,
    given_name: String,
    surname: String,
}

#[async_trait::async_trait]
impl LoginHandler for CardLogin {
    async fn on_login(
        &self,
        identity: &Identity,
        session: &Session,
    ) -> Result<serde_json::Value, ApiError> {
        let existing = self
            .shared
            .db
            .account(&identity.personal_number)
            .await
            .map_err(|e| {
                tracing::warn!("{e}");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "DATABASE_UNAVAILABLE",
                    "the database is unavailable; try again in a moment",
                )
            })?;
        session.remove(PENDING);
        session.remove(MUST_CHANGE);
        match existing {
            Some(account) => {
                session.insert(USER, account.personal_number);
                Ok(serde_json::json!({ "registered": true, "next": "/account" }))
            }
            None => {
                let pending = Pending {
                    personal_number: identity.personal_number.clone(),
                    given_name: identity
                        .given_name
                        .clone()
                        .or_else(|| identity.common_name.clone())
                        .unwrap_or_default(),
                    surname: identity.surname.clone().unwrap_or_default(),
                };
                session.remove(USER);
                session.insert(PENDING, serde_json::to_string(&pending).unwrap_or_default());
                Ok(serde_json::json!({ "registered": false, "next": "/register" }))
            }
        }
    }

    async fn on_attempt(&self, attempt: &Attempt) {
        if let Some(d) = attempt.verification_time {
            self.shared.metrics.verification(d);
        }
        let person = attempt
            .identity
            .as_ref()
            .map(|i| i.personal_number.as_str());
        self.shared
            .audit("card", person, &attempt.code, attempt.client)
            .await;
    }
}

// ---- pages -------------------------------------------------------------------------------------

async fn home(State(st): State<AppState>, lang: PageLang, session: Session) -> Response {
    if session.get(USER).is_some() {
        return redirect("/account");
    }
    st.render(&lang, StatusCode::OK, "home.html", context! {})
}

fn pending(session: &Session) -> Option<Pending> {
    session
        .get(PENDING)
        .and_then(|p| serde_json::from_str(&p).ok())
}

async fn register_form(State(st): State<AppState>, lang: PageLang, session: Session) -> Response {
    let Some(p) = pending(&session) else {
        return st.message(
            &lang,
            StatusCode::BAD_REQUEST,
            "register_title",
            "session_expired",
        );
    };
    st.render(
        &lang,
        StatusCode::OK,
        "register.html",
        context! {
            name => format!("{} {}", p.given_name, p.surname),
            personal_number => p.personal_number,
            csrf => session.csrf_token(),
            email => "", phone => "",
        },
    )
}

#[derive(Deserialize)]
struct RegisterForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
}

async fn register_submit(
    State(st): State<AppState>,
    lang: PageLang,
    session: Session,
    Form(form): Form<RegisterForm>,
) -> Response {
    if !session.csrf_matches(&form.csrf) {
        return st.csrf_refused(&lang);
    }
    let Some(p) = pending(&session) else {
        return st.message(
            &lang,
            StatusCode::BAD_REQUEST,
            "register_title",
            "session_expired",
        );
    };
    let email = validate::email(&form.email);
    let phone = validate::phone(&form.phone);
    let (Some(email), Some(phone)) = (email.clone(), phone.clone()) else {
        return st.render(
            &lang,
            StatusCode::UNPROCESSABLE_ENTITY,
            "register.html",
            context! {
                name => format!("{} {}", p.given_name, p.surname),
                personal_number => p.personal_number,
                csrf => session.csrf_token(),
                email => form.email, phone => form.phone,
                email_error => email.is_none().then(|| lang.0.t("bad_email")),
                phone_error => phone.is_none().then(|| lang.0.t("bad_phone")),
            },
        );
    };
    let created = st
        .db
        .register_with_card(
            &p.personal_number,
            &p.given_name,
            &p.surname,
            &email,
            &phone,
        )
        .await;
    match created {
        Err(e) => st.unavailable(&lang, &e),
        Ok((account, created)) => {
            session.remove(PENDING);
            session.insert(USER, account.personal_number);
            session.rotate_id();
            redirect(if created {
                "/account?notice=registered"
            } else {
                "/account?notice=existing"
            })
        }
    }
}

#[derive(serde::Serialize)]
struct LoginRow {
    time: String,
    method: String,
    result: String,
}

fn rfc3339(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| at.to_string())
}

async fn account(
    State(st): State<AppState>,
    lang: PageLang,
    session: Session,
    uri: axum::http::Uri,
) -> Response {
    let Some(pn) = session.get(USER) else {
        return redirect("/");
    };
    if session.get(MUST_CHANGE).is_some() {
        return redirect("/password/change");
    }
    let account = match st.db.account(&pn).await {
        Err(e) => return st.unavailable(&lang, &e),
        Ok(None) => {
            session.destroy();
            return redirect("/");
        }
        Ok(Some(a)) => a,
    };
    let logins = match st.db.recent_logins(&pn, 10).await {
        Err(e) => return st.unavailable(&lang, &e),
        Ok(l) => l,
    };
    let logins: Vec<LoginRow> = logins
        .into_iter()
        .map(|l| LoginRow {
            time: rfc3339(l.at),
            method: l.method,
            result: l.result,
        })
        .collect();
    let notice = match notice_query(&uri).as_deref() {
        Some("existing") => Some(lang.0.t("existing_account")),
        Some("registered") => Some(lang.0.t("registered")),
        Some("password_changed") => Some(lang.0.t("password_changed")),
        _ => None,
    };
    let method_text = lang.0.t(&format!("method_{}", account.registration_method));
    st.render(
        &lang,
        StatusCode::OK,
        "account.html",
        context! { account => account, logins => logins, csrf => session.csrf_token(),
        notice => notice, method_text => method_text },
    )
}

async fn password_form(State(st): State<AppState>, lang: PageLang, session: Session) -> Response {
    st.render(
        &lang,
        StatusCode::OK,
        "password_login.html",
        context! { csrf => session.csrf_token(), username => "" },
    )
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

async fn password_submit(
    State(st): State<AppState>,
    lang: PageLang,
    ClientIp(client): ClientIp,
    session: Session,
    Form(form): Form<PasswordForm>,
) -> Response {
    if !session.csrf_matches(&form.csrf) {
        return st.csrf_refused(&lang);
    }
    let again = |status: StatusCode, error: &str| {
        st.render(
            &lang,
            status,
            "password_login.html",
            context! { csrf => session.csrf_token(), username => form.username.clone(),
            error => lang.0.t(error) },
        )
    };
    if let Err((status, error)) = st.password_login_allowed("password", client).await {
        return again(status, error);
    }
    let found = match st.db.account_by_username(form.username.trim()).await {
        Err(e) => return st.unavailable(&lang, &e),
        // An account without a password (registered with the card) cannot log in this way.
        Ok(f) => f.and_then(|(a, h)| Some((a, h?))),
    };
    let account = match st
        .check_password("password", client, found, &form.password)
        .await
    {
        Ok(a) => a,
        Err((status, error)) => return again(status, error),
    };
    st.audit("password", Some(&account.personal_number), "OK", client)
        .await;
    session.remove(PENDING);
    session.insert(USER, account.personal_number);
    session.rotate_id();
    if account.must_change_password {
        session.insert(MUST_CHANGE, "1");
        redirect("/password/change")
    } else {
        session.remove(MUST_CHANGE);
        redirect("/account")
    }
}

async fn change_password_form(
    State(st): State<AppState>,
    lang: PageLang,
    session: Session,
) -> Response {
    if session.get(USER).is_none() {
        return redirect("/");
    }
    st.render(
        &lang,
        StatusCode::OK,
        "change_password.html",
        context! { csrf => session.csrf_token(), forced => session.get(MUST_CHANGE).is_some() },
    )
}

#[derive(Deserialize)]
struct ChangePasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_confirm: String,
}

async fn change_password_submit(
    State(st): State<AppState>,
    lang: PageLang,
    session: Session,
    Form(form): Form<ChangePasswordForm>,
) -> Response {
    if !session.csrf_matches(&form.csrf) {
        return st.csrf_refused(&lang);
    }
    let Some(pn) = session.get(USER) else {
        return redirect("/");
    };
    let problem = if form.new_password != form.new_password_confirm {
        Some("passwords_differ")
    } else if !validate::new_password(&form.new_password) {
        Some("password_too_short")
    } else {
        None
    };
    if let Some(problem) = problem {
        return st.render(
            &lang,
            StatusCode::UNPROCESSABLE_ENTITY,
            "change_password.html",
            context! { csrf => session.csrf_token(), forced => session.get(MUST_CHANGE).is_some(),
            error => lang.0.t(problem) },
        );
    }
    let pw = form.new_password.clone();
    let phc = match tokio::task::spawn_blocking(move || password::hash(&pw)).await {
        Ok(Ok(h)) => h,
        _ => {
            return st.unavailable(
                &lang,
                &DbError::Unavailable("password hashing failed".into()),
            )
        }
    };
    if let Err(e) = st.db.set_password(&pn, &phc).await {
        return st.unavailable(&lang, &e);
    }
    session.remove(MUST_CHANGE);
    redirect("/account?notice=password_changed")
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(st): State<AppState>,
    lang: PageLang,
    session: Session,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !session.csrf_matches(&form.csrf) {
        return st.csrf_refused(&lang);
    }
    session.destroy();
    redirect("/")
}

async fn healthz(State(st): State<AppState>) -> Response {
    match st.db.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::warn!("{e}");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}

async fn metrics_text(State(st): State<AppState>) -> Response {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        st.metrics.render(),
    )
        .into_response()
}

fn static_file(body: &'static str, content_type: &'static str) -> Response {
    (
        [(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-cache")],
        body,
    )
        .into_response()
}

async fn geid_js() -> Response {
    static_file(
        include_str!("../../../browser-extension/lib/geid.js"),
        "text/javascript; charset=utf-8",
    )
}

async fn portal_js() -> Response {
    static_file(
        include_str!("../static/portal.js"),
        "text/javascript; charset=utf-8",
    )
}

async fn portal_css() -> Response {
    static_file(
        include_str!("../static/portal.css"),
        "text/css; charset=utf-8",
    )
}
