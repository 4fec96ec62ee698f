#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The whole portal over HTTP against SQLite, with software-signed tokens from a test PKI
//! whose OCSP responder runs in-process.

mod common;

use common::{pki, register, sqlite_url, start, token, Client};
use geid_testkit::pki::{CITIZEN, CITIZEN_2, EXPIRED, REVOKED};

#[test]
fn register_log_out_and_log_in_with_the_card() {
    let dir = tempfile::tempdir().unwrap();
    let portal = start(&sqlite_url(&dir), |_| {});
    let citizen = pki().citizen(CITIZEN).unwrap();
    let mut c = Client::new(&portal.base);

    // The card says who it is; the registration page shows it back.
    let r = c.card_login_as(CITIZEN);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["registered"], false);
    let form = c.get("/register?lang=en");
    assert!(form.body.contains(&format!(
        "id=\"identity-personal-number\">{}<",
        citizen.personal_number
    )));
    assert!(form.body.contains(&citizen.surname));
    // Bad e-mail and phone: both messages, in the chosen language, nothing created.
    let bad = c.post_form(
        "/register",
        &[
            ("csrf", &form.csrf()),
            ("email", "nino@"),
            ("phone", "+995 322 123 456"),
        ],
    );
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("id=\"email-error\""));
    assert!(bad.body.contains("+995 5XX XXX XXX"));
    assert!(portal
        .db
        .account(&citizen.personal_number)
        .await_now()
        .is_none());
    // Good input: account created.
    let ok = c.post_form(
        "/register",
        &[
            ("csrf", &form.csrf()),
            ("email", "Nino@Example.GE"),
            ("phone", "555 12 34 56"),
        ],
    );
    assert_eq!(
        (ok.status, ok.location.as_deref()),
        (303, Some("/account?notice=registered"))
    );
    let account = c.get("/account");
    assert_eq!(account.status, 200);
    assert!(account.body.contains(&format!(
        "id=\"account-personal-number\">{}<",
        citizen.personal_number
    )));
    assert!(account.body.contains("+995555123456"));
    assert!(
        account.body.contains("Nino@example.ge"),
        "domain lower-cased, local part kept"
    );
    assert!(account.body.contains("data-method=\"id-card\""));
    assert!(account.body.contains("<td>card</td><td>OK</td>"));

    // Log out, then the account page is gone.
    let out = c.post_form("/logout", &[("csrf", &account.csrf())]);
    assert_eq!((out.status, out.location.as_deref()), (303, Some("/")));
    assert_eq!(c.get("/account").location.as_deref(), Some("/"));

    // Log in with the card again: straight to the account.
    let r = c.card_login_as(CITIZEN);
    assert_eq!(
        (r.status, r.json()["next"].as_str()),
        (200, Some("/account"))
    );
    assert_eq!(c.get("/account").status, 200);

    // Registering twice (another browser) finds the existing account.
    let mut other = Client::new(&portal.base);
    let r = other.card_login_as(CITIZEN);
    assert_eq!(r.json()["registered"], true);
    let account = other.get("/account?notice=existing");
    assert!(account.body.contains("id=\"notice\""));
    // And a second person registers separately.
    let mut second = Client::new(&portal.base);
    register(&mut second, CITIZEN_2);
    let p2 = pki().citizen(CITIZEN_2).unwrap();
    assert!(second.get("/account").body.contains(&p2.personal_number));
}

/// Blocks on a database future from a test thread.
trait AwaitNow<T> {
    fn await_now(self) -> T;
}

impl<F: std::future::Future<Output = Result<T, geid_portal::db::DbError>>, T> AwaitNow<T> for F {
    fn await_now(self) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(self)
            .unwrap()
    }
}

#[test]
fn password_login_forces_a_change_at_first_login() {
    let dir = tempfile::tempdir().unwrap();
    let portal = start(&sqlite_url(&dir), |_| {});
    let (account, one_time) = geid_portal::password::issue_credentials(
        &portal.db,
        "01001099999",
        "ნინო",
        "ბერიძე",
        "nino.b",
    )
    .await_now();
    assert!(account.must_change_password);
    let mut c = Client::new(&portal.base);
    let form = c.get("/login/password");
    let wrong = c.post_form(
        "/login/password",
        &[
            ("csrf", &form.csrf()),
            ("username", "nino.b"),
            ("password", "wrong-password"),
        ],
    );
    assert_eq!(wrong.status, 401);
    let ok = c.post_form(
        "/login/password",
        &[
            ("csrf", &wrong.csrf()),
            ("username", "nino.b"),
            ("password", &one_time),
        ],
    );
    assert_eq!(
        (ok.status, ok.location.as_deref()),
        (303, Some("/password/change"))
    );
    assert_eq!(
        c.get("/account").location.as_deref(),
        Some("/password/change")
    );
    let page = c.get("/password/change");
    let differ = c.post_form(
        "/password/change",
        &[
            ("csrf", &page.csrf()),
            ("new_password", "a-long-new-secret"),
            ("new_password_confirm", "another-secret"),
        ],
    );
    assert_eq!(differ.status, 422);
    let changed = c.post_form(
        "/password/change",
        &[
            ("csrf", &page.csrf()),
            ("new_password", "a-long-new-secret"),
            ("new_password_confirm", "a-long-new-secret"),
        ],
    );
    assert_eq!(changed.status, 303);
    let acc = c.get("/account");
    assert_eq!(acc.status, 200);
    assert!(acc.body.contains("data-method=\"justice-house\""));
    assert!(acc.body.contains("<td>password</td><td>OK</td>"));

    // The new password works, the one-time one no longer does; no forced change now.
    let mut d = Client::new(&portal.base);
    let f = d.get("/login/password");
    let old = d.post_form(
        "/login/password",
        &[
            ("csrf", &f.csrf()),
            ("username", "nino.b"),
            ("password", &one_time),
        ],
    );
    assert_eq!(old.status, 401);
    let new = d.post_form(
        "/login/password",
        &[
            ("csrf", &old.csrf()),
            ("username", "nino.b"),
            ("password", "a-long-new-secret"),
        ],
    );
    assert_eq!(
        (new.status, new.location.as_deref()),
        (303, Some("/account"))
    );
}

#[test]
fn forms_without_the_sessions_csrf_token_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let portal = start(&sqlite_url(&dir), |_| {});
    let mut c = Client::new(&portal.base);
    register(&mut c, CITIZEN);
    let r = c.post_form("/logout", &[("csrf", "forged")]);
    assert_eq!(r.status, 403);
    let r = c.post_form("/logout", &[]);
    assert_eq!(r.status, 403);
    assert_eq!(c.get("/account").status, 200, "still logged in");
    // Another session's token does not work either.
    let mut other = Client::new(&portal.base);
    let theirs = other.get("/login/password").csrf();
    assert_eq!(c.post_form("/logout", &[("csrf", &theirs)]).status, 403);
}

#[test]
fn refused_tokens_carry_their_codes_and_are_audited() {
    let dir = tempfile::tempdir().unwrap();
    let portal = start(&sqlite_url(&dir), |c| c.max_failures = 100);
    let base = portal.base.clone();
    let mut c = Client::new(&base);

    // Forged: citizen's certificate, citizen-2's signature.
    let nonce = c.challenge();
    let mut forged: serde_json::Value =
        serde_json::from_str(&token(CITIZEN, &base, &nonce)).unwrap();
    let other: serde_json::Value = serde_json::from_str(&token(CITIZEN_2, &base, &nonce)).unwrap();
    forged["signature"] = other["signature"].clone();
    let r = c.post_json("/auth/login", &forged.to_string());
    assert_eq!((r.status, r.code().as_str()), (401, "SIGNATURE_INVALID"));

    // Cross-origin: a token made for another site; a request from another site.
    let nonce = c.challenge();
    let r = c.post_json(
        "/auth/login",
        &token(CITIZEN, "https://evil.example", &nonce),
    );
    assert_eq!((r.status, r.code().as_str()), (401, "SIGNATURE_INVALID"));
    c.challenge();
    let r = c.post_json_from("/auth/login", "{}", "https://evil.example");
    assert_eq!((r.status, r.code().as_str()), (403, "ORIGIN_MISMATCH"));

    // Expired certificate; revoked (the in-process OCSP responder says so).
    assert_eq!(c.card_login_as(EXPIRED).code(), "CERT_EXPIRED");
    assert_eq!(c.card_login_as(REVOKED).code(), "CERT_REVOKED");

    // Another session's challenge.
    let mut alice = Client::new(&base);
    let nonce = alice.challenge();
    let alices = token(CITIZEN, &base, &nonce);
    let mut mallory = Client::new(&base);
    assert_eq!(
        mallory.post_json("/auth/login", &alices).code(),
        "NONCE_MISSING"
    );
    mallory.challenge();
    assert_eq!(
        mallory.post_json("/auth/login", &alices).code(),
        "SIGNATURE_INVALID"
    );

    // Replay: the same login raced twice with the same session; the nonce works once.
    let nonce = alice.challenge();
    let t = token(CITIZEN, &base, &nonce);
    let cookies = alice.cookies.clone();
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (base, t, cookies) = (base.clone(), t.clone(), cookies.clone());
            std::thread::spawn(move || {
                let mut c = Client::new(&base);
                c.cookies = cookies;
                let r = c.post_json("/auth/login", &t);
                (r.status, r.code())
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        results.iter().filter(|r| r.0 == 200).count(),
        1,
        "{results:?}"
    );
    let loser = results.iter().find(|r| r.0 != 200).unwrap();
    assert!(
        ["NONCE_UNKNOWN", "NONCE_MISSING"].contains(&loser.1.as_str()),
        "{loser:?}"
    );
    // The same token after success: this session has no challenge left.
    assert_eq!(alice.post_json("/auth/login", &t).code(), "NONCE_MISSING");

    let codes: Vec<String> = portal
        .db
        .audit_log(100)
        .await_now()
        .into_iter()
        .map(|e| e.result)
        .collect();
    for code in [
        "SIGNATURE_INVALID",
        "ORIGIN_MISMATCH",
        "CERT_EXPIRED",
        "CERT_REVOKED",
        "NONCE_MISSING",
        "OK",
    ] {
        assert!(
            codes.iter().any(|c| c == code),
            "{code} not audited: {codes:?}"
        );
    }
    let revoked_pn = &pki().citizen(REVOKED).unwrap().personal_number;
    assert!(
        portal
            .db
            .audit_log(100)
            .await_now()
            .iter()
            .any(|e| e.result == "CERT_REVOKED"
                && e.personal_number.is_none()
                && e.method == "card"),
        "refusals before verification carry no personal number ({revoked_pn})"
    );

    let metrics = c.get("/metrics").body;
    assert!(
        metrics.contains("geid_portal_logins_total{method=\"card\",result=\"CERT_REVOKED\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("geid_portal_verification_seconds_count"));
}

#[test]
fn failed_logins_are_limited_per_client() {
    let dir = tempfile::tempdir().unwrap();
    let portal = start(&sqlite_url(&dir), |c| c.max_failures = 3);
    let mut c = Client::new(&portal.base);
    for _ in 0..3 {
        assert_eq!(c.card_login_as(EXPIRED).code(), "CERT_EXPIRED");
    }
    let r = c.card_login_as(CITIZEN);
    assert_eq!((r.status, r.code().as_str()), (429, "TOO_MANY_ATTEMPTS"));
    // Password logins have their own budget, also limited.
    let mut p = Client::new(&portal.base);
    let mut last = p.get("/login/password");
    for _ in 0..4 {
        last = p.post_form(
            "/login/password",
            &[("csrf", &last.csrf()), ("username", "x"), ("password", "y")],
        );
    }
    assert_eq!(last.status, 429);
}

#[test]
fn language_follows_query_cookie_and_accept_language() {
    let dir = tempfile::tempdir().unwrap();
    let portal = start(&sqlite_url(&dir), |_| {});
    let mut c = Client::new(&portal.base);
    let ka = c.get("/");
    assert!(ka.body.contains("lang=\"ka\"") && ka.body.contains("id=\"register-with-card\""));
    let en = c.get_with("/", ("Accept-Language", "en-GB,en;q=0.9"));
    assert!(en.body.contains("Register with the ID card"));
    let q = c.get("/?lang=en");
    assert!(q.set_cookies.iter().any(|s| s.starts_with("lang=en")));
    assert!(
        c.get("/").body.contains("<html lang=\"en\">"),
        "the cookie keeps English"
    );
    assert!(c
        .get("/static/geid.js")
        .body
        .contains("export function authenticate"));
    assert!(c
        .get("/static/portal.js")
        .body
        .contains("from '/static/geid.js'"));
}

#[test]
fn a_database_that_goes_away_gives_503_and_no_half_account() {
    let dir = tempfile::tempdir().unwrap();
    let portal = start(&sqlite_url(&dir), |_| {});
    let mut c = Client::new(&portal.base);
    assert_eq!(c.get("/healthz").status, 200);
    let r = c.card_login_as(CITIZEN);
    assert_eq!(r.json()["next"], "/register");
    let form = c.get("/register");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(portal.db.close());
    assert_eq!(c.get("/healthz").status, 503);
    let r = c.post_form(
        "/register",
        &[
            ("csrf", &form.csrf()),
            ("email", "nino@example.ge"),
            ("phone", "+995555123456"),
        ],
    );
    assert_eq!(r.status, 503);
    assert!(r.body.contains("id=\"message-title\""));
    let r = c.card_login_as(CITIZEN);
    assert_eq!((r.status, r.code().as_str()), (503, "DATABASE_UNAVAILABLE"));
}

#[test]
fn session_cookies_are_http_only_and_same_site() {
    let dir = tempfile::tempdir().unwrap();
    let portal = start(&sqlite_url(&dir), |c| c.secure_cookies = true);
    let mut c = Client::new(&portal.base);
    let r = c.post_json("/auth/challenge", "");
    let cookie = r
        .set_cookies
        .iter()
        .find(|s| s.starts_with("geid_session="))
        .unwrap();
    for attr in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
}

#[test]
fn the_start_page_says_plainly_when_the_card_step_was_cancelled() {
    // portal.js shows `data-cancelled` (not "failed" with a code) when the PIN window is closed.
    let dir = tempfile::tempdir().unwrap();
    let portal = start(&sqlite_url(&dir), |_| {});
    let mut c = Client::new(&portal.base);
    assert!(c
        .get("/?lang=en")
        .body
        .contains("data-cancelled=\"Card login cancelled. You are not logged in.\""));
    assert!(c
        .get("/?lang=ka")
        .body
        .contains("data-cancelled=\"ბარათით შესვლა გაუქმდა. სისტემაში არ შეხვედით.\""));
    assert!(c
        .get("/static/portal.js")
        .body
        .contains("code === 'USER_CANCELLED'"));
}
