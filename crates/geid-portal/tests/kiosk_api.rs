#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The kiosk API over HTTP: signed requests (good, bad, replayed, skewed), credentials issued
//! from a card token and audited with the kiosk id, then the forced password change at the
//! first password login.

mod common;

use base64::Engine as _;
use common::{pki, sqlite_url, start, Client, TestPortal};
use geid_protocol::kiosk::{
    string_to_sign, HEADER_KIOSK, HEADER_REQUEST_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP,
};
use geid_protocol::{ChallengeNonce, Origin, SignatureAlgorithm};
use geid_testkit::pki::{CITIZEN, EXPIRED, REVOKED};
use geid_testkit::TokenSigner;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use serde_json::{json, Value};

const KIOSK: &str = "tbilisi-hoj-01";

fn ed25519() -> PKey<Private> {
    PKey::generate_ed25519().unwrap()
}

fn p256() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn register(portal: &TestPortal, id: &str, key: &PKey<Private>) {
    let pem = key.public_key_to_pem().unwrap();
    block_on(geid_portal::kiosk_api::register_kiosk(&portal.db, id, &pem)).unwrap();
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn request_id() -> String {
    let mut b = [0u8; 18];
    getrandom::getrandom(&mut b).unwrap();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// A signed request as a kiosk makes it; every part can be spoiled by the caller.
struct Signed {
    kiosk: String,
    path: String,
    timestamp: i64,
    request_id: String,
    body: String,
    signature: String,
}

fn sign(key: &PKey<Private>, kiosk: &str, path: &str, timestamp: i64, body: &str) -> Signed {
    let request_id = request_id();
    let data = string_to_sign("POST", path, timestamp, &request_id, kiosk, body.as_bytes());
    let sig = if key.id() == openssl::pkey::Id::ED25519 {
        let mut s = openssl::sign::Signer::new_without_digest(key).unwrap();
        s.sign_oneshot_to_vec(&data).unwrap()
    } else {
        let mut s = openssl::sign::Signer::new(MessageDigest::sha256(), key).unwrap();
        s.sign_oneshot_to_vec(&data).unwrap()
    };
    Signed {
        kiosk: kiosk.into(),
        path: path.into(),
        timestamp,
        request_id,
        body: body.into(),
        signature: base64::engine::general_purpose::STANDARD.encode(sig),
    }
}

fn send(portal: &TestPortal, r: &Signed) -> (u16, Value) {
    let resp = ureq::post(&format!("{}{}", portal.base, r.path))
        .set(HEADER_KIOSK, &r.kiosk)
        .set(HEADER_TIMESTAMP, &r.timestamp.to_string())
        .set(HEADER_REQUEST_ID, &r.request_id)
        .set(HEADER_SIGNATURE, &r.signature)
        .set("content-type", "application/json")
        .send_string(&r.body);
    let resp = match resp {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    let status = resp.status();
    (status, resp.into_json().unwrap_or(Value::Null))
}

fn challenge(portal: &TestPortal, key: &PKey<Private>) -> (ChallengeNonce, String) {
    let (status, body) = send(
        portal,
        &sign(key, KIOSK, "/kiosk/v1/challenge", unix_now(), ""),
    );
    assert_eq!(status, 200, "{body}");
    (
        ChallengeNonce::parse(body["nonce"].as_str().unwrap()).unwrap(),
        body["origin"].as_str().unwrap().to_owned(),
    )
}

fn card_token(citizen: &str, origin: &str, nonce: &ChallengeNonce) -> Value {
    let c = pki().citizen(citizen).unwrap();
    let signer = TokenSigner::new(&c.auth_cert, c.auth_key.clone()).unwrap();
    let token = signer
        .token(
            SignatureAlgorithm::Rs256,
            &Origin::parse(origin).unwrap(),
            nonce,
        )
        .unwrap();
    serde_json::from_str(&token.to_json()).unwrap()
}

fn credentials(
    portal: &TestPortal,
    key: &PKey<Private>,
    citizen: &str,
) -> (u16, Value, ChallengeNonce) {
    let (nonce, origin) = challenge(portal, key);
    let body = json!({"nonce": nonce.as_str(), "token": card_token(citizen, &origin, &nonce)});
    let (status, reply) = send(
        portal,
        &sign(
            key,
            KIOSK,
            "/kiosk/v1/credentials",
            unix_now(),
            &body.to_string(),
        ),
    );
    (status, reply, nonce)
}

fn kiosk_audit(portal: &TestPortal) -> Vec<(Option<String>, String, String)> {
    block_on(portal.db.audit_log(100))
        .unwrap()
        .into_iter()
        .filter(|e| e.method == "kiosk")
        .map(|e| (e.personal_number, e.result, e.client))
        .collect()
}

#[test]
fn signed_requests_good_bad_replayed_and_skewed() {
    let dir = tempfile::tempdir().unwrap();
    let portal = start(&sqlite_url(&dir), |_| {});
    let key = ed25519();
    register(&portal, KIOSK, &key);
    let path = "/kiosk/v1/challenge";

    // Good: a challenge for the portal's own origin.
    let good = sign(&key, KIOSK, path, unix_now(), "");
    let (status, body) = send(&portal, &good);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["origin"], portal.base.as_str());
    assert_eq!(body["nonce"].as_str().unwrap().len(), 44);

    // The same request again: replayed.
    let (status, body) = send(&portal, &good);
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("KIOSK_REQUEST_REPLAYED"))
    );

    // Clock skew beyond 60 s either way; 50 s is fine.
    for (offset, code) in [
        (-61, Some("KIOSK_CLOCK_SKEW")),
        (61, Some("KIOSK_CLOCK_SKEW")),
        (-50, None),
    ] {
        let (status, body) = send(&portal, &sign(&key, KIOSK, path, unix_now() + offset, ""));
        assert_eq!(body["error"].as_str(), code, "offset {offset}: {body}");
        assert_eq!(status, if code.is_some() { 401 } else { 200 });
    }

    // Another key, a key of another kiosk, an unknown kiosk.
    let (_, body) = send(&portal, &sign(&ed25519(), KIOSK, path, unix_now(), ""));
    assert_eq!(body["error"], "KIOSK_SIGNATURE_INVALID");
    let (_, body) = send(&portal, &sign(&key, "batumi-01", path, unix_now(), ""));
    assert_eq!(body["error"], "KIOSK_UNKNOWN");

    // Tampering after signing: body, path, timestamp, request id.
    let mut r = sign(&key, KIOSK, path, unix_now(), "");
    r.body = "{}".into();
    assert_eq!(send(&portal, &r).1["error"], "KIOSK_SIGNATURE_INVALID");
    let mut r = sign(&key, KIOSK, "/kiosk/v1/credentials", unix_now(), "");
    r.path = path.into();
    assert_eq!(send(&portal, &r).1["error"], "KIOSK_SIGNATURE_INVALID");
    let mut r = sign(&key, KIOSK, path, unix_now(), "");
    r.timestamp -= 1;
    assert_eq!(send(&portal, &r).1["error"], "KIOSK_SIGNATURE_INVALID");
    let mut r = sign(&key, KIOSK, path, unix_now(), "");
    r.request_id = request_id();
    assert_eq!(send(&portal, &r).1["error"], "KIOSK_SIGNATURE_INVALID");

    // No signature headers at all.
    let resp = ureq::post(&format!("{}{path}", portal.base)).call();
    let Err(ureq::Error::Status(401, resp)) = resp else {
        panic!("unsigned request accepted")
    };
    assert_eq!(
        resp.into_json::<Value>().unwrap()["error"],
        "KIOSK_SIGNATURE_MISSING"
    );

    // ECDSA P-256 keys work too; RSA keys cannot be registered.
    let ec = p256();
    register(&portal, "kutaisi-02", &ec);
    let (status, body) = send(&portal, &sign(&ec, "kutaisi-02", path, unix_now(), ""));
    assert_eq!(status, 200, "{body}");
    let rsa = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let refused = block_on(geid_portal::kiosk_api::register_kiosk(
        &portal.db,
        "rsa-kiosk",
        &rsa.public_key_to_pem().unwrap(),
    ));
    assert!(refused.is_err());

    // Every refusal is audited with the claimed kiosk id.
    let audit = kiosk_audit(&portal);
    let codes: Vec<&str> = audit.iter().map(|(_, r, _)| r.as_str()).collect();
    for code in [
        "KIOSK_REQUEST_REPLAYED",
        "KIOSK_CLOCK_SKEW",
        "KIOSK_SIGNATURE_INVALID",
        "KIOSK_UNKNOWN",
        "KIOSK_SIGNATURE_MISSING",
    ] {
        assert!(codes.contains(&code), "{code} not audited: {codes:?}");
    }
    assert!(audit
        .iter()
        .any(|(_, r, c)| r == "KIOSK_UNKNOWN" && c.starts_with("kiosk:batumi-01@127.0.0.1")));
}

#[test]
fn credentials_are_issued_audited_and_must_be_changed_at_first_login() {
    let dir = tempfile::tempdir().unwrap();
    let portal = start(&sqlite_url(&dir), |_| {});
    let key = ed25519();
    register(&portal, KIOSK, &key);
    let citizen = pki().citizen(CITIZEN).unwrap();

    let (status, issued, nonce) = credentials(&portal, &key, CITIZEN);
    assert_eq!(status, 200, "{issued}");
    assert_eq!(issued["username"], citizen.personal_number.as_str());
    assert_eq!(issued["surname"], citizen.surname.as_str());
    assert_eq!(issued["newAccount"], true);
    assert_eq!(issued["mustChangePassword"], true);
    let password = issued["password"].as_str().unwrap().to_owned();
    assert_eq!(password.len(), 12);
    let audit = kiosk_audit(&portal);
    assert_eq!(
        audit[0],
        (
            Some(citizen.personal_number.clone()),
            "OK".to_owned(),
            format!("kiosk:{KIOSK}@127.0.0.1")
        )
    );
    let account = block_on(portal.db.account(&citizen.personal_number))
        .unwrap()
        .unwrap();
    assert_eq!(account.registration_method, "justice-house");

    // The nonce worked once.
    let c = pki().citizen(CITIZEN).unwrap();
    let origin = portal.base.clone();
    let token = TokenSigner::new(&c.auth_cert, c.auth_key.clone())
        .unwrap()
        .token(
            SignatureAlgorithm::Rs256,
            &Origin::parse(&origin).unwrap(),
            &nonce,
        )
        .unwrap();
    let body = json!({"nonce": nonce.as_str(), "token": serde_json::from_str::<Value>(&token.to_json()).unwrap()});
    let (status, reply) = send(
        &portal,
        &sign(
            &key,
            KIOSK,
            "/kiosk/v1/credentials",
            unix_now(),
            &body.to_string(),
        ),
    );
    assert_eq!(
        (status, reply["error"].as_str()),
        (401, Some("NONCE_UNKNOWN"))
    );

    // A nonce issued to another kiosk cannot be used by this one.
    let other = ed25519();
    register(&portal, "rustavi-03", &other);
    let (s, b) = send(
        &portal,
        &sign(&other, "rustavi-03", "/kiosk/v1/challenge", unix_now(), ""),
    );
    assert_eq!(s, 200);
    let theirs = ChallengeNonce::parse(b["nonce"].as_str().unwrap()).unwrap();
    let body = json!({"nonce": theirs.as_str(), "token": card_token(CITIZEN, &origin, &theirs)});
    let (_, reply) = send(
        &portal,
        &sign(
            &key,
            KIOSK,
            "/kiosk/v1/credentials",
            unix_now(),
            &body.to_string(),
        ),
    );
    assert_eq!(reply["error"], "NONCE_UNKNOWN");

    // A token for another origin: refused by the verifier.
    let (nonce, _) = challenge(&portal, &key);
    let body = json!({"nonce": nonce.as_str(), "token": card_token(CITIZEN, "https://evil.example", &nonce)});
    let (_, reply) = send(
        &portal,
        &sign(
            &key,
            KIOSK,
            "/kiosk/v1/credentials",
            unix_now(),
            &body.to_string(),
        ),
    );
    assert_eq!(reply["error"], "SIGNATURE_INVALID");

    // The one-time password logs in and forces a change first.
    let mut browser = Client::new(&portal.base);
    let form = browser.get("/login/password");
    let login = browser.post_form(
        "/login/password",
        &[
            ("csrf", &form.csrf()),
            ("username", &citizen.personal_number),
            ("password", &password),
        ],
    );
    assert_eq!(login.location.as_deref(), Some("/password/change"));
    let page = browser.get("/password/change");
    let changed = browser.post_form(
        "/password/change",
        &[
            ("csrf", &page.csrf()),
            ("new_password", "a-long-new-secret"),
            ("new_password_confirm", "a-long-new-secret"),
        ],
    );
    assert_eq!(changed.status, 303);
    assert_eq!(browser.get("/account").status, 200);

    // A second visit to a kiosk issues a new one-time password for the same username.
    let (status, again, _) = credentials(&portal, &key, CITIZEN);
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["username"], citizen.personal_number.as_str());
    assert_eq!(again["newAccount"], false);
    assert_ne!(again["password"], password.as_str());
}

#[test]
fn expired_and_revoked_cards_are_refused_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let portal = start(&sqlite_url(&dir), |_| {});
    let key = ed25519();
    register(&portal, KIOSK, &key);
    for (citizen, code) in [(EXPIRED, "CERT_EXPIRED"), (REVOKED, "CERT_REVOKED")] {
        let (status, reply, _) = credentials(&portal, &key, citizen);
        assert_eq!(
            (status, reply["error"].as_str()),
            (401, Some(code)),
            "{reply}"
        );
        assert!(!reply["message"].as_str().unwrap().is_empty());
        let pn = &pki().citizen(citizen).unwrap().personal_number;
        assert!(block_on(portal.db.account(pn)).unwrap().is_none());
    }
    let audit = kiosk_audit(&portal);
    let results: Vec<&str> = audit.iter().map(|(_, r, _)| r.as_str()).collect();
    assert!(results.contains(&"CERT_EXPIRED") && results.contains(&"CERT_REVOKED"));
    assert!(!results.contains(&"OK"));
}
