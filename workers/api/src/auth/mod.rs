//! Bearer tokens: JWTs from the issuers this service trusts, each checked with its own key.
//!
//! Three parties sign tokens: the citizens' portal (citizens), the counter application
//! (operators) and sportello itself (`sportello token`: operators, for operations and the
//! demo). Each has its own key, and all of them are asymmetric (EdDSA or ES256): for the portal
//! and the counter application we hold only the public key, so nothing in our configuration
//! lets anyone mint tokens in their name; sportello's own key is a private key too, so that a
//! replica that only checks tokens could be given its public half alone.
//!
//! `iss` picks the key and the algorithm (the header's `alg` must be that issuer's, so a public
//! key can never be replayed as an HMAC secret); `aud` must be `http.audience`, so a token
//! minted for another service of the municipality is no good here; `exp` must not have passed
//! (`http.clock_leeway_secs` allowed). Any of these failing is 401.
//!
//! Claims: `iss`, `aud`, `sub`, `exp`, `role` (`citizen` | `operator`), `cf` (citizens: their
//! tax code), `roles` (operators: any of `counter`, `protocol_officer`, `operations`). An
//! issuer grants only what its configuration lets it (`may_mint`): a portal key that signs an
//! operator token is refused as if the signature were wrong. Which role does what is
//! [`OperatorRole`]'s and the routes' business.
//!
//! This file holds the claims, roles, grants and the request extractors; [`keys`] the
//! signers and the issuers' keys that check tokens; `tests.rs` their tests.

mod keys;
#[cfg(test)]
mod tests;

pub use keys::{Keys, Signer, Subject, algorithm};

use crate::ApiState;
use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};
use base64::Engine;
pub use jsonwebtoken::Algorithm;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{PrivatePkcs8KeyDer, SubjectPublicKeyInfoDer};
use serde::{Deserialize, Serialize};
use sportello_shared::config::HttpSettings;
use sportello_shared::domain::tax_code::FiledTaxCode;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::Duration;

/// What a token says its holder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Citizen,
    Operator,
}

/// An operator's hats; a token may carry any combination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatorRole {
    /// The counter: folders, submissions on a citizen's behalf, withdrawals, deliveries.
    Counter,
    /// The protocol officer: annulments and the daily register.
    ProtocolOfficer,
    /// Operations: the error queues (replay, discard) and the service's health in detail.
    Operations,
}

impl OperatorRole {
    pub const ALL: [OperatorRole; 3] = [
        OperatorRole::Counter,
        OperatorRole::ProtocolOfficer,
        OperatorRole::Operations,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OperatorRole::Counter => "counter",
            OperatorRole::ProtocolOfficer => "protocol_officer",
            OperatorRole::Operations => "operations",
        }
    }

    pub fn parse(text: &str) -> Option<OperatorRole> {
        Self::ALL.into_iter().find(|r| r.as_str() == text.trim())
    }

    /// A comma-separated list, as the command line takes it (`counter,operations`).
    pub fn parse_list(text: &str) -> Result<BTreeSet<OperatorRole>, String> {
        text.split(',')
            .filter(|part| !part.trim().is_empty())
            .map(|part| {
                OperatorRole::parse(part).ok_or_else(|| {
                    format!(
                        "unknown operator role `{}` (known: counter, protocol_officer, operations)",
                        part.trim().escape_debug()
                    )
                })
            })
            .collect()
    }
}

/// `aud` as RFC 7519 allows it: one string or several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: Audience,
    pub sub: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cf: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<OperatorRole>,
    /// Seconds since the epoch.
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
}

/// Who is asking, once the token has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A citizen, by their tax code as the folder files it.
    Citizen { tax_code: FiledTaxCode },
    /// An operator, by their operator id, with their roles (never empty).
    Operator {
        id: String,
        roles: BTreeSet<OperatorRole>,
    },
}

impl Caller {
    /// Whether this caller may read the folder of `tax_code`, once [`Caller::reader`] let them
    /// read folders at all.
    pub fn may_read(&self, tax_code: &FiledTaxCode) -> bool {
        match self {
            Caller::Citizen { tax_code: own } => own == tax_code,
            Caller::Operator { .. } => true,
        }
    }

    /// Refuses an operator without the counter role: citizens read their own folder, the
    /// counter anyone's, the other operator roles nobody's.
    pub fn reader(&self) -> Result<(), ApiError> {
        match self {
            Caller::Citizen { .. } => Ok(()),
            Caller::Operator { .. } => self.require(OperatorRole::Counter).map(|_| ()),
        }
    }

    /// The operator's id, or 403 unless this is an operator with `role`.
    pub fn require(&self, role: OperatorRole) -> Result<&str, ApiError> {
        match self {
            Caller::Operator { id, roles } if roles.contains(&role) => Ok(id),
            Caller::Operator { .. } => Err(ApiError::Forbidden(format!(
                "this needs the operator role `{}`, which the token does not grant",
                role.as_str()
            ))),
            Caller::Citizen { .. } => Err(ApiError::Forbidden(format!(
                "this endpoint is for operators with the role `{}`",
                role.as_str()
            ))),
        }
    }

    pub fn has(&self, role: OperatorRole) -> bool {
        self.require(role).is_ok()
    }

    /// The actor recorded for what this caller does (as in the practice history).
    pub fn actor(&self) -> String {
        match self {
            Caller::Citizen { .. } => "citizen".to_owned(),
            Caller::Operator { id, .. } => format!("operator:{id}"),
        }
    }
}

/// A checked token: its caller, who vouched for them, and until when.
#[derive(Debug, Clone)]
pub struct Session {
    pub caller: Caller,
    /// The issuer's `iss`.
    pub issuer: String,
    pub subject: String,
    /// The last second (since the epoch) in which the token is accepted: `exp` plus the
    /// leeway (a token is refused once the clock is past it, as jsonwebtoken checks it).
    pub accepted_until: u64,
}

impl Session {
    /// Whom the per-caller limits count: the issuer and subject, not the token, so that a
    /// fresh token for the same person does not reset them.
    pub fn holder(&self) -> String {
        format!("{}\u{1f}{}", self.issuer, self.subject)
    }

    /// How long from now until the token is refused: to the end of its last second.
    pub fn remaining(&self) -> Duration {
        let refused_from_ms = self.accepted_until.saturating_add(1).saturating_mul(1000);
        let now_ms = chrono::Utc::now().timestamp_millis().max(0) as u64;
        Duration::from_millis(refused_from_ms.saturating_sub(now_ms))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}: not a PEM PKCS#8 private key (`-----BEGIN PRIVATE KEY-----`)")]
    NotPrivateKey(String),
    #[error(
        "{0}: not a PEM public key (`-----BEGIN PUBLIC KEY-----`, from `openssl pkey -pubout`)"
    )]
    NotPublicKey(String),
    #[error("{0}: only Ed25519 (EdDSA) and P-256 (ES256) keys are supported")]
    UnsupportedKey(String),
    #[error("{what}: the key is {found:?}, but the algorithm configured is {configured:?}")]
    AlgorithmMismatch {
        what: String,
        found: Algorithm,
        configured: Algorithm,
    },
    #[error("{0}: unknown algorithm (EdDSA or ES256)")]
    UnknownAlgorithm(String),
    #[error("{what}: unknown grant `{grant}` (citizen, counter, protocol_officer, operations)")]
    UnknownGrant { what: String, grant: String },
    #[error("{0}: may_mint is empty, so no token of it would be accepted")]
    NothingToMint(String),
    #[error("two issuers have iss `{0}`")]
    DuplicateIssuer(String),
    #[error("http.audience must not be empty")]
    NoAudience,
    #[error(
        "no token issuer is configured (http.signing_key or [http.issuers]): every request would be refused; deploy/local/stack-up.sh generates the keys"
    )]
    NoIssuer,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("a citizen token needs --cf (the citizen's tax code)")]
    MissingTaxCode,
    #[error("an operator token needs --operator-id")]
    MissingOperator,
    #[error("an operator token needs at least one role")]
    MissingRoles,
    #[error("issuer `{issuer}` may not grant {what}")]
    NotGranted { issuer: String, what: String },
    #[error("signing the token: {0}")]
    Signing(#[from] jsonwebtoken::errors::Error),
}

/// What an issuer may grant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    pub citizen: bool,
    pub operator: BTreeSet<OperatorRole>,
}

impl Grants {
    /// What sportello itself grants: operators, any role — never citizens, whom only the portal
    /// vouches for.
    pub fn operators() -> Grants {
        Grants {
            citizen: false,
            operator: OperatorRole::ALL.into_iter().collect(),
        }
    }

    pub fn citizens() -> Grants {
        Grants {
            citizen: true,
            operator: BTreeSet::new(),
        }
    }

    pub fn parse(what: &str, list: &[String]) -> Result<Grants, KeyError> {
        let mut grants = Grants::default();
        for grant in list {
            match grant.trim() {
                "citizen" => grants.citizen = true,
                other => {
                    let role =
                        OperatorRole::parse(other).ok_or_else(|| KeyError::UnknownGrant {
                            what: what.to_owned(),
                            grant: other.to_owned(),
                        })?;
                    grants.operator.insert(role);
                }
            }
        }
        if !grants.citizen && grants.operator.is_empty() {
            return Err(KeyError::NothingToMint(what.to_owned()));
        }
        Ok(grants)
    }

    /// Why `claims` grant more than this, if they do.
    fn refuses(&self, claims: &Claims) -> Option<String> {
        match claims.role {
            Role::Citizen if !self.citizen => Some("citizen tokens".to_owned()),
            Role::Citizen => None,
            Role::Operator => claims
                .roles
                .iter()
                .find(|role| !self.operator.contains(role))
                .map(|role| format!("the operator role `{}`", role.as_str())),
        }
    }
}

fn bearer(parts: &Parts) -> Result<Option<&str>, ApiError> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::Unauthorized("the Authorization header is not text".to_owned()))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim()))
        }
        _ => Err(ApiError::Unauthorized(
            "the Authorization header must be `Bearer <token>`".to_owned(),
        )),
    }
}

fn missing() -> ApiError {
    ApiError::Unauthorized("this endpoint needs a bearer token (Authorization: Bearer …)".into())
}

impl FromRequestParts<ApiState> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Session, ApiError> {
        let token = bearer(parts)?.ok_or_else(missing)?;
        state.keys().check(token)
    }
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Caller, ApiError> {
        Session::from_request_parts(parts, state)
            .await
            .map(|session| session.caller)
    }
}

/// A session when the request carries a token, none when it carries none (a bad token is
/// still 401): for the endpoints that answer anyone, and tell operators more.
#[derive(Debug, Clone)]
pub struct MaybeSession(pub Option<Session>);

impl FromRequestParts<ApiState> for MaybeSession {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState,
    ) -> Result<MaybeSession, ApiError> {
        match bearer(parts)? {
            Some(token) => state.keys().check(token).map(|s| MaybeSession(Some(s))),
            None => Ok(MaybeSession(None)),
        }
    }
}

/// Like [`Session`], but also reads `?access_token=`: a browser's `EventSource` cannot set
/// headers, so the live-events endpoint accepts the token in the query string.
#[derive(Debug, Clone)]
pub struct StreamSession(pub Session);

impl FromRequestParts<ApiState> for StreamSession {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState,
    ) -> Result<StreamSession, ApiError> {
        if let Some(token) = bearer(parts)? {
            return state.keys().check(token).map(StreamSession);
        }
        let from_query = parts.uri.query().and_then(|query| {
            query.split('&').find_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                (key == "access_token").then_some(value)
            })
        });
        match from_query {
            Some(token) if !token.is_empty() => state.keys().check(token).map(StreamSession),
            _ => Err(missing()),
        }
    }
}
