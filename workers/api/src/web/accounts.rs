//! Operators' accounts: who may sign in to the cruscotto, with which roles.
//!
//! Why here and not in the token issuers: the counter application vouches for operators with
//! its own tokens, but an operator at a browser needs a password, and the password must be
//! checked by us. Passwords are hashed with argon2id (the PHC string keeps salt and
//! parameters); wrong passwords in a row lock the account for a while, so guessing is slow
//! even for someone who knows an operator id. The CLI (`sportello operator add | disable`)
//! and the sign-in page use these functions.

use crate::auth::OperatorRole;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::time::Duration;

/// The shortest password `operator add` takes.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// An operator who signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub id: String,
    pub display_name: String,
    pub roles: BTreeSet<OperatorRole>,
}

/// Why a sign-in failed. Unknown ids, disabled accounts and wrong passwords look the same to
/// the person at the browser.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("wrong operator id or password")]
    Wrong,
    #[error("account locked until {0}")]
    Locked(DateTime<Utc>),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(String),
    #[error("no operator `{0}`")]
    Unknown(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

fn hasher() -> Argon2<'static> {
    // OWASP's argon2id minimum (19 MiB, 2 passes, 1 lane): the crate's defaults, stated.
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashes any password")
        .to_string()
}

fn verifies(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            hasher()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash no password matches, checked against for unknown ids so that they take as long as
/// known ones.
fn decoy() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password("not the password of anyone at all"))
}

fn roles_of(list: &[String]) -> BTreeSet<OperatorRole> {
    list.iter().filter_map(|r| OperatorRole::parse(r)).collect()
}

/// Creates the account, or resets it (password, name, roles; enabled and unlocked again).
pub async fn add(
    pool: &PgPool,
    id: &str,
    display_name: &str,
    roles: &BTreeSet<OperatorRole>,
    password: &str,
) -> Result<(), AccountError> {
    let valid_id = !id.is_empty()
        && id.len() <= 64
        && id.starts_with(|c: char| c.is_ascii_alphanumeric())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !valid_id {
        return Err(AccountError::Invalid(
            "an operator id is 1 to 64 letters, digits, `.`, `_` or `-`".to_owned(),
        ));
    }
    if display_name.trim().is_empty() || display_name.chars().count() > 200 {
        return Err(AccountError::Invalid(
            "the name must be 1 to 200 characters".to_owned(),
        ));
    }
    if roles.is_empty() {
        return Err(AccountError::Invalid("name at least one role".to_owned()));
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccountError::Invalid(format!(
            "the password must have at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    let password = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .expect("hashing does not panic");
    let roles: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    sqlx::query(
        "INSERT INTO operators (id, display_name, password_hash, roles) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET display_name = $2, password_hash = $3, roles = $4,
             failed_logins = 0, locked_until = NULL, disabled_at = NULL, updated_at = now()",
    )
    .bind(id)
    .bind(display_name.trim())
    .bind(hash)
    .bind(&roles)
    .execute(pool)
    .await?;
    Ok(())
}

/// Disables the account and ends its sessions at once.
pub async fn disable(pool: &PgPool, id: &str) -> Result<(), AccountError> {
    let mut tx = pool.begin().await?;
    let changed = sqlx::query(
        "UPDATE operators SET disabled_at = coalesce(disabled_at, now()), updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(AccountError::Unknown(id.to_owned()));
    }
    sqlx::query(
        "UPDATE web_sessions SET ended_at = now() WHERE operator_id = $1 AND ended_at IS NULL",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Name, hash, roles, locked until, disabled.
type AccountRow = (String, String, Vec<String>, Option<DateTime<Utc>>, bool);

/// Checks a sign-in. The operator's row is locked while the password is checked, so that
/// parallel guesses are counted one after the other.
pub async fn verify(
    pool: &PgPool,
    id: &str,
    password: &str,
    max_failures: u32,
    lockout: Duration,
) -> Result<Operator, LoginError> {
    let mut tx = pool.begin().await?;
    let row: Option<AccountRow> = sqlx::query_as(
        "SELECT display_name, password_hash, roles, locked_until, disabled_at IS NOT NULL
         FROM operators WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let hash = row
        .as_ref()
        .map(|r| r.1.clone())
        .unwrap_or_else(|| decoy().to_owned());
    let password = password.to_owned();
    let right = tokio::task::spawn_blocking(move || verifies(&password, &hash))
        .await
        .expect("verifying does not panic");
    let Some((display_name, _, roles, locked_until, disabled)) = row else {
        return Err(LoginError::Wrong);
    };
    if let Some(until) = locked_until.filter(|until| *until > Utc::now()) {
        return Err(LoginError::Locked(until));
    }
    if disabled {
        return Err(LoginError::Wrong);
    }
    if right {
        sqlx::query("UPDATE operators SET failed_logins = 0, locked_until = NULL WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        return Ok(Operator {
            id: id.to_owned(),
            display_name,
            roles: roles_of(&roles),
        });
    }
    let locked: Option<DateTime<Utc>> = sqlx::query_scalar(
        "UPDATE operators SET
             failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END,
             locked_until = CASE WHEN failed_logins + 1 >= $2
                 THEN now() + make_interval(secs => $3) ELSE NULL END
         WHERE id = $1 RETURNING locked_until",
    )
    .bind(id)
    .bind(max_failures.max(1) as i32)
    .bind(lockout.as_secs_f64())
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    match locked {
        Some(until) => Err(LoginError::Locked(until)),
        None => Err(LoginError::Wrong),
    }
}

/// The account as it is now: its roles, or `None` once disabled.
pub async fn current(pool: &PgPool, id: &str) -> Result<Option<Operator>, sqlx::Error> {
    let row: Option<(String, Vec<String>)> = sqlx::query_as(
        "SELECT display_name, roles FROM operators WHERE id = $1 AND disabled_at IS NULL",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(display_name, roles)| Operator {
        id: id.to_owned(),
        display_name,
        roles: roles_of(&roles),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_is_argon2id_salted_and_checks_only_its_password() {
        let one = hash_password("una password lunga");
        let two = hash_password("una password lunga");
        assert!(one.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{one}");
        assert_ne!(one, two, "each hash has its own salt");
        assert!(verifies("una password lunga", &one));
        assert!(!verifies("una password lunga!", &one));
        assert!(!verifies("una password lunga", decoy()));
    }
}
