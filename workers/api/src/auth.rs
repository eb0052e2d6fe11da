//! Bearer tokens: HS256 JWTs signed with `http.jwt_secret`.
//!
//! Claims: `sub` (who), `role` (`citizen` or `operator`), `cf` (the citizen's tax code, for
//! citizens only) and `exp`. A citizen reads only the folder of their `cf`; an operator reads
//! any folder, submits on a citizen's behalf and works the error queues. The portal and the
//! counter application mint tokens with the same secret; `sportello token` mints them for the
//! demo and the tests.

use crate::ApiState;
use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Below this the key could be guessed offline from any token: refuse to run with it.
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Citizen,
    Operator,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cf: Option<String>,
    /// Seconds since the epoch.
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
}

/// Who is asking, once the token has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A citizen, by their tax code (upper case).
    Citizen { tax_code: String },
    /// A counter operator, by their operator id.
    Operator { id: String },
}

impl Caller {
    /// Whether this caller may read the folder of `tax_code`.
    pub fn may_read(&self, tax_code: &str) -> bool {
        match self {
            Caller::Citizen { tax_code: own } => own.eq_ignore_ascii_case(tax_code),
            Caller::Operator { .. } => true,
        }
    }

    /// Refuses anyone but an operator.
    pub fn operator(&self) -> Result<&str, ApiError> {
        match self {
            Caller::Operator { id } => Ok(id),
            Caller::Citizen { .. } => Err(ApiError::Forbidden(
                "this endpoint is for counter operators".to_owned(),
            )),
        }
    }

    /// The actor recorded for what this caller does (as in the practice history).
    pub fn actor(&self) -> String {
        match self {
            Caller::Citizen { .. } => "citizen".to_owned(),
            Caller::Operator { id } => format!("operator:{id}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(
        "http.jwt_secret must be at least {MIN_SECRET_BYTES} bytes (deploy/local/stack-up.sh generates one; or set SPORTELLO__HTTP__JWT_SECRET)"
    )]
    WeakSecret,
    #[error("a citizen token needs --cf (the citizen's tax code)")]
    MissingTaxCode,
    #[error("an operator token needs --operator-id")]
    MissingOperator,
    #[error("signing the token: {0}")]
    Signing(#[from] jsonwebtoken::errors::Error),
}

/// Signs and checks tokens with one secret.
#[derive(Clone)]
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

impl Keys {
    pub fn new(secret: &str) -> Result<Keys, TokenError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(TokenError::WeakSecret);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.validate_exp = true;
        Ok(Keys {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        })
    }

    /// A token for a citizen (`tax_code`) or an operator (`operator_id`), valid for `ttl`.
    pub fn mint(
        &self,
        role: Role,
        tax_code: Option<&str>,
        operator_id: Option<&str>,
        ttl: Duration,
    ) -> Result<String, TokenError> {
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        let claims = match role {
            Role::Citizen => {
                let tax_code = tax_code
                    .map(|cf| cf.trim().to_uppercase())
                    .filter(|cf| !cf.is_empty())
                    .ok_or(TokenError::MissingTaxCode)?;
                Claims {
                    sub: format!("citizen:{tax_code}"),
                    role,
                    cf: Some(tax_code),
                    exp: now + ttl.as_secs(),
                    iat: Some(now),
                }
            }
            Role::Operator => Claims {
                sub: operator_id
                    .map(str::trim)
                    .filter(|id| !id.is_empty())
                    .ok_or(TokenError::MissingOperator)?
                    .to_owned(),
                role,
                cf: None,
                exp: now + ttl.as_secs(),
                iat: Some(now),
            },
        };
        self.sign(&claims)
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &self.encoding,
        )?)
    }

    /// The caller a token names, or why it names nobody.
    pub fn check(&self, token: &str) -> Result<Caller, ApiError> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|err| ApiError::Unauthorized(format!("the bearer token is not valid: {err}")))?
            .claims;
        match claims.role {
            Role::Citizen => {
                let tax_code = claims
                    .cf
                    .map(|cf| cf.trim().to_uppercase())
                    .filter(|cf| !cf.is_empty())
                    .ok_or_else(|| {
                        ApiError::Unauthorized("a citizen token must carry `cf`".to_owned())
                    })?;
                Ok(Caller::Citizen { tax_code })
            }
            Role::Operator => {
                if claims.sub.trim().is_empty() {
                    return Err(ApiError::Unauthorized(
                        "an operator token must name the operator in `sub`".to_owned(),
                    ));
                }
                Ok(Caller::Operator { id: claims.sub })
            }
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

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Caller, ApiError> {
        let token = bearer(parts)?.ok_or_else(missing)?;
        state.keys().check(token)
    }
}

/// Like [`Caller`], but also reads `?access_token=`: a browser's `EventSource` cannot set
/// headers, so the live-events endpoint accepts the token in the query string.
#[derive(Debug, Clone)]
pub struct StreamCaller(pub Caller);

impl FromRequestParts<ApiState> for StreamCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState,
    ) -> Result<StreamCaller, ApiError> {
        if let Some(token) = bearer(parts)? {
            return state.keys().check(token).map(StreamCaller);
        }
        let from_query = parts.uri.query().and_then(|query| {
            query.split('&').find_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                (key == "access_token").then_some(value)
            })
        });
        match from_query {
            Some(token) if !token.is_empty() => state.keys().check(token).map(StreamCaller),
            _ => Err(missing()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn minted_tokens_name_their_caller() {
        let keys = Keys::new(SECRET).unwrap();
        let hour = Duration::from_secs(3600);
        let citizen = keys
            .mint(Role::Citizen, Some("rssmra85t10a562s"), None, hour)
            .unwrap();
        assert_eq!(
            keys.check(&citizen).unwrap(),
            Caller::Citizen {
                tax_code: "RSSMRA85T10A562S".into()
            }
        );
        let operator = keys.mint(Role::Operator, None, Some("OP-7"), hour).unwrap();
        assert_eq!(
            keys.check(&operator).unwrap(),
            Caller::Operator { id: "OP-7".into() }
        );
    }

    #[test]
    fn expired_foreign_and_incomplete_tokens_are_refused() {
        let keys = Keys::new(SECRET).unwrap();
        let past = Claims {
            sub: "x".into(),
            role: Role::Operator,
            cf: None,
            exp: 1_000_000,
            iat: None,
        };
        assert!(keys.check(&keys.sign(&past).unwrap()).is_err());
        let other = Keys::new("another secret of at least 32 bytes!!").unwrap();
        let foreign = other
            .mint(Role::Operator, None, Some("OP"), Duration::from_secs(60))
            .unwrap();
        assert!(keys.check(&foreign).is_err());
        let no_cf = Claims {
            sub: "c".into(),
            role: Role::Citizen,
            cf: None,
            exp: u64::MAX / 2,
            iat: None,
        };
        assert!(keys.check(&keys.sign(&no_cf).unwrap()).is_err());
        assert!(keys.check("not.a.token").is_err());
    }

    #[test]
    fn a_short_secret_is_refused() {
        assert!(matches!(Keys::new("short"), Err(TokenError::WeakSecret)));
        assert!(matches!(
            Keys::new(SECRET)
                .unwrap()
                .mint(Role::Citizen, None, None, Duration::from_secs(1)),
            Err(TokenError::MissingTaxCode)
        ));
    }
}
