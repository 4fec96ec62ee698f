#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The kiosk end to end: the virtual card behind a real pcscd (vpcd), the portal in-process,
//! the kiosk in-process; the kiosk's HTTP UI endpoints driven as its page drives them.

mod common;

use std::time::Duration;

use common::{
    free_port, insert, kiosk_key, pki, start_kiosk, start_portal, virtual_card, Browser, KIOSK_ID,
};
use geid_testkit::pcscd::{self, Pcscd};
use geid_testkit::pki::{CITIZEN, EXPIRED, REVOKED};
use serde_json::{json, Value};

const MINUTE: Duration = Duration::from_secs(60);

fn notice_code(v: &Value) -> &str {
    v["notice"]["code"].as_str().unwrap_or("")
}

#[test]
fn credentials_issued_printed_and_used_with_the_forced_change() {
    require_pcscd!();
    let _pcscd = Pcscd::start(&pcscd::config("reader.conf")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = kiosk_key();
    let port = free_port();
    let portal = start_portal(&dir, port, &key);
    let kiosk = start_kiosk(port, key, MINUTE);
    let start = kiosk.wait_screen("insert");
    assert!(start["notice"].is_null());

    let card = virtual_card(CITIZEN);
    let inserted = insert(&card);
    let pin = kiosk.wait_screen("pin");
    assert_eq!(pin["holder"], "გიორგი ბერიძე");
    assert_eq!(pin["retries_left"], 3);
    assert_eq!(
        (pin["min_length"].as_u64(), pin["max_length"].as_u64()),
        (Some(4), Some(4))
    );

    // A wrong PIN: the PIN screen again, with the tries left.
    let (status, _) = kiosk.post("/api/pin", json!({"pin": "1111"}));
    assert_eq!(status, 200);
    let again = kiosk.wait_for("pin", |v| v["retries_left"] == 2);
    assert_eq!(notice_code(&again), "PIN_INCORRECT");
    assert!(again["notice"]["en"]
        .as_str()
        .unwrap()
        .contains("Tries left: 2"));
    assert!(again["notice"]["ka"].as_str().unwrap().contains('2'));

    // A malformed PIN never reaches the card.
    let (status, body) = kiosk.post("/api/pin", json!({"pin": "12"}));
    assert_eq!((status, body["error"].as_str()), (409, Some("PIN_FORMAT")));

    // The right PIN: credentials.
    kiosk.post("/api/pin", json!({"pin": "1234"}));
    let issued = kiosk.wait_screen("issued");
    let citizen = pki().citizen(CITIZEN).unwrap();
    assert_eq!(issued["username"], citizen.personal_number.as_str());
    assert_eq!(issued["new_account"], true);
    assert_eq!(issued["portal"], portal.base.as_str());
    let password = issued["password"].as_str().unwrap().to_owned();
    assert_eq!(password.len(), 12);

    // The print view carries them; the audit names the kiosk.
    let (status, slip) = kiosk.get("/print");
    assert_eq!(status, 200);
    assert!(slip.contains(&password) && slip.contains(&citizen.personal_number));
    assert!(slip.contains("გიორგი ბერიძე"));
    let (status, pdf) = kiosk.get("/slip.pdf");
    assert_eq!(status, 200);
    assert!(pdf.starts_with("%PDF-1.4") && pdf.contains(&format!("({password}) Tj")));
    assert!(pdf.contains("(giorgi beridze) Tj"));
    assert_eq!(
        portal.kiosk_audit()[0],
        (
            Some(citizen.personal_number.clone()),
            "OK".to_owned(),
            format!("kiosk:{KIOSK_ID}@127.0.0.1")
        )
    );

    // The operator page: reader, card, portal reachable.
    let (status, op) = kiosk.get("/api/operator");
    assert_eq!(status, 200);
    let op: Value = serde_json::from_str(&op).unwrap();
    assert_eq!(op["portalReachable"], true);
    assert_eq!(op["readers"][0]["name"], pcscd::VPCD_READERS[0]);
    assert_eq!(op["readers"][0]["cardPresent"], true);
    assert_eq!(op["issued"], 1);
    let (_, html) = kiosk.get("/operator");
    assert!(html.contains(KIOSK_ID) && html.contains("reachable"));
    assert!(
        !html.contains(&password),
        "the operator page never shows credentials"
    );

    // Taking the card ends the session: clean start screen, nothing left to print.
    inserted.remove().unwrap();
    let v = kiosk.wait_screen("insert");
    assert!(v["notice"].is_null(), "{v}");
    assert!(!kiosk.get("/api/state?after=0").1.contains(&password));
    assert_eq!(kiosk.get("/print").0, 404);
    assert_eq!(kiosk.get("/slip.pdf").0, 404);

    // The citizen logs in at home with the one-time password and must change it first.
    let mut browser = Browser::new(&portal.base);
    let account = browser.first_login(&citizen.personal_number, &password, "my-own-new-secret");
    assert_eq!(account.status, 200);
    assert!(account.body.contains("data-method=\"justice-house\""));
    assert!(account.body.contains("<td>kiosk</td><td>OK</td>"));
}

#[test]
fn ui_refuses_foreign_hosts_and_non_json_posts() {
    let key = kiosk_key();
    let kiosk = start_kiosk(free_port(), key, MINUTE);
    let agent = ureq::agent();
    let r = agent
        .get(&format!("{}/api/state?after=0", kiosk.base))
        .set("host", "kiosk.evil.example")
        .call();
    assert!(matches!(r, Err(ureq::Error::Status(421, _))));
    let r = agent
        .post(&format!("{}/api/finish", kiosk.base))
        .send_form(&[("a", "b")]);
    assert!(matches!(r, Err(ureq::Error::Status(415, _))));
    assert!(geid_kiosk::check_listen("0.0.0.0:8700".parse().unwrap()).is_err());
    assert!(geid_kiosk::check_listen("[::1]:8700".parse().unwrap()).is_ok());
    let (status, page) = kiosk.get("/");
    assert_eq!(status, 200);
    let ka = page.find("ჩადეთ პირადობის მოწმობა").unwrap();
    let en = page.find("Insert your ID card").unwrap();
    assert!(ka < en, "Georgian first");
}

#[test]
fn wrong_pins_block_and_send_the_citizen_to_the_desk() {
    require_pcscd!();
    let _pcscd = Pcscd::start(&pcscd::config("reader.conf")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = kiosk_key();
    let port = free_port();
    let portal = start_portal(&dir, port, &key);
    let kiosk = start_kiosk(port, key, MINUTE);
    let card = virtual_card(CITIZEN);
    let inserted = insert(&card);
    kiosk.wait_screen("pin");
    for left in [2, 1] {
        kiosk.post("/api/pin", json!({"pin": "9999"}));
        kiosk.wait_for("pin", |v| v["retries_left"] == left);
    }
    kiosk.post("/api/pin", json!({"pin": "9999"}));
    let blocked = kiosk.wait_screen("failed");
    assert_eq!(notice_code(&blocked), "PIN_BLOCKED");
    assert_eq!(blocked["retry"], false);
    assert!(blocked["notice"]["en"]
        .as_str()
        .unwrap()
        .contains("go to the desk"));
    // The same card again: blocked before any PIN is asked.
    inserted.remove().unwrap();
    kiosk.wait_screen("insert");
    let _again = insert(&card);
    let v = kiosk.wait_screen("failed");
    assert_eq!(notice_code(&v), "PIN_BLOCKED");
    assert!(portal
        .account(&pki().citizen(CITIZEN).unwrap().personal_number)
        .is_none());
}

#[test]
fn card_removed_mid_flow_ends_the_session_and_issues_nothing() {
    require_pcscd!();
    let _pcscd = Pcscd::start(&pcscd::config("reader.conf")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = kiosk_key();
    let port = free_port();
    let portal = start_portal(&dir, port, &key);
    let kiosk = start_kiosk(port, key, MINUTE);
    let card = virtual_card(CITIZEN);
    let _inserted = insert(&card);
    kiosk.wait_screen("pin");
    // The card leaves the reader two APDUs into the signature.
    {
        let mut c = card.lock().unwrap();
        c.faults.remove_after = Some(c.apdu_count() + 2);
    }
    kiosk.post("/api/pin", json!({"pin": "1234"}));
    let v = kiosk.wait_for("insert", |v| !v["notice"].is_null());
    assert_eq!(notice_code(&v), "CARD_REMOVED");
    assert!(portal
        .account(&pki().citizen(CITIZEN).unwrap().personal_number)
        .is_none());
    assert!(portal.kiosk_audit().iter().all(|(_, r, _)| r != "OK"));
}

#[test]
fn portal_unreachable_issues_nothing_and_retry_works_once_it_is_back() {
    require_pcscd!();
    let _pcscd = Pcscd::start(&pcscd::config("reader.conf")).unwrap();
    let key = kiosk_key();
    let port = free_port();
    // The kiosk starts while the portal is away.
    let kiosk = start_kiosk(port, key.clone(), MINUTE);
    let card = virtual_card(CITIZEN);
    let _inserted = insert(&card);
    kiosk.wait_screen("pin");
    kiosk.post("/api/pin", json!({"pin": "1234"}));
    let v = kiosk.wait_screen("failed");
    assert_eq!(notice_code(&v), "PORTAL_UNREACHABLE");
    assert_eq!(v["retry"], true);
    assert!(v["notice"]["en"]
        .as_str()
        .unwrap()
        .contains("Nothing was issued"));
    // The PIN was not used: the challenge comes first.
    assert_eq!(card.lock().unwrap().retries().0, 3);
    let (_, op) = kiosk.get("/api/operator");
    let op: Value = serde_json::from_str(&op).unwrap();
    assert_eq!(op["portalReachable"], false);
    assert_eq!(op["lastError"]["code"], "PORTAL_UNREACHABLE");
    let (_, html) = kiosk.get("/operator");
    assert!(html.contains("UNREACHABLE"));

    // The portal comes back; "try again" asks for the PIN again and succeeds.
    let dir = tempfile::tempdir().unwrap();
    let portal = start_portal(&dir, port, &key);
    let (status, _) = kiosk.post("/api/retry", json!({}));
    assert_eq!(status, 200);
    kiosk.wait_screen("pin");
    kiosk.post("/api/pin", json!({"pin": "1234"}));
    let issued = kiosk.wait_screen("issued");
    assert_eq!(
        issued["username"],
        pki().citizen(CITIZEN).unwrap().personal_number.as_str()
    );
    assert!(portal
        .account(issued["username"].as_str().unwrap())
        .is_some());
}

#[test]
fn expired_and_revoked_certificates_are_refused_in_plain_words() {
    require_pcscd!();
    let _pcscd = Pcscd::start(&pcscd::config("reader.conf")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = kiosk_key();
    let port = free_port();
    let portal = start_portal(&dir, port, &key);
    let kiosk = start_kiosk(port, key, MINUTE);
    for (citizen, code, words) in [
        (EXPIRED, "CERT_EXPIRED", "has expired"),
        (REVOKED, "CERT_REVOKED", "has been revoked"),
    ] {
        let card = virtual_card(citizen);
        let inserted = insert(&card);
        kiosk.wait_screen("pin");
        kiosk.post("/api/pin", json!({"pin": "1234"}));
        let v = kiosk.wait_screen("failed");
        assert_eq!(notice_code(&v), code);
        assert_eq!(v["retry"], false);
        assert!(v["notice"]["en"].as_str().unwrap().contains(words), "{v}");
        assert!(!v["notice"]["ka"].as_str().unwrap().is_empty());
        let pn = &pki().citizen(citizen).unwrap().personal_number;
        assert!(portal.account(pn).is_none());
        assert!(portal
            .kiosk_audit()
            .iter()
            .any(|(_, r, c)| r == code && c.starts_with(&format!("kiosk:{KIOSK_ID}@"))));
        inserted.remove().unwrap();
        kiosk.wait_screen("insert");
    }
}

#[test]
fn idle_timeout_returns_to_the_start_and_forgets_the_credentials() {
    require_pcscd!();
    let _pcscd = Pcscd::start(&pcscd::config("reader.conf")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = kiosk_key();
    let port = free_port();
    let _portal = start_portal(&dir, port, &key);
    let kiosk = start_kiosk(port, key, Duration::from_secs(3));
    let card = virtual_card(CITIZEN);
    let inserted = insert(&card);
    kiosk.wait_screen("pin");
    kiosk.post("/api/pin", json!({"pin": "1234"}));
    let issued = kiosk.wait_screen("issued");
    let password = issued["password"].as_str().unwrap().to_owned();
    // Nobody touches the screen: back to the start, asking for the card to be taken.
    let v = kiosk.wait_for("insert", |v| !v["notice"].is_null());
    assert_eq!(notice_code(&v), "IDLE_TIMEOUT");
    assert!(!kiosk.get("/api/state?after=0").1.contains(&password));
    assert_eq!(kiosk.get("/print").0, 404);
    // The PIN screen is not offered again until the card is taken and inserted again.
    assert_eq!(kiosk.post("/api/pin", json!({"pin": "1234"})).0, 409);
    inserted.remove().unwrap();
    kiosk.wait_for("insert", |v| v["notice"].is_null());
    let _again = insert(&card);
    kiosk.wait_screen("pin");
}
