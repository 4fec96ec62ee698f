#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The challenge and login endpoints over a real listener, with software-signed tokens from the
//! shared test PKI.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use geid_axum::{
    ApiError, GeidAuth, Identity, LoginHandler, MemorySessionStore, Session, Sessions,
};
use geid_protocol::{ChallengeNonce, Origin, SignatureAlgorithm};
use geid_testkit::pki::{Pki, CITIZEN};
use geid_testkit::TokenSigner;
use geid_verify::{MemoryChallengeStore, OcspConfig, Verifier};

struct App;

#[async_trait::async_trait]
impl LoginHandler for App {
    async fn on_login(
        &self,
        id: &Identity,
        session: &Session,
    ) -> Result<serde_json::Value, ApiError> {
        session.insert("user", id.personal_number.clone());
        Ok(serde_json::json!({ "personalNumber": id.personal_number }))
    }
}

/// Starts the routes on a free port; returns the base URL and the origin used.
fn serve(max_failures: usize) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let origin = format!("http://localhost:{port}");
            let pki = Pki::shared();
            let mut b = Verifier::builder()
                .origin(&origin)
                .trust_anchor(pki.root().cert.clone())
                .ocsp(OcspConfig::off());
            for c in pki.intermediates() {
                b = b.intermediate(c.clone());
            }
            let auth = GeidAuth::new(
                b.build().unwrap(),
                Arc::new(MemoryChallengeStore::default()),
                Arc::new(App),
            )
            .failure_limit(max_failures, Duration::from_secs(60));
            let sessions = Sessions::new(Arc::new(MemorySessionStore::default())).secure(false);
            let app = axum::Router::new()
                .nest("/auth", auth.router())
                .layer(sessions.layer());
            tx.send(port).unwrap();
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
    });
    let port = rx.recv().unwrap();
    format!("http://localhost:{port}")
}

struct Client {
    base: String,
    cookie: Option<String>,
}

impl Client {
    fn new(base: &str) -> Client {
        Client {
            base: base.into(),
            cookie: None,
        }
    }

    fn post(&mut self, path: &str, body: &str, origin: Option<&str>) -> (u16, serde_json::Value) {
        let mut req = ureq::post(&format!("{}{path}", self.base))
            .set("Content-Type", "application/json")
            .set("Origin", origin.unwrap_or(&self.base));
        if let Some(c) = &self.cookie {
            req = req.set("Cookie", c);
        }
        let resp = match req.send_string(body) {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        };
        if let Some(set) = resp.header("set-cookie") {
            self.cookie = Some(set.split(';').next().unwrap().to_owned());
        }
        let status = resp.status();
        let json = serde_json::from_str(&resp.into_string().unwrap()).unwrap();
        (status, json)
    }

    fn challenge(&mut self) -> ChallengeNonce {
        let (status, json) = self.post("/auth/challenge", "", None);
        assert_eq!(status, 200, "{json}");
        ChallengeNonce::parse(json["nonce"].as_str().unwrap()).unwrap()
    }
}

fn token(base: &str, nonce: &ChallengeNonce) -> String {
    let c = Pki::shared().citizen(CITIZEN).unwrap();
    TokenSigner::new(&c.auth_cert, c.auth_key.clone())
        .unwrap()
        .token(
            SignatureAlgorithm::Rs256,
            &Origin::parse(base).unwrap(),
            nonce,
        )
        .unwrap()
        .to_json()
}

#[test]
fn login_verifies_rotates_the_session_and_refuses_replays() {
    let base = serve(100);
    let mut alice = Client::new(&base);
    let nonce = alice.challenge();
    let before = alice.cookie.clone().unwrap();
    let t = token(&base, &nonce);
    let (status, json) = alice.post("/auth/login", &t, None);
    assert_eq!(status, 200, "{json}");
    let person = Pki::shared().citizen(CITIZEN).unwrap();
    assert_eq!(json["personalNumber"], person.personal_number.as_str());
    assert_ne!(alice.cookie.clone().unwrap(), before, "session id rotated");

    // The same token again: this session has no pending challenge any more.
    let (status, json) = alice.post("/auth/login", &t, None);
    assert_eq!(
        (status, json["error"].as_str()),
        (400, Some("NONCE_MISSING"))
    );
    // Replayed into a session that holds the same nonce string: consumed in the store.
    let mut eve = Client::new(&base);
    eve.challenge();
    let (status, json) = eve.post("/auth/login", &t, None);
    assert_eq!(
        (status, json["error"].as_str()),
        (401, Some("SIGNATURE_INVALID"))
    );
}

#[test]
fn a_token_for_one_sessions_challenge_is_refused_in_another() {
    let base = serve(100);
    let mut alice = Client::new(&base);
    let nonce = alice.challenge();
    let t = token(&base, &nonce);
    let mut bob = Client::new(&base);
    let (status, json) = bob.post("/auth/login", &t, None);
    assert_eq!(
        (status, json["error"].as_str()),
        (400, Some("NONCE_MISSING"))
    );
    bob.challenge();
    let (status, json) = bob.post("/auth/login", &t, None);
    assert_eq!(
        (status, json["error"].as_str()),
        (401, Some("SIGNATURE_INVALID"))
    );
    // Alice's own login still works.
    let (status, _) = alice.post("/auth/login", &t, None);
    assert_eq!(status, 200);
}

#[test]
fn cross_origin_requests_and_tokens_are_refused() {
    let base = serve(100);
    let mut c = Client::new(&base);
    let (status, json) = c.post("/auth/challenge", "", Some("https://evil.example"));
    assert_eq!(
        (status, json["error"].as_str()),
        (403, Some("ORIGIN_MISMATCH"))
    );
    let nonce = c.challenge();
    let t = token("https://evil.example", &nonce);
    let (status, json) = c.post("/auth/login", &t, None);
    assert_eq!(
        (status, json["error"].as_str()),
        (401, Some("SIGNATURE_INVALID"))
    );
}

#[test]
fn failed_logins_are_limited_per_client() {
    let base = serve(3);
    let mut c = Client::new(&base);
    for _ in 0..3 {
        c.challenge();
        let (status, _) = c.post("/auth/login", "{}", None);
        assert_eq!(status, 400);
    }
    let nonce = c.challenge();
    let (status, json) = c.post("/auth/login", &token(&base, &nonce), None);
    assert_eq!(
        (status, json["error"].as_str()),
        (429, Some("TOO_MANY_ATTEMPTS"))
    );
}
