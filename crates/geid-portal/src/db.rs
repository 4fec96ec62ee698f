//! Accounts and the login audit log, in SQLite or PostgreSQL through sqlx's `Any` driver.
//!
//! Both backends run the same queries (`$n` placeholders work in both); only the first
//! migration differs (the audit log's auto-increment id). Every failure maps to
//! [`DbError::Unavailable`], which the pages turn into a 503; account creation runs in one
//! transaction, so a failure never leaves half an account.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Row};

/// Storage failures.
#[derive(Debug)]
pub enum DbError {
    /// The database cannot be reached or failed.
    Unavailable(String),
    /// The username is already taken.
    UsernameTaken,
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbError::Unavailable(e) => write!(f, "database unavailable: {e}"),
            DbError::UsernameTaken => write!(f, "username already taken"),
        }
    }
}

impl std::error::Error for DbError {}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        DbError::Unavailable(e.to_string())
    }
}

/// How an account came to be.
pub const METHOD_CARD: &str = "id-card";
/// Credentials issued at a House of Justice.
pub const METHOD_JUSTICE_HOUSE: &str = "justice-house";

/// One citizen's account, keyed by personal number.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Account {
    /// 11-digit personal number.
    pub personal_number: String,
    /// Given name.
    pub given_name: String,
    /// Surname.
    pub surname: String,
    /// E-mail for notifications.
    pub email: Option<String>,
    /// Mobile number, `+9955XXXXXXXX`.
    pub phone: Option<String>,
    /// [`METHOD_CARD`] or [`METHOD_JUSTICE_HOUSE`].
    pub registration_method: String,
    /// Username for password logins.
    pub username: Option<String>,
    /// Whether the password must be changed at the next login.
    pub must_change_password: bool,
    /// Unix seconds.
    pub created_at: i64,
}

/// One row of the audit log.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditEntry {
    /// Unix seconds.
    pub at: i64,
    /// `card` or `password`.
    pub method: String,
    /// Personal number when known.
    pub personal_number: Option<String>,
    /// `OK` or the refusal code.
    pub result: String,
    /// Client address.
    pub client: String,
}

/// The database.
#[derive(Clone, Debug)]
pub struct Db {
    pub(crate) pool: AnyPool,
}

fn migrator(postgres: bool) -> Migrator {
    let sql = if postgres {
        include_str!("../migrations/postgres/0001_init.sql")
    } else {
        include_str!("../migrations/sqlite/0001_init.sql")
    };
    let kiosks = if postgres {
        include_str!("../migrations/postgres/0100_kiosks.sql")
    } else {
        include_str!("../migrations/sqlite/0100_kiosks.sql")
    };
    let letters = if postgres {
        include_str!("../migrations/postgres/0200_letters.sql")
    } else {
        include_str!("../migrations/sqlite/0200_letters.sql")
    };
    Migrator {
        migrations: Cow::Owned(vec![
            Migration::new(
                1,
                Cow::Borrowed("init"),
                MigrationType::Simple,
                Cow::Borrowed(sql),
                false,
            ),
            Migration::new(
                100,
                Cow::Borrowed("kiosks"),
                MigrationType::Simple,
                Cow::Borrowed(kiosks),
                false,
            ),
            Migration::new(
                200,
                Cow::Borrowed("letters"),
                MigrationType::Simple,
                Cow::Borrowed(letters),
                false,
            ),
        ]),
        ..Migrator::DEFAULT
    }
}

/// Unix seconds now.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

const ACCOUNT_COLUMNS: &str = "personal_number, given_name, surname, email, phone, \
    registration_method, username, must_change_password, created_at";

fn account(row: &AnyRow) -> Result<Account, sqlx::Error> {
    Ok(Account {
        personal_number: row.try_get("personal_number")?,
        given_name: row.try_get("given_name")?,
        surname: row.try_get("surname")?,
        email: row.try_get("email")?,
        phone: row.try_get("phone")?,
        registration_method: row.try_get("registration_method")?,
        username: row.try_get("username")?,
        must_change_password: row.try_get::<i64, _>("must_change_password")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

impl Db {
    /// Opens `url` (`sqlite://FILE` — created when missing — or `postgres://…`) and runs the
    /// migrations.
    pub async fn open(url: &str) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        let postgres = url.starts_with("postgres:") || url.starts_with("postgresql:");
        let url = if !postgres && url.starts_with("sqlite:") && !url.contains('?') {
            format!("{url}?mode=rwc")
        } else {
            url.to_owned()
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if postgres { 16 } else { 4 })
            .acquire_timeout(Duration::from_secs(3))
            .connect(&url)
            .await?;
        if !postgres {
            // One writer at a time; wait for the lock rather than fail at once.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
            sqlx::query("PRAGMA busy_timeout = 5000")
                .execute(&pool)
                .await?;
        }
        migrator(postgres)
            .run(&pool)
            .await
            .map_err(|e| DbError::Unavailable(format!("migrations: {e}")))?;
        Ok(Db { pool })
    }

    /// The pool, for the letters modules' own queries.
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The account of `personal_number`.
    pub async fn account(&self, personal_number: &str) -> Result<Option<Account>, DbError> {
        let row = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE personal_number = $1"
        ))
        .bind(personal_number)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(account).transpose()?)
    }

    /// The account and password hash of `username`.
    pub async fn account_by_username(
        &self,
        username: &str,
    ) -> Result<Option<(Account, Option<String>)>, DbError> {
        let row = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS}, password_hash FROM accounts WHERE username = $1"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            None => Ok(None),
            Some(r) => Ok(Some((account(&r)?, r.try_get("password_hash")?))),
        }
    }

    /// Creates the card-registered account of `personal_number`, or returns the existing one.
    /// `true` when it was created now.
    pub async fn register_with_card(
        &self,
        personal_number: &str,
        given_name: &str,
        surname: &str,
        email: &str,
        phone: &str,
    ) -> Result<(Account, bool), DbError> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO accounts (personal_number, given_name, surname, email, phone, \
             registration_method, must_change_password, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7) ON CONFLICT (personal_number) DO NOTHING",
        )
        .bind(personal_number)
        .bind(given_name)
        .bind(surname)
        .bind(email)
        .bind(phone)
        .bind(METHOD_CARD)
        .bind(now())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let row = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE personal_number = $1"
        ))
        .bind(personal_number)
        .fetch_one(&mut *tx)
        .await?;
        let account = account(&row)?;
        tx.commit().await?;
        Ok((account, inserted))
    }

    /// Creates an account with a username and an argon2 password hash (House of Justice).
    pub async fn create_password_account(
        &self,
        personal_number: &str,
        given_name: &str,
        surname: &str,
        username: &str,
        password_hash: &str,
        must_change_password: bool,
    ) -> Result<Account, DbError> {
        let mut tx = self.pool.begin().await?;
        let taken = sqlx::query("SELECT personal_number FROM accounts WHERE username = $1")
            .bind(username)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some_and(|r| {
            r.try_get::<String, _>("personal_number").ok().as_deref() != Some(personal_number)
        }) {
            return Err(DbError::UsernameTaken);
        }
        // An existing (card) account gets credentials; a new one is created.
        sqlx::query(
            "INSERT INTO accounts (personal_number, given_name, surname, registration_method, \
             username, password_hash, must_change_password, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (personal_number) DO UPDATE \
             SET username = $5, password_hash = $6, must_change_password = $7",
        )
        .bind(personal_number)
        .bind(given_name)
        .bind(surname)
        .bind(METHOD_JUSTICE_HOUSE)
        .bind(username)
        .bind(password_hash)
        .bind(i64::from(must_change_password))
        .bind(now())
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE personal_number = $1"
        ))
        .bind(personal_number)
        .fetch_one(&mut *tx)
        .await?;
        let account = account(&row)?;
        tx.commit().await?;
        Ok(account)
    }

    /// Replaces the password hash and clears the must-change flag.
    pub async fn set_password(
        &self,
        personal_number: &str,
        password_hash: &str,
    ) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE accounts SET password_hash = $1, must_change_password = 0 \
             WHERE personal_number = $2",
        )
        .bind(password_hash)
        .bind(personal_number)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Appends one login attempt to the audit log.
    pub async fn audit(
        &self,
        method: &str,
        personal_number: Option<&str>,
        result: &str,
        client: &str,
    ) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO audit_log (at, method, personal_number, result, client) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(now())
        .bind(method)
        .bind(personal_number)
        .bind(result)
        .bind(client)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The latest `limit` login attempts of `personal_number`, newest first.
    pub async fn recent_logins(
        &self,
        personal_number: &str,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, DbError> {
        self.audit_rows(
            "SELECT at, method, personal_number, result, client FROM audit_log \
             WHERE personal_number = $1 ORDER BY id DESC LIMIT $2",
            Some(personal_number),
            limit,
        )
        .await
    }

    /// The latest `limit` audit entries, newest first.
    pub async fn audit_log(&self, limit: i64) -> Result<Vec<AuditEntry>, DbError> {
        self.audit_rows(
            "SELECT at, method, personal_number, result, client FROM audit_log \
             ORDER BY id DESC LIMIT $1",
            None,
            limit,
        )
        .await
    }

    async fn audit_rows(
        &self,
        sql: &str,
        person: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, DbError> {
        let mut q = sqlx::query(sql);
        if let Some(p) = person {
            q = q.bind(p);
        }
        let rows = q.bind(limit).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    at: r.try_get("at")?,
                    method: r.try_get("method")?,
                    personal_number: r.try_get("personal_number")?,
                    result: r.try_get("result")?,
                    client: r.try_get("client")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }
}
