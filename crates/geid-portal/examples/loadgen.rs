//! Load generator: concurrent challenge + login pairs with software-signed RS256 tokens
//! against one portal, or two replicas sharing Redis (challenge on one, login on the other).
//!
//! Self-contained: it generates a test PKI with an in-process OCSP responder, starts the
//! portal(s) in-process on SQLite (a temporary file) and, for two replicas, a `redis-server`
//! (stopped by PID), and drives them over loopback HTTP.
//!
//! ```sh
//! cargo run --release -p geid-portal --example loadgen -- --replicas 1 --seconds 60 --clients 16
//! cargo run --release -p geid-portal --example loadgen -- --replicas 2 --seconds 60 --clients 16
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use geid_protocol::{ChallengeNonce, Origin, SignatureAlgorithm};
use geid_testkit::pki::CITIZEN;
use geid_testkit::services::RedisServer;
use geid_testkit::{OcspServer, Pki, PkiOptions, ResponderOptions, TokenSigner};
use geid_verify::Verifier;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let replicas = arg("--replicas", 1).clamp(1, 2) as usize;
    let seconds = arg("--seconds", 60);
    let clients = arg("--clients", 16) as usize;

    let ocsp_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", ocsp_listener.local_addr().unwrap());
    let pki = Pki::generate(&PkiOptions::with_base_url(&base)).unwrap();
    let _ocsp =
        OcspServer::start_on(ocsp_listener, pki.clone(), ResponderOptions::default()).unwrap();
    let redis = (replicas > 1)
        .then(|| RedisServer::start().expect("redis-server is needed for two replicas"));
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", dir.path().join("portal.db").display());

    // One site origin for every replica, as behind a load balancer.
    let listeners: Vec<TcpListener> = (0..replicas)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let ports: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    let origin = format!("http://localhost:{}", ports[0]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for listener in listeners {
        let verifier = Verifier::builder()
            .origin(&origin)
            .trust_anchor(pki.root().cert.clone())
            .intermediate(pki.auth_ca().cert.clone())
            .build()
            .unwrap();
        let mut config = geid_portal::Config::new(verifier, db_url.clone());
        config.redis_url = redis.as_ref().map(|r| r.url());
        config.secure_cookies = false;
        config.max_failures = 1_000_000;
        listener.set_nonblocking(true).unwrap();
        rt.block_on(async {
            let portal = geid_portal::build(config).await.unwrap();
            let c = pki.citizen(CITIZEN).unwrap();
            portal
                .db
                .register_with_card(
                    &c.personal_number,
                    &c.given_name,
                    &c.surname,
                    "load@example.ge",
                    "+995555000000",
                )
                .await
                .unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            rt.spawn(geid_portal::serve(
                listener,
                portal.router,
                std::future::pending(),
            ));
        });
    }

    let c = pki.citizen(CITIZEN).unwrap();
    let signer = Arc::new(TokenSigner::new(&c.auth_cert, c.auth_key.clone()).unwrap());
    let origin_parsed = Origin::parse(&origin).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|w| {
            let (signer, origin, origin_parsed, ports, stop) = (
                signer.clone(),
                origin.clone(),
                origin_parsed.clone(),
                ports.clone(),
                stop.clone(),
            );
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new().redirects(0).build();
                let mut latencies = Vec::new();
                let mut errors = 0u64;
                let mut i = w;
                while !stop.load(Ordering::Relaxed) {
                    let a = ports[i % ports.len()];
                    let b = ports[(i + 1) % ports.len()];
                    i += 1;
                    let t0 = Instant::now();
                    let ok = (|| -> Option<()> {
                        let r = agent
                            .post(&format!("http://127.0.0.1:{a}/auth/challenge"))
                            .set("Origin", &origin)
                            .call()
                            .ok()?;
                        let cookie = r.header("set-cookie")?.split(';').next()?.to_owned();
                        let body: serde_json::Value =
                            serde_json::from_str(&r.into_string().ok()?).ok()?;
                        let nonce = ChallengeNonce::parse(body["nonce"].as_str()?).ok()?;
                        let token = signer
                            .token(SignatureAlgorithm::Rs256, &origin_parsed, &nonce)
                            .ok()?;
                        agent
                            .post(&format!("http://127.0.0.1:{b}/auth/login"))
                            .set("Origin", &origin)
                            .set("Cookie", &cookie)
                            .set("Content-Type", "application/json")
                            .send_string(&token.to_json())
                            .ok()?;
                        Some(())
                    })();
                    match ok {
                        Some(()) => latencies.push(t0.elapsed()),
                        None => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.join().unwrap();
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "replicas={replicas} clients={clients} seconds={elapsed:.1} logins={} logins/s={:.1} p50={:.1}ms p99={:.1}ms errors={errors}",
        all.len(),
        all.len() as f64 / elapsed,
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
    );
    drop(rt);
}
