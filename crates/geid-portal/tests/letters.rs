#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Signed letters over HTTP: compose, sign with the testkit citizen's software signing key
//! (standing in for the card: it signs `digest_to_sign`), send, staff inbox, answer, e-mail
//! through a real SMTP server on loopback (Debian's `python3-aiosmtpd`), SMS to a file, the
//! outbox retrying while the mail server is down, each refusal, and the signed webhook.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use common::{pki, register, sqlite_url, start, Client, Reply};
use geid_portal::letters_web::LettersConfig;
use geid_portal::notify::{self, FileSms, NotifyConfig, SmtpConfig};
use geid_testkit::pki::{CITIZEN, CITIZEN_2};
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;

// ---- helpers ------------------------------------------------------------------------------

fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn letters_config(smtp_port: Option<u16>, sms_file: &Path) -> LettersConfig {
    let p = pki();
    LettersConfig {
        signature_verifier: Some(
            geid_verify::Verifier::builder()
                .trust_anchor(p.root().cert.clone())
                .intermediate(p.sign_ca().cert.clone())
                .intermediate(p.auth_ca().cert.clone())
                .build_signature_verifier()
                .unwrap(),
        ),
        notify: NotifyConfig {
            smtp: smtp_port.map(|port| SmtpConfig {
                host: "127.0.0.1".into(),
                port,
                tls: "none".into(),
                credentials: None,
                from: "portal <no-reply@portal.test>".into(),
                timeout: Duration::from_secs(5),
            }),
            sms: Arc::new(FileSms {
                path: Some(sms_file.to_owned()),
            }),
            base_backoff: Duration::from_millis(200),
            poll: Duration::from_millis(100),
            max_attempts: 100,
            lease: Duration::from_secs(1),
            public_url: "http://portal.test".into(),
        },
        delivery: None,
    }
}

fn multipart(fields: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "geid-test-boundary-7c1f";
    let mut b = Vec::new();
    for (k, v) in fields {
        write!(
            b,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        )
        .unwrap();
    }
    for (field, name, content) in files {
        write!(
            b,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; \
             filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .unwrap();
        b.extend_from_slice(content);
        b.extend_from_slice(b"\r\n");
    }
    write!(b, "--{boundary}--\r\n").unwrap();
    (format!("multipart/form-data; boundary={boundary}"), b)
}

fn post_multipart(
    c: &mut Client,
    path: &str,
    fields: &[(&str, &str)],
    files: &[(&str, &str, &[u8])],
) -> Reply {
    let (ct, body) = multipart(fields, files);
    c.post_bytes(path, &ct, &body, &[])
}

fn post_json_csrf(c: &mut Client, path: &str, csrf: &str, body: &serde_json::Value) -> Reply {
    c.post_bytes(
        path,
        "application/json",
        body.to_string().as_bytes(),
        &[("X-CSRF-Token", csrf)],
    )
}

/// Creates a draft; returns its id.
fn draft(c: &mut Client, org: &str, subject: &str, files: &[(&str, &str, &[u8])]) -> String {
    let form = c.get("/letters/new");
    assert_eq!(form.status, 200, "{}", form.body);
    let r = post_multipart(
        c,
        "/letters",
        &[
            ("csrf", &form.csrf()),
            ("kind", "request"),
            ("org", org),
            ("subject", subject),
            (
                "body",
                "გთხოვთ მომაწოდოთ ინფორმაცია.\r\nPlease send me the information.",
            ),
        ],
        files,
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let loc = r.location.unwrap();
    loc.trim_start_matches("/letters/")
        .split('?')
        .next()
        .unwrap()
        .to_owned()
}

/// RSA PKCS#1 v1.5 over the digest, as the card does (`digest_to_sign` is already hashed).
fn sign_digest(key: &PKey<Private>, digest: &[u8]) -> Vec<u8> {
    let mut ctx = openssl::pkey_ctx::PkeyCtx::new(key).unwrap();
    ctx.sign_init().unwrap();
    ctx.set_rsa_padding(openssl::rsa::Padding::PKCS1).unwrap();
    ctx.set_signature_md(openssl::md::Md::sha256()).unwrap();
    let mut out = Vec::new();
    ctx.sign_to_vec(digest, &mut out).unwrap();
    out
}

/// prepare → (optional step between) → sign with `key` → complete.
fn sign_and_send(
    c: &mut Client,
    id: &str,
    cert: &X509,
    key: &PKey<Private>,
    between: impl FnOnce(&mut Client),
) -> Reply {
    let page = c.get(&format!("/letters/{id}"));
    assert_eq!(page.status, 200);
    let csrf = page.csrf();
    let prepared = post_json_csrf(
        c,
        &format!("/letters/{id}/sign/prepare"),
        &csrf,
        &serde_json::json!({ "certificate": B64.encode(cert.to_der().unwrap()) }),
    );
    assert_eq!(prepared.status, 200, "{}", prepared.body);
    assert_eq!(prepared.json()["hashFunction"], "SHA-256");
    let digest = B64
        .decode(prepared.json()["hash"].as_str().unwrap())
        .unwrap();
    between(c);
    let signature = sign_digest(key, &digest);
    post_json_csrf(
        c,
        &format!("/letters/{id}/sign/complete"),
        &csrf,
        &serde_json::json!({ "signature": B64.encode(signature) }),
    )
}

fn citizen_keys(name: &str) -> (X509, PKey<Private>) {
    let c = pki().citizen(name).unwrap();
    (c.sign_cert.clone().unwrap(), c.sign_key.clone().unwrap())
}

fn download(c: &Client, path: &str) -> (u16, Vec<u8>) {
    let cookie = c
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let r = match ureq::get(&format!("{}{path}", c.base))
        .set("Cookie", &cookie)
        .call()
    {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    let status = r.status();
    let mut body = Vec::new();
    r.into_reader().read_to_end(&mut body).unwrap();
    (status, body)
}

fn add_staff(db: &geid_portal::db::Db, org: &str, username: &str, password: &str) {
    let phc = geid_portal::password::hash(password).unwrap();
    run(geid_portal::organisations::add_staff(
        db,
        org,
        username,
        "Staff Member",
        &phc,
    ))
    .unwrap();
}

fn staff_login(base: &str, username: &str, password: &str) -> Client {
    let mut s = Client::new(base);
    let f = s.get("/staff/login");
    let r = s.post_form(
        "/staff/login",
        &[
            ("csrf", &f.csrf()),
            ("username", username),
            ("password", password),
        ],
    );
    assert_eq!((r.status, r.location.as_deref()), (303, Some("/staff")));
    s
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn outbox(db: &geid_portal::db::Db) -> Vec<notify::OutboxEntry> {
    run(notify::entries(db)).unwrap()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Debian's aiosmtpd (package `python3-aiosmtpd`) writing to a Maildir; stopped by PID.
struct SmtpServer {
    child: Child,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const DEBIAN_PYTHON: &str = "/usr/bin/python3";

fn aiosmtpd_available() -> bool {
    Command::new(DEBIAN_PYTHON)
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn start_smtp(port: u16, maildir: &Path) -> SmtpServer {
    let child = Command::new(DEBIAN_PYTHON)
        .args(["-m", "aiosmtpd", "-n", "-l"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(maildir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the SMTP server", Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    SmtpServer { child }
}

fn maildir_messages(maildir: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(maildir.join("new")) else {
        return Vec::new();
    };
    rd.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .collect()
}

// ---- the whole flow -----------------------------------------------------------------------

#[test]
fn send_sign_answer_and_notify_with_the_mail_server_down_then_back() {
    if !aiosmtpd_available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "python3-aiosmtpd (Debian) is required under CI"
        );
        eprintln!("skipped: Debian python3-aiosmtpd not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sms_file = dir.path().join("sms.jsonl");
    let smtp_port = free_port();
    let config = letters_config(Some(smtp_port), &sms_file);
    let portal = start(&sqlite_url(&dir), move |c| c.letters = config);
    add_staff(&portal.db, "moj", "moj.clerk", "clerk-password-1");
    let mut c = Client::new(&portal.base);
    register(&mut c, CITIZEN);
    let citizen = pki().citizen(CITIZEN).unwrap();
    assert!(c.get("/account").body.contains("id=\"my-letters\""));

    // Compose with two attachments (a PDF and a text file), saved as a draft.
    let pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n".to_vec();
    let id = draft(
        &mut c,
        "moj",
        "Public information: 2025 budget",
        &[
            ("attachments", "budget.pdf", &pdf),
            ("attachments", "note.txt", "შენიშვნა\n".as_bytes()),
        ],
    );
    let list = c.get("/letters");
    assert!(list
        .body
        .contains(&format!("data-letter-id=\"{id}\" data-state=\"draft\"")));
    let page = c.get(&format!("/letters/{id}"));
    assert!(page.body.contains("id=\"sign-and-send\""));
    assert_eq!(page.body.matches("class=\"remove-file\"").count(), 2);

    // Sign and send.
    let (cert, key) = citizen_keys(CITIZEN);
    let sent = sign_and_send(&mut c, &id, &cert, &key, |_| {});
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert_eq!(sent.json()["state"], "sent");
    assert_eq!(
        sent.json()["signer"]["personal_number"],
        citizen.personal_number.as_str()
    );
    let view = c.get(&format!("/letters/{id}?lang=en"));
    assert!(view
        .body
        .contains("id=\"letter-state\" data-state=\"sent\""));
    assert!(view.body.contains(&format!(
        "id=\"signer-personal-number\">{}<",
        citizen.personal_number
    )));

    // The signed original: the document names the attachments by hash; openssl verifies it.
    let (s, document) = download(&c, &format!("/letters/{id}/document"));
    assert_eq!(s, 200);
    let text = String::from_utf8(document.clone()).unwrap();
    assert!(text.starts_with("GEID-LETTER/1\n"), "{text}");
    assert!(text.contains(&format!(
        "Attachment: 1; sha256={}; size={}; type=application/pdf; name=budget.pdf\n",
        geid_portal::letters::sha256_hex(&pdf),
        pdf.len()
    )));
    assert!(text.ends_with("\nPlease send me the information.\n"));
    let (s, p7s) = download(&c, &format!("/letters/{id}/signature"));
    assert_eq!(s, 200);
    std::fs::write(dir.path().join("letter.txt"), &document).unwrap();
    std::fs::write(dir.path().join("letter.p7s"), &p7s).unwrap();
    // OpenSSL 3.0's `cms -verify` has no `-untrusted`: the signing CA goes into the bundle.
    let mut bundle = pki().root().cert.to_pem().unwrap();
    bundle.extend(pki().sign_ca().cert.to_pem().unwrap());
    std::fs::write(dir.path().join("bundle.pem"), bundle).unwrap();
    let out = Command::new("openssl")
        .current_dir(dir.path())
        .args([
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "letter.p7s",
            "-content",
            "letter.txt",
            "-CAfile",
            "bundle.pem",
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verify = c.get(&format!("/letters/{id}/verify"));
    assert!(verify
        .body
        .contains("id=\"verify-result\" data-valid=\"true\""));
    // Another citizen cannot read it.
    let mut other = Client::new(&portal.base);
    register(&mut other, CITIZEN_2);
    assert_eq!(download(&other, &format!("/letters/{id}/document")).0, 404);
    assert_eq!(other.get(&format!("/letters/{id}")).status, 404);

    // Staff: inbox, open (received, signature re-verified), answer with an attachment.
    let mut s = staff_login(&portal.base, "moj.clerk", "clerk-password-1");
    let inbox = s.get("/staff");
    assert!(inbox
        .body
        .contains(&format!("data-letter-id=\"{id}\" data-state=\"sent\"")));
    let open = s.get(&format!("/staff/letters/{id}?lang=en"));
    assert_eq!(open.status, 200, "{}", open.body);
    assert!(open
        .body
        .contains("id=\"signature-status\" data-valid=\"true\""));
    assert!(open.body.contains("data-state=\"received\""));
    assert!(open.body.contains(&citizen.surname));
    assert!(c
        .get(&format!("/letters/{id}"))
        .body
        .contains("data-state=\"received\""));
    // Staff of another organisation see nothing.
    add_staff(&portal.db, "rs", "rs.clerk", "clerk-password-2");
    let mut rs = staff_login(&portal.base, "rs.clerk", "clerk-password-2");
    assert!(!rs.get("/staff").body.contains(&id));
    assert_eq!(rs.get(&format!("/staff/letters/{id}")).status, 404);

    // The mail server is down when the answer is given.
    let answer = post_multipart(
        &mut s,
        &format!("/staff/letters/{id}/answer"),
        &[("csrf", &open.csrf()), ("text", "The budget is attached.")],
        &[("attachments", "answer.txt", b"budget: 42 GEL\n")],
    );
    assert_eq!(answer.status, 303, "{}", answer.body);
    // The answer is visible at once, whatever the mail server does.
    let view = c.get(&format!("/letters/{id}"));
    assert!(view.body.contains("data-state=\"answered\""));
    assert!(view.body.contains("The budget is attached."));
    assert!(view.body.contains("answer.txt"));
    let list = c.get("/letters");
    let completed = &list.body[list.body.find("id=\"letters-completed\"").unwrap()..];
    assert!(completed.contains(&id));
    // SMS went out (file sender); the e-mail is retried with backoff.
    wait_for("the SMS", Duration::from_secs(10), || {
        std::fs::read_to_string(&sms_file).is_ok_and(|s| s.contains("+995555123456"))
    });
    wait_for(
        "two failed e-mail attempts",
        Duration::from_secs(10),
        || {
            outbox(&portal.db)
                .iter()
                .any(|e| e.channel == "email" && e.state == "pending" && e.attempts >= 2)
        },
    );
    let failed = outbox(&portal.db);
    let mail = failed.iter().find(|e| e.channel == "email").unwrap();
    assert_eq!(mail.recipient, "nino@example.ge");
    assert!(mail.last_error.is_some());

    // The server comes back: the outbox delivers, once.
    let maildir = dir.path().join("maildir");
    let _smtp = start_smtp(smtp_port, &maildir);
    wait_for("the e-mail", Duration::from_secs(30), || {
        outbox(&portal.db)
            .iter()
            .any(|e| e.channel == "email" && e.state == "sent")
    });
    let messages = maildir_messages(&maildir);
    assert_eq!(messages.len(), 1);
    assert!(messages[0].contains("nino@example.ge"));
    assert!(messages[0].contains(&format!("http://portal.test/letters/{id}")));
}

// ---- refusals -----------------------------------------------------------------------------

/// A signing certificate for `citizen`'s subject that expired 30 days ago.
fn expired_signing_certificate(citizen: &str) -> (X509, PKey<Private>) {
    use openssl::asn1::Asn1Time;
    use openssl::bn::{BigNum, MsbOption};
    use openssl::x509::extension::KeyUsage;
    let c = pki().citizen(citizen).unwrap();
    let ca = pki().sign_ca();
    let key = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    let mut serial = BigNum::new().unwrap();
    serial.rand(64, MsbOption::MAYBE_ZERO, false).unwrap();
    b.set_serial_number(&serial.to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(c.sign_cert.as_ref().unwrap().subject_name())
        .unwrap();
    b.set_issuer_name(ca.cert.subject_name()).unwrap();
    b.set_pubkey(&key).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    b.set_not_before(&Asn1Time::from_unix(now - 400 * 86_400).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(now - 30 * 86_400).unwrap())
        .unwrap();
    b.append_extension(
        KeyUsage::new()
            .critical()
            .non_repudiation()
            .build()
            .unwrap(),
    )
    .unwrap();
    b.sign(&ca.key, openssl::hash::MessageDigest::sha256())
        .unwrap();
    (b.build(), key)
}

#[test]
fn refusals_keep_the_draft_and_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let config = letters_config(None, &dir.path().join("sms"));
    let portal = start(&sqlite_url(&dir), move |c| c.letters = config);
    let mut c = Client::new(&portal.base);
    register(&mut c, CITIZEN);

    // Bad attachments: each refused with its code; the draft's text is kept.
    let form = c.get("/letters/new");
    let big = vec![b'a'; 5 * 1024 * 1024 + 1];
    let r = post_multipart(
        &mut c,
        "/letters",
        &[
            ("csrf", &form.csrf()),
            ("kind", "complaint"),
            ("org", "tbilisi"),
            ("subject", "Broken street light"),
            ("body", "Kept text"),
        ],
        &[("attachments", "big.txt", &big)],
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("data-code=\"ATTACHMENT_TOO_LARGE\""));
    assert!(r.body.contains("Kept text"));
    let letters = run(geid_portal::letters::of_person(
        &portal.db,
        &pki().citizen(CITIZEN).unwrap().personal_number,
    ))
    .unwrap();
    assert_eq!(letters.len(), 1);
    let id = letters[0].id.clone();
    assert_eq!(letters[0].state, "draft");
    let csrf = r.csrf();
    let update = |c: &mut Client, files: &[(&str, &str, &[u8])], body: &str| {
        post_multipart(
            c,
            &format!("/letters/{id}"),
            &[
                ("csrf", &csrf),
                ("kind", "complaint"),
                ("org", "tbilisi"),
                ("subject", "Broken street light"),
                ("body", body),
            ],
            files,
        )
    };
    let r = update(
        &mut c,
        &[("attachments", "photo.pdf", b"MZ\x90\x00\x03")],
        "Kept text",
    );
    assert_eq!(r.status, 422);
    assert!(r.body.contains("data-code=\"ATTACHMENT_TYPE_NOT_ALLOWED\""));
    let r = update(
        &mut c,
        &[("attachments", "photo.png", b"%PDF-1.4\n")],
        "Kept text",
    );
    assert!(
        r.body.contains("data-code=\"ATTACHMENT_TYPE_NOT_ALLOWED\""),
        "extension and content disagree"
    );
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let four: Vec<(&str, &str, &[u8])> = vec![("attachments", "a.png", &png); 4];
    let r = update(&mut c, &four, "Kept text");
    assert!(r.body.contains("data-code=\"TOO_MANY_ATTACHMENTS\""));
    let r = update(&mut c, &[("attachments", "a.png", &png)], "Kept text");
    assert_eq!(r.status, 303, "{}", r.body);

    let (cert, key) = citizen_keys(CITIZEN);
    let refused = |c: &mut Client, r: Reply, code: &str| {
        assert_eq!((r.status, r.code().as_str()), (422, code), "{}", r.body);
        assert!(!r.json()["message"].as_str().unwrap().is_empty());
        let page = c.get(&format!("/letters/{id}?lang=en"));
        assert!(page.body.contains("id=\"sign-and-send\""), "still a draft");
        assert!(page.body.contains(&format!(
            "id=\"sign-status\" role=\"status\" data-code=\"{code}\""
        )));
    };

    // Signed with another key than the certificate's.
    let (_, other_key) = citizen_keys(CITIZEN_2);
    let r = sign_and_send(&mut c, &id, &cert, &other_key, |_| {});
    refused(&mut c, r, "SIGNATURE_INVALID");
    // Someone else's valid signature (not the account holder).
    let (cert2, key2) = citizen_keys(CITIZEN_2);
    let r = sign_and_send(&mut c, &id, &cert2, &key2, |_| {});
    refused(&mut c, r, "SIGNER_MISMATCH");
    // The draft changed between preparing and signing.
    let r = sign_and_send(&mut c, &id, &cert, &key, |c| {
        let r = update(c, &[], "Changed text");
        assert_eq!(r.status, 303);
    });
    refused(&mut c, r, "DOCUMENT_CHANGED");
    // The authentication key.
    let citizen = pki().citizen(CITIZEN).unwrap();
    let r = sign_and_send(&mut c, &id, &citizen.auth_cert, &citizen.auth_key, |_| {});
    refused(&mut c, r, "NOT_A_SIGNING_CERTIFICATE");
    // An expired signing certificate.
    let (expired, expired_key) = expired_signing_certificate(CITIZEN);
    let r = sign_and_send(&mut c, &id, &expired, &expired_key, |_| {});
    refused(&mut c, r, "CERT_EXPIRED");
    // Completing without preparing; without the CSRF header.
    let page = c.get(&format!("/letters/{id}"));
    let r = post_json_csrf(
        &mut c,
        &format!("/letters/{id}/sign/complete"),
        &page.csrf(),
        &serde_json::json!({ "signature": "AAAA" }),
    );
    assert_eq!(r.code(), "SIGNING_NOT_PREPARED");
    let r = c.post_json(
        &format!("/letters/{id}/sign/complete"),
        "{\"signature\":\"AAAA\"}",
    );
    assert_eq!((r.status, r.code().as_str()), (403, "CSRF"));

    // Every attempt is in the audit log with its code.
    let audit = run(portal.db.audit_log(50)).unwrap();
    let codes: Vec<&str> = audit
        .iter()
        .filter(|a| a.method == "letter-sign")
        .map(|a| a.result.as_str())
        .collect();
    for code in [
        "SIGNATURE_INVALID",
        "SIGNER_MISMATCH",
        "DOCUMENT_CHANGED",
        "NOT_A_SIGNING_CERTIFICATE",
        "CERT_EXPIRED",
    ] {
        assert!(codes.contains(&code), "{codes:?}");
    }
    // Nothing was sent, nothing queued; then the right signature goes through.
    assert_eq!(
        run(geid_portal::letters::get(&portal.db, &id))
            .unwrap()
            .unwrap()
            .state,
        "draft"
    );
    let r = sign_and_send(&mut c, &id, &cert, &key, |_| {});
    assert_eq!(r.status, 200, "{}", r.body);
    let d = String::from_utf8(download(&c, &format!("/letters/{id}/document")).1).unwrap();
    assert!(d.ends_with("\nChanged text\n"));
    assert!(d.contains("type=image/png; name=a.png"));
    // A sent letter cannot be signed again or edited.
    let r = post_json_csrf(
        &mut c,
        &format!("/letters/{id}/sign/prepare"),
        &csrf,
        &serde_json::json!({ "certificate": "" }),
    );
    assert_eq!((r.status, r.code().as_str()), (409, "NOT_A_DRAFT"));
    assert_eq!(update(&mut c, &[], "Edited after sending").status, 303);
    let d2 = String::from_utf8(download(&c, &format!("/letters/{id}/document")).1).unwrap();
    assert_eq!(d, d2, "a sent letter does not change");
}

// ---- organisations' own systems ------------------------------------------------------------

/// A one-request-at-a-time HTTP receiver: records (headers, body) and answers the statuses in
/// turn (the last one repeated).
fn webhook_receiver(statuses: Vec<u16>) -> (String, std::sync::mpsc::Receiver<(String, Vec<u8>)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/geid", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate() {
            let status = statuses[i.min(statuses.len() - 1)];
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = String::new();
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                headers.push_str(&line);
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let _ = tx.send((headers, body));
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (url, rx)
}

#[test]
fn an_organisation_system_receives_signed_webhooks_and_answers_back() {
    let dir = tempfile::tempdir().unwrap();
    let config = letters_config(None, &dir.path().join("sms"));
    let portal = start(&sqlite_url(&dir), move |c| c.letters = config);
    let secret = "a-shared-secret-of-at-least-32-chars";
    // The system is down for the first delivery: the outbox tries again.
    let (url, requests) = webhook_receiver(vec![503, 200]);
    run(geid_portal::organisations::set_webhook(
        &portal.db,
        "psda",
        Some((&url, secret)),
    ))
    .unwrap();
    let mut c = Client::new(&portal.base);
    register(&mut c, CITIZEN);
    let id = draft(&mut c, "psda", "Address change", &[]);
    let (cert, key) = citizen_keys(CITIZEN);
    assert_eq!(sign_and_send(&mut c, &id, &cert, &key, |_| {}).status, 200);

    let _refused = requests.recv_timeout(Duration::from_secs(20)).unwrap();
    let (headers, body) = requests.recv_timeout(Duration::from_secs(20)).unwrap();
    wait_for("the webhook row sent", Duration::from_secs(10), || {
        outbox(&portal.db)
            .iter()
            .any(|e| e.channel == "webhook" && e.state == "sent" && e.attempts == 2)
    });
    let sig = headers
        .lines()
        .find_map(|l| l.strip_prefix("geid-signature: "))
        .unwrap()
        .trim()
        .to_owned();
    let now = geid_portal::db::now();
    geid_portal::delivery::verify(secret.as_bytes(), &sig, &body, now).unwrap();
    let event: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(event["event"], "letter.sent");
    assert_eq!(event["letter"]["id"], id.as_str());
    // The system can check the signature itself: the document and the .p7s are in the event.
    let document = B64.decode(event["document"].as_str().unwrap()).unwrap();
    let p7s = B64.decode(event["signature"].as_str().unwrap()).unwrap();
    let v = geid_verify::Verifier::builder()
        .trust_anchor(pki().root().cert.clone())
        .intermediate(pki().sign_ca().cert.clone())
        .build_signature_verifier()
        .unwrap();
    run(v.verify_signature(&document, &p7s)).unwrap();

    // The answer comes back signed with the same secret; a forged one is refused.
    let answer = serde_json::json!({
        "author": "PSDA document system", "text": "Your address was changed.",
        "attachments": [{"name": "decision.pdf", "content": B64.encode(b"%PDF-1.7\n")}],
    })
    .to_string();
    let path = format!("/api/organisations/psda/letters/{id}/answer");
    let mut api = Client::new(&portal.base);
    let forged = geid_portal::delivery::header(b"wrong-secret", now, answer.as_bytes()).unwrap();
    let r = api.post_bytes(
        &path,
        "application/json",
        answer.as_bytes(),
        &[("Geid-Signature", &forged)],
    );
    assert_eq!(
        (r.status, r.code().as_str()),
        (401, "WEBHOOK_SIGNATURE_INVALID")
    );
    let good = geid_portal::delivery::header(secret.as_bytes(), now, answer.as_bytes()).unwrap();
    let r = api.post_bytes(
        &path,
        "application/json",
        answer.as_bytes(),
        &[("Geid-Signature", &good)],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let view = c.get(&format!("/letters/{id}"));
    assert!(view.body.contains("data-state=\"answered\""));
    assert!(view.body.contains("Your address was changed."));
    assert!(view.body.contains("decision.pdf"));
    // Replaying the answer does not answer twice.
    let r = api.post_bytes(
        &path,
        "application/json",
        answer.as_bytes(),
        &[("Geid-Signature", &good)],
    );
    assert_eq!(r.code(), "ALREADY_ANSWERED");
}

#[test]
fn admin_commands_manage_organisations_and_staff() {
    let dir = tempfile::tempdir().unwrap();
    let db = run(geid_portal::db::Db::open(&sqlite_url(&dir))).unwrap();
    let ids: Vec<String> = run(geid_portal::organisations::list(&db))
        .unwrap()
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(ids, ["moj", "psda", "rs", "tbilisi"]);
    let exe = env!("CARGO_BIN_EXE_geid-portal");
    let url = sqlite_url(&dir);
    let cli = |args: &[&str]| {
        Command::new(exe)
            .args(args)
            .args(["--database-url", &url])
            .output()
            .unwrap()
    };
    assert!(cli(&[
        "org",
        "add",
        "--id",
        "batumi",
        "--name-ka",
        "ბათუმის მერია",
        "--name-en",
        "Batumi City Hall"
    ])
    .status
    .success());
    assert!(!cli(&[
        "org",
        "add",
        "--id",
        "batumi",
        "--name-ka",
        "x",
        "--name-en",
        "y"
    ])
    .status
    .success());
    assert!(!cli(&[
        "org",
        "add",
        "--id",
        "Bad Id",
        "--name-ka",
        "x",
        "--name-en",
        "y"
    ])
    .status
    .success());
    assert!(cli(&[
        "org",
        "rename",
        "--id",
        "batumi",
        "--name-en",
        "Batumi Municipality"
    ])
    .status
    .success());
    let list = String::from_utf8(cli(&["org", "list"]).stdout).unwrap();
    assert!(
        list.contains("batumi\tბათუმის მერია\tBatumi Municipality"),
        "{list}"
    );
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "a-staff-password\n").unwrap();
    let pw = pw.to_str().unwrap();
    assert!(cli(&[
        "staff",
        "add",
        "--org",
        "batumi",
        "--username",
        "clerk",
        "--password-file",
        pw
    ])
    .status
    .success());
    assert!(!cli(&[
        "staff",
        "add",
        "--org",
        "nowhere",
        "--username",
        "clerk2",
        "--password-file",
        pw
    ])
    .status
    .success());
    let (staff, phc) = run(geid_portal::organisations::staff_by_username(&db, "clerk"))
        .unwrap()
        .unwrap();
    assert_eq!(staff.org_id, "batumi");
    assert!(geid_portal::password::verify("a-staff-password", &phc));
}

#[test]
fn letters_on_postgres() {
    let Some(pg) = geid_testkit::services::PostgresServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sms_file = dir.path().join("sms.jsonl");
    let config = letters_config(None, &sms_file);
    let portal = start(&pg.url(), move |c| c.letters = config);
    add_staff(&portal.db, "rs", "rs.clerk", "clerk-password-3");
    let mut c = Client::new(&portal.base);
    register(&mut c, CITIZEN);
    let jpeg = b"\xff\xd8\xff\xe0\0\x10JFIF\0".to_vec();
    let id = draft(
        &mut c,
        "rs",
        "Tax certificate",
        &[("attachments", "scan.jpg", &jpeg)],
    );
    let (cert, key) = citizen_keys(CITIZEN);
    let sent = sign_and_send(&mut c, &id, &cert, &key, |_| {});
    assert_eq!(sent.status, 200, "{}", sent.body);
    let (status, doc) = download(&c, &format!("/letters/{id}/document"));
    assert_eq!(status, 200);
    assert!(String::from_utf8(doc)
        .unwrap()
        .contains("type=image/jpeg; name=scan.jpg"));
    let (status, scan) = download(
        &c,
        &format!("/files/{}", {
            let f = run(geid_portal::letters::files(&portal.db, &id, "letter")).unwrap();
            f[0].id.clone()
        }),
    );
    assert_eq!((status, scan), (200, jpeg));

    let mut s = staff_login(&portal.base, "rs.clerk", "clerk-password-3");
    let open = s.get(&format!("/staff/letters/{id}"));
    assert!(open.body.contains("data-valid=\"true\""), "{}", open.body);
    let r = post_multipart(
        &mut s,
        &format!("/staff/letters/{id}/answer"),
        &[("csrf", &open.csrf()), ("text", "Attached.")],
        &[],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(c
        .get(&format!("/letters/{id}"))
        .body
        .contains("data-state=\"answered\""));
    // No SMTP server configured: the e-mail waits in the outbox; the SMS goes out.
    wait_for("the SMS", Duration::from_secs(10), || {
        outbox(&portal.db)
            .iter()
            .any(|e| e.channel == "sms" && e.state == "sent")
    });
    let mail = outbox(&portal.db);
    let mail = mail.iter().find(|e| e.channel == "email").unwrap();
    assert_eq!(mail.state, "pending");
    drop(portal);
    drop(pg);
}

#[test]
fn the_outbox_survives_a_restart() {
    if !aiosmtpd_available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "python3-aiosmtpd (Debian) is required under CI"
        );
        eprintln!("skipped: Debian python3-aiosmtpd not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let smtp_port = free_port();
    let url = sqlite_url(&dir);
    let config = letters_config(Some(smtp_port), &dir.path().join("sms"));
    let portal = start(&url, move |c| c.letters = config);
    add_staff(&portal.db, "moj", "clerk", "clerk-password-4");
    let mut c = Client::new(&portal.base);
    register(&mut c, CITIZEN);
    let id = draft(&mut c, "moj", "Restart", &[]);
    let (cert, key) = citizen_keys(CITIZEN);
    assert_eq!(sign_and_send(&mut c, &id, &cert, &key, |_| {}).status, 200);
    let mut s = staff_login(&portal.base, "clerk", "clerk-password-4");
    let open = s.get(&format!("/staff/letters/{id}"));
    let r = post_multipart(
        &mut s,
        &format!("/staff/letters/{id}/answer"),
        &[
            ("csrf", &open.csrf()),
            ("text", "Answered before the crash."),
        ],
        &[],
    );
    assert_eq!(r.status, 303);
    wait_for("a failed e-mail attempt", Duration::from_secs(10), || {
        outbox(&portal.db)
            .iter()
            .any(|e| e.channel == "email" && e.attempts >= 1)
    });
    // The portal goes away with the e-mail undelivered; the mail server comes up; a new portal
    // process on the same database delivers it.
    drop(portal);
    let maildir = dir.path().join("maildir");
    let _smtp = start_smtp(smtp_port, &maildir);
    let config = letters_config(Some(smtp_port), &dir.path().join("sms"));
    let again = start(&url, move |c| c.letters = config);
    wait_for(
        "the e-mail after the restart",
        Duration::from_secs(30),
        || {
            outbox(&again.db)
                .iter()
                .any(|e| e.channel == "email" && e.state == "sent")
        },
    );
    assert_eq!(maildir_messages(&maildir).len(), 1);
}
