//! The kiosk's test world: a test PKI with its OCSP responder, the portal in-process on a
//! loopback port, the kiosk in-process, the virtual card behind a real pcscd (vpcd), and small
//! HTTP clients for the kiosk UI and the portal's password login.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use geid_card::atr::ATR_GE1;
use geid_card::{CardProfile, Generation};
use geid_kiosk::{Kiosk, KioskConfig, KioskKey, PortalClient};
use geid_portal::db::Db;
use geid_protocol::Origin;
use geid_testkit::pcscd;
use geid_testkit::virtual_card::vpcd::VpcdCard;
use geid_testkit::virtual_card::{CardKeys, PinValues, VirtualCard};
use geid_testkit::{OcspServer, Pki, ResponderOptions};
use geid_verify::Verifier;
use serde_json::Value;

/// pcscd tests must run in CI; elsewhere they skip when pcscd/vpcd are not installed.
#[macro_export]
macro_rules! require_pcscd {
    () => {
        if let Some(why) = geid_testkit::pcscd::missing() {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must run the pcscd tests: {why}"
            );
            eprintln!("skipping: {why}");
            return;
        }
    };
}

pub const KIOSK_ID: &str = "tbilisi-hoj-01";

/// A PKI whose AIA points at an OCSP responder running for the whole test binary.
pub fn world() -> &'static (Pki, OcspServer) {
    static WORLD: OnceLock<(Pki, OcspServer)> = OnceLock::new();
    WORLD.get_or_init(|| OcspServer::with_new_pki(ResponderOptions::default()).unwrap())
}

pub fn pki() -> &'static Pki {
    &world().0
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
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

/// A free loopback port (bound and released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The portal on `port` (origin `http://localhost:PORT`), SQLite in `dir`, trusting the test
/// PKI, with `kiosk_key` registered as [`KIOSK_ID`].
pub fn start_portal(dir: &tempfile::TempDir, port: u16, kiosk_key: &KioskKey) -> TestPortal {
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let base = format!("http://localhost:{port}");
    let verifier = Verifier::builder()
        .origin(&base)
        .trust_anchor(pki().root().cert.clone())
        .intermediate(pki().auth_ca().cert.clone())
        .build()
        .unwrap();
    let url = format!("sqlite://{}", dir.path().join("portal.db").display());
    let mut config = geid_portal::Config::new(verifier, url);
    config.secure_cookies = false;
    let pem = kiosk_key.public_key_pem().unwrap();
    let (db_tx, db_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let portal = geid_portal::build(config).await.unwrap();
            geid_portal::kiosk_api::register_kiosk(&portal.db, KIOSK_ID, &pem)
                .await
                .unwrap();
            db_tx.send(portal.db.clone()).unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            geid_portal::serve(listener, portal.router, async {
                let _ = stop_rx.await;
            })
            .await
            .unwrap();
        });
    });
    let db = db_rx.recv().unwrap();
    TestPortal {
        base,
        db,
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

impl TestPortal {
    pub fn account(&self, personal_number: &str) -> Option<geid_portal::db::Account> {
        block_on(self.db.account(personal_number)).unwrap()
    }

    /// Audit rows written by the kiosk API: (personal number, result, client).
    pub fn kiosk_audit(&self) -> Vec<(Option<String>, String, String)> {
        block_on(self.db.audit_log(100))
            .unwrap()
            .into_iter()
            .filter(|e| e.method == "kiosk")
            .map(|e| (e.personal_number, e.result, e.client))
            .collect()
    }
}

pub fn kiosk_key() -> KioskKey {
    KioskKey::new(openssl::pkey::PKey::generate_ed25519().unwrap()).unwrap()
}

/// The kiosk UI on a loopback port, talking to the portal at `portal_port`.
pub struct TestKiosk {
    pub base: String,
    pub kiosk: Kiosk,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    agent: ureq::Agent,
}

impl Drop for TestKiosk {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn start_kiosk(portal_port: u16, key: KioskKey, idle: Duration) -> TestKiosk {
    let base = format!("http://localhost:{portal_port}");
    let kiosk = Kiosk::new(KioskConfig {
        portal: PortalClient::new(&base, KIOSK_ID, key),
        origin: Origin::parse(&base).unwrap(),
        reader: None,
        idle_timeout: idle,
    });
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let ui = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let k = kiosk.clone();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            geid_kiosk::serve(listener, k, async {
                let _ = stop_rx.await;
            })
            .await
            .unwrap();
        });
    });
    TestKiosk {
        base: ui,
        kiosk,
        stop: Some(stop_tx),
        thread: Some(thread),
        agent: ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(40))
            .build(),
    }
}

impl TestKiosk {
    pub fn get(&self, path: &str) -> (u16, String) {
        match self.agent.get(&format!("{}{path}", self.base)).call() {
            Ok(r) => (r.status(), r.into_string().unwrap()),
            Err(ureq::Error::Status(s, r)) => (s, r.into_string().unwrap_or_default()),
            Err(e) => panic!("{e}"),
        }
    }

    pub fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .agent
            .post(&format!("{}{path}", self.base))
            .set("content-type", "application/json")
            .send_string(&body.to_string());
        match r {
            Ok(r) => (r.status(), r.into_json().unwrap_or(Value::Null)),
            Err(ureq::Error::Status(s, r)) => (s, r.into_json().unwrap_or(Value::Null)),
            Err(e) => panic!("{e}"),
        }
    }

    pub fn state(&self) -> Value {
        serde_json::from_str(&self.get("/api/state?after=0").1).unwrap()
    }

    /// Follows the screen (long-poll, as the page does) until it is `screen` and `pred` holds.
    pub fn wait_for(&self, screen: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut version = 0;
        let mut last = Value::Null;
        while Instant::now() < deadline {
            let (status, body) = self.get(&format!("/api/state?after={version}"));
            assert_eq!(status, 200);
            let v: Value = serde_json::from_str(&body).unwrap();
            if v["screen"] == screen && pred(&v) {
                return v;
            }
            version = v["version"].as_u64().unwrap();
            last = v;
        }
        panic!("screen {screen} did not come; last: {last}");
    }

    pub fn wait_screen(&self, screen: &str) -> Value {
        self.wait_for(screen, |_| true)
    }
}

/// The virtual card of a test citizen; the broken variants (expired, revoked) have only an
/// authentication certificate, so the signing slot borrows the good citizen's.
pub fn virtual_card(citizen: &str) -> Arc<Mutex<VirtualCard>> {
    let c = pki().citizen(citizen).unwrap();
    let good = pki().citizen(geid_testkit::pki::CITIZEN).unwrap();
    let keys = CardKeys {
        auth_cert: c.auth_cert.clone(),
        auth_key: c.auth_key.clone(),
        sign_cert: c
            .sign_cert
            .clone()
            .unwrap_or_else(|| good.sign_cert.clone().unwrap()),
        sign_key: c
            .sign_key
            .clone()
            .unwrap_or_else(|| good.sign_key.clone().unwrap()),
    };
    Arc::new(Mutex::new(
        VirtualCard::new(
            ATR_GE1,
            CardProfile::for_generation(Generation::Ge1),
            keys,
            PinValues::default(),
        )
        .unwrap(),
    ))
}

/// Puts `card` into the first vpcd slot.
pub fn insert(card: &Arc<Mutex<VirtualCard>>) -> VpcdCard {
    VpcdCard::start(
        card.clone(),
        ([127, 0, 0, 1], pcscd::VPCD_PORT).into(),
        Duration::from_secs(10),
    )
    .unwrap()
}

/// A browser for the portal's password pages: keeps cookies, does not follow redirects.
pub struct Browser {
    base: String,
    cookies: BTreeMap<String, String>,
    agent: ureq::Agent,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Page {
    pub fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").expect("a form");
        let rest = &self.body[at + 19..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        Browser {
            base: base.to_owned(),
            cookies: BTreeMap::new(),
            agent: ureq::AgentBuilder::new().redirects(0).build(),
        }
    }

    fn finish(&mut self, r: Result<ureq::Response, ureq::Error>) -> Page {
        let r = match r {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        };
        for c in r.all("set-cookie") {
            let (k, v) = c.split(';').next().unwrap().split_once('=').unwrap();
            self.cookies.insert(k.to_owned(), v.to_owned());
        }
        Page {
            status: r.status(),
            location: r.header("location").map(str::to_owned),
            body: r.into_string().unwrap_or_default(),
        }
    }

    fn cookie(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn get(&mut self, path: &str) -> Page {
        let r = self
            .agent
            .get(&format!("{}{path}", self.base))
            .set("cookie", &self.cookie())
            .call();
        self.finish(r)
    }

    pub fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let r = self
            .agent
            .post(&format!("{}{path}", self.base))
            .set("cookie", &self.cookie())
            .set("origin", &self.base.clone())
            .send_form(fields);
        self.finish(r)
    }

    /// Logs in with a one-time password, is forced to change it, and reaches the account page.
    pub fn first_login(&mut self, username: &str, one_time: &str, new_password: &str) -> Page {
        let form = self.get("/login/password");
        let login = self.post_form(
            "/login/password",
            &[
                ("csrf", &form.csrf()),
                ("username", username),
                ("password", one_time),
            ],
        );
        assert_eq!(login.location.as_deref(), Some("/password/change"));
        assert_eq!(
            self.get("/account").location.as_deref(),
            Some("/password/change"),
            "the account waits for the password change"
        );
        let page = self.get("/password/change");
        let changed = self.post_form(
            "/password/change",
            &[
                ("csrf", &page.csrf()),
                ("new_password", new_password),
                ("new_password_confirm", new_password),
            ],
        );
        assert_eq!(changed.status, 303);
        self.get("/account")
    }
}
