//! Public organisations that receive letters, and their staff accounts.
//!
//! The migration seeds four organisations (ids `moj`, `psda`, `rs`, `tbilisi`); the admin
//! commands `geid-portal org add|list|rename|webhook` and `geid-portal staff add` edit them.
//! Staff log in with a username and an argon2id password ([`crate::password`]).

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::db::{now, Db, DbError};
use crate::i18n::Lang;

/// One organisation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Organisation {
    /// Short id, `[a-z0-9-]{2,32}`.
    pub id: String,
    /// Name in Georgian.
    pub name_ka: String,
    /// Name in English.
    pub name_en: String,
    /// Where requests are pushed when the organisation uses its own document-management
    /// system (see [`crate::delivery`]); `None`: the built-in inbox only.
    pub webhook_url: Option<String>,
    /// The shared HMAC secret of the webhook.
    #[serde(skip)]
    pub webhook_secret: Option<String>,
}

impl Organisation {
    /// The name in `lang`.
    pub fn name(&self, lang: Lang) -> &str {
        match lang {
            Lang::Ka => &self.name_ka,
            Lang::En => &self.name_en,
        }
    }
}

/// One staff member.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Staff {
    /// Login name.
    pub username: String,
    /// The organisation.
    pub org_id: String,
    /// Shown on answers.
    pub display_name: String,
}

/// Whether `id` is a valid organisation id.
pub fn valid_id(id: &str) -> bool {
    (2..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

const ORG_COLUMNS: &str = "id, name_ka, name_en, webhook_url, webhook_secret";

fn org(row: &AnyRow) -> Result<Organisation, sqlx::Error> {
    Ok(Organisation {
        id: row.try_get("id")?,
        name_ka: row.try_get("name_ka")?,
        name_en: row.try_get("name_en")?,
        webhook_url: row.try_get("webhook_url")?,
        webhook_secret: row.try_get("webhook_secret")?,
    })
}

/// Every organisation, by id.
pub async fn list(db: &Db) -> Result<Vec<Organisation>, DbError> {
    let rows = sqlx::query(&format!(
        "SELECT {ORG_COLUMNS} FROM organisations ORDER BY id"
    ))
    .fetch_all(db.pool())
    .await?;
    Ok(rows.iter().map(org).collect::<Result<_, _>>()?)
}

/// One organisation.
pub async fn get(db: &Db, id: &str) -> Result<Option<Organisation>, DbError> {
    let row = sqlx::query(&format!(
        "SELECT {ORG_COLUMNS} FROM organisations WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.as_ref().map(org).transpose()?)
}

/// Adds an organisation; `false` when the id exists.
pub async fn add(db: &Db, id: &str, name_ka: &str, name_en: &str) -> Result<bool, DbError> {
    let n = sqlx::query(
        "INSERT INTO organisations (id, name_ka, name_en, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(name_ka)
    .bind(name_en)
    .bind(now())
    .execute(db.pool())
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Renames an organisation (either name may be kept); `false` when there is no such id.
pub async fn rename(
    db: &Db,
    id: &str,
    name_ka: Option<&str>,
    name_en: Option<&str>,
) -> Result<bool, DbError> {
    let Some(o) = get(db, id).await? else {
        return Ok(false);
    };
    sqlx::query("UPDATE organisations SET name_ka = $1, name_en = $2 WHERE id = $3")
        .bind(name_ka.unwrap_or(&o.name_ka))
        .bind(name_en.unwrap_or(&o.name_en))
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(true)
}

/// Sets (or with `None` clears) the organisation's webhook; `false` when there is no such id.
pub async fn set_webhook(
    db: &Db,
    id: &str,
    webhook: Option<(&str, &str)>,
) -> Result<bool, DbError> {
    let n =
        sqlx::query("UPDATE organisations SET webhook_url = $1, webhook_secret = $2 WHERE id = $3")
            .bind(webhook.map(|w| w.0))
            .bind(webhook.map(|w| w.1))
            .bind(id)
            .execute(db.pool())
            .await?
            .rows_affected();
    Ok(n == 1)
}

/// Creates a staff account with an argon2id `password_hash`.
pub async fn add_staff(
    db: &Db,
    org_id: &str,
    username: &str,
    display_name: &str,
    password_hash: &str,
) -> Result<Staff, DbError> {
    if get(db, org_id).await?.is_none() {
        return Err(DbError::Unavailable(format!("no organisation {org_id}")));
    }
    let n = sqlx::query(
        "INSERT INTO staff (username, org_id, display_name, password_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO NOTHING",
    )
    .bind(username)
    .bind(org_id)
    .bind(display_name)
    .bind(password_hash)
    .bind(now())
    .execute(db.pool())
    .await?
    .rows_affected();
    if n != 1 {
        return Err(DbError::UsernameTaken);
    }
    Ok(Staff {
        username: username.to_owned(),
        org_id: org_id.to_owned(),
        display_name: display_name.to_owned(),
    })
}

/// The staff member `username` and their password hash.
pub async fn staff_by_username(
    db: &Db,
    username: &str,
) -> Result<Option<(Staff, String)>, DbError> {
    let row = sqlx::query(
        "SELECT username, org_id, display_name, password_hash FROM staff WHERE username = $1",
    )
    .bind(username)
    .fetch_optional(db.pool())
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some((
        Staff {
            username: r.try_get("username")?,
            org_id: r.try_get("org_id")?,
            display_name: r.try_get("display_name")?,
        },
        r.try_get("password_hash")?,
    )))
}
