//! Letters, requests and complaints to public organisations: the signed document format,
//! attachment rules, and storage.
//!
//! # The signed document (`GEID-LETTER/1`)
//!
//! What the citizen signs is not the web form but a canonical UTF-8 text the server builds from
//! the draft ([`document`]), so any CMS tool can check the detached signature against it
//! (`openssl cms -verify -binary -inform DER -in letter.p7s -content letter.txt …`):
//!
//! ```text
//! GEID-LETTER/1
//! Id: 3f9c…                        (the letter id, 32 hex digits)
//! Type: request | letter | complaint
//! To: moj                          (organisation id)
//! To-Name: <Georgian name> / <English name>
//! From: <given name> <surname>
//! Personal-Number: 01001000001
//! Subject: <one line>
//! Attachment: 1; sha256=<64 hex>; size=<bytes>; type=<media type>; name=<file name>
//! Attachment: 2; …                 (one line per attachment, in order; none when none)
//!                                  (an empty line)
//! <the text, LF line endings, ending with exactly one LF>
//! ```
//!
//! Lines end with LF. Header values never contain a line break or a control character (the
//! subject is refused with one; file names have them replaced by `_`). Attachments are bound
//! to the signature through their SHA-256 hashes; their bytes are stored beside the document
//! and handed out with it.

use std::fmt::Write as _;

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::db::{now, Db, DbError};

/// The first line of every signed letter.
pub const FORMAT: &str = "GEID-LETTER/1";
/// Largest attachment, bytes.
pub const MAX_ATTACHMENT: usize = 5 * 1024 * 1024;
/// Most attachments on one letter or answer.
pub const MAX_ATTACHMENTS: usize = 3;
/// Longest subject, characters.
pub const MAX_SUBJECT: usize = 200;
/// Longest text, characters.
pub const MAX_BODY: usize = 20_000;

/// The kinds of letter.
pub const KINDS: [&str; 3] = ["request", "letter", "complaint"];

/// Draft: being written, not signed.
pub const DRAFT: &str = "draft";
/// Signed and sent.
pub const SENT: &str = "sent";
/// Opened by the organisation.
pub const RECEIVED: &str = "received";
/// Answered.
pub const ANSWERED: &str = "answered";

/// Why an attachment was refused (the code is shown to the citizen and sent as `data-code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentError {
    /// Over [`MAX_ATTACHMENT`].
    TooLarge,
    /// The content is not PDF, PNG, JPEG or plain UTF-8 text, or does not match the name.
    TypeNotAllowed,
    /// Over [`MAX_ATTACHMENTS`].
    TooMany,
    /// No bytes.
    Empty,
}

impl AttachmentError {
    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            AttachmentError::TooLarge => "ATTACHMENT_TOO_LARGE",
            AttachmentError::TypeNotAllowed => "ATTACHMENT_TYPE_NOT_ALLOWED",
            AttachmentError::TooMany => "TOO_MANY_ATTACHMENTS",
            AttachmentError::Empty => "ATTACHMENT_EMPTY",
        }
    }
}

/// The media type of `content` by its first bytes, when it is one the portal accepts, and only
/// when the file name's extension agrees (a PDF named `.png` is refused).
pub fn sniff(name: &str, content: &[u8]) -> Result<&'static str, AttachmentError> {
    if content.is_empty() {
        return Err(AttachmentError::Empty);
    }
    if content.len() > MAX_ATTACHMENT {
        return Err(AttachmentError::TooLarge);
    }
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let (media, exts): (&'static str, &[&str]) = if content.starts_with(b"%PDF-") {
        ("application/pdf", &["pdf"])
    } else if content.starts_with(b"\x89PNG\r\n\x1a\n") {
        ("image/png", &["png"])
    } else if content.starts_with(b"\xff\xd8\xff") {
        ("image/jpeg", &["jpg", "jpeg"])
    } else if std::str::from_utf8(content).is_ok_and(|s| {
        s.chars()
            .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
    }) {
        ("text/plain; charset=utf-8", &["txt"])
    } else {
        return Err(AttachmentError::TypeNotAllowed);
    };
    if exts.contains(&ext.as_str()) {
        Ok(media)
    } else {
        Err(AttachmentError::TypeNotAllowed)
    }
}

/// A file name safe for a header line and a `Content-Disposition`: path and control
/// characters, quotes and `;` replaced by `_`, at most 100 characters.
pub fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, ';' | '"' | '\\') {
                '_'
            } else {
                c
            }
        })
        .take(100)
        .collect();
    if cleaned.trim().is_empty() {
        "file".into()
    } else {
        cleaned
    }
}

/// CRLF and CR to LF, trailing whitespace lines trimmed.
pub fn normalise_body(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .trim_end()
        .to_owned()
}

/// What is wrong with a draft's fields, as text keys.
pub fn check_fields(kind: &str, subject: &str, body: &str) -> Vec<&'static str> {
    let mut problems = Vec::new();
    if !KINDS.contains(&kind) {
        problems.push("bad_kind");
    }
    let s = subject.trim();
    if s.is_empty() || s.chars().count() > MAX_SUBJECT || s.chars().any(char::is_control) {
        problems.push("bad_subject");
    }
    if body.trim().is_empty() || body.chars().count() > MAX_BODY {
        problems.push("bad_body");
    }
    problems
}

/// One stored file (attachment of a letter or of an answer), without its bytes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileMeta {
    /// Random id.
    pub id: String,
    /// `letter` or `answer`.
    pub role: String,
    /// 1-based order.
    pub position: i64,
    /// Cleaned file name.
    pub name: String,
    /// Sniffed media type.
    pub media_type: String,
    /// Bytes.
    pub size: i64,
    /// SHA-256, lower-case hex.
    pub sha256: String,
}

/// A letter as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Letter {
    /// Random id, 32 hex digits.
    pub id: String,
    /// The author.
    pub personal_number: String,
    /// The addressee.
    pub org_id: String,
    /// One of [`KINDS`].
    pub kind: String,
    /// Subject line.
    pub subject: String,
    /// Text (LF line endings).
    pub body: String,
    /// [`DRAFT`], [`SENT`], [`RECEIVED`] or [`ANSWERED`].
    pub state: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// Unix seconds.
    pub sent_at: Option<i64>,
    /// Unix seconds.
    pub received_at: Option<i64>,
    /// Unix seconds.
    pub answered_at: Option<i64>,
    /// The signing step in progress (JSON, see `letters_web`).
    pub pending_json: Option<String>,
    /// The code of the last refused signing attempt.
    pub last_error: Option<String>,
    /// The verified signer at sending (JSON [`SignerRecord`]).
    pub signer_json: Option<String>,
}

/// The verified signer as stored with a sent letter.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SignerRecord {
    /// Personal number from the signing certificate.
    pub personal_number: String,
    /// Given name and surname from the certificate.
    pub name: String,
    /// The signing-time attribute, RFC 3339.
    pub signing_time: String,
    /// Issuer of the signing certificate.
    pub issuer: String,
    /// Serial of the signing certificate.
    pub certificate_serial: String,
}

/// An answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Answer {
    /// Staff display name (or the organisation system).
    pub author: String,
    /// Text.
    pub body: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// SHA-256, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&geid_cms::HashFunction::Sha256.digest(bytes))
}

/// A random id: 16 bytes from the OS, hex.
pub fn random_id() -> Result<String, DbError> {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b).map_err(|e| DbError::Unavailable(e.to_string()))?;
    Ok(hex(&b))
}

/// Who the letter is from and to, for [`document`].
pub struct Parties<'a> {
    /// Author's given name and surname.
    pub from_name: &'a str,
    /// Organisation names.
    pub to_name_ka: &'a str,
    /// Organisation names.
    pub to_name_en: &'a str,
}

/// The canonical bytes the citizen signs (format in the module docs).
pub fn document(letter: &Letter, parties: &Parties<'_>, files: &[FileMeta]) -> Vec<u8> {
    let one_line = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_control() { '_' } else { c })
            .collect()
    };
    let mut out = String::new();
    out.push_str(FORMAT);
    out.push('\n');
    let _ = writeln!(out, "Id: {}", letter.id);
    let _ = writeln!(out, "Type: {}", letter.kind);
    let _ = writeln!(out, "To: {}", letter.org_id);
    let _ = writeln!(
        out,
        "To-Name: {} / {}",
        one_line(parties.to_name_ka),
        one_line(parties.to_name_en)
    );
    let _ = writeln!(out, "From: {}", one_line(parties.from_name));
    let _ = writeln!(out, "Personal-Number: {}", letter.personal_number);
    let _ = writeln!(out, "Subject: {}", one_line(letter.subject.trim()));
    for f in files.iter().filter(|f| f.role == "letter") {
        let _ = writeln!(
            out,
            "Attachment: {}; sha256={}; size={}; type={}; name={}",
            f.position,
            f.sha256,
            f.size,
            f.media_type,
            clean_name(&f.name)
        );
    }
    out.push('\n');
    out.push_str(&normalise_body(&letter.body));
    out.push('\n');
    out.into_bytes()
}

// ---- storage --------------------------------------------------------------------------------

const LETTER_COLUMNS: &str = "id, personal_number, org_id, kind, subject, body, state, \
    created_at, updated_at, sent_at, received_at, answered_at, pending_json, last_error, \
    signer_json";

fn letter(r: &AnyRow) -> Result<Letter, sqlx::Error> {
    Ok(Letter {
        id: r.try_get("id")?,
        personal_number: r.try_get("personal_number")?,
        org_id: r.try_get("org_id")?,
        kind: r.try_get("kind")?,
        subject: r.try_get("subject")?,
        body: r.try_get("body")?,
        state: r.try_get("state")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        sent_at: r.try_get("sent_at")?,
        received_at: r.try_get("received_at")?,
        answered_at: r.try_get("answered_at")?,
        pending_json: r.try_get("pending_json")?,
        last_error: r.try_get("last_error")?,
        signer_json: r.try_get("signer_json")?,
    })
}

/// A new file to store.
pub struct NewFile {
    /// Cleaned name.
    pub name: String,
    /// Sniffed media type.
    pub media_type: &'static str,
    /// The bytes.
    pub content: Vec<u8>,
}

/// Creates a draft; returns its id.
pub async fn create_draft(
    db: &Db,
    personal_number: &str,
    org_id: &str,
    kind: &str,
    subject: &str,
    body: &str,
) -> Result<String, DbError> {
    let id = random_id()?;
    let t = now();
    sqlx::query(
        "INSERT INTO letters (id, personal_number, org_id, kind, subject, body, state, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(&id)
    .bind(personal_number)
    .bind(org_id)
    .bind(kind)
    .bind(subject.trim())
    .bind(normalise_body(body))
    .bind(DRAFT)
    .bind(t)
    .execute(db.pool())
    .await?;
    Ok(id)
}

/// Changes a draft's fields; `false` when it is no longer a draft of this person.
pub async fn update_draft(
    db: &Db,
    id: &str,
    personal_number: &str,
    org_id: &str,
    kind: &str,
    subject: &str,
    body: &str,
) -> Result<bool, DbError> {
    let n = sqlx::query(
        "UPDATE letters SET org_id = $1, kind = $2, subject = $3, body = $4, updated_at = $5 \
         WHERE id = $6 AND personal_number = $7 AND state = $8",
    )
    .bind(org_id)
    .bind(kind)
    .bind(subject.trim())
    .bind(normalise_body(body))
    .bind(now())
    .bind(id)
    .bind(personal_number)
    .bind(DRAFT)
    .execute(db.pool())
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// One letter.
pub async fn get(db: &Db, id: &str) -> Result<Option<Letter>, DbError> {
    let row = sqlx::query(&format!(
        "SELECT {LETTER_COLUMNS} FROM letters WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.as_ref().map(letter).transpose()?)
}

/// A person's letters, newest first.
pub async fn of_person(db: &Db, personal_number: &str) -> Result<Vec<Letter>, DbError> {
    let rows = sqlx::query(&format!(
        "SELECT {LETTER_COLUMNS} FROM letters WHERE personal_number = $1 \
         ORDER BY updated_at DESC, id"
    ))
    .bind(personal_number)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.iter().map(letter).collect::<Result<_, _>>()?)
}

/// An organisation's sent letters (not drafts), oldest unanswered first.
pub async fn inbox(db: &Db, org_id: &str) -> Result<Vec<Letter>, DbError> {
    let rows = sqlx::query(&format!(
        "SELECT {LETTER_COLUMNS} FROM letters WHERE org_id = $1 AND state <> $2 \
         ORDER BY CASE WHEN state = $3 THEN 1 ELSE 0 END, sent_at, id"
    ))
    .bind(org_id)
    .bind(DRAFT)
    .bind(ANSWERED)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.iter().map(letter).collect::<Result<_, _>>()?)
}

/// The files of a letter with `role` (`letter` or `answer`), in order.
pub async fn files(db: &Db, letter_id: &str, role: &str) -> Result<Vec<FileMeta>, DbError> {
    let rows = sqlx::query(
        "SELECT id, role, position, name, media_type, size, sha256 FROM letter_files \
         WHERE letter_id = $1 AND role = $2 ORDER BY position",
    )
    .bind(letter_id)
    .bind(role)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(FileMeta {
                id: r.try_get("id")?,
                role: r.try_get("role")?,
                position: r.try_get("position")?,
                name: r.try_get("name")?,
                media_type: r.try_get("media_type")?,
                size: r.try_get("size")?,
                sha256: r.try_get("sha256")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

/// One file's letter id, metadata and bytes.
pub async fn file(db: &Db, file_id: &str) -> Result<Option<(String, FileMeta, Vec<u8>)>, DbError> {
    let row = sqlx::query(
        "SELECT id, letter_id, role, position, name, media_type, size, sha256, content \
         FROM letter_files WHERE id = $1",
    )
    .bind(file_id)
    .fetch_optional(db.pool())
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some((
        r.try_get("letter_id")?,
        FileMeta {
            id: r.try_get("id")?,
            role: r.try_get("role")?,
            position: r.try_get("position")?,
            name: r.try_get("name")?,
            media_type: r.try_get("media_type")?,
            size: r.try_get("size")?,
            sha256: r.try_get("sha256")?,
        },
        r.try_get("content")?,
    )))
}

/// Adds files in one transaction, refusing when the total would pass [`MAX_ATTACHMENTS`].
pub async fn add_files(
    tx: &mut Transaction<'static, Any>,
    letter_id: &str,
    role: &str,
    new: Vec<NewFile>,
) -> Result<Result<(), AttachmentError>, DbError> {
    let count: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM letter_files WHERE letter_id = $1 AND role = $2")
            .bind(letter_id)
            .bind(role)
            .fetch_one(&mut **tx)
            .await?
            .try_get("n")?;
    if count as usize + new.len() > MAX_ATTACHMENTS {
        return Ok(Err(AttachmentError::TooMany));
    }
    for (i, f) in new.into_iter().enumerate() {
        sqlx::query(
            "INSERT INTO letter_files (id, letter_id, role, position, name, media_type, size, \
             sha256, content) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(random_id()?)
        .bind(letter_id)
        .bind(role)
        .bind(count + i as i64 + 1)
        .bind(&f.name)
        .bind(f.media_type)
        .bind(f.content.len() as i64)
        .bind(sha256_hex(&f.content))
        .bind(f.content)
        .execute(&mut **tx)
        .await?;
    }
    Ok(Ok(()))
}

/// Removes one attachment of a draft and renumbers the rest.
pub async fn remove_file(db: &Db, letter_id: &str, file_id: &str) -> Result<(), DbError> {
    let mut tx = db.pool().begin().await?;
    sqlx::query("DELETE FROM letter_files WHERE id = $1 AND letter_id = $2 AND role = 'letter'")
        .bind(file_id)
        .bind(letter_id)
        .execute(&mut *tx)
        .await?;
    let ids: Vec<String> = sqlx::query(
        "SELECT id FROM letter_files WHERE letter_id = $1 AND role = 'letter' ORDER BY position",
    )
    .bind(letter_id)
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(|r| r.try_get("id"))
    .collect::<Result<_, _>>()?;
    for (i, id) in ids.iter().enumerate() {
        sqlx::query("UPDATE letter_files SET position = $1 WHERE id = $2")
            .bind(i as i64 + 1)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("UPDATE letters SET updated_at = $1 WHERE id = $2")
        .bind(now())
        .bind(letter_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Records the signing step in progress (or clears it) and the last refusal.
pub async fn set_pending(
    db: &Db,
    id: &str,
    pending_json: Option<&str>,
    last_error: Option<&str>,
) -> Result<(), DbError> {
    sqlx::query("UPDATE letters SET pending_json = $1, last_error = $2 WHERE id = $3")
        .bind(pending_json)
        .bind(last_error)
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// The stored signed document and `.p7s` of a sent letter.
pub async fn signed(db: &Db, id: &str) -> Result<Option<(Vec<u8>, Vec<u8>)>, DbError> {
    let row = sqlx::query("SELECT document, signature FROM letters WHERE id = $1")
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    let Some(r) = row else { return Ok(None) };
    let d: Option<Vec<u8>> = r.try_get("document")?;
    let s: Option<Vec<u8>> = r.try_get("signature")?;
    Ok(d.zip(s))
}

/// Draft → sent with the document, the CMS and the verified signer; `more` adds rows (the
/// delivery webhook's outbox entry) in the same transaction. `false` when it was not a draft.
pub async fn mark_sent<F>(
    db: &Db,
    id: &str,
    document: &[u8],
    signature: &[u8],
    signer: &SignerRecord,
    more: F,
) -> Result<bool, DbError>
where
    F: for<'t> FnOnce(
        &'t mut Transaction<'static, Any>,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<(), DbError>> + Send + 't>,
    >,
{
    let mut tx = db.pool().begin().await?;
    let n = sqlx::query(
        "UPDATE letters SET state = $1, sent_at = $2, updated_at = $2, document = $3, \
         signature = $4, signer_json = $5, pending_json = NULL, last_error = NULL \
         WHERE id = $6 AND state = $7",
    )
    .bind(SENT)
    .bind(now())
    .bind(document)
    .bind(signature)
    .bind(serde_json::to_string(signer).unwrap_or_default())
    .bind(id)
    .bind(DRAFT)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n != 1 {
        return Ok(false);
    }
    more(&mut tx).await?;
    tx.commit().await?;
    Ok(true)
}

/// Sent → received (the organisation opened it); no change in other states.
pub async fn mark_received(db: &Db, id: &str) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE letters SET state = $1, received_at = $2, updated_at = $2 \
         WHERE id = $3 AND state = $4",
    )
    .bind(RECEIVED)
    .bind(now())
    .bind(id)
    .bind(SENT)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Stores the answer, its files and the notifications in one transaction; sent or received →
/// answered. `Ok(Err(_))` for too many files; `Ok(Ok(false))` when the letter was not
/// waiting for an answer.
pub async fn answer<F>(
    db: &Db,
    id: &str,
    author: &str,
    body: &str,
    new_files: Vec<NewFile>,
    notifications: F,
) -> Result<Result<bool, AttachmentError>, DbError>
where
    F: for<'t> FnOnce(
        &'t mut Transaction<'static, Any>,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<(), DbError>> + Send + 't>,
    >,
{
    let mut tx = db.pool().begin().await?;
    let t = now();
    let n = sqlx::query(
        "UPDATE letters SET state = $1, answered_at = $2, updated_at = $2, \
         received_at = COALESCE(received_at, $2) WHERE id = $3 AND state IN ($4, $5)",
    )
    .bind(ANSWERED)
    .bind(t)
    .bind(id)
    .bind(SENT)
    .bind(RECEIVED)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n != 1 {
        return Ok(Ok(false));
    }
    sqlx::query(
        "INSERT INTO answers (letter_id, author, body, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(author)
    .bind(normalise_body(body))
    .bind(t)
    .execute(&mut *tx)
    .await?;
    if let Err(e) = add_files(&mut tx, id, "answer", new_files).await? {
        return Ok(Err(e));
    }
    notifications(&mut tx).await?;
    tx.commit().await?;
    Ok(Ok(true))
}

/// The answer of a letter.
pub async fn answer_of(db: &Db, id: &str) -> Result<Option<Answer>, DbError> {
    let row = sqlx::query("SELECT author, body, created_at FROM answers WHERE letter_id = $1")
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(Answer {
        author: r.try_get("author")?,
        body: r.try_get("body")?,
        created_at: r.try_get("created_at")?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing_needs_content_and_extension_to_agree() {
        assert_eq!(sniff("a.pdf", b"%PDF-1.7\n"), Ok("application/pdf"));
        assert_eq!(sniff("a.PNG", b"\x89PNG\r\n\x1a\nxx"), Ok("image/png"));
        assert_eq!(sniff("a.jpeg", b"\xff\xd8\xff\xe0"), Ok("image/jpeg"));
        assert_eq!(
            sniff("note.txt", "გამარჯობა\n".as_bytes()),
            Ok("text/plain; charset=utf-8")
        );
        // A PDF renamed, an executable renamed, binary "text".
        assert_eq!(
            sniff("a.png", b"%PDF-1.7"),
            Err(AttachmentError::TypeNotAllowed)
        );
        assert_eq!(
            sniff("a.pdf", b"MZ\x90\x00"),
            Err(AttachmentError::TypeNotAllowed)
        );
        assert_eq!(
            sniff("a.txt", b"abc\x00def"),
            Err(AttachmentError::TypeNotAllowed)
        );
        assert_eq!(sniff("a.txt", b""), Err(AttachmentError::Empty));
        let big = vec![b'a'; MAX_ATTACHMENT + 1];
        assert_eq!(sniff("a.txt", &big), Err(AttachmentError::TooLarge));
    }

    #[test]
    fn the_document_is_canonical() {
        let l = Letter {
            id: "00ff".into(),
            personal_number: "01001000001".into(),
            org_id: "moj".into(),
            kind: "request".into(),
            subject: " Info\u{7} ".into(),
            body: "line 1\r\nline 2\r\n\r\n".into(),
            state: DRAFT.into(),
            created_at: 0,
            updated_at: 0,
            sent_at: None,
            received_at: None,
            answered_at: None,
            pending_json: None,
            last_error: None,
            signer_json: None,
        };
        let files = [FileMeta {
            id: "f".into(),
            role: "letter".into(),
            position: 1,
            name: "a;b\n.pdf".into(),
            media_type: "application/pdf".into(),
            size: 3,
            sha256: "ab".into(),
        }];
        let p = Parties {
            from_name: "გიორგი ბერიძე",
            to_name_ka: "სამინისტრო",
            to_name_en: "Ministry",
        };
        let d = String::from_utf8(document(&l, &p, &files)).unwrap();
        assert_eq!(
            d,
            "GEID-LETTER/1\nId: 00ff\nType: request\nTo: moj\nTo-Name: სამინისტრო / Ministry\n\
             From: გიორგი ბერიძე\nPersonal-Number: 01001000001\nSubject: Info_\n\
             Attachment: 1; sha256=ab; size=3; type=application/pdf; name=a_b_.pdf\n\
             \nline 1\nline 2\n"
        );
    }
}
