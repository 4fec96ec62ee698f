#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Against a real PostgreSQL and a real Redis (started by the testkit, stopped by PID): the
//! flow on PostgreSQL, two portals sharing Redis for challenges and sessions, and what happens
//! when Redis or the database goes away. Skipped locally without the packages, failing under CI.

mod common;

use common::{pki, register, start, token, Client};
use geid_testkit::pki::CITIZEN;
use geid_testkit::services::{PostgresServer, RedisServer};

#[test]
fn two_replicas_on_postgres_and_redis() {
    let Some(mut pg) = PostgresServer::start() else {
        return;
    };
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let url = redis.url();
    let u2 = url.clone();
    let a = start(&pg.url(), move |c| c.redis_url = Some(url));
    // Both replicas verify for one site origin (A's), as behind a load balancer.
    let site = a.base.clone();
    let b = start(&pg.url(), move |c| {
        c.redis_url = Some(u2);
        c.verifier = common::verifier(&site);
    });
    let client_b = |site: &str| {
        let mut c = Client::new(&b.base);
        c.origin = site.to_owned();
        c
    };

    // Register on A (PostgreSQL), session in Redis: B sees the logged-in session.
    let mut c = Client::new(&a.base);
    register(&mut c, CITIZEN);
    let pn = &pki().citizen(CITIZEN).unwrap().personal_number;
    let mut on_b = client_b(&a.base);
    on_b.cookies = c.cookies.clone();
    let acc = on_b.get("/account");
    assert_eq!(acc.status, 200);
    assert!(acc.body.contains(pn.as_str()));

    // A challenge issued by B and a token for it: accepted by A once, never twice.
    let mut x = client_b(&a.base);
    let nonce = x.challenge();
    let t = token(CITIZEN, &a.base, &nonce);
    let mut on_a = Client::new(&a.base);
    on_a.cookies = x.cookies.clone();
    let first = on_a.post_json("/auth/login", &t);
    assert_eq!(first.status, 200, "{}", first.body);
    // Replay with the pre-login session state on either replica: the nonce is gone.
    let mut replay = Client::new(&a.base);
    replay.cookies = x.cookies.clone();
    let again = replay.post_json("/auth/login", &t);
    assert_ne!(again.status, 200);
    let mut replay_b = client_b(&a.base);
    replay_b.cookies = x.cookies.clone();
    assert_ne!(replay_b.post_json("/auth/login", &t).status, 200);

    // Racing the same login on A and B with one session: exactly one wins.
    let mut y = Client::new(&a.base);
    let nonce = y.challenge();
    let t = token(CITIZEN, &a.base, &nonce);
    let cookies = y.cookies.clone();
    let bases = [a.base.clone(), b.base.clone()];
    let results: Vec<(u16, String)> = bases
        .into_iter()
        .map(|base| {
            let (t, cookies, site2) = (t.clone(), cookies.clone(), a.base.clone());
            std::thread::spawn(move || {
                let mut c = Client::new(&base);
                c.origin = site2.clone();
                c.cookies = cookies;
                let r = c.post_json("/auth/login", &t);
                (r.status, r.code())
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    assert_eq!(
        results.iter().filter(|r| r.0 == 200).count(),
        1,
        "{results:?}"
    );

    // Redis away: a clear 503, not a panic.
    redis.stop();
    let r = Client::new(&a.base).post_json("/auth/challenge", "");
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(
        ["SESSION_STORE_UNAVAILABLE", "CHALLENGE_STORE_UNAVAILABLE"].contains(&r.code().as_str()),
        "{}",
        r.body
    );
    drop(b);
    drop(a);

    // PostgreSQL away: 503 from health and pages.
    let p = start(&pg.url(), |_| {});
    let mut c = Client::new(&p.base);
    assert_eq!(c.get("/healthz").status, 200);
    let r = c.card_login_as(CITIZEN);
    assert_eq!(r.json()["next"], "/account");
    pg.stop();
    assert_eq!(c.get("/healthz").status, 503);
    assert_eq!(c.get("/account").status, 503);
}
