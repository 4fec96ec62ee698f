//! Password hashes (argon2id, RustCrypto defaults) and House-of-Justice credentials.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::db::{Account, Db, DbError};

/// An argon2id PHC string for `password`.
pub fn hash(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches the PHC string `phc`.
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A random one-time password: 12 characters without look-alikes (about 66 bits).
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut out = String::with_capacity(12);
    while out.len() < 12 {
        let b = (OsRng.next_u32() & 0xff) as usize;
        // Rejection sampling keeps the choice uniform.
        if b < ALPHABET.len() * (256 / ALPHABET.len()) {
            out.push(char::from(ALPHABET[b % ALPHABET.len()]));
        }
    }
    out
}

/// Credentials issued at a House of Justice: creates (or, for an existing card account, adds
/// to) the account of `personal_number` with `username` and a fresh one-time password that
/// must be changed at the first login. Returns the account and the password to hand over.
pub async fn issue_credentials(
    db: &Db,
    personal_number: &str,
    given_name: &str,
    surname: &str,
    username: &str,
) -> Result<(Account, String), DbError> {
    let password = generate();
    let pw = password.clone();
    let phc = tokio::task::spawn_blocking(move || hash(&pw))
        .await
        .map_err(|e| DbError::Unavailable(e.to_string()))?
        .map_err(DbError::Unavailable)?;
    let account = db
        .create_password_account(personal_number, given_name, surname, username, &phc, true)
        .await?;
    Ok((account, password))
}

#[cfg(test)]
mod tests {
    #[test]
    fn hashes_verify_and_passwords_are_random() {
        let h = super::hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify("correct horse battery", &h));
        assert!(!super::verify("correct horse batterY", &h));
        assert!(!super::verify("x", "not a hash"));
        let a = super::generate();
        assert_eq!(a.len(), 12);
        assert_ne!(a, super::generate());
    }
}
