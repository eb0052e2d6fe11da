//! Browser sessions: a cookie for operators who signed in and citizens the portal handed over,
//! and the CSRF token every form carries.
//!
//! Why a cookie and not the bearer tokens: a page navigation cannot send a header, and a token
//! kept by page scripts is a token any injected script can steal. The cookie is HttpOnly,
//! SameSite=Lax (a link from the portal still arrives signed in; a form posted from another
//! site does not) and Secure when the request came over TLS. It carries a random secret;
//! PostgreSQL keeps only its SHA-256, with the session's end (absolute, and idle), so a session
//! can be ended from anywhere and any replica knows it.
//!
//! Every form posts the session's CSRF token (and the sign-in form, which has no session yet,
//! the token of a short-lived cookie: double submit); a post without it is refused before
//! anything is done.

use crate::ApiState;
use crate::auth::{Caller, OperatorRole};
use crate::web::accounts;
use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine;
use chrono::{DateTime, Utc};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};
use sportello_shared::domain::tax_code::FiledTaxCode;
use std::collections::BTreeSet;

pub const SESSION_COOKIE: &str = "sportello_sessione";
pub const LOGIN_CSRF_COOKIE: &str = "sportello_accesso";

/// Someone with a live session.
#[derive(Debug, Clone)]
pub struct WebUser {
    pub caller: Caller,
    /// Operators: the account's name; citizens: their tax code.
    pub name: String,
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
    secret_sha256: String,
}

impl WebUser {
    pub fn is_operator(&self) -> bool {
        matches!(self.caller, Caller::Operator { .. })
    }

    pub fn has(&self, role: OperatorRole) -> bool {
        self.caller.has(role)
    }

    pub fn tax_code(&self) -> Option<&FiledTaxCode> {
        match &self.caller {
            Caller::Citizen { tax_code } => Some(tax_code),
            Caller::Operator { .. } => None,
        }
    }

    pub fn operator_id(&self) -> Option<&str> {
        match &self.caller {
            Caller::Operator { id, .. } => Some(id),
            Caller::Citizen { .. } => None,
        }
    }
}

/// What the request's cookie says.
#[derive(Debug, Clone)]
pub enum Found {
    /// No session cookie at all.
    None,
    /// A cookie whose session has ended or expired.
    Ended,
    Live(WebUser),
}

/// A random value, URL-safe base64 of 32 bytes.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system's random source works");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Compares without stopping at the first difference.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().to_owned())
}

/// Whether the request reached us over TLS (directly or through a proxy that says so).
fn over_tls(headers: &HeaderMap, state: &ApiState) -> bool {
    let forwarded = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    forwarded
        || state
            .services()
            .settings
            .http
            .web
            .public_url
            .starts_with("https://")
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Secure over TLS; `max_age` 0 deletes it.
pub fn set_cookie(
    state: &ApiState,
    headers: &HeaderMap,
    name: &str,
    value: &str,
    max_age: u64,
) -> HeaderValue {
    let secure = if over_tls(headers, state) {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .expect("cookie values are URL-safe base64")
}

/// Opens a session; the secret goes in the cookie.
pub async fn open(
    state: &ApiState,
    caller: &Caller,
    handover_sha256: Option<&str>,
) -> Result<Option<String>, sqlx::Error> {
    let web = &state.services().settings.http.web;
    let secret = random_token();
    let (kind, operator_id, tax_code, ttl) = match caller {
        Caller::Operator { id, .. } => (
            "operator",
            Some(id.as_str()),
            None,
            web.operator_session_secs,
        ),
        Caller::Citizen { tax_code } => (
            "citizen",
            None,
            Some(tax_code.as_str()),
            web.citizen_session_secs,
        ),
    };
    let pool = state.services().store.pool();
    // Sessions long over are of no use to anyone; a sign-in is a fine moment to forget them.
    sqlx::query("DELETE FROM web_sessions WHERE expires_at < now() - interval '1 day'")
        .execute(pool)
        .await?;
    let inserted = sqlx::query(
        "INSERT INTO web_sessions
             (secret_sha256, kind, operator_id, tax_code, csrf_token, handover_sha256, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))
         ON CONFLICT (handover_sha256) DO NOTHING",
    )
    .bind(sha256_hex(&secret))
    .bind(kind)
    .bind(operator_id)
    .bind(tax_code)
    .bind(random_token())
    .bind(handover_sha256)
    .bind(ttl as f64)
    .execute(pool)
    .await?
    .rows_affected();
    // A hand-over token already used opens nothing.
    Ok((inserted == 1).then_some(secret))
}

/// Kind, operator id, tax code, CSRF token, end.
type SessionRow = (
    String,
    Option<String>,
    Option<FiledTaxCode>,
    String,
    DateTime<Utc>,
);

/// The session of the request's cookie, touched (its idle clock restarts).
pub async fn find(state: &ApiState, headers: &HeaderMap) -> Result<Found, sqlx::Error> {
    let Some(secret) = cookie(headers, SESSION_COOKIE).filter(|s| !s.is_empty()) else {
        return Ok(Found::None);
    };
    let hash = sha256_hex(&secret);
    let idle = state.services().settings.http.web.idle_secs as f64;
    let pool = state.services().store.pool();
    let row: Option<SessionRow> = sqlx::query_as(
        "UPDATE web_sessions SET last_seen_at = now()
             WHERE secret_sha256 = $1 AND ended_at IS NULL AND expires_at > now()
               AND last_seen_at > now() - make_interval(secs => $2)
             RETURNING kind, operator_id, tax_code, csrf_token, expires_at",
    )
    .bind(&hash)
    .bind(idle)
    .fetch_optional(pool)
    .await?;
    let Some((kind, operator_id, tax_code, csrf, expires_at)) = row else {
        return Ok(Found::Ended);
    };
    let user = if kind == "operator" {
        let id = operator_id.unwrap_or_default();
        // Roles as the account has them now: a disabled account or a role taken away counts
        // from the next request, not the next sign-in.
        let Some(account) = accounts::current(pool, &id).await? else {
            return Ok(Found::Ended);
        };
        WebUser {
            caller: Caller::Operator {
                id,
                roles: account.roles,
            },
            name: account.display_name,
            csrf,
            expires_at,
            secret_sha256: hash,
        }
    } else {
        let Some(tax_code) = tax_code else {
            return Ok(Found::Ended);
        };
        WebUser {
            name: tax_code.as_str().to_owned(),
            caller: Caller::Citizen { tax_code },
            csrf,
            expires_at,
            secret_sha256: hash,
        }
    };
    Ok(Found::Live(user))
}

/// Ends the session (sign-out).
pub async fn end(state: &ApiState, user: &WebUser) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE web_sessions SET ended_at = now() WHERE secret_sha256 = $1")
        .bind(&user.secret_sha256)
        .execute(state.services().store.pool())
        .await?;
    Ok(())
}

/// The roles as a set, for templates.
pub fn role_names(user: &WebUser) -> BTreeSet<&'static str> {
    match &user.caller {
        Caller::Operator { roles, .. } => roles.iter().map(|r| r.as_str()).collect(),
        Caller::Citizen { .. } => BTreeSet::new(),
    }
}
