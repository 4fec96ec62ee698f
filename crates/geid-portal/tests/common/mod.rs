//! A portal on a free port with a test PKI whose OCSP responder runs in this process, a
//! cookie-keeping HTTP client, and token makers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::OnceLock;

use geid_portal::db::Db;
use geid_portal::Config;
use geid_protocol::{ChallengeNonce, Origin, SignatureAlgorithm};
use geid_testkit::{OcspServer, Pki, ResponderOptions, TokenSigner};
use geid_verify::Verifier;

/// A PKI whose AIA points at an OCSP responder running for the whole test binary.
pub fn world() -> &'static (Pki, OcspServer) {
    static WORLD: OnceLock<(Pki, OcspServer)> = OnceLock::new();
    WORLD.get_or_init(|| OcspServer::with_new_pki(ResponderOptions::default()).unwrap())
}

pub fn pki() -> &'static Pki {
    &world().0
}

/// A verifier for `origin` trusting the test PKI, OCSP through the certificates' AIA.
pub fn verifier(origin: &str) -> Verifier {
    let pki = pki();
    Verifier::builder()
        .origin(origin)
        .trust_anchor(pki.root().cert.clone())
        .intermediate(pki.auth_ca().cert.clone())
        .build()
        .unwrap()
}

pub struct TestPortal {
    pub base: String,
    pub db: Db,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for TestPortal {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts a portal; `tune` adjusts the configuration (database, Redis, limits).
pub fn start(database_url: &str, tune: impl FnOnce(&mut Config) + Send + 'static) -> TestPortal {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let base = format!("http://localhost:{port}");
    let mut config = Config::new(verifier(&base), database_url);
    config.secure_cookies = false;
    tune(&mut config);
    let (db_tx, db_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let portal = match geid_portal::build(config).await {
                Ok(p) => p,
                Err(e) => {
                    db_tx.send(Err(e.to_string())).unwrap();
                    return;
                }
            };
            db_tx.send(Ok(portal.db.clone())).unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            geid_portal::serve(listener, portal.router, async {
                let _ = stop_rx.await;
            })
            .await
            .unwrap();
        });
    });
    let db = db_rx.recv().unwrap().unwrap();
    TestPortal {
        base,
        db,
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

pub fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("portal.db").display())
}

pub struct Reply {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
    pub set_cookies: Vec<String>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn code(&self) -> String {
        self.json()["error"].as_str().unwrap_or("").to_owned()
    }

    /// The CSRF token of the first form.
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a form with csrf");
        let rest = &self.body[at + 19..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

/// A browser-like client: keeps cookies, does not follow redirects, sends Origin on POST.
pub struct Client {
    pub base: String,
    /// The Origin header sent on POST (the site origin, also behind a balancer).
    pub origin: String,
    pub cookies: BTreeMap<String, String>,
    agent: ureq::Agent,
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client {
            base: base.to_owned(),
            origin: base.to_owned(),
            cookies: BTreeMap::new(),
            agent: ureq::AgentBuilder::new().redirects(0).build(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn finish(&mut self, r: Result<ureq::Response, ureq::Error>) -> Reply {
        let resp = match r {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        };
        let set_cookies: Vec<String> = resp
            .all("set-cookie")
            .iter()
            .map(|s| s.to_string())
            .collect();
        for c in &set_cookies {
            let first = c.split(';').next().unwrap();
            let (k, v) = first.split_once('=').unwrap();
            if c.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        Reply {
            status: resp.status(),
            location: resp.header("location").map(str::to_owned),
            set_cookies,
            body: resp.into_string().unwrap_or_default(),
        }
    }

    pub fn get(&mut self, path: &str) -> Reply {
        let r = self
            .agent
            .get(&format!("{}{path}", self.base))
            .set("Cookie", &self.cookie_header())
            .call();
        self.finish(r)
    }

    pub fn get_with(&mut self, path: &str, header: (&str, &str)) -> Reply {
        let r = self
            .agent
            .get(&format!("{}{path}", self.base))
            .set("Cookie", &self.cookie_header())
            .set(header.0, header.1)
            .call();
        self.finish(r)
    }

    pub fn post_json(&mut self, path: &str, body: &str) -> Reply {
        self.post_json_from(path, body, &self.origin.clone())
    }

    pub fn post_json_from(&mut self, path: &str, body: &str, origin: &str) -> Reply {
        let r = self
            .agent
            .post(&format!("{}{path}", self.base))
            .set("Cookie", &self.cookie_header())
            .set("Origin", origin)
            .set("Content-Type", "application/json")
            .send_string(body);
        self.finish(r)
    }

    pub fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let r = self
            .agent
            .post(&format!("{}{path}", self.base))
            .set("Cookie", &self.cookie_header())
            .set("Origin", &self.origin.clone())
            .send_form(fields);
        self.finish(r)
    }

    /// POST raw bytes with a content type and extra headers (multipart forms, JSON with a
    /// CSRF header).
    pub fn post_bytes(
        &mut self,
        path: &str,
        content_type: &str,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self
            .agent
            .post(&format!("{}{path}", self.base))
            .set("Cookie", &self.cookie_header())
            .set("Origin", &self.origin.clone())
            .set("Content-Type", content_type);
        for (k, v) in headers {
            req = req.set(k, v);
        }
        let r = req.send_bytes(body);
        self.finish(r)
    }

    pub fn challenge(&mut self) -> ChallengeNonce {
        let r = self.post_json("/auth/challenge", "");
        assert_eq!(r.status, 200, "{}", r.body);
        ChallengeNonce::parse(r.json()["nonce"].as_str().unwrap()).unwrap()
    }

    /// Challenge, then a software-signed token of `citizen` for `origin`, posted to login.
    pub fn card_login_as(&mut self, citizen: &str) -> Reply {
        let nonce = self.challenge();
        let token = token(citizen, &self.origin.clone(), &nonce);
        self.post_json("/auth/login", &token)
    }
}

pub fn signer(citizen: &str) -> TokenSigner {
    let c = pki().citizen(citizen).unwrap();
    TokenSigner::new(&c.auth_cert, c.auth_key.clone()).unwrap()
}

pub fn token(citizen: &str, origin: &str, nonce: &ChallengeNonce) -> String {
    signer(citizen)
        .token(
            SignatureAlgorithm::Rs256,
            &Origin::parse(origin).unwrap(),
            nonce,
        )
        .unwrap()
        .to_json()
}

/// Registers `citizen` with the card: login → /register → form → /account.
pub fn register(c: &mut Client, citizen: &str) {
    let r = c.card_login_as(citizen);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["next"], "/register");
    let form = c.get("/register");
    assert_eq!(form.status, 200);
    let r = c.post_form(
        "/register",
        &[
            ("csrf", &form.csrf()),
            ("email", "nino@example.ge"),
            ("phone", "+995 555 12 34 56"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
}
