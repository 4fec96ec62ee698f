//! The letters pages: citizens compose, sign (in the browser, with the card's
//! qualified-signature key) and send; staff read, see the verified signature and answer;
//! citizens see the answers, download the signed original and verify it.
//!
//! Signing is two JSON calls around the extension's `sign`:
//! 1. `POST /letters/{id}/sign/prepare` `{"certificate": <base64 DER from
//!    getSigningCertificate()>}` → `{"hash": <base64 digest_to_sign>, "hashFunction":
//!    "SHA-256"}`. The server builds the document ([`crate::letters::document`]), computes the
//!    CAdES signed attributes for that certificate and the current time, and keeps the
//!    certificate, the time and the document's digest in the draft (`pending_json`, valid
//!    10 minutes).
//! 2. `POST /letters/{id}/sign/complete` `{"signature": <base64 from sign()>}`: the server
//!    rebuilds the signed attributes from what it kept (`geid_cms::prepare_digest` is
//!    deterministic), assembles the CMS, builds the document again from the draft as it is now,
//!    and verifies the CMS over it with the [`geid_verify::SignatureVerifier`]. A draft edited
//!    in between fails with `DOCUMENT_CHANGED`; a signer other than the logged-in citizen with
//!    `SIGNER_MISMATCH`; every verifier refusal with its code. Refusals keep the draft and
//!    record the code in `last_error`. On success the document, the `.p7s` and the verified
//!    signer are stored and the state is `sent`, in one transaction with the organisation's
//!    webhook outbox row.
//!
//! JSON calls carry the session's CSRF token in `X-CSRF-Token`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use geid_axum::Session;
use geid_cms::{HashFunction, SignatureScheme};
use geid_verify::SignatureVerifier;
use minijinja::context;
use serde::Deserialize;

use crate::db::{now, DbError};
use crate::delivery::DeliveryAdapter;
use crate::i18n::Lang;
use crate::letters::{self, AttachmentError, Letter, NewFile, SignerRecord};
use crate::notify::{self, NotifyConfig, Worker};
use crate::organisations::{self, Organisation};
use crate::{redirect, AppState, ClientIp, PageLang, MUST_CHANGE, USER};

/// Session key: the logged-in staff member's username.
const STAFF: &str = "staff";
/// How long a prepared signature waits for the card.
const PENDING_TTL: i64 = 600;

/// Settings of the letters service.
#[derive(Default)]
pub struct LettersConfig {
    /// Verifies document signatures (trust: the signing CA's root, the signing CA). `None`:
    /// signing is refused with `SIGNATURES_UNAVAILABLE`.
    pub signature_verifier: Option<SignatureVerifier>,
    /// E-mail, SMS and retry settings.
    pub notify: NotifyConfig,
    /// Delivers to organisations' own systems; default [`crate::delivery::SignedWebhook`].
    pub delivery: Option<Arc<dyn DeliveryAdapter>>,
}

impl std::fmt::Debug for LettersConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LettersConfig")
            .field("signature_verifier", &self.signature_verifier)
            .field("notify", &self.notify)
            .finish_non_exhaustive()
    }
}

/// What the handlers need at run time.
pub(crate) struct LettersState {
    verifier: Option<SignatureVerifier>,
    worker: Worker,
    public_url: String,
}

/// Starts the outbox worker and returns the run-time state.
pub(crate) fn start(db: &crate::db::Db, config: LettersConfig) -> LettersState {
    let delivery = config
        .delivery
        .unwrap_or_else(|| Arc::new(crate::delivery::SignedWebhook::default()));
    let public_url = config.notify.public_url.clone();
    let worker = notify::spawn_worker(db.clone(), config.notify, delivery);
    LettersState {
        verifier: config.signature_verifier,
        worker,
        public_url,
    }
}

/// Registers the letters templates.
pub(crate) fn add_templates(
    env: &mut minijinja::Environment<'static>,
) -> Result<(), minijinja::Error> {
    for (name, src) in [
        ("letters.html", include_str!("../templates/letters.html")),
        (
            "letter_edit.html",
            include_str!("../templates/letter_edit.html"),
        ),
        (
            "letter_view.html",
            include_str!("../templates/letter_view.html"),
        ),
        (
            "letter_verify.html",
            include_str!("../templates/letter_verify.html"),
        ),
        (
            "staff_login.html",
            include_str!("../templates/staff_login.html"),
        ),
        (
            "staff_inbox.html",
            include_str!("../templates/staff_inbox.html"),
        ),
        (
            "staff_letter.html",
            include_str!("../templates/staff_letter.html"),
        ),
    ] {
        env.add_template(name, src)?;
    }
    Ok(())
}

/// The letters routes (mounted by [`crate::build`]).
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/letters", get(list).post(create))
        .route("/letters/new", get(compose))
        .route("/letters/{id}", get(view).post(update))
        .route("/letters/{id}/files/{file}/delete", post(remove_file))
        .route("/letters/{id}/sign/prepare", post(sign_prepare))
        .route("/letters/{id}/sign/complete", post(sign_complete))
        .route("/letters/{id}/document", get(download_document))
        .route("/letters/{id}/signature", get(download_signature))
        .route("/letters/{id}/verify", get(verify_page))
        .route("/files/{file}", get(download_file))
        .route("/staff", get(inbox))
        .route("/staff/login", get(staff_login_form).post(staff_login))
        .route("/staff/logout", post(staff_logout))
        .route("/staff/letters/{id}", get(staff_letter))
        .route("/staff/letters/{id}/answer", post(staff_answer))
        .route(
            "/api/organisations/{org}/letters/{id}/answer",
            post(webhook_answer),
        )
        .route("/static/letters.js", get(letters_js))
        // Three attachments of 5 MiB and the form around them, base64 in webhook answers.
        .layer(DefaultBodyLimit::max(
            letters::MAX_ATTACHMENTS * letters::MAX_ATTACHMENT * 4 / 3 + 1024 * 1024,
        ))
}

// ---- texts ---------------------------------------------------------------------------------

/// (key, Georgian, English).
const TEXTS: &[(&str, &str, &str)] = &[
    ("letters", "წერილები და განცხადებები", "Letters and requests"),
    ("new_letter", "ახალი წერილი", "New letter"),
    ("drafts", "მონახაზები", "Drafts"),
    ("sent", "გაგზავნილი", "Sent"),
    ("completed", "დასრულებული (პასუხით)", "Completed (answered)"),
    ("kind", "სახე", "Type"),
    ("kind_request", "საჯარო ინფორმაციის მოთხოვნა", "Public-information request"),
    ("kind_letter", "წერილი", "Letter"),
    ("kind_complaint", "საჩივარი", "Complaint"),
    ("organisation", "ორგანიზაცია", "Organisation"),
    ("subject", "თემა", "Subject"),
    ("text", "ტექსტი", "Text"),
    ("attachments", "დანართები (PDF, PNG, JPEG, TXT; მაქს. 3, თითო 5 მბ-მდე)", "Attachments (PDF, PNG, JPEG, TXT; at most 3, up to 5 MiB each)"),
    ("save_draft", "მონახაზის შენახვა", "Save the draft"),
    ("sign_and_send", "ხელმოწერა და გაგზავნა", "Sign and send"),
    ("sign_hint", "ხელს აწერთ პირადობის მოწმობის კვალიფიციური ხელმოწერის გასაღებით. PIN კოდი შეიყვანეთ გაფართოების ფანჯარაში.", "You sign with the ID card's qualified-signature key. Type the PIN in the extension's window."),
    ("remove", "წაშლა", "Remove"),
    ("state", "მდგომარეობა", "State"),
    ("state_draft", "მონახაზი", "Draft"),
    ("state_sent", "გაგზავნილი", "Sent"),
    ("state_received", "მიღებული", "Received"),
    ("state_answered", "პასუხი გაცემულია", "Answered"),
    ("signer", "ხელმომწერი", "Signer"),
    ("signing_time", "ხელმოწერის დრო", "Signing time"),
    ("download_document", "დოკუმენტის ჩამოტვირთვა", "Download the document"),
    ("download_signature", "ხელმოწერის (.p7s) ჩამოტვირთვა", "Download the signature (.p7s)"),
    ("verify", "ხელმოწერის შემოწმება", "Verify the signature"),
    ("answer", "პასუხი", "Answer"),
    ("send_answer", "პასუხის გაგზავნა", "Send the answer"),
    ("valid", "ხელმოწერა ნამდვილია", "The signature is valid"),
    ("invalid", "ხელმოწერა არ არის ნამდვილი", "The signature is not valid"),
    ("saved", "მონახაზი შენახულია.", "The draft was saved."),
    ("letter_sent", "წერილი ხელმოწერილია და გაგზავნილია.", "The letter was signed and sent."),
    ("answered_notice", "პასუხი გაგზავნილია; მოქალაქე მიიღებს შეტყობინებას.", "The answer was sent; the citizen will be notified."),
    ("inbox", "შემოსული წერილები", "Inbox"),
    ("staff_login", "თანამშრომლის შესვლა", "Staff login"),
    ("none", "არაფერია", "Nothing here"),
    ("bad_kind", "აირჩიეთ წერილის სახე.", "Choose the type of letter."),
    ("bad_org", "აირჩიეთ ორგანიზაცია.", "Choose the organisation."),
    ("bad_subject", "თემა სავალდებულოა (ერთი ხაზი, 200 სიმბოლომდე).", "The subject is required (one line, up to 200 characters)."),
    ("bad_body", "ტექსტი სავალდებულოა (20 000 სიმბოლომდე).", "The text is required (up to 20,000 characters)."),
    ("ATTACHMENT_TOO_LARGE", "დანართი 5 მბ-ზე დიდია; ის არ დაემატა. მონახაზი შენახულია.", "An attachment is larger than 5 MiB; it was not added. The draft was kept."),
    ("ATTACHMENT_TYPE_NOT_ALLOWED", "დანართი არ არის PDF, PNG, JPEG ან ტექსტი (ან გაფართოება არ ემთხვევა შინაარსს); ის არ დაემატა. მონახაზი შენახულია.", "An attachment is not PDF, PNG, JPEG or text (or its extension does not match its content); it was not added. The draft was kept."),
    ("TOO_MANY_ATTACHMENTS", "მაქსიმუმ 3 დანართი. მონახაზი შენახულია.", "At most 3 attachments. The draft was kept."),
    ("ATTACHMENT_EMPTY", "დანართი ცარიელია. მონახაზი შენახულია.", "An attachment is empty. The draft was kept."),
    ("refused", "ხელმოწერა არ იქნა მიღებული; მონახაზი შენახულია.", "The signature was refused; the draft was kept."),
    ("DOCUMENT_CHANGED", "დოკუმენტი შეიცვალა ხელმოწერის შემდეგ.", "The document changed after it was signed."),
    ("SIGNER_MISMATCH", "ხელმოწერა სხვა პირს ეკუთვნის, არა ანგარიშის მფლობელს.", "The signature belongs to someone other than the account holder."),
    ("SIGNATURE_INVALID", "ხელმოწერა არ შეესაბამება სერტიფიკატს.", "The signature does not match the certificate."),
    ("NOT_A_SIGNING_CERTIFICATE", "ხელი მოეწერა ავთენტიფიკაციის გასაღებით და არა ხელმოწერის გასაღებით.", "It was signed with the authentication key, not the signature key."),
    ("CERT_EXPIRED", "ხელმოწერის სერტიფიკატს ვადა გაუვიდა.", "The signing certificate has expired."),
    ("CERT_REVOKED", "ხელმოწერის სერტიფიკატი გაუქმებულია.", "The signing certificate is revoked."),
    ("CERT_NOT_TRUSTED", "ხელმოწერის სერტიფიკატი არ არის სანდო.", "The signing certificate is not trusted."),
];

fn texts(lang: Lang) -> BTreeMap<&'static str, &'static str> {
    TEXTS
        .iter()
        .map(|(k, ka, en)| (*k, if lang == Lang::Ka { *ka } else { *en }))
        .collect()
}

fn text(lang: Lang, key: &str) -> Option<&'static str> {
    TEXTS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, ka, en)| if lang == Lang::Ka { *ka } else { *en })
}

fn rfc3339_opt(at: Option<i64>) -> String {
    at.map(crate::rfc3339).unwrap_or_default()
}

// ---- helpers ---------------------------------------------------------------------------------

fn json_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(serde_json::json!({ "error": code, "message": message.into() })),
    )
        .into_response()
}

/// The logged-in citizen (None: not logged in or must change the password first).
fn citizen(session: &Session) -> Option<String> {
    if session.get(MUST_CHANGE).is_some() {
        return None;
    }
    session.get(USER)
}

/// A letter of `pn`, or the response to give instead.
async fn own_letter(
    st: &AppState,
    lang: &PageLang,
    pn: &str,
    id: &str,
) -> Result<Letter, Response> {
    match letters::get(&st.db, id).await {
        Err(e) => Err(st.unavailable(lang, &e)),
        Ok(Some(l)) if l.personal_number == pn => Ok(l),
        Ok(_) => Err(st.message(lang, StatusCode::NOT_FOUND, "site_name", "session_expired")),
    }
}

/// Parsed multipart form: text fields and files (name, bytes); `too_large` when a file passed
/// the limit (its bytes are dropped while the rest of the form is read).
struct Upload {
    fields: BTreeMap<String, String>,
    files: Vec<(String, Vec<u8>)>,
    too_large: bool,
}

async fn read_upload(mut m: Multipart) -> Result<Upload, String> {
    let mut u = Upload {
        fields: BTreeMap::new(),
        files: Vec::new(),
        too_large: false,
    };
    while let Some(mut field) = m.next_field().await.map_err(|e| e.to_string())? {
        let name = field.name().unwrap_or("").to_owned();
        if let Some(file_name) = field.file_name().map(str::to_owned) {
            let mut buf = Vec::new();
            let mut over = false;
            while let Some(chunk) = field.chunk().await.map_err(|e| e.to_string())? {
                if !over && buf.len() + chunk.len() > letters::MAX_ATTACHMENT {
                    over = true;
                    buf = Vec::new();
                }
                if !over {
                    buf.extend_from_slice(&chunk);
                }
            }
            if over {
                u.too_large = true;
            } else if !(file_name.is_empty() && buf.is_empty()) {
                // A file input left empty sends a part with no name and no bytes.
                u.files.push((file_name, buf));
            }
        } else {
            let v = field.text().await.map_err(|e| e.to_string())?;
            u.fields.insert(name, v);
        }
    }
    Ok(u)
}

/// Checks the uploaded files; the first problem wins.
fn check_files(u: &Upload) -> Result<Vec<NewFile>, AttachmentError> {
    if u.too_large {
        return Err(AttachmentError::TooLarge);
    }
    if u.files.len() > letters::MAX_ATTACHMENTS {
        return Err(AttachmentError::TooMany);
    }
    u.files
        .iter()
        .map(|(name, content)| {
            let media_type = letters::sniff(name, content)?;
            Ok(NewFile {
                name: letters::clean_name(name),
                media_type,
                content: content.clone(),
            })
        })
        .collect()
}

/// The draft page (edit form) with an optional error code.
#[allow(clippy::too_many_arguments)]
async fn draft_page(
    st: &AppState,
    lang: &PageLang,
    session: &Session,
    status: StatusCode,
    letter: Option<&Letter>,
    form: Option<&BTreeMap<String, String>>,
    problems: &[&str],
    notice: Option<&str>,
) -> Response {
    let orgs = match organisations::list(&st.db).await {
        Ok(o) => o,
        Err(e) => return st.unavailable(lang, &e),
    };
    let files = match letter {
        Some(l) => match letters::files(&st.db, &l.id, "letter").await {
            Ok(f) => f,
            Err(e) => return st.unavailable(lang, &e),
        },
        None => Vec::new(),
    };
    let field = |k: &str| -> String {
        form.and_then(|f| f.get(k).cloned())
            .or_else(|| {
                letter.map(|l| match k {
                    "kind" => l.kind.clone(),
                    "org" => l.org_id.clone(),
                    "subject" => l.subject.clone(),
                    _ => l.body.clone(),
                })
            })
            .unwrap_or_default()
    };
    let orgs: Vec<_> = orgs
        .iter()
        .map(|o| context! { id => o.id.clone(), name => o.name(lang.0) })
        .collect();
    let code = problems.first().copied();
    let l = texts(lang.0);
    let messages: Vec<&str> = problems.iter().filter_map(|p| text(lang.0, p)).collect();
    st.render(
        lang,
        status,
        "letter_edit.html",
        context! {
            l => l, csrf => session.csrf_token(), orgs => orgs, kinds => letters::KINDS,
            letter => letter, files => files,
            kind => field("kind"), org => field("org"), subject => field("subject"),
            body => field("body"),
            error_code => code, error_messages => messages,
            last_error => letter.and_then(|l| l.last_error.clone()),
            last_error_text => letter.and_then(|l| l.last_error.as_deref()).map(|c| text(lang.0, c).unwrap_or(text(lang.0, "refused").unwrap_or(""))),
            letter_notice => notice.and_then(|n| text(lang.0, n)),
        },
    )
}

fn field_problems(st_orgs: &[Organisation], f: &BTreeMap<String, String>) -> Vec<&'static str> {
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    let mut p = letters::check_fields(get("kind"), get("subject"), get("body"));
    if !st_orgs.iter().any(|o| o.id == get("org")) {
        p.insert(0, "bad_org");
    }
    p
}

// ---- citizen pages ---------------------------------------------------------------------------

async fn list(State(st): State<AppState>, lang: PageLang, session: Session) -> Response {
    let Some(pn) = citizen(&session) else {
        return redirect("/");
    };
    let all = match letters::of_person(&st.db, &pn).await {
        Ok(l) => l,
        Err(e) => return st.unavailable(&lang, &e),
    };
    let orgs = organisations::list(&st.db).await.unwrap_or_default();
    let row = |l: &Letter| {
        let org = orgs
            .iter()
            .find(|o| o.id == l.org_id)
            .map(|o| o.name(lang.0).to_owned())
            .unwrap_or_default();
        context! { id => l.id.clone(), subject => l.subject.clone(), state => l.state.clone(),
        org => org, kind => l.kind.clone(), updated => crate::rfc3339(l.updated_at) }
    };
    let drafts: Vec<_> = all
        .iter()
        .filter(|l| l.state == letters::DRAFT)
        .map(row)
        .collect();
    let sent: Vec<_> = all
        .iter()
        .filter(|l| l.state == letters::SENT || l.state == letters::RECEIVED)
        .map(row)
        .collect();
    let completed: Vec<_> = all
        .iter()
        .filter(|l| l.state == letters::ANSWERED)
        .map(row)
        .collect();
    st.render(
        &lang,
        StatusCode::OK,
        "letters.html",
        context! { l => texts(lang.0), drafts => drafts, sent => sent, completed => completed },
    )
}

async fn compose(State(st): State<AppState>, lang: PageLang, session: Session) -> Response {
    if citizen(&session).is_none() {
        return redirect("/");
    }
    draft_page(&st, &lang, &session, StatusCode::OK, None, None, &[], None).await
}

async fn create(
    State(st): State<AppState>,
    lang: PageLang,
    session: Session,
    multipart: Multipart,
) -> Response {
    let Some(pn) = citizen(&session) else {
        return redirect("/");
    };
    let Ok(u) = read_upload(multipart).await else {
        return st.message(&lang, StatusCode::BAD_REQUEST, "site_name", "csrf");
    };
    if !session.csrf_matches(u.fields.get("csrf").map(String::as_str).unwrap_or("")) {
        return st.csrf_refused(&lang);
    }
    let orgs = match organisations::list(&st.db).await {
        Ok(o) => o,
        Err(e) => return st.unavailable(&lang, &e),
    };
    let problems = field_problems(&orgs, &u.fields);
    if !problems.is_empty() {
        return draft_page(
            &st,
            &lang,
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(&u.fields),
            &problems,
            None,
        )
        .await;
    }
    let f = |k: &str| u.fields.get(k).map(String::as_str).unwrap_or("");
    let id = match letters::create_draft(&st.db, &pn, f("org"), f("kind"), f("subject"), f("body"))
        .await
    {
        Ok(id) => id,
        Err(e) => return st.unavailable(&lang, &e),
    };
    save_files(&st, &lang, &session, &id, &u).await
}

/// Adds the upload's files to draft `id` and shows the draft (422 with the code when a file
/// was refused; the draft's text is saved either way).
async fn save_files(
    st: &AppState,
    lang: &PageLang,
    session: &Session,
    id: &str,
    u: &Upload,
) -> Response {
    let problem = match check_files(u) {
        Err(e) => Some(e),
        Ok(files) if files.is_empty() => None,
        Ok(files) => {
            let stored = async {
                let mut tx = st.db.pool().begin().await?;
                let r = letters::add_files(&mut tx, id, "letter", files).await?;
                if r.is_ok() {
                    tx.commit().await?;
                }
                Ok::<_, DbError>(r)
            }
            .await;
            match stored {
                Err(e) => return st.unavailable(lang, &e),
                Ok(r) => r.err(),
            }
        }
    };
    match problem {
        None => redirect(&format!("/letters/{id}?notice=saved")),
        Some(e) => {
            let letter = letters::get(&st.db, id).await.ok().flatten();
            draft_page(
                st,
                lang,
                session,
                StatusCode::UNPROCESSABLE_ENTITY,
                letter.as_ref(),
                None,
                &[e.code()],
                None,
            )
            .await
        }
    }
}

async fn update(
    State(st): State<AppState>,
    lang: PageLang,
    session: Session,
    Path(id): Path<String>,
    multipart: Multipart,
) -> Response {
    let Some(pn) = citizen(&session) else {
        return redirect("/");
    };
    let Ok(u) = read_upload(multipart).await else {
        return st.message(&lang, StatusCode::BAD_REQUEST, "site_name", "csrf");
    };
    if !session.csrf_matches(u.fields.get("csrf").map(String::as_str).unwrap_or("")) {
        return st.csrf_refused(&lang);
    }
    let letter = match own_letter(&st, &lang, &pn, &id).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    if letter.state != letters::DRAFT {
        return redirect(&format!("/letters/{id}"));
    }
    let orgs = match organisations::list(&st.db).await {
        Ok(o) => o,
        Err(e) => return st.unavailable(&lang, &e),
    };
    let problems = field_problems(&orgs, &u.fields);
    if !problems.is_empty() {
        return draft_page(
            &st,
            &lang,
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(&letter),
            Some(&u.fields),
            &problems,
            None,
        )
        .await;
    }
    let f = |k: &str| u.fields.get(k).map(String::as_str).unwrap_or("");
    if let Err(e) = letters::update_draft(
        &st.db,
        &id,
        &pn,
        f("org"),
        f("kind"),
        f("subject"),
        f("body"),
    )
    .await
    {
        return st.unavailable(&lang, &e);
    }
    save_files(&st, &lang, &session, &id, &u).await
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn remove_file(
    State(st): State<AppState>,
    lang: PageLang,
    session: Session,
    Path((id, file)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !session.csrf_matches(&form.csrf) {
        return st.csrf_refused(&lang);
    }
    let Some(pn) = citizen(&session) else {
        return redirect("/");
    };
    match own_letter(&st, &lang, &pn, &id).await {
        Ok(l) if l.state == letters::DRAFT => {
            if let Err(e) = letters::remove_file(&st.db, &id, &file).await {
                return st.unavailable(&lang, &e);
            }
            redirect(&format!("/letters/{id}"))
        }
        Ok(_) => redirect(&format!("/letters/{id}")),
        Err(r) => r,
    }
}

/// Signer and answer details for the view pages.
async fn letter_context(
    st: &AppState,
    lang: Lang,
    l: &Letter,
) -> Result<minijinja::Value, DbError> {
    let org = organisations::get(&st.db, &l.org_id).await?;
    let files = letters::files(&st.db, &l.id, "letter").await?;
    let answer = letters::answer_of(&st.db, &l.id).await?;
    let answer_files = letters::files(&st.db, &l.id, "answer").await?;
    let signer: Option<SignerRecord> = l
        .signer_json
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok());
    Ok(context! {
        letter => l, org_name => org.as_ref().map(|o| o.name(lang).to_owned()),
        files => files, answer => answer, answer_files => answer_files, signer => signer,
        sent_at => rfc3339_opt(l.sent_at), answered_at => rfc3339_opt(l.answered_at),
        state_text => text(lang, &format!("state_{}", l.state)),
        kind_text => text(lang, &format!("kind_{}", l.kind)),
    })
}

async fn view(
    State(st): State<AppState>,
    lang: PageLang,
    session: Session,
    Path(id): Path<String>,
    uri: axum::http::Uri,
) -> Response {
    let Some(pn) = citizen(&session) else {
        return redirect("/");
    };
    let letter = match own_letter(&st, &lang, &pn, &id).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let notice = crate::notice_query(&uri);
    if letter.state == letters::DRAFT {
        return draft_page(
            &st,
            &lang,
            &session,
            StatusCode::OK,
            Some(&letter),
            None,
            &[],
            notice.as_deref(),
        )
        .await;
    }
    let ctx = match letter_context(&st, lang.0, &letter).await {
        Ok(c) => c,
        Err(e) => return st.unavailable(&lang, &e),
    };
    st.render(
        &lang,
        StatusCode::OK,
        "letter_view.html",
        context! { l => texts(lang.0), letter_notice => notice.and_then(|n| text(lang.0, &n)), ..ctx },
    )
}

// ---- signing ---------------------------------------------------------------------------------

#[derive(serde::Serialize, Deserialize)]
struct Pending {
    /// Base64 DER.
    certificate: String,
    /// Unix seconds.
    signing_time: u64,
    /// Hex SHA-256 of the document at preparation.
    digest: String,
}

#[derive(Deserialize)]
struct PrepareRequest {
    #[serde(default)]
    certificate: String,
}

#[derive(Deserialize)]
struct CompleteRequest {
    #[serde(default)]
    signature: String,
}

fn csrf_header_ok(session: &Session, headers: &HeaderMap) -> bool {
    headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| session.csrf_matches(t))
}

/// The document bytes of `l` as it is now.
async fn build_document(st: &AppState, l: &Letter) -> Result<Vec<u8>, DbError> {
    let account = st.db.account(&l.personal_number).await?;
    let org = organisations::get(&st.db, &l.org_id).await?;
    let files = letters::files(&st.db, &l.id, "letter").await?;
    let from = account
        .map(|a| format!("{} {}", a.given_name, a.surname))
        .unwrap_or_default();
    let (ka, en) = org.map(|o| (o.name_ka, o.name_en)).unwrap_or_default();
    Ok(letters::document(
        l,
        &letters::Parties {
            from_name: &from,
            to_name_ka: &ka,
            to_name_en: &en,
        },
        &files,
    ))
}

/// A JSON call's letter: the logged-in citizen's draft.
async fn json_draft(
    st: &AppState,
    session: &Session,
    headers: &HeaderMap,
    id: &str,
) -> Result<(String, Letter), Response> {
    if !csrf_header_ok(session, headers) {
        return Err(json_error(
            StatusCode::FORBIDDEN,
            "CSRF",
            "missing or wrong X-CSRF-Token",
        ));
    }
    let Some(pn) = citizen(session) else {
        return Err(json_error(
            StatusCode::UNAUTHORIZED,
            "NOT_LOGGED_IN",
            "log in first",
        ));
    };
    match letters::get(&st.db, id).await {
        Err(e) => Err(json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "DATABASE_UNAVAILABLE",
            e.to_string(),
        )),
        Ok(Some(l)) if l.personal_number == pn && l.state == letters::DRAFT => Ok((pn, l)),
        Ok(Some(l)) if l.personal_number == pn => Err(json_error(
            StatusCode::CONFLICT,
            "NOT_A_DRAFT",
            "the letter was already sent",
        )),
        Ok(_) => Err(json_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "no such letter",
        )),
    }
}

async fn sign_prepare(
    State(st): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(req): Json<PrepareRequest>,
) -> Response {
    let l = match json_draft(&st, &session, &headers, &id).await {
        Ok((_, l)) => l,
        Err(r) => return r,
    };
    let Ok(cert) = B64.decode(req.certificate.trim()) else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "CERT_MALFORMED",
            "certificate is not base64",
        );
    };
    let document = match build_document(&st, &l).await {
        Ok(d) => d,
        Err(e) => {
            return json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "DATABASE_UNAVAILABLE",
                e.to_string(),
            )
        }
    };
    let signing_time = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let digest = HashFunction::Sha256.digest(&document);
    let prepared = match geid_cms::prepare_digest(
        &digest,
        HashFunction::Sha256,
        &cert,
        UNIX_EPOCH + Duration::from_secs(signing_time),
    ) {
        Ok(p) => p,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, "CERT_MALFORMED", e.to_string()),
    };
    let pending = Pending {
        certificate: B64.encode(&cert),
        signing_time,
        digest: letters::hex(&digest),
    };
    let pending = serde_json::to_string(&pending).unwrap_or_default();
    if let Err(e) = letters::set_pending(&st.db, &id, Some(&pending), l.last_error.as_deref()).await
    {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "DATABASE_UNAVAILABLE",
            e.to_string(),
        );
    }
    Json(serde_json::json!({
        "hash": B64.encode(prepared.digest_to_sign()),
        "hashFunction": HashFunction::Sha256.to_string(),
        "documentSha256": letters::hex(&digest),
    }))
    .into_response()
}

/// Every signing attempt goes to the audit log (method `letter-sign`, the result code), beside
/// the logins; not counted in the login metrics.
async fn audit_signing(st: &AppState, pn: &str, code: &str, client: std::net::IpAddr) {
    if let Err(e) = st
        .db
        .audit("letter-sign", Some(pn), code, &client.to_string())
        .await
    {
        tracing::warn!("audit log: {e}");
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The signature scheme of a certificate's key.
fn scheme_of(cert_der: &[u8]) -> Option<SignatureScheme> {
    let cert = openssl::x509::X509::from_der(cert_der).ok()?;
    match cert.public_key().ok()?.id() {
        openssl::pkey::Id::RSA => Some(SignatureScheme::RsaPkcs1),
        openssl::pkey::Id::EC => Some(SignatureScheme::Ecdsa),
        _ => None,
    }
}

async fn sign_complete(
    State(st): State<AppState>,
    lang: PageLang,
    ClientIp(client): ClientIp,
    session: Session,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(req): Json<CompleteRequest>,
) -> Response {
    let (pn, l) = match json_draft(&st, &session, &headers, &id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let refuse = |code: &str, detail: String| {
        let st = st.clone();
        let id = id.clone();
        let code = code.to_owned();
        let pn = pn.clone();
        let message = text(lang.0, &code)
            .or_else(|| text(lang.0, "refused"))
            .unwrap_or("")
            .to_owned();
        async move {
            tracing::info!("letter {id}: signature refused: {code}: {detail}");
            let _ = letters::set_pending(&st.db, &id, None, Some(&code)).await;
            audit_signing(&st, &pn, &code, client).await;
            json_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                &code,
                format!("{message} ({detail})"),
            )
        }
    };
    let Some(verifier) = st.letters.verifier.clone() else {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "SIGNATURES_UNAVAILABLE",
            "this portal has no signature verifier configured",
        );
    };
    let pending: Option<Pending> = l
        .pending_json
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok());
    let Some(pending) = pending.filter(|p| now() - p.signing_time as i64 <= PENDING_TTL) else {
        return refuse("SIGNING_NOT_PREPARED", "prepare the signature first".into()).await;
    };
    let (Ok(cert), Some(digest)) = (B64.decode(&pending.certificate), unhex(&pending.digest))
    else {
        return refuse(
            "SIGNING_NOT_PREPARED",
            "the prepared state is damaged".into(),
        )
        .await;
    };
    let Ok(signature) = B64.decode(req.signature.trim()) else {
        return refuse("SIGNATURE_MALFORMED", "signature is not base64".into()).await;
    };
    let prepared = match geid_cms::prepare_digest(
        &digest,
        HashFunction::Sha256,
        &cert,
        UNIX_EPOCH + Duration::from_secs(pending.signing_time),
    ) {
        Ok(p) => p,
        Err(e) => return refuse("CERT_MALFORMED", e.to_string()).await,
    };
    let Some(scheme) = scheme_of(&cert) else {
        return refuse("CERT_MALFORMED", "unsupported key type".into()).await;
    };
    let cms = match prepared.assemble(&signature, scheme) {
        Ok(c) => c,
        Err(e) => return refuse("SIGNATURE_MALFORMED", e.to_string()).await,
    };
    // The document as it is now: an edit after preparing shows as DOCUMENT_CHANGED.
    let document = match build_document(&st, &l).await {
        Ok(d) => d,
        Err(e) => {
            return json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "DATABASE_UNAVAILABLE",
                e.to_string(),
            )
        }
    };
    let signer = match verifier.verify_signature(&document, &cms).await {
        Ok(s) => s,
        Err(e) => return refuse(e.code(), e.to_string()).await,
    };
    if signer.signer.personal_number != pn {
        return refuse(
            "SIGNER_MISMATCH",
            format!("signed by {}, account {pn}", signer.signer.personal_number),
        )
        .await;
    }
    let record = SignerRecord {
        personal_number: signer.signer.personal_number.clone(),
        name: format!(
            "{} {}",
            signer.signer.given_name.clone().unwrap_or_default(),
            signer.signer.surname.clone().unwrap_or_default()
        )
        .trim()
        .to_owned(),
        signing_time: signer.signing_time.clone(),
        issuer: signer.signer.issuer.clone(),
        certificate_serial: signer.signer.certificate_serial.clone(),
    };
    let webhook = organisations::get(&st.db, &l.org_id)
        .await
        .ok()
        .flatten()
        .is_some_and(|o| o.webhook_url.is_some());
    let org_id = l.org_id.clone();
    let letter_id = id.clone();
    let sent = letters::mark_sent(&st.db, &id, &document, &cms, &record, move |tx| {
        Box::pin(async move {
            if webhook {
                notify::enqueue(tx, notify::WEBHOOK, &org_id, "letter.sent", &letter_id).await?;
            }
            Ok(())
        })
    })
    .await;
    match sent {
        Err(e) => json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "DATABASE_UNAVAILABLE",
            e.to_string(),
        ),
        Ok(false) => json_error(
            StatusCode::CONFLICT,
            "NOT_A_DRAFT",
            "the letter was already sent",
        ),
        Ok(true) => {
            st.letters.worker.wake();
            audit_signing(&st, &pn, "OK", client).await;
            Json(serde_json::json!({
                "state": letters::SENT,
                "next": format!("/letters/{id}?notice=letter_sent"),
                "signer": record,
            }))
            .into_response()
        }
    }
}

// ---- downloads and verification ----------------------------------------------------------------

/// Whether the session may read letter `l`: its author, or (once sent) staff of its
/// organisation.
async fn may_read(st: &AppState, session: &Session, l: &Letter) -> bool {
    if citizen(session).as_deref() == Some(l.personal_number.as_str()) {
        return true;
    }
    if l.state == letters::DRAFT {
        return false;
    }
    match session.get(STAFF) {
        Some(u) => organisations::staff_by_username(&st.db, &u)
            .await
            .ok()
            .flatten()
            .is_some_and(|(s, _)| s.org_id == l.org_id),
        None => false,
    }
}

async fn readable_signed(
    st: &AppState,
    session: &Session,
    id: &str,
) -> Result<(Letter, Vec<u8>, Vec<u8>), StatusCode> {
    let l = letters::get(&st.db, id)
        .await
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?
        .ok_or(StatusCode::NOT_FOUND)?;
    if !may_read(st, session, &l).await {
        return Err(StatusCode::NOT_FOUND);
    }
    let (d, s) = letters::signed(&st.db, id)
        .await
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?
        .ok_or(StatusCode::NOT_FOUND)?;
    Ok((l, d, s))
}

fn attachment(body: Vec<u8>, media: &str, name: &str) -> Response {
    (
        [
            (CONTENT_TYPE, media.to_owned()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", letters::clean_name(name)),
            ),
            (CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response()
}

async fn download_document(
    State(st): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    match readable_signed(&st, &session, &id).await {
        Ok((_, d, _)) => attachment(d, "text/plain; charset=utf-8", &format!("letter-{id}.txt")),
        Err(s) => s.into_response(),
    }
}

async fn download_signature(
    State(st): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    match readable_signed(&st, &session, &id).await {
        Ok((_, _, s)) => attachment(
            s,
            "application/pkcs7-signature",
            &format!("letter-{id}.txt.p7s"),
        ),
        Err(s) => s.into_response(),
    }
}

async fn download_file(
    State(st): State<AppState>,
    session: Session,
    Path(file): Path<String>,
) -> Response {
    let Ok(Some((letter_id, meta, content))) = letters::file(&st.db, &file).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Ok(Some(l)) = letters::get(&st.db, &letter_id).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !may_read(&st, &session, &l).await {
        return StatusCode::NOT_FOUND.into_response();
    }
    attachment(content, &meta.media_type, &meta.name)
}

/// Verifies a stored letter now: the signer, or the refusal code.
async fn verify_now(st: &AppState, document: &[u8], cms: &[u8]) -> minijinja::Value {
    let Some(v) = st.letters.verifier.as_ref() else {
        return context! { valid => false, code => "SIGNATURES_UNAVAILABLE" };
    };
    match v.verify_signature(document, cms).await {
        Ok(s) => context! {
            valid => true,
            name => format!("{} {}", s.signer.given_name.clone().unwrap_or_default(),
                s.signer.surname.clone().unwrap_or_default()).trim().to_owned(),
            personal_number => s.signer.personal_number, signing_time => s.signing_time,
            issuer => s.signer.issuer,
        },
        Err(e) => context! { valid => false, code => e.code(), detail => e.to_string() },
    }
}

async fn verify_page(
    State(st): State<AppState>,
    lang: PageLang,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    let (l, d, s) = match readable_signed(&st, &session, &id).await {
        Ok(x) => x,
        Err(s) => return s.into_response(),
    };
    let result = verify_now(&st, &d, &s).await;
    st.render(
        &lang,
        StatusCode::OK,
        "letter_verify.html",
        context! { l => texts(lang.0), letter => l, result => result,
        document_sha256 => letters::sha256_hex(&d) },
    )
}

// ---- staff -----------------------------------------------------------------------------------

async fn staff_member(st: &AppState, session: &Session) -> Option<organisations::Staff> {
    let u = session.get(STAFF)?;
    organisations::staff_by_username(&st.db, &u)
        .await
        .ok()
        .flatten()
        .map(|(s, _)| s)
}

async fn staff_login_form(
    State(st): State<AppState>,
    lang: PageLang,
    session: Session,
) -> Response {
    st.render(
        &lang,
        StatusCode::OK,
        "staff_login.html",
        context! { l => texts(lang.0), csrf => session.csrf_token(), username => "" },
    )
}

#[derive(Deserialize)]
struct StaffLoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

async fn staff_login(
    State(st): State<AppState>,
    lang: PageLang,
    ClientIp(client): ClientIp,
    session: Session,
    Form(form): Form<StaffLoginForm>,
) -> Response {
    if !session.csrf_matches(&form.csrf) {
        return st.csrf_refused(&lang);
    }
    let again = |status: StatusCode, error: &str| {
        st.render(
            &lang,
            status,
            "staff_login.html",
            context! { l => texts(lang.0), csrf => session.csrf_token(),
            username => form.username.clone(), error => lang.0.t(error) },
        )
    };
    if let Err((status, error)) = st.password_login_allowed("staff-password", client).await {
        return again(status, error);
    }
    let found = match organisations::staff_by_username(&st.db, form.username.trim()).await {
        Ok(f) => f,
        Err(e) => return st.unavailable(&lang, &e),
    };
    let staff = match st
        .check_password("staff-password", client, found, &form.password)
        .await
    {
        Ok(s) => s,
        Err((status, error)) => return again(status, error),
    };
    st.audit("staff-password", None, "OK", client).await;
    session.insert(STAFF, staff.username);
    session.rotate_id();
    redirect("/staff")
}

async fn staff_logout(
    State(st): State<AppState>,
    lang: PageLang,
    session: Session,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !session.csrf_matches(&form.csrf) {
        return st.csrf_refused(&lang);
    }
    session.remove(STAFF);
    redirect("/staff/login")
}

async fn inbox(State(st): State<AppState>, lang: PageLang, session: Session) -> Response {
    let Some(staff) = staff_member(&st, &session).await else {
        return redirect("/staff/login");
    };
    let (org, rows) = match (
        organisations::get(&st.db, &staff.org_id).await,
        letters::inbox(&st.db, &staff.org_id).await,
    ) {
        (Ok(o), Ok(r)) => (o, r),
        (Err(e), _) | (_, Err(e)) => return st.unavailable(&lang, &e),
    };
    let rows: Vec<_> = rows
        .iter()
        .map(|l| {
            let signer: Option<SignerRecord> = l
                .signer_json
                .as_deref()
                .and_then(|s| serde_json::from_str(s).ok());
            context! { id => l.id.clone(), subject => l.subject.clone(), state => l.state.clone(),
            kind => l.kind.clone(), sent_at => rfc3339_opt(l.sent_at),
            from => signer.map(|s| s.name),
            state_text => text(lang.0, &format!("state_{}", l.state)) }
        })
        .collect();
    st.render(
        &lang,
        StatusCode::OK,
        "staff_inbox.html",
        context! { l => texts(lang.0), staff => staff, org_name => org.map(|o| o.name(lang.0).to_owned()),
            rows => rows, csrf => session.csrf_token() },
    )
}

async fn staff_letter(
    State(st): State<AppState>,
    lang: PageLang,
    session: Session,
    Path(id): Path<String>,
    uri: axum::http::Uri,
) -> Response {
    let Some(staff) = staff_member(&st, &session).await else {
        return redirect("/staff/login");
    };
    match letters::get(&st.db, &id).await {
        Err(e) => return st.unavailable(&lang, &e),
        Ok(Some(l)) if l.org_id == staff.org_id && l.state != letters::DRAFT => {}
        Ok(_) => return StatusCode::NOT_FOUND.into_response(),
    }
    if let Err(e) = letters::mark_received(&st.db, &id).await {
        return st.unavailable(&lang, &e);
    }
    let l = match letters::get(&st.db, &id).await {
        Ok(Some(l)) => l,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => return st.unavailable(&lang, &e),
    };
    let result = match letters::signed(&st.db, &id).await {
        Ok(Some((d, s))) => verify_now(&st, &d, &s).await,
        _ => context! { valid => false, code => "NOT_SIGNED" },
    };
    render_staff_letter(
        &st,
        &lang,
        &session,
        StatusCode::OK,
        &l,
        result,
        None,
        crate::notice_query(&uri).as_deref(),
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn render_staff_letter(
    st: &AppState,
    lang: &PageLang,
    session: &Session,
    status: StatusCode,
    l: &Letter,
    result: minijinja::Value,
    error_code: Option<&str>,
    notice: Option<&str>,
) -> Response {
    let ctx = match letter_context(st, lang.0, l).await {
        Ok(c) => c,
        Err(e) => return st.unavailable(lang, &e),
    };
    st.render(
        lang,
        status,
        "staff_letter.html",
        context! { l => texts(lang.0), result => result, csrf => session.csrf_token(),
        error_code => error_code, error_text => error_code.and_then(|c| text(lang.0, c)),
        letter_notice => notice.and_then(|n| text(lang.0, n)), ..ctx },
    )
}

/// Stores an answer and queues the citizen's notifications in the same transaction.
async fn store_answer(
    st: &AppState,
    l: &Letter,
    author: &str,
    body: &str,
    files: Vec<NewFile>,
) -> Result<Result<bool, AttachmentError>, DbError> {
    let account = st.db.account(&l.personal_number).await?;
    let link = format!("{}/letters/{}", st.letters.public_url, l.id);
    let subject = format!(
        "პასუხი თქვენს წერილზე / Answer to your letter: {}",
        l.subject
    );
    let text = format!(
        "თქვენს წერილს „{s}“ პასუხი გაეცა. იხილეთ პორტალზე: {link}\n\n\
         Your letter \"{s}\" has been answered. Read it on the portal: {link}\n",
        s = l.subject
    );
    let sms = format!("Pasukhi tqvens tsertilze / Your letter was answered: {link}");
    let email = account.as_ref().and_then(|a| a.email.clone());
    let phone = account.and_then(|a| a.phone);
    let r = letters::answer(&st.db, &l.id, author, body, files, move |tx| {
        Box::pin(async move {
            if let Some(to) = email {
                notify::enqueue(tx, notify::EMAIL, &to, &subject, &text).await?;
            }
            if let Some(to) = phone {
                notify::enqueue(tx, notify::SMS, &to, "", &sms).await?;
            }
            Ok(())
        })
    })
    .await?;
    if matches!(r, Ok(true)) {
        st.letters.worker.wake();
    }
    Ok(r)
}

async fn staff_answer(
    State(st): State<AppState>,
    lang: PageLang,
    session: Session,
    Path(id): Path<String>,
    multipart: Multipart,
) -> Response {
    let Ok(u) = read_upload(multipart).await else {
        return st.message(&lang, StatusCode::BAD_REQUEST, "site_name", "csrf");
    };
    if !session.csrf_matches(u.fields.get("csrf").map(String::as_str).unwrap_or("")) {
        return st.csrf_refused(&lang);
    }
    let Some(staff) = staff_member(&st, &session).await else {
        return redirect("/staff/login");
    };
    let l = match letters::get(&st.db, &id).await {
        Err(e) => return st.unavailable(&lang, &e),
        Ok(Some(l)) if l.org_id == staff.org_id && l.state != letters::DRAFT => l,
        Ok(_) => return StatusCode::NOT_FOUND.into_response(),
    };
    let body = u.fields.get("text").cloned().unwrap_or_default();
    let problem = if body.trim().is_empty() || body.chars().count() > letters::MAX_BODY {
        Some("bad_body")
    } else {
        match check_files(&u) {
            Err(e) => Some(e.code()),
            Ok(files) => match store_answer(&st, &l, &staff.display_name, &body, files).await {
                Err(e) => return st.unavailable(&lang, &e),
                Ok(Err(e)) => Some(e.code()),
                Ok(Ok(_)) => None,
            },
        }
    };
    match problem {
        None => redirect(&format!("/staff/letters/{id}?notice=answered_notice")),
        Some(code) => {
            let result = match letters::signed(&st.db, &id).await {
                Ok(Some((d, s))) => verify_now(&st, &d, &s).await,
                _ => context! { valid => false, code => "NOT_SIGNED" },
            };
            render_staff_letter(
                &st,
                &lang,
                &session,
                StatusCode::UNPROCESSABLE_ENTITY,
                &l,
                result,
                Some(code),
                None,
            )
            .await
        }
    }
}

#[derive(Deserialize)]
struct WebhookAnswer {
    #[serde(default)]
    author: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    attachments: Vec<WebhookFile>,
}

#[derive(Deserialize)]
struct WebhookFile {
    name: String,
    content: String,
}

async fn webhook_answer(
    State(st): State<AppState>,
    Path((org_id, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let org = match organisations::get(&st.db, &org_id).await {
        Ok(Some(o)) => o,
        Ok(None) => return json_error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such organisation"),
        Err(e) => {
            return json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "DATABASE_UNAVAILABLE",
                e.to_string(),
            )
        }
    };
    let Some(secret) = org.webhook_secret else {
        return json_error(
            StatusCode::FORBIDDEN,
            "WEBHOOK_NOT_CONFIGURED",
            "this organisation has no webhook secret",
        );
    };
    let sig = headers
        .get(crate::delivery::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Err(code) = crate::delivery::verify(secret.as_bytes(), sig, &body, now()) {
        return json_error(
            StatusCode::UNAUTHORIZED,
            code,
            "the Geid-Signature header does not verify",
        );
    }
    let Ok(a) = serde_json::from_slice::<WebhookAnswer>(&body) else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "MALFORMED",
            "expected {author, text, attachments}",
        );
    };
    let l = match letters::get(&st.db, &id).await {
        Ok(Some(l)) if l.org_id == org_id && l.state != letters::DRAFT => l,
        Ok(_) => return json_error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such letter"),
        Err(e) => {
            return json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "DATABASE_UNAVAILABLE",
                e.to_string(),
            )
        }
    };
    if a.text.trim().is_empty() {
        return json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "ANSWER_EMPTY",
            "the answer has no text",
        );
    }
    let mut u = Upload {
        fields: BTreeMap::new(),
        files: Vec::new(),
        too_large: false,
    };
    for f in a.attachments {
        match B64.decode(f.content.trim()) {
            Ok(bytes) => u.files.push((f.name, bytes)),
            Err(_) => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    "MALFORMED",
                    "attachment content is not base64",
                )
            }
        }
    }
    let files = match check_files(&u) {
        Ok(f) => f,
        Err(e) => {
            return json_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                e.code(),
                "attachment refused",
            )
        }
    };
    let author = if a.author.trim().is_empty() {
        org.name_en.clone()
    } else {
        a.author
    };
    match store_answer(&st, &l, &author, &a.text, files).await {
        Err(e) => json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "DATABASE_UNAVAILABLE",
            e.to_string(),
        ),
        Ok(Err(e)) => json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            e.code(),
            "attachment refused",
        ),
        Ok(Ok(false)) => json_error(
            StatusCode::CONFLICT,
            "ALREADY_ANSWERED",
            "the letter was already answered",
        ),
        Ok(Ok(true)) => Json(serde_json::json!({ "state": letters::ANSWERED })).into_response(),
    }
}

async fn letters_js() -> Response {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
        ],
        include_str!("../static/letters.js"),
    )
        .into_response()
}
